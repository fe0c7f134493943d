#include "worker/data_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/proto/data.grpc.pb.h"

namespace taskgrid {
namespace {

constexpr size_t kMaxChunkBytes = size_t{16} << 20;
constexpr int kListBatch = 1000;

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status ErrnoError(const std::string& path, std::string_view what, int err) {
  std::string msg =
      "data service: " + path + ": " + std::string(what) + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFoundError(msg);
    case EACCES:
    case EPERM:
    case ELOOP:  // the last component became a symlink since the check
      return PermissionDeniedError(msg);
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return ResourceExhaustedError(msg);
    default:
      return InternalError(msg);
  }
}

int64_t MtimeMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
         st.st_mtim.tv_nsec / 1'000'000;
}

void FillEntry(const struct stat& st, pb::DataEntry* e) {
  e->set_is_dir(S_ISDIR(st.st_mode));
  e->set_size(S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0);
  e->set_mtime_ms(MtimeMs(st));
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

class DataServer::Service final : public pb::Data::Service {
 public:
  Service(const DataRoots* roots, std::string token, size_t chunk_bytes)
      : roots_(roots), token_(std::move(token)), chunk_bytes_(chunk_bytes) {}

  grpc::Status Read(grpc::ServerContext* ctx, const pb::DataReadRequest* req,
                    grpc::ServerWriter<pb::DataChunk>* writer) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    StatusOr<int> opened = OpenChecked(req->path(), O_RDONLY);
    if (!opened.ok()) return ToGrpcStatus(opened.status());
    Fd fd(*opened);
    const std::string& path = req->path();
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      return ToGrpcStatus(ErrnoError(path, "stat: ", errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return ToGrpcStatus(FailedPreconditionError(
          "data service: " + path +
          (S_ISDIR(st.st_mode) ? ": is a directory, not a file (list it)"
                               : ": not a regular file")));
    }
    uint64_t offset = req->offset();
    uint64_t remaining = req->length() == 0 ? UINT64_MAX : req->length();
    (void)::posix_fadvise(fd.get(), static_cast<off_t>(offset), 0,
                          POSIX_FADV_SEQUENTIAL);
    pb::DataChunk chunk;
    chunk.set_file_size(static_cast<uint64_t>(st.st_size));
    bool first = true;
    while (!ctx->IsCancelled()) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(chunk_bytes_, remaining));
      std::string* data = chunk.mutable_data();
      data->resize(want);
      size_t got = 0;
      if (want > 0 && offset <= static_cast<uint64_t>(INT64_MAX)) {
        const ssize_t r =
            ::pread(fd.get(), data->data(), want, static_cast<off_t>(offset));
        if (r < 0) {
          if (errno == EINTR) continue;
          return ToGrpcStatus(ErrnoError(
              path, "read at byte " + std::to_string(offset) + ": ", errno));
        }
        got = static_cast<size_t>(r);
      }
      if (got == 0 && !first) break;
      data->resize(got);
      chunk.set_offset(offset);
      if (!writer->Write(chunk)) {
        return grpc::Status(grpc::StatusCode::CANCELLED,
                            "data service: " + path + ": client went away");
      }
      first = false;
      chunk.clear_file_size();
      offset += got;
      remaining -= got;
      if (got == 0 || remaining == 0) break;
    }
    if (ctx->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          "data service: " + path + ": cancelled");
    }
    return grpc::Status::OK;
  }

  grpc::Status List(grpc::ServerContext* ctx, const pb::DataListRequest* req,
                    grpc::ServerWriter<pb::DataListResponse>* writer) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    const std::string& path = req->path();
    StatusOr<int> opened = OpenChecked(path, O_RDONLY);
    if (!opened.ok()) return ToGrpcStatus(opened.status());
    Fd fd(*opened);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      return ToGrpcStatus(ErrnoError(path, "stat: ", errno));
    }
    pb::DataListResponse batch;
    if (!S_ISDIR(st.st_mode)) {  // a file lists as itself, as ls does
      pb::DataEntry* e = batch.add_entries();
      e->set_name(BaseName(path));
      FillEntry(st, e);
      writer->Write(batch);
      return grpc::Status::OK;
    }
    DIR* dir = ::fdopendir(fd.get());
    if (dir == nullptr) {
      return ToGrpcStatus(ErrnoError(path, "opendir: ", errno));
    }
    fd.release();  // closedir closes it
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* d = ::readdir(dir)) {
      const std::string_view name(d->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int read_err = errno;
    const int dfd = ::dirfd(dir);
    if (read_err != 0) {
      ::closedir(dir);
      return ToGrpcStatus(ErrnoError(path, "readdir: ", read_err));
    }
    std::sort(names.begin(), names.end());
    grpc::Status result = grpc::Status::OK;
    for (const std::string& name : names) {
      if (ctx->IsCancelled()) break;
      struct stat est;
      if (::fstatat(dfd, name.c_str(), &est, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;  // removed since readdir
      }
      pb::DataEntry* e = batch.add_entries();
      e->set_name(name);
      if (S_ISLNK(est.st_mode)) {
        e->set_is_symlink(true);
        SymlinkTarget(dfd, name, e);
      } else {
        FillEntry(est, e);
      }
      if (batch.entries_size() >= kListBatch) {
        if (!writer->Write(batch)) break;
        batch.Clear();
      }
    }
    ::closedir(dir);
    if (batch.entries_size() > 0) writer->Write(batch);
    return result;
  }

  grpc::Status Stat(grpc::ServerContext* ctx, const pb::DataStatRequest* req,
                    pb::DataEntry* resp) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    StatusOr<int> opened = OpenChecked(req->path(), O_RDONLY);
    if (!opened.ok()) return ToGrpcStatus(opened.status());
    Fd fd(*opened);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      return ToGrpcStatus(ErrnoError(req->path(), "stat: ", errno));
    }
    resp->set_name(BaseName(req->path()));
    FillEntry(st, resp);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Authorize(const grpc::ServerContext& ctx) const {
    grpc::Status s = grpc_internal::AuthorizeCall(ctx, token_);
    if (s.ok()) return s;
    // The shared check speaks for the master; say who refused.
    std::string msg = s.error_message();
    constexpr std::string_view kMaster = "taskgrid master";
    if (msg.rfind(kMaster, 0) == 0) {
      msg = "taskgrid worker data service" + msg.substr(kMaster.size());
    }
    return grpc::Status(s.error_code(), msg);
  }

  // Resolves `path` through the roots, opens the canonical path without
  // following a final symlink, and checks where the descriptor really
  // points (a component swapped for a symlink after the check is caught).
  StatusOr<int> OpenChecked(const std::string& path, int flags) const {
    StatusOr<std::string> canonical = roots_->Resolve(path);
    if (!canonical.ok()) return canonical.status();
    const int fd =
        ::open(canonical->c_str(), flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) return ErrnoError(path, "open: ", errno);
    Fd guard(fd);
    char link[PATH_MAX];
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(proc.c_str(), link, sizeof link - 1);
    if (n > 0 && !roots_->Contains(std::string(link, static_cast<size_t>(n)))) {
      return PermissionDeniedError(
          "data service: refusing " + path +
          ": outside the directories this worker serves");
    }
    return guard.release();
  }

  // Fills `e` with the type, size and mtime of symlink `name`'s target in
  // directory `dfd` when the target lies inside a root; leaves them zero
  // otherwise.
  void SymlinkTarget(int dfd, const std::string& name, pb::DataEntry* e) const {
    char dir[PATH_MAX];
    const std::string proc = "/proc/self/fd/" + std::to_string(dfd);
    const ssize_t n = ::readlink(proc.c_str(), dir, sizeof dir - 1);
    if (n <= 0) return;
    const std::string full =
        std::string(dir, static_cast<size_t>(n)) + "/" + name;
    char target[PATH_MAX];
    if (::realpath(full.c_str(), target) == nullptr) return;
    if (!roots_->Contains(target)) return;
    struct stat st;
    if (::stat(target, &st) == 0) FillEntry(st, e);
  }

  const DataRoots* const roots_;  // outlives the service
  const std::string token_;
  const size_t chunk_bytes_;
};

