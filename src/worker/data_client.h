// Clients of a worker's data service (worker/data_service.h) and the
// tg:// URLs that name its files.
//
//   tg://WORKER/ABS/PATH   WORKER is a worker id, resolved to the data
//                          address the worker registered through
//                          ControlService::GetCluster of the cluster's
//                          masters, or a literal HOST:PORT of a data
//                          service ("host:7701", "[::1]:7701"). PATH is the
//                          absolute path on that worker's machine.
//
//   tg://w1/srv/data/in/a.log.gz
//   tg://10.0.0.5:7701/srv/data/in
//
// OpenRemoteFile streams a file chunk by chunk (gRPC server streaming, so
// the server is held back by flow control and neither side buffers the
// file); ListRemoteDir lists a directory, StatRemoteFile answers for one
// path. TgResolver does all three for URLs, and InstallTgOpener makes it
// the opener io/read_stream.h uses for tg:// and the catalog io/split.h
// expands tg:// input globs with, so OpenDecoded("tg://w1/x.log.gz") reads
// and decodes a remote file and ExpandGlobs({"tg://w1/in/*.gz"}) lists it.
//
// Dead peers: data channels send HTTP/2 keepalive pings while a call is
// open (DataClientOptions::keepalive_ms), and a Read whose next chunk does
// not come within read_idle_timeout_ms (30 s) fails with Unavailable naming
// the URL — so a reduce reading from a vanished or frozen worker gets an
// error it treats as a lost input (worker/shuffle_task.h: IsLostInput)
// instead of waiting for TCP to give up.
//
// Errors: the server's own status (PermissionDenied for a refused path,
// NotFound, Unauthenticated for the token, FailedPrecondition for reading
// a directory), Unavailable naming the address when the service cannot be
// reached or stops sending. Errors of URL calls are prefixed with the URL.
//
// Thread-safety: the free functions keep no state; TgResolver is
// thread-safe; a returned ReadStream is used by one thread at a time.
#ifndef TASKGRID_WORKER_DATA_CLIENT_H_
#define TASKGRID_WORKER_DATA_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/read_stream.h"
#include "rpc/control.h"
#include "rpc/grpc/grpc_transport.h"
#include "taskgrid/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace taskgrid {

struct DataClientOptions {
  std::string token;   // the cluster token (required)
  GrpcTlsOptions tls;  // as for the masters; all empty = plaintext
  // Deadline of List and Stat calls. Reads have no overall deadline (a
  // large file may take long) but the next one:
  int64_t call_timeout_ms = 30'000;
  // A Read fails (Unavailable, naming the URL) when its next chunk has not
  // arrived this long after the reader asked for it; the reader's own time
  // between reads does not count. 0 = wait for ever.
  int64_t read_idle_timeout_ms = 30'000;
  // While a call is open, ping the data service every keepalive_ms and drop
  // the connection (the call fails Unavailable) when a ping is unanswered
  // for keepalive_timeout_ms. 0 = no pings.
  int64_t keepalive_ms = 10'000;
  int64_t keepalive_timeout_ms = 10'000;
};

struct RemoteEntry {
  std::string name;
  bool is_dir = false;
  bool is_symlink = false;  // type, size and mtime are the target's
  uint64_t size = 0;
  int64_t mtime_ms = 0;
};

// Bytes [offset, offset + length) (length < 0: to the end) of `path` on
// the data service at `address`. Returns once the server has opened the
// file (so a bad path fails here, not on the first Read). The stream's
// path() is `name`, or "tg://ADDRESS/PATH" when empty. InvalidArgument for
// an empty address or token.
StatusOr<std::unique_ptr<ReadStream>> OpenRemoteFile(
    const std::string& address, const DataClientOptions& options,
    const std::string& path, uint64_t offset = 0, int64_t length = -1,
    const std::string& name = "");

// The entries of directory `path` (sorted by name), or the one entry of a
// file.
StatusOr<std::vector<RemoteEntry>> ListRemoteDir(
    const std::string& address, const DataClientOptions& options,
    const std::string& path);

// The entry of `path` itself (its name is the last component).
StatusOr<RemoteEntry> StatRemoteFile(const std::string& address,
                                     const DataClientOptions& options,
                                     const std::string& path);

struct TgUrl {
  std::string worker;  // an id or HOST:PORT
  std::string path;    // absolute
};
// InvalidArgument naming the URL unless it is tg://WORKER/ABS/PATH.
StatusOr<TgUrl> ParseTgUrl(std::string_view url);
// "host:7701", "[::1]:7701": a port of digits after the last ':' (and a
// host before it). Worker ids (HOST-PID by default) have no ':'.
bool IsHostPort(std::string_view worker);

class TgResolver {
 public:
  // `control` (may be null: then only HOST:PORT workers resolve) answers
  // GetCluster for worker ids.
  TgResolver(std::unique_ptr<ControlService> control,
             DataClientOptions options);
  // The same with a borrowed ControlService, which must outlive the
  // resolver (a master process passes itself).
  TgResolver(ControlService* control, DataClientOptions options);
  ~TgResolver();
  TgResolver(const TgResolver&) = delete;
  TgResolver& operator=(const TgResolver&) = delete;

  // The data address of `worker`: itself if HOST:PORT, else the address the
  // worker registered (cached; `refresh` asks the masters again). NotFound
  // for an unknown worker, FailedPrecondition for a worker that serves no
  // data, InvalidArgument for an id without masters to ask.
  StatusOr<std::string> DataAddress(std::string_view worker,
                                    bool refresh = false);
  // OpenRemoteFile / ListRemoteDir of a tg:// URL. When the cached address
  // of a worker id is unreachable (the worker restarted on another port),
  // the masters are asked again once.
  StatusOr<std::unique_ptr<ReadStream>> Open(const std::string& url,
                                             uint64_t offset = 0,
                                             int64_t length = -1);
  StatusOr<std::vector<RemoteEntry>> List(const std::string& url);
  StatusOr<RemoteEntry> Stat(const std::string& url);

 private:
  // One channel per data address, reused by every call to it.
  StatusOr<std::shared_ptr<grpc::Channel>> Channel(const std::string& address);
  template <typename Fn>
  auto WithAddress(const std::string& url, Fn&& fn) -> decltype(fn(""));

  // Constant after construction.
  const std::unique_ptr<ControlService> owned_control_;  // or null
  ControlService* const control_;                        // or null
  const DataClientOptions options_;

  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> addresses_;       // by mu_
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // by mu_
};

// Makes `resolver` the process-wide opener of tg:// URLs
// (io/read_stream.h: SetRemoteOpener) and their catalog for input globs
// (io/split.h: SetRemoteCatalog); null removes both. Remove them before
// the resolver's ControlService goes away.
void InstallTgOpener(std::shared_ptr<TgResolver> resolver);

}  // namespace taskgrid

#endif  // TASKGRID_WORKER_DATA_CLIENT_H_
