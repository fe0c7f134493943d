// DataServer: a worker's data service (DESIGN.md §3 "Data plane", §6): the
// files under the worker's data directory and its jobs' output directories,
// served read-only over gRPC (service taskgrid.pb.Data,
// rpc/grpc/proto/data.proto) to holders of the cluster token. Clients:
// worker/data_client.h, `taskgrid cat|ls tg://WORKER/PATH`, and processors
// opening tg:// URLs through io/read_stream.h.
//
//   client ──Read(path, offset, length)──► DataServer ──► DataRoots::Resolve
//          ◄── chunk, chunk, ... (~1 MiB) ──┘                (realpath check)
//
// Paths: absolute paths on the worker's machine, checked by DataRoots
// (worker/data_service_roots.h): "..", relative paths and anything whose
// canonical form lies outside every root are PermissionDenied, naming the
// path. The file is opened by its canonical path without following a final
// symlink, and the opened descriptor's own path (/proc/self/fd) is checked
// against the roots again, so swapping in a symlink between the check and
// the open gains nothing.
//
// Read streams the file in chunks of `chunk_bytes` (1 MiB) with pread;
// gRPC's flow control holds the server back while the client is slow, so
// neither side ever holds more than a few chunks. Only regular files are
// read (a directory or device is FailedPrecondition). List streams a
// directory's entries sorted by name, in batches. Errors: NotFound for a
// missing file inside a root, Internal for I/O errors, Unauthenticated for
// a missing or wrong token (checked before anything else).
//
// Auth and TLS as GrpcMasterServer (rpc/grpc/grpc_transport.h): the token in
// "authorization: Bearer <token>" or "x-taskgrid-token: <token>", compared
// in constant time; optional server TLS by cert and key files.
//
// Thread-safety: thread-safe. AddRoot may be called while serving;
// Shutdown() is idempotent and is called by the destructor.
#ifndef TASKGRID_WORKER_DATA_SERVICE_H_
#define TASKGRID_WORKER_DATA_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rpc/grpc/grpc_transport.h"
#include "taskgrid/status.h"
#include "worker/data_service_roots.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace taskgrid {

struct DataServerOptions {
  // "host:port"; port 0 = any free port (see port()). Loopback by default:
  // a cluster spanning machines must listen on an address the others reach.
  std::string listen_address = "127.0.0.1:0";
  std::string token;               // the cluster token (required)
  GrpcTlsOptions tls;              // cert_path + key_path, or neither
  std::vector<std::string> roots;  // served directories (more: AddRoot)
  size_t chunk_bytes = size_t{1} << 20;
};

class DataServer {
 public:
  // Starts serving. InvalidArgument for an empty token, a bad root, a
  // chunk size of 0 or above 16 MiB, or a bad TLS configuration;
  // FailedPrecondition if the address cannot be bound.
  static StatusOr<std::unique_ptr<DataServer>> Start(
      const DataServerOptions& options);
  ~DataServer();
  DataServer(const DataServer&) = delete;
  DataServer& operator=(const DataServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }
  // Serves `dir` too from now on (see DataRoots::Add). The directory need
  // not exist yet.
  Status AddRoot(const std::string& dir);
  std::vector<std::string> roots() const;

  // Stops accepting calls; streams in flight get up to `grace_ms`, then
  // are cancelled. Returns once every handler has returned.
  void Shutdown(int64_t grace_ms = 1000);

  class Service;  // the generated service, implemented in the .cc

 private:
  DataServer(std::unique_ptr<DataRoots> roots, std::unique_ptr<Service> service,
             std::unique_ptr<grpc::Server> server, int port);

  // Constant after construction. The roots and the service outlive
  // server_ (declared first, destroyed last).
  const std::unique_ptr<DataRoots> roots_;
  const std::unique_ptr<Service> service_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  std::once_flag shutdown_once_;
};

}  // namespace taskgrid

#endif  // TASKGRID_WORKER_DATA_SERVICE_H_