StatusOr<std::unique_ptr<DataServer>> DataServer::Start(
    const DataServerOptions& options) {
  const std::string& address = options.listen_address;
  if (options.token.empty()) {
    return InvalidArgumentError(
        "data service on " + address +
        ": a cluster token is required (calls without it are rejected)");
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes > kMaxChunkBytes) {
    return InvalidArgumentError("data service: chunk size " +
                                std::to_string(options.chunk_bytes) +
                                " out of range (1 B to 16 MiB)");
  }
  auto roots = std::make_unique<DataRoots>();
  for (const std::string& r : options.roots) {
    Status s = roots->Add(r);
    if (!s.ok()) return s;
  }
  auto creds = grpc_internal::ServerCredentialsFor(address, options.tls);
  if (!creds.ok()) return creds.status();
  auto service = std::make_unique<Service>(roots.get(), options.token,
                                           options.chunk_bytes);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, *creds, &port);
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(1 << 20);  // requests are small
  // Clients ping while they read (DataClientOptions::keepalive_ms); a
  // reader that vanished stops holding a handler thread within a minute.
  grpc_internal::ConfigureServerKeepalive(&builder, 30'000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return FailedPreconditionError("data service: cannot listen on " + address +
                                   " (bad address, or port in use)");
  }
  return std::unique_ptr<DataServer>(new DataServer(
      std::move(roots), std::move(service), std::move(server), port));
}

DataServer::DataServer(std::unique_ptr<DataRoots> roots,
                       std::unique_ptr<Service> service,
                       std::unique_ptr<grpc::Server> server, int port)
    : roots_(std::move(roots)),
      service_(std::move(service)),
      server_(std::move(server)),
      port_(port) {}

DataServer::~DataServer() { Shutdown(); }

Status DataServer::AddRoot(const std::string& dir) { return roots_->Add(dir); }

std::vector<std::string> DataServer::roots() const { return roots_->List(); }

void DataServer::Shutdown(int64_t grace_ms) {
  std::call_once(shutdown_once_, [&] {
    server_->Shutdown(grpc_internal::DeadlineIn(grace_ms));
    server_->Wait();
  });
}

}  // namespace taskgrid
