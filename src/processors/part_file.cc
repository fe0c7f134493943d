#include "processors/part_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

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
