#include "web/request_guard.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace taskgrid {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::optional<int> ParsePort(std::string_view s) {
  int port = 0;
  if (s.empty() || s.size() > 5) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || p != s.data() + s.size() || port < 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return port;
}

// Splits "name[:port]" / "[v6][:port]" into a name (no brackets) and port
// (`default_port` when absent). nullopt if malformed.
std::optional<ListenAddress> SplitHostPort(std::string_view s,
                                           int default_port) {
  ListenAddress a;
  std::string_view rest;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = std::string(s.substr(1, close - 1));
    rest = s.substr(close + 1);
    if (a.host.empty() || a.host.find(':') == std::string::npos) {
      return std::nullopt;
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos &&
        s.find(':') != colon) {  // a bare IPv6 address: ambiguous
      return std::nullopt;
    }
    a.host = std::string(s.substr(0, colon));
    rest =
        colon == std::string_view::npos ? std::string_view() : s.substr(colon);
  }
  if (rest.empty()) {
    a.port = default_port;
  } else {
    if (rest[0] != ':') return std::nullopt;
    auto port = ParsePort(rest.substr(1));
    if (!port) return std::nullopt;
    a.port = *port;
  }
  return a;
}

}  // namespace

StatusOr<ListenAddress> ParseListenAddress(std::string_view address) {
  const auto bad = [&](std::string_view why) {
    return InvalidArgumentError("bad HTTP address '" + std::string(address) +
                                "': " + std::string(why) +
                                " (use HOST:PORT, e.g. 127.0.0.1:7780)");
  };
  if (address.empty()) return bad("empty");
  if (address.find_first_not_of("0123456789") == std::string_view::npos) {
    auto port = ParsePort(address);
    if (!port) return bad("port out of range");
    return ListenAddress{"127.0.0.1", *port};
  }
  auto a = SplitHostPort(address, -1);
  if (!a) return bad("cannot parse it");
  if (a->port < 0) return bad("no port");
  if (a->host.empty()) a->host = "127.0.0.1";
  for (char c : a->host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != ':' && c != '_') {
      return bad("bad character in host");
    }
  }
  return *a;
}

std::string FormatHostPort(std::string_view host, int port) {
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

bool IsLoopbackHost(std::string_view host) {
  const std::string h = Lower(host);
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

bool IsWildcardHost(std::string_view host) {
  return host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0";
}

HostPolicy::HostPolicy(ListenAddress bound, std::string machine_name,
                       std::vector<std::string> extra) {
  const int port = bound.port;
  auto add = [&](std::string_view name, int p) {
    allowed_.push_back(Lower(FormatHostPort(name, p)));
  };
  add(bound.host, port);
  if (IsLoopbackHost(bound.host) || IsWildcardHost(bound.host)) {
    for (const char* name : {"localhost", "127.0.0.1", "::1"}) add(name, port);
  }
  if (IsWildcardHost(bound.host) && !machine_name.empty()) {
    add(machine_name, port);
  }
  for (const std::string& e : extra) {
    if (auto a = SplitHostPort(e, port); a && !a->host.empty()) {
      add(a->host, a->port);
    }
  }
}

bool HostPolicy::Allows(std::string_view host_header) const {
  auto a = SplitHostPort(host_header, 80);
  if (!a || a->host.empty()) return false;
  const std::string key = Lower(FormatHostPort(a->host, a->port));
  return std::find(allowed_.begin(), allowed_.end(), key) != allowed_.end();
}

bool OriginMatchesHost(std::string_view origin, std::string_view host) {
  constexpr std::string_view kScheme = "http://";
  return Lower(origin) == Lower(std::string(kScheme) + std::string(host));
}

bool BearerTokenMatches(std::string_view authorization,
                        std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() ||
      Lower(authorization.substr(0, kScheme.size())) != kScheme) {
    return false;
  }
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  // Constant time in the token's content (the length may leak).
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char g =
        i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(token[i]);
  }
  return diff == 0 && !token.empty();
}

}  // namespace taskgrid
