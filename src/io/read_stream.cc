// File streams, codec choice by extension, and OpenDecoded.
//
// FileStream reads with read(2) (pread(2) for a range) straight into the
// caller's buffer when the caller asks for a large chunk (decoders and
// LineReader ask for 1 MiB), so plain data is copied once, from the page
// cache to the caller. Small reads go through a 1 MiB buffer of our own,
// allocated on first use.
#include "io/read_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace taskgrid {
namespace {

constexpr size_t kFileBuffer = size_t{1} << 20;
// Reads at least this large bypass our buffer.
constexpr size_t kDirectRead = size_t{64} << 10;

// "path: what: strerror", with the code the header promises.
Status ErrnoStatus(const std::string& path, std::string_view what, int err) {
  std::string msg = path + ": " + std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFoundError(msg);
    case EACCES:
    case EPERM:
      return PermissionDeniedError(msg);
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return ResourceExhaustedError(msg);
    case ENAMETOOLONG:
    case ELOOP:
      return InvalidArgumentError(msg);
    default:
      return InternalError(msg);
  }
}

// The URL scheme of `path` ("" for a plain path).
std::string_view SchemeOf(const std::string& path) {
  const size_t sep = path.find("://");
  if (sep == std::string::npos || sep == 0) return {};
  const std::string_view scheme(path.data(), sep);
  const bool is_scheme = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
  });
  return is_scheme ? scheme : std::string_view();  // "dir/a://b": a local name
}

// "file:///x" and "/x" name the same file; tg:// goes to the remote opener
// (callers check it first); another scheme is not ours.
StatusOr<std::string> LocalPath(const std::string& path) {
  const std::string_view scheme = SchemeOf(path);
  if (scheme.empty()) return path;
  if (scheme == "file") return path.substr(scheme.size() + 3);
  return UnimplementedError(path + ": unsupported scheme \"" +
                            std::string(scheme) + "\"");
}

// The process-wide tg:// opener (SetRemoteOpener).
std::mutex remote_mu;
std::shared_ptr<const RemoteOpener>& RemoteOpenerSlot() {
  static auto* slot = new std::shared_ptr<const RemoteOpener>();
  return *slot;
}

bool IsRemote(const std::string& path) { return SchemeOf(path) == "tg"; }

StatusOr<std::unique_ptr<ReadStream>> OpenRemote(const std::string& url,
                                                 uint64_t offset,
                                                 int64_t length) {
  std::shared_ptr<const RemoteOpener> opener;
  {
    std::lock_guard<std::mutex> lock(remote_mu);
    opener = RemoteOpenerSlot();
  }
  if (opener == nullptr) {
    return UnimplementedError(
        url +
        ": tg:// URLs are read through a worker's data service, and this "
        "process has no client for it (workers and the taskgrid CLI do)");
  }
  return (*opener)(url, offset, length);
}

class FileStream final : public ReadStream {
 public:
  // Takes ownership of `fd`. Reads [offset, offset + length) with pread if
  // `ranged`, else the whole file with read.
  FileStream(std::string path, int fd, bool ranged, uint64_t offset,
             int64_t length)
      : path_(std::move(path)),
        fd_(fd),
        ranged_(ranged),
        pos_(offset),
        remaining_(length < 0 ? UINT64_MAX : static_cast<uint64_t>(length)) {}
  ~FileStream() override { ::close(fd_); }
  FileStream(const FileStream&) = delete;
  FileStream& operator=(const FileStream&) = delete;

  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (n == 0) return size_t{0};
    if (buf_pos_ < buf_len_) {
      const size_t k = std::min(n, buf_len_ - buf_pos_);
      std::memcpy(buf, buffer_.get() + buf_pos_, k);
      buf_pos_ += k;
      pos_ += k;
      return k;
    }
    if (n >= kDirectRead) {
      StatusOr<size_t> r = ReadFd(buf, n);
      if (r.ok()) pos_ += *r;
      return r;
    }
    if (buffer_ == nullptr) buffer_ = std::make_unique<char[]>(kFileBuffer);
    StatusOr<size_t> r = ReadFd(buffer_.get(), kFileBuffer);
    if (!r.ok()) return r;
    buf_pos_ = 0;
    buf_len_ = *r;
    const size_t k = std::min(n, buf_len_);
    std::memcpy(buf, buffer_.get(), k);
    buf_pos_ = k;
    pos_ += k;
    return k;
  }

  uint64_t file_offset() const override { return pos_; }
  const std::string& path() const override { return path_; }

 private:
  // Reads up to n bytes at the file position after what we hold; counts
  // them against the range.
  StatusOr<size_t> ReadFd(char* dst, size_t n) {
    n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    if (n == 0) return size_t{0};
    for (;;) {
      const ssize_t r = ranged_ ? ::pread(fd_, dst, n, next_read_offset())
                                : ::read(fd_, dst, n);
      if (r >= 0) {
        remaining_ -= static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno == EINTR) continue;
      error_ =
          ErrnoStatus(path_, "read at byte " + std::to_string(pos_), errno);
      return error_;
    }
  }
  off_t next_read_offset() const {
    return static_cast<off_t>(pos_ + (buf_len_ - buf_pos_));
  }

  // Constant after construction.
  const std::string path_;
  const int fd_;
  const bool ranged_;

  uint64_t pos_;        // file offset of the next byte we return
  uint64_t remaining_;  // bytes of the range not yet read from the fd
  std::unique_ptr<char[]> buffer_;  // for small reads
  size_t buf_pos_ = 0;
  size_t buf_len_ = 0;
  Status error_;
};

