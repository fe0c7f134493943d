#include "processors/part_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "io/split.h"

namespace taskgrid {

std::string PartName(int partition) {
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d", partition);
  return name;
}

PartFile::~PartFile() {
  if (f_ != nullptr) std::fclose(f_);
}

Status PartFile::Open(StatusOr<std::string> path) {
  if (!path.ok()) return path.status();
  path_ = *std::move(path);
  f_ = std::fopen(path_.c_str(), "wb");
  if (f_ == nullptr) {
    return InternalError("cannot create " + path_ + ": " +
                         std::strerror(errno));
  }
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  return OkStatus();
}

Status PartFile::Close() {
  const bool failed = std::ferror(f_) != 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (failed || !closed) {
    return Status(errno == ENOSPC ? StatusCode::kResourceExhausted
                                  : StatusCode::kInternal,
                  "cannot write " + path_ + ": " + std::strerror(errno));
  }
  return OkStatus();
}

namespace {

Status WriteError(const std::string& path, int err) {
  return Status(
      err == ENOSPC ? StatusCode::kResourceExhausted : StatusCode::kInternal,
      "cannot write " + path + ": " + std::strerror(err));
}

}  // namespace

BulkPartFile::~BulkPartFile() {
  if (fd_ >= 0) close(fd_);
}

Status BulkPartFile::Open(StatusOr<std::string> path) {
  if (!path.ok()) return path.status();
  path_ = *std::move(path);
  fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return InternalError("cannot create " + path_ + ": " +
                         std::strerror(errno));
  }
  offset_ = 0;
  return OkStatus();
}

Status BulkPartFile::Write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  const uint64_t start = offset_;
  while (n > 0) {
    const ssize_t w = pwrite(fd_, p, n, static_cast<off_t>(offset_));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return WriteError(path_, errno);
    if (w == 0) return WriteError(path_, EIO);
    p += w;
    n -= static_cast<size_t>(w);
    offset_ += static_cast<uint64_t>(w);
  }
  // Advice: an I/O error shows at the fsync.
  sync_file_range(fd_, static_cast<off_t>(start),
                  static_cast<off_t>(offset_ - start), SYNC_FILE_RANGE_WRITE);
  return OkStatus();
}

Status BulkPartFile::Close() {
  const int fd = std::exchange(fd_, -1);
  if (close(fd) != 0) return WriteError(path_, errno);
  return OkStatus();
}

std::vector<std::string> SampleFiles(const std::vector<std::string>& files,
                                     size_t max_files) {
  std::vector<std::string> out;
  const size_t step = std::max<size_t>(1, files.size() / max_files);
  for (size_t i = 0; i < files.size(); i += step) out.push_back(files[i]);
  return out;
}

void ReadLinesWhile(const std::string& path,
                    const std::function<bool(std::string_view)>& fn) {
  auto reader = SplitLineReader::Open(FileSplit{path, 0, -1});
  if (!reader.ok()) return;
  std::string_view line;
  while (true) {
    auto more = (*reader)->Next(&line);
    if (!more.ok() || !*more || !fn(line)) return;
  }
}

}  // namespace taskgrid
