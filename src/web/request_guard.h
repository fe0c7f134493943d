// The HTTP server's security checks, as pure functions of a request's
// headers and the server's configuration (web_server.cc applies them to
// every request before routing):
//
//  - Host (DNS rebinding): a page on evil.example whose name the attacker
//    points at 127.0.0.1 reaches us with `Host: evil.example:PORT`; only
//    names this server is known by are accepted (HostPolicy).
//  - Origin (cross-site requests): when a browser says where a request
//    comes from, it must be this server itself: `http://<Host>`.
//  - Token: mutating requests carry `Authorization: Bearer TOKEN` when the
//    server has a token.
//
// Thread-safety: pure functions; HostPolicy is immutable after
// construction.
#ifndef TASKGRID_WEB_REQUEST_GUARD_H_
#define TASKGRID_WEB_REQUEST_GUARD_H_

#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid {

struct ListenAddress {
  std::string host;  // without brackets: "127.0.0.1", "::1", "0.0.0.0"
  int port = 0;      // 0 = any free port
};

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (the last two on
// 127.0.0.1). InvalidArgument naming the address otherwise.
StatusOr<ListenAddress> ParseListenAddress(std::string_view address);
// "127.0.0.1:7780", "[::1]:7780".
std::string FormatHostPort(std::string_view host, int port);

// 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);
// 0.0.0.0 and :: (every interface).
bool IsWildcardHost(std::string_view host);

// Which Host header values a server bound to `bound` accepts. Names are
// compared without regard to case; a Host without a port means port 80.
//  - the bound address itself (HOST:PORT);
//  - bound to loopback: localhost, 127.0.0.1 and [::1] with the port;
//  - bound to every interface (0.0.0.0, ::): those loopback names and
//    `machine_name` (this host's name) with the port;
//  - always: each of `extra` ("NAME" with the bound port, or "NAME:PORT").
class HostPolicy {
 public:
  HostPolicy(ListenAddress bound, std::string machine_name,
             std::vector<std::string> extra);
  bool Allows(std::string_view host_header) const;

 private:
  // Lower-case "name:port" strings (IPv6 in brackets).
  std::vector<std::string> allowed_;
};

// True if `origin` (an Origin header's value) is http://`host`: the
// request comes from a page this server served.
bool OriginMatchesHost(std::string_view origin, std::string_view host);

// True if `authorization` is "Bearer `token`" (scheme case-insensitive,
// token compared in constant time).
bool BearerTokenMatches(std::string_view authorization, std::string_view token);

}  // namespace taskgrid

#endif  // TASKGRID_WEB_REQUEST_GUARD_H_
