#include "io/output_committer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>

#include "core/csv.h"
#include "core/status_macros.h"

extern "C" {
#include <isa-l/crc.h>
}

namespace taskgrid {
namespace {

namespace fs = std::filesystem;

Status ErrnoError(std::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(e);
  if (e == ENOSPC || e == EDQUOT) return ResourceExhaustedError(msg);
  if (e == EACCES || e == EPERM || e == EROFS) {
    return PermissionDeniedError(msg);
  }
  if (e == ENOENT) return NotFoundError(msg);
  return InternalError(msg);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status FsyncPath(const std::string& path, bool directory) {
  Fd fd(
      open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open", path);
  if (fsync(fd.get()) != 0) return ErrnoError("fsync", path);
  return OkStatus();
}

// Size and CRC-32 of a file, and fsync it.
StatusOr<OutputFileInfo> SealFile(const std::string& path, std::string name) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open", path);
  OutputFileInfo info;
  info.name = std::move(name);
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  while (true) {
    const ssize_t n = read(fd.get(), buf.get(), 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", path);
    if (n == 0) break;
    info.crc32 =
        crc32_gzip_refl(info.crc32, reinterpret_cast<unsigned char*>(buf.get()),
                        static_cast<uint64_t>(n));
    info.bytes += n;
  }
  if (fsync(fd.get()) != 0) return ErrnoError("fsync", path);
  return info;
}

std::string CrcHex(uint32_t crc) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", crc);
  return buf;
}

// Writes `content` to dir/name via a temporary file, fsync and rename.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::string_view content) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string dst = dir + "/" + name;
  {
    Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoError("create", tmp);
    size_t off = 0;
    while (off < content.size()) {
      const ssize_t n =
          write(fd.get(), content.data() + off, content.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status s = ErrnoError("write", tmp);
        unlink(tmp.c_str());
        return s;
      }
      off += static_cast<size_t>(n);
    }
    if (fsync(fd.get()) != 0) {
      Status s = ErrnoError("fsync", tmp);
      unlink(tmp.c_str());
      return s;
    }
  }
  if (rename(tmp.c_str(), dst.c_str()) != 0) {
    Status s = ErrnoError("rename to", dst);
    unlink(tmp.c_str());
    return s;
  }
  return OkStatus();
}

}  // namespace

std::string AttemptOutputDir(const std::string& output_dir, int64_t job_id,
                             int64_t task_id, int32_t attempt) {
  return output_dir + "/_temporary/job-" + std::to_string(job_id) +
         "/attempt-" + std::to_string(task_id) + "-" + std::to_string(attempt);
}

Status MakeDirectories(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status(ec == std::errc::no_space_on_device
                      ? StatusCode::kResourceExhausted
                      : StatusCode::kPermissionDenied,
                  "cannot create " + dir + ": " + ec.message());
  }
  return OkStatus();
}

Status CheckOutputName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos || name[0] == '_' ||
      name[0] == '.') {
    return InvalidArgumentError(
        "invalid output file name '" + std::string(name) +
        "': use a plain name without '/', not starting with '_' or '.'");
  }
  return OkStatus();
}

StatusOr<std::vector<OutputFileInfo>> SealAttemptOutputs(
    const std::string& attempt_dir) {
  std::vector<OutputFileInfo> out;
  std::error_code ec;
  if (!fs::exists(attempt_dir, ec)) return out;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(attempt_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name[0] == '.' &&
        name.compare(name.size() - 4, 4, ".tmp") == 0) {
      continue;  // a temporary file of a processor's own atomic write
    }
    if (!entry.is_regular_file(ec)) {
      return InvalidArgumentError("output " + entry.path().string() +
                                  " is not a regular file");
    }
    RETURN_IF_ERROR(CheckOutputName(name));
    names.push_back(name);
  }
  if (ec) {
    return InternalError("cannot list " + attempt_dir + ": " + ec.message());
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    ASSIGN_OR_RETURN(OutputFileInfo info,
                     SealFile(attempt_dir + "/" + name, name));
    out.push_back(std::move(info));
  }
  RETURN_IF_ERROR(FsyncPath(attempt_dir, true));
  return out;
}

void DiscardAttemptOutputs(const std::string& attempt_dir) {
  std::error_code ec;
  fs::remove_all(attempt_dir, ec);
}

Status CommitJobOutputs(const std::string& output_dir, int64_t job_id,
                        const std::vector<CommittedOutput>& outputs,
                        const std::function<void(int)>& fault) {
  std::map<std::string, const CommittedOutput*> by_name;
  for (const CommittedOutput& o : outputs) {
    auto [it, inserted] = by_name.emplace(o.file.name, &o);
    if (!inserted) {
      return FailedPreconditionError(
          "tasks " + std::to_string(it->second->task_id) + " and " +
          std::to_string(o.task_id) + " both wrote output '" + o.file.name +
          "'");
    }
  }
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) {
    return InternalError("cannot create " + output_dir + ": " + ec.message());
  }
  int moved = 0;
  for (const CommittedOutput& o : outputs) {
    const std::string src =
        AttemptOutputDir(output_dir, job_id, o.task_id, o.attempt) + "/" +
        o.file.name;
    const std::string dst = output_dir + "/" + o.file.name;
    if (rename(src.c_str(), dst.c_str()) == 0) {
      if (fault) fault(++moved);
      continue;
    }
    if (errno != ENOENT) return ErrnoError("rename " + src + " to", dst);
    // Moved by an earlier, interrupted commit? Then it is in place.
    struct stat st {};
    if (stat(dst.c_str(), &st) != 0 || st.st_size != o.file.bytes) {
      return DataLossError("output '" + o.file.name + "' of task " +
                           std::to_string(o.task_id) + " attempt " +
                           std::to_string(o.attempt) + " is missing from " +
                           src + " and " + dst);
    }
  }
  RETURN_IF_ERROR(FsyncPath(output_dir, true));
  std::string manifest = "file,task,input,bytes,crc32\n";
  for (const CommittedOutput& o : outputs) {
    manifest += CsvField(o.file.name) + "," + std::to_string(o.task_id) + "," +
                CsvField(o.input) + "," + std::to_string(o.file.bytes) + "," +
                CrcHex(o.file.crc32) + "\n";
  }
  RETURN_IF_ERROR(WriteFileAtomically(output_dir, "_manifest.csv", manifest));
  RETURN_IF_ERROR(WriteFileAtomically(output_dir, "_SUCCESS", ""));
  RETURN_IF_ERROR(FsyncPath(output_dir, true));
  fs::remove_all(output_dir + "/_temporary/job-" + std::to_string(job_id), ec);
  // Leave _temporary itself if another job still uses it.
  fs::remove(output_dir + "/_temporary", ec);
  return OkStatus();
}

}  // namespace taskgrid
