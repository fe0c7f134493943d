// Input planning: globs to files, files to splits, and reading the lines of
// one split.
//
// Split rule (as Hadoop's line record reader): a split [offset, offset+len)
// of a plain file owns every line whose first byte lies inside it. The
// reader of a split that does not start at 0 skips to just after the first
// '\n' at or after offset-1; it reads past the split's end to finish the
// line that started inside it. So every line is read by exactly one split,
// whatever the split size. Compressed files are never split.
#ifndef TASKGRID_IO_SPLIT_H_
#define TASKGRID_IO_SPLIT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/line_reader.h"
#include "io/read_stream.h"
#include "taskgrid/status.h"

namespace taskgrid {

// Expands glob patterns: `*` and `?` within one path component, `**` for
// any number of components (including none), `[...]` classes. Results are
// regular files (symlinks followed), sorted in byte order, without
// duplicates across patterns. A pattern that matches nothing is
// InvalidArgument naming the pattern; a pattern without wildcards names one
// file that must exist.
StatusOr<std::vector<std::string>> ExpandGlobs(
    const std::vector<std::string>& patterns);

// One task's share of a file. length < 0: the whole file.
struct FileSplit {
  std::string path;
  uint64_t offset = 0;
  int64_t length = -1;

  bool whole() const { return length < 0; }
  // A whole file's payload is its path verbatim; a range is
  // "path\0offset\0length" (no path contains NUL).
  std::string ToPayload() const;
  // InvalidArgument for a malformed payload.
  static StatusOr<FileSplit> Parse(std::string_view payload);
};

// Cuts `files` into splits: plain files larger than `split_bytes` into
// ranges of about split_bytes (split_bytes <= 0: never), compressed files
// whole. Empty files give one (empty) whole split. Order: files in the given
// order, ranges by offset.
StatusOr<std::vector<FileSplit>> PlanSplits(
    const std::vector<std::string>& files, int64_t split_bytes);

// Reads the lines a split owns (decoding whole compressed files).
class SplitLineReader {
 public:
  static StatusOr<std::unique_ptr<SplitLineReader>> Open(
      const FileSplit& split, size_t max_line = kDefaultMaxLine);
  ~SplitLineReader();
  // As LineReader::Next, but stops after the split's last owned line.
  StatusOr<bool> Next(std::string_view* line);
  // Byte offset in the file of the start of the line last returned (plain
  // files only; for compressed files, the decoded offset).
  uint64_t line_offset() const;
  bool truncated() const;

 private:
  SplitLineReader();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskgrid

#endif  // TASKGRID_IO_SPLIT_H_
