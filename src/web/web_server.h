// WebServer: the JSON API and Prometheus metrics over HTTP (cpp-httplib),
// read through a ControlService — the same interface the CLI uses, so a
// local state file (StoreControl) and a cluster master (ClusterMaster)
// serve the same API. The endpoints, their JSON and the error codes are in
// docs/api.md.
//
//   WebServerOptions o;
//   o.token = cluster_token;  // POSTs need `Authorization: Bearer ...`
//   ASSIGN_OR_RETURN(auto server, WebServer::Start("127.0.0.1:7780",
//                                                  &control, o));
//   std::cerr << "serving " << server->url() << "\n";
//   ...
//   server->Stop();
//
// Every request passes the checks of web/request_guard.h first: its Host
// must be a name of this server (403), its Origin, if any, this server
// (403), and a POST must carry the token when one is set (401).
//
// Thread-safety: Start, Stop and the accessors may be called from any
// thread; requests are served by a pool of threads, which call `control`
// concurrently (ControlService implementations are thread-safe).
#ifndef TASKGRID_WEB_WEB_SERVER_H_
#define TASKGRID_WEB_WEB_SERVER_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "rpc/control.h"
#include "taskgrid/status.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace taskgrid {

struct WebServerOptions {
  // POST requests must carry `Authorization: Bearer <token>`; "" = no
  // token needed (reads never need one).
  std::string token;
  // Rendered at /metrics, after the series computed from `control`;
  // nullptr = MetricsRegistry::Global().
  const MetricsRegistry* metrics = nullptr;
  // More names the Host header may carry ("NAME" or "NAME:PORT"), e.g. the
  // name clients use for a server bound to 0.0.0.0 (request_guard.h).
  std::vector<std::string> allowed_hosts;
  int threads = 8;  // requests served at once
};

class WebServer {
 public:
  // Binds `address` ("HOST:PORT"; port 0 = any free port, see port()) and
  // serves until Stop(). InvalidArgument for an address that does not
  // parse, FailedPrecondition if it cannot be bound (in use, not ours).
  // `control` must outlive the server.
  static StatusOr<std::unique_ptr<WebServer>> Start(const std::string& address,
                                                    ControlService* control,
                                                    WebServerOptions options);
  ~WebServer();  // Stop()

  // Stops accepting and waits for requests in progress. Idempotent.
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:7780" (the address as bound; brackets for IPv6).
  std::string url() const;

 private:
  class Handlers;
  WebServer() = default;

  std::string host_;
  int port_ = 0;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::mutex stop_mu_;  // serializes Stop()
  std::thread thread_;
};

}  // namespace taskgrid

#endif  // TASKGRID_WEB_WEB_SERVER_H_
