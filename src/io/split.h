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
// tg://WORKER/PATH inputs (a worker's data service, worker/data_client.h)
// pass through both: ExpandGlobs checks or expands them through the
// process's remote catalog (SetRemoteCatalog), PlanSplits cuts plain remote
// files by the size the catalog reports, and SplitLineReader reads them
// through the remote opener (io/read_stream.h), ranges included.
//
// Thread-safety: ExpandGlobs and PlanSplits keep no state of their own and
// may be called from any thread (relative paths resolve against the
// process's working directory). FileSplit is a value. A SplitLineReader is
// used by one thread at a time. SetRemoteCatalog is thread-safe.
#ifndef TASKGRID_IO_SPLIT_H_
#define TASKGRID_IO_SPLIT_H_

#include <cstdint>
#include <functional>
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
//  - tg:// patterns: see ExpandRemoteGlob.
StatusOr<std::vector<std::string>> ExpandGlobs(
    const std::vector<std::string>& patterns);

// What the remote catalog knows of a path on a worker.
struct RemoteFileInfo {
  std::string name;     // the last component
  bool is_dir = false;  // symlinks followed
  bool is_symlink = false;
  bool is_file = false;  // not a directory, and readable through the service
                         // (a symlink out of the served roots is neither)
  uint64_t size = 0;     // bytes, for files
};
// Stat and List of tg:// URLs, installed process-wide by whoever has a
// client of the data service (worker/data_client.h: InstallTgOpener). Each
// error names the URL: NotFound for a missing path, PermissionDenied for one
// the service refuses, Unavailable when it cannot be reached.
struct RemoteCatalog {
  // The entry `url` names.
  std::function<StatusOr<RemoteFileInfo>(const std::string& url)> stat;
  // The entries of directory `url`, sorted by name.
  std::function<StatusOr<std::vector<RemoteFileInfo>>(const std::string& url)>
      list;
  bool installed() const { return stat && list; }
};
// Installs the catalog (one without both functions removes it); returns the
// previous one. A call in progress keeps the catalog it started with.
RemoteCatalog SetRemoteCatalog(RemoteCatalog catalog);

// Whether `path` is a tg:// URL.
bool IsRemoteInput(std::string_view path);

// Expands one tg://WORKER/PATH pattern (ExpandGlobs does this for every
// tg:// pattern) in the order of the listings; ExpandGlobs then sorts.
//  - No wildcard in PATH: the URL itself. With a catalog, it must name a
//    file: NotFound "input file '<url>' does not exist", InvalidArgument if
//    it is a directory. Without one it is kept unchecked (the task that
//    reads it reports a missing file).
//  - Wildcards (`*`, `?`, `[..]` and `**`, as for local paths, in any
//    components of PATH but not in WORKER) need the catalog (Unimplemented
//    naming the pattern without one); directories are listed through it.
//    Under `**`, symlinks to directories are not descended into (the service
//    gives no inode to end cycles with). A pattern that is itself the name
//    of a remote file is taken literally, as locally.
//  - No match: InvalidArgument "input glob '<pattern>' matches no file".
//    Listing errors other than NotFound (PermissionDenied for a path the
//    service refuses, Unavailable) end the expansion, naming the URL.
StatusOr<std::vector<std::string>> ExpandRemoteGlob(const std::string& pattern);

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
//
// tg:// files are cut alike when split_bytes > 0, the file is not
// compressed and a remote catalog is installed (one Stat each, for the
// size); otherwise they stay whole, unchecked.
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
  // As LineReader::NextLines (whole lines at once, each with its '\n';
  // empty: take the next line with Next()), only the split's own lines.
  // block_offset() is the byte offset of the first.
  StatusOr<bool> NextLines(std::string_view* lines);
  uint64_t block_offset() const;
  // Byte offset in the file of the start of the line last returned (plain
  // files only; for compressed files, the decoded offset).
  uint64_t line_offset() const;
  bool truncated() const;

 private:
  SplitLineReader();
  // Discards the line a range starting after 0 shares with the previous
  // split, once.
  Status SkipFirst();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskgrid

#endif  // TASKGRID_IO_SPLIT_H_
