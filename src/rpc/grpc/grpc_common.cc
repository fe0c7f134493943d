#include "rpc/grpc/grpc_common.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "rpc/grpc/grpc_convert.h"

namespace taskgrid::grpc_internal {

Status ReadPem(const std::string& path, const char* what, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError(std::string("TLS ") + what + " file " + path +
                                ": cannot open");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  if (out->empty()) {
    return InvalidArgumentError(std::string("TLS ") + what + " file " + path +
                                ": empty");
  }
  return OkStatus();
}

bool TokenEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

grpc::Status AuthorizeCall(const grpc::ServerContext& ctx,
                           std::string_view token) {
  const auto& md = ctx.client_metadata();
  bool presented = false;
  for (auto it = md.find("authorization");
       it != md.end() && it->first == "authorization"; ++it) {
    std::string_view v(it->second.data(), it->second.size());
    if (v.substr(0, kBearer.size()) != kBearer) continue;
    presented = true;
    if (TokenEquals(v.substr(kBearer.size()), token)) return grpc::Status::OK;
  }
  for (auto it = md.find("x-taskgrid-token");
       it != md.end() && it->first == "x-taskgrid-token"; ++it) {
    presented = true;
    if (TokenEquals(std::string_view(it->second.data(), it->second.size()),
                    token)) {
      return grpc::Status::OK;
    }
  }
  if (!presented) {
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        "taskgrid master: missing cluster token (send metadata "
        "'authorization: Bearer <token>' or 'x-taskgrid-token: <token>')");
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "taskgrid master: wrong cluster token");
}

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const GrpcTlsOptions& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  if (tls.cert_path.empty() || tls.key_path.empty()) {
    return InvalidArgumentError("gRPC server on " + address +
                                ": TLS needs both a certificate and a key "
                                "file");
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  Status s = ReadPem(tls.key_path, "key", &pair.private_key);
  if (!s.ok()) return s;
  s = ReadPem(tls.cert_path, "certificate", &pair.cert_chain);
  if (!s.ok()) return s;
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(opts);
}

void ConfigureServerKeepalive(grpc::ServerBuilder* builder,
                              int64_t keepalive_ms) {
  // 0: no limit on "bad" (too frequent) pings, so a client's keepalive
  // never earns it a GOAWAY.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  if (keepalive_ms > 0) {
    const int ms = static_cast<int>(
        std::clamp<int64_t>(keepalive_ms, 1, int64_t{1} << 30));
    builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms);
    builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                                std::min(ms, 20'000));
  }
}

StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const GrpcClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls.enabled()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls.ca_path.empty()) {
      Status s = ReadPem(options.tls.ca_path, "CA", &ssl.pem_root_certs);
      if (!s.ok()) return s;
    }
    if (!options.tls.cert_path.empty() || !options.tls.key_path.empty()) {
      Status s = ReadPem(options.tls.key_path, "key", &ssl.pem_private_key);
      if (!s.ok()) return s;
      s = ReadPem(options.tls.cert_path, "certificate", &ssl.pem_cert_chain);
      if (!s.ok()) return s;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  if (options.max_reconnect_backoff_ms > 0) {
    // While a channel waits out its reconnect backoff, calls on it fail at
    // once; gRPC's default backoff grows to 120 s, far too long for a
    // master that restarts or for failing back to it.
    const int max_ms =
        static_cast<int>(options.max_reconnect_backoff_ms < (int64_t{1} << 30)
                             ? options.max_reconnect_backoff_ms
                             : int64_t{1} << 30);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(max_ms, 100));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(max_ms, 100));
  }
  if (options.keepalive_ms > 0) {
    const auto clamp = [](int64_t ms) {
      return static_cast<int>(std::clamp<int64_t>(ms, 1, int64_t{1} << 30));
    };
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, clamp(options.keepalive_ms));
    if (options.keepalive_timeout_ms > 0) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                  clamp(options.keepalive_timeout_ms));
    }
    // Only while calls are open (an idle channel has nothing to lose), and
    // on for as long as a call waits without data: that is when a frozen
    // peer must be noticed. The servers allow pings this often
    // (ConfigureServerKeepalive).
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  return grpc::CreateCustomChannel(options.address, creds, args);
}

Status ClientCallStatus(const grpc::Status& s, const std::string& address,
                        const char* method, int64_t timeout_ms) {
  if (s.ok()) return OkStatus();
  const std::string where = "master at " + address + ": " + method + ": ";
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return UnavailableError(where + "unavailable: " + s.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return UnavailableError(where + "no answer within " +
                              std::to_string(timeout_ms) + " ms");
    default:
      return FromGrpcStatus(s);  // the master's own status, unchanged
  }
}

}  // namespace taskgrid::grpc_internal
