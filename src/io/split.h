// Input planning: globs to files, files to splits, and reading the lines of
// one split.
//
// Split rule (as Hadoop's line record reader): a split [offset, offset+len)
// of a plain file owns every line whose first byte lies inside it. The
// reader of a split that does not start at 0 skips to just after the first
// '\n' at or after offset-1; it reads past the split's end to finish the
// line that started inside it. So every line is read by exactly one split,
// whatever the split size. Compressed files are never split.
//
// Thread-safety: ExpandGlobs and PlanSplits keep no state and may be called
// from any thread (relative paths resolve against the process's working
// directory). FileSplit is a value. A SplitLineReader is used by one thread
// at a time.
#ifndef TASKGRID_IO_SPLIT_H_
#define TASKGRID_IO_SPLIT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/line_reader.h"
#include "io/read_stream.h"
// ParseByteSize, for `split: bytes:64MiB`, lives with the spec parser in
// core (which io may use, but not the reverse).
#include "taskgrid/job_spec.h"
#include "taskgrid/status.h"

namespace taskgrid {

// Expands glob patterns: `*` and `?` within one path component, `**` for
// any number of components (including none), `[...]` classes. Results are
// regular files (symlinks followed), sorted in byte order, without
// duplicates across patterns. A pattern that matches nothing is
// InvalidArgument naming the pattern; a pattern without wildcards names one
// file that must exist. A pattern that is itself the name of an existing
// regular file is taken literally (so "a[1].log" finds that file).
//
// Details:
//  - Matching is per component with fnmatch(3). As in a shell, a wildcard
//    does not match a leading '.' ("*.log" skips ".x.log"; ".*" matches it),
//    and "**" does not descend into hidden directories.
//  - A backslash is an ordinary character, not an escape: match a literal
//    '*', '?' or '[' with a class: "[*]", "[?]", "[[]".
//  - "**" must be a whole component; elsewhere ("a**b") it is just "*". A
//    trailing "**" matches every file below: "logs/**" is "logs/**/*".
//  - Directory symlinks are followed. Under "**", each directory (by device
//    and inode) is walked at most once per pattern, so symlink cycles end;
//    a directory reachable by several paths is reported under the first in
//    sorted order.
//  - Paths are returned as spelled in the pattern plus the matched names
//    (relative stays relative, "./x" keeps its "./"); duplicates are removed
//    by exact string.
//  - Errors: no match: InvalidArgument "input glob '<p>' matches no file".
//    A literal pattern: NotFound if missing, InvalidArgument if not a
//    regular file. A directory the walk cannot list or access:
//    PermissionDenied naming it (never silently skipped); other I/O errors:
//    Internal naming the path. Dangling symlinks simply do not match.
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
  // InvalidArgument naming the payload (NULs shown as "\0") for a malformed
  // one: an empty path, other than exactly two NULs, an offset or length
  // that is not a plain decimal integer (no sign, no spaces, no trailing
  // junk), or offset + length beyond INT64_MAX. A range of length 0 is
  // valid (it owns no line).
  static StatusOr<FileSplit> Parse(std::string_view payload);
};

// Cuts `files` into splits: plain files larger than `split_bytes` into
// ranges of about split_bytes (split_bytes <= 0: never), compressed files
// whole. Empty files give one (empty) whole split. Order: files in the given
// order, ranges by offset. Every range but a file's last has length
// split_bytes exactly. Errors name the file: NotFound if it no longer
// exists, PermissionDenied, InvalidArgument if it is not a regular file.
StatusOr<std::vector<FileSplit>> PlanSplits(
    const std::vector<std::string>& files, int64_t split_bytes);

// Reads the lines a split owns (decoding whole compressed files).
//
// Open fails with InvalidArgument for a byte range of a compressed file, and
// with the stream's error (NotFound, PermissionDenied, ...) if the file
// cannot be opened. A range's reader returns the last line that starts
// inside the range in full, even where it runs past the range's end.
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
