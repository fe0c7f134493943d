// The gRPC transport: MasterService over the network, so master and worker
// code run unchanged in a cluster (DESIGN.md §3, §6).
//
//   GrpcMasterServer  serves a MasterService* on an address
//                     ("127.0.0.1:0" picks a free port; see port()).
//   GrpcMasterClient  a MasterService whose calls go to such a server.
//   GrpcTransport     the Transport bundling both: Serve() starts a server,
//                     Connect() makes a client.
//
// The same server can also serve a ControlService (service
// taskgrid.pb.Control, rpc/grpc/grpc_control.h) on the same port, behind the
// same token and TLS.
//
// Wire: service taskgrid.pb.Master (rpc/grpc/proto/taskgrid.proto), one
// unary RPC per MasterService method, carrying the batched messages of
// rpc/messages.h over one HTTP/2 channel per client. Fetch is a long poll:
// the server waits up to FetchRequest::wait_ms. (DESIGN.md names
// bidirectional streams; unary calls with batching are this first slice,
// streams can come later behind the same MasterService.)
//
// Auth: every call must carry the cluster token, as metadata
// "authorization: Bearer <token>" (what GrpcMasterClient sends) or
// "x-taskgrid-token: <token>". The server compares it in constant time and
// answers a missing or wrong token with Unauthenticated, before the master
// sees the call. The token is required: an empty one is InvalidArgument at
// Start/Create.
//
// TLS (optional): with GrpcTlsOptions the server presents cert/key and the
// client verifies it against ca (server-authenticated TLS; the token
// authenticates the client). Without, the channel is plaintext: use it on
// trusted networks only, since the token then travels in clear.
//
// Errors seen by callers of GrpcMasterClient: the master's own Status,
// code and message unchanged (the codes map 1:1 to gRPC's); Unavailable,
// naming the address, when the master cannot be reached or a call runs out
// of time (the worker retries those); Unauthenticated for a bad token.
#ifndef TASKGRID_RPC_GRPC_GRPC_TRANSPORT_H_
#define TASKGRID_RPC_GRPC_GRPC_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rpc/transport.h"

namespace grpc {
class Channel;
class Server;
class Service;
}  // namespace grpc

namespace taskgrid {

class ControlService;  // rpc/control.h

// PEM file paths. All empty: plaintext.
//   Server: cert_path + key_path (both or neither); ca_path unused.
//   Client: ca_path (root to verify the server; empty = system roots when
//           cert/key are set), cert_path + key_path optional (client cert).
struct GrpcTlsOptions {
  std::string cert_path;
  std::string key_path;
  std::string ca_path;
  bool enabled() const {
    return !cert_path.empty() || !key_path.empty() || !ca_path.empty();
  }
};

// Thread-safety: thread-safe. Shutdown() is idempotent and is called by the
// destructor; `master` (and `control`) must outlive the server.
class GrpcMasterServer {
 public:
  // Starts serving `master` on `address` ("host:port"; port 0 = any free
  // port), and `control` too when given (service Control on the same port,
  // behind the same token and TLS). InvalidArgument for an empty token or a
  // bad TLS configuration (naming the file), FailedPrecondition if the
  // address cannot be bound. `master` and `control` must outlive the server.
  static StatusOr<std::unique_ptr<GrpcMasterServer>> Start(
      MasterService* master, const std::string& address,
      const std::string& token, const GrpcTlsOptions& tls = {},
      ControlService* control = nullptr);
  ~GrpcMasterServer();

  // The port actually bound.
  int port() const { return port_; }
  // Stops accepting calls; in-flight calls get up to `grace_ms` to finish,
  // then are cancelled. Returns once every handler has returned.
  void Shutdown(int64_t grace_ms = 1000);

  class Service;  // the generated service, implemented in the .cc

 private:
  GrpcMasterServer(std::unique_ptr<Service> service,
                   std::unique_ptr<grpc::Service> control_service,
                   std::unique_ptr<grpc::Server> server, int port);

  // The services outlive server_ (declared first, destroyed last).
  const std::unique_ptr<Service> service_;
  const std::unique_ptr<grpc::Service> control_service_;  // or null
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  std::once_flag shutdown_once_;
};

struct GrpcClientOptions {
  std::string address;  // "host:port" of the master
  std::string token;    // the cluster token (required)
  GrpcTlsOptions tls;
  // Deadline of each call; Fetch gets wait_ms + fetch_margin_ms.
  int64_t call_timeout_ms = 30'000;
  int64_t fetch_margin_ms = 10'000;
  // Caps the wait between reconnection attempts after the master could not
  // be reached (calls fail at once while the channel waits). 0 = gRPC's
  // default, which grows to 120 s.
  int64_t max_reconnect_backoff_ms = 0;
  // HTTP/2 keepalive while calls are open: a ping every keepalive_ms; the
  // connection is dropped (its calls fail Unavailable) when one goes
  // unanswered for keepalive_timeout_ms. 0 = gRPC's default (no pings).
  int64_t keepalive_ms = 0;
  int64_t keepalive_timeout_ms = 0;
};

// Thread-safety: thread-safe (calls from many threads share one channel).
class GrpcMasterClient : public MasterService {
 public:
  // Makes the channel; does not connect yet (the first call does), so an
  // unreachable master shows up as Unavailable on calls, not here.
  // InvalidArgument for an empty address or token or an unreadable TLS file.
  static StatusOr<std::unique_ptr<GrpcMasterClient>> Create(
      GrpcClientOptions options);
  ~GrpcMasterClient() override;

  Status RegisterWorker(const WorkerInfo& info) override;
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override;
  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override;
  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>& tasks) override;
  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override;
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override;

  class Impl;

 private:
  explicit GrpcMasterClient(std::unique_ptr<Impl> impl);
  const std::unique_ptr<Impl> impl_;
};

struct GrpcTransportOptions {
  // Serve(): where to listen. Port 0 = any free port (see port()).
  std::string listen_address = "127.0.0.1:0";
  // Connect(): the master's "host:port". Empty = this transport's own
  // server (after Serve), reached on the loopback.
  std::string master_address;
  std::string token;  // the cluster token (required)
  GrpcTlsOptions tls;
  int64_t call_timeout_ms = 30'000;
  int64_t fetch_margin_ms = 10'000;
};

// Thread-safety: thread-safe. The server, if any, stops when the transport
// is destroyed; the `master` given to Serve() must outlive the transport.
class GrpcTransport : public Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options);
  ~GrpcTransport() override;

  // FailedPrecondition if already serving; otherwise as
  // GrpcMasterServer::Start.
  Status Serve(MasterService* master) override;
  // FailedPrecondition if master_address is empty and Serve() has not run;
  // otherwise as GrpcMasterClient::Create.
  StatusOr<std::unique_ptr<MasterService>> Connect() override;
  // The bound port after Serve(), else 0.
  int port() const;

 private:
  const GrpcTransportOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<GrpcMasterServer> server_;  // guarded by mu_
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_GRPC_GRPC_TRANSPORT_H_
