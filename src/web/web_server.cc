#include "web/web_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "core/owner.h"
#include "web/api.h"
#include "web/dashboard_page.h"
#include "web/request_guard.h"

namespace taskgrid {
namespace {

void Send(httplib::Response& res, const ApiResponse& r) {
  res.status = r.status;
  res.set_content(r.body, r.content_type);
}

// A path id matched by (\d+); a number too big for int64 is no such id.
StatusOr<int64_t> PathId(const httplib::Request& req, size_t i) {
  const std::string s = req.matches[i];
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return NotFoundError("no such id: " + s);
  }
  return v;
}

}  // namespace

// The Api plus what a request must pass before it gets there.
class WebServer::Handlers {
 public:
  Handlers(ControlService* control, const WebServerOptions& options,
           HostPolicy hosts)
      : api(control,
            options.metrics ? options.metrics : &MetricsRegistry::Global()),
        token(options.token),
        hosts(std::move(hosts)) {}

  // Runs before routing: the response when the request is refused.
  std::optional<ApiResponse> Refuse(const httplib::Request& req) const {
    const std::string host = req.get_header_value("Host");
    if (!hosts.Allows(host)) {
      return ErrorResponse(PermissionDeniedError(
          "Host '" + host +
          "' is not a name of this server (DNS rebinding protection); "
          "use the address it was started on"));
    }
    if (req.has_header("Origin") &&
        !OriginMatchesHost(req.get_header_value("Origin"), host)) {
      return ErrorResponse(PermissionDeniedError(
          "cross-site request refused: Origin '" +
          req.get_header_value("Origin") + "' is not http://" + host));
    }
    if (req.method != "GET" && req.method != "HEAD" && !token.empty() &&
        !BearerTokenMatches(req.get_header_value("Authorization"), token)) {
      return ErrorResponse(UnauthenticatedError(
          "this server needs a token: send Authorization: Bearer TOKEN"));
    }
    return std::nullopt;
  }

  Api api;
  const std::string token;
  const HostPolicy hosts;
};

StatusOr<std::unique_ptr<WebServer>> WebServer::Start(
    const std::string& address, ControlService* control,
    WebServerOptions options) {
  auto bound = ParseListenAddress(address);
  if (!bound.ok()) return bound.status();
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->host_ = bound->host;
  ws->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *ws->server_;
  const int threads = options.threads > 0 ? options.threads : 1;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Idle keep-alive connections hold a pool thread and delay Stop(): keep
  // them short (a polling page reconnects cheaply).
  svr.set_keep_alive_timeout(2);
  svr.set_read_timeout(10);
  svr.set_write_timeout(10);
  svr.set_payload_max_length(4 << 20);
  // The library's default is SO_REUSEPORT, which lets a second server bind
  // the same port and silently share its connections: SO_REUSEADDR only
  // (restart while old connections linger in TIME_WAIT), so a taken port
  // is an error.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  if (bound->port == 0) {
    ws->port_ = svr.bind_to_any_port(bound->host);
  } else {
    ws->port_ = svr.bind_to_port(bound->host, bound->port) ? bound->port : -1;
  }
  if (ws->port_ <= 0) {
    return FailedPreconditionError("cannot listen on " + address +
                                   " (address in use, or not of this host)");
  }
  ListenAddress actual = *bound;
  actual.port = ws->port_;
  ws->handlers_ = std::make_unique<Handlers>(
      control, options,
      HostPolicy(actual, HostName(), std::move(options.allowed_hosts)));
  Handlers* h = ws->handlers_.get();

  svr.set_pre_routing_handler(
      [h](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        if (auto refused = h->Refuse(req)) {
          if (refused->status == 401) {
            res.set_header("WWW-Authenticate", "Bearer");
          }
          Send(res, *refused);
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  // Unmatched routes (and anything else that ends in an error without a
  // body) answer in JSON too.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        const int status = res.status;
        ApiResponse e = ErrorResponse(
            status == 404   ? NotFoundError("no such endpoint: " + req.method +
                                            " " + req.path)
            : status == 413 ? ResourceExhaustedError("request too large")
            : status == 400 && req.method == "POST" &&
                    !req.has_header("Content-Length")
                ? InvalidArgumentError(
                      "a POST with a body needs a Content-Length header")
            : status >= 500
                ? InternalError("HTTP " + std::to_string(status))
                : InvalidArgumentError("bad request (HTTP " +
                                       std::to_string(status) + ")"));
        e.status = status;  // keep the library's status (405, 413, ...)
        Send(res, e);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Send(res, ErrorResponse(InternalError(what)));
  });

  // Runs fn(ids...) with the path ids, or answers 404 for an id that does
  // not fit in int64.
  const auto with_ids = [](const httplib::Request& req, httplib::Response& res,
                           auto fn) {
    std::vector<int64_t> ids;
    for (size_t i = 1; i < req.matches.size(); ++i) {
      auto id = PathId(req, i);
      if (!id.ok()) return Send(res, ErrorResponse(id.status()));
      ids.push_back(*id);
    }
    Send(res, fn(ids));
  };
  svr.Get("/api/jobs",
          [h](const httplib::Request& req, httplib::Response& res) {
            Send(res, h->api.ListJobs(req.params));
          });
  svr.Get(R"(/api/jobs/(\d+))",
          [h, with_ids](const httplib::Request& req, httplib::Response& res) {
            with_ids(req, res, [&](const std::vector<int64_t>& id) {
              return h->api.GetJob(id[0]);
            });
          });
  svr.Get(R"(/api/jobs/(\d+)/tasks)",
          [h, with_ids](const httplib::Request& req, httplib::Response& res) {
            with_ids(req, res, [&](const std::vector<int64_t>& id) {
              return h->api.ListTasks(id[0], req.params);
            });
          });
  svr.Get(R"(/api/jobs/(\d+)/tasks/(\d+))",
          [h, with_ids](const httplib::Request& req, httplib::Response& res) {
            with_ids(req, res, [&](const std::vector<int64_t>& id) {
              return h->api.GetTask(id[0], id[1]);
            });
          });
  svr.Post(R"(/api/jobs/(\d+)/rerun)",
           [h, with_ids](const httplib::Request& req, httplib::Response& res) {
             with_ids(req, res, [&](const std::vector<int64_t>& id) {
               return h->api.Rerun(id[0], req.body);
             });
           });
  // Cancel has no body: with a content reader (never called) the library
  // does not insist on a Content-Length, so `curl -X POST URL` works.
  svr.Post(R"(/api/jobs/(\d+)/cancel)",
           [h, with_ids](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& body) {
             // A body, if sent, is read and ignored (a keep-alive connection
             // must not see it as the next request).
             if (req.has_header("Content-Length")) {
               body([](const char*, size_t) { return true; });
             }
             with_ids(req, res, [&](const std::vector<int64_t>& id) {
               return h->api.Cancel(id[0]);
             });
           });
  svr.Get("/api/workers", [h](const httplib::Request&, httplib::Response& res) {
    Send(res, h->api.Workers());
  });
  svr.Get("/metrics", [h](const httplib::Request&, httplib::Response& res) {
    Send(res, h->api.PrometheusMetrics());
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'unsafe-inline'; "
                   "style-src 'unsafe-inline'");
    const std::string_view page = DashboardPageHtml();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });

  ws->thread_ = std::thread([&svr] { svr.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs: wait for it, so
  // that a Stop() right after Start() cannot be lost.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!svr.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ws;
}

WebServer::~WebServer() { Stop(); }

void WebServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

std::string WebServer::url() const {
  return "http://" + FormatHostPort(host_, port_);
}

}  // namespace taskgrid
