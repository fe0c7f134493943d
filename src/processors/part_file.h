// What the shuffle processors (wordcount, sort) share: the output file of a
// reduce, and reading the first lines of sampled input files for range
// split points.
//
// Thread-safety: a PartFile is used by one thread at a time.
#ifndef TASKGRID_PROCESSORS_PART_FILE_H_
#define TASKGRID_PROCESSORS_PART_FILE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid {

// "part-00003" for partition 3.
std::string PartName(int partition);

// A buffered output file. Errors name it: ResourceExhausted for a full
// disk, Internal otherwise.
class PartFile {
 public:
  PartFile() = default;
  ~PartFile();  // closes a file still open (a failed attempt) unchecked
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  // Opens the path an OutputPath call returned (or its error).
  Status Open(StatusOr<std::string> path);
  std::FILE* get() const { return f_; }
  const std::string& path() const { return path_; }
  // Flushes and closes; the first write error, if any.
  Status Close();

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// An output file written in large pieces, without stdio; each piece's
// writeback to disk starts at once (sync_file_range), so the fsync of the
// output commit waits for the last pieces only. Errors name the file:
// ResourceExhausted for a full disk, Internal otherwise.
class BulkPartFile {
 public:
  BulkPartFile() = default;
  ~BulkPartFile();  // closes a file still open (a failed attempt)
  BulkPartFile(const BulkPartFile&) = delete;
  BulkPartFile& operator=(const BulkPartFile&) = delete;

  // Opens the path an OutputPath call returned (or its error).
  Status Open(StatusOr<std::string> path);
  Status Write(const void* data, size_t n);
  const std::string& path() const { return path_; }
  Status Close();

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

// Up to `max_files` of `files`, spread evenly over the list.
std::vector<std::string> SampleFiles(const std::vector<std::string>& files,
                                     size_t max_files);
// Calls fn on the lines of `path` (any encoding) from the start until it
// returns false or the file ends. An unreadable file is skipped: its map
// task will report it.
void ReadLinesWhile(const std::string& path,
                    const std::function<bool(std::string_view)>& fn);

}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_PART_FILE_H_