// Opens `path` for reading; refuses directories. Sets *seekable for files
// that pread can read at any offset.
StatusOr<int> OpenForRead(const std::string& path, bool* seekable) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, "open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(path, "stat", err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return FailedPreconditionError(path + ": is a directory, not a file");
  }
  *seekable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
  return fd;
}

}  // namespace

Codec CodecForPath(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view name =
      slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return Codec::kNone;
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (ext == "gz") return Codec::kGzip;
  if (ext == "zst") return Codec::kZstd;
  if (ext == "bz2") return Codec::kBzip2;
  if (ext == "xz") return Codec::kXz;
  if (ext == "lz4") return Codec::kLz4;
  return Codec::kNone;
}

std::string_view CodecName(Codec c) {
  switch (c) {
    case Codec::kNone:
      return "none";
    case Codec::kGzip:
      return "gzip";
    case Codec::kZstd:
      return "zstd";
    case Codec::kBzip2:
      return "bzip2";
    case Codec::kXz:
      return "xz";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

RemoteOpener SetRemoteOpener(RemoteOpener opener) {
  auto next = opener ? std::make_shared<const RemoteOpener>(std::move(opener))
                     : nullptr;
  std::shared_ptr<const RemoteOpener> prev;
  {
    std::lock_guard<std::mutex> lock(remote_mu);
    prev = std::exchange(RemoteOpenerSlot(), std::move(next));
  }
  return prev ? *prev : RemoteOpener();
}

StatusOr<std::unique_ptr<ReadStream>> OpenFileStream(const std::string& path) {
  if (IsRemote(path)) return OpenRemote(path, 0, -1);
  StatusOr<std::string> local = LocalPath(path);
  if (!local.ok()) return local.status();
  bool seekable = false;
  StatusOr<int> fd = OpenForRead(*local, &seekable);
  if (!fd.ok()) return fd.status();
  // Advice only: failure changes nothing.
  if (seekable) (void)::posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ReadStream>(
      new FileStream(path, *fd, /*ranged=*/false, 0, -1));
}

StatusOr<std::unique_ptr<ReadStream>> OpenFileRange(const std::string& path,
                                                    uint64_t offset,
                                                    int64_t length) {
  if (IsRemote(path)) return OpenRemote(path, offset, length);
  StatusOr<std::string> local = LocalPath(path);
  if (!local.ok()) return local.status();
  if (offset > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgumentError(path + ": range offset " +
                                std::to_string(offset) + " out of range");
  }
  bool seekable = false;
  StatusOr<int> fd = OpenForRead(*local, &seekable);
  if (!fd.ok()) return fd.status();
  if (!seekable) {
    ::close(*fd);
    return FailedPreconditionError(
        path + ": not a regular file; cannot read a byte range of it");
  }
  (void)::posix_fadvise(*fd, static_cast<off_t>(offset),
                        length < 0 ? 0 : static_cast<off_t>(length),
                        POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ReadStream>(
      new FileStream(path, *fd, /*ranged=*/true, offset, length));
}

StatusOr<std::unique_ptr<ReadStream>> OpenDecoded(const std::string& path) {
  StatusOr<std::unique_ptr<ReadStream>> raw = OpenFileStream(path);
  if (!raw.ok()) return raw.status();
  return WrapDecoder(CodecForPath(path), std::move(raw).value());
}

}  // namespace taskgrid
