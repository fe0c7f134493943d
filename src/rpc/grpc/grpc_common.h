// Internals shared by the gRPC servers and clients of rpc/grpc: the cluster
// token check, TLS credentials, channels, deadlines and the mapping of
// transport failures. Not an API: included only by rpc/grpc/*.cc.
//
// Thread-safety: free functions without shared state.
#ifndef TASKGRID_RPC_GRPC_GRPC_COMMON_H_
#define TASKGRID_RPC_GRPC_GRPC_COMMON_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "rpc/grpc/grpc_transport.h"
#include "taskgrid/status.h"

namespace taskgrid::grpc_internal {

// Reports of a whole batch (logs included) can exceed gRPC's 4 MiB default.
inline constexpr int kMaxMessageBytes = 256 << 20;

inline constexpr std::string_view kBearer = "Bearer ";

// Reads a PEM file; InvalidArgument naming it if it cannot be read or is
// empty. `what` names its role ("key", "certificate", "CA").
Status ReadPem(const std::string& path, const char* what, std::string* out);

// Compares in time independent of where the strings differ.
bool TokenEquals(std::string_view a, std::string_view b);

// OK if the call carries `token` as "authorization: Bearer <token>" or
// "x-taskgrid-token: <token>"; UNAUTHENTICATED ("missing cluster token" or
// "wrong cluster token") otherwise. Every handler runs it first. (An
// AuthMetadataProcessor would only run on secure server credentials, and
// plaintext listeners must be guarded too.)
grpc::Status AuthorizeCall(const grpc::ServerContext& ctx,
                           std::string_view token);

std::chrono::system_clock::time_point DeadlineIn(int64_t ms);

// Server credentials for `tls` (insecure when !tls.enabled()).
// InvalidArgument (naming `address` or the file) for a bad configuration.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const GrpcTlsOptions& tls);

// A server's side of keepalive: it accepts the clients' pings
// (GrpcClientOptions::keepalive_ms) however often they come, even while it
// sends nothing, and pings its clients every `keepalive_ms` so that calls of
// a vanished client end (the handler's Write fails) instead of waiting for
// TCP to give up.
void ConfigureServerKeepalive(grpc::ServerBuilder* builder,
                              int64_t keepalive_ms);

// The channel a client of `options.address` uses (does not connect yet).
// InvalidArgument for an unreadable TLS file.
StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const GrpcClientOptions& options);

// The Status a client returns for gRPC status `s` of `method` sent to the
// master at `address` with a deadline of `timeout_ms`: transport failures
// (unreachable, out of time) become Unavailable naming the master; anything
// else is the master's own status, code and message unchanged.
Status ClientCallStatus(const grpc::Status& s, const std::string& address,
                        const char* method, int64_t timeout_ms);

}  // namespace taskgrid::grpc_internal

#endif  // TASKGRID_RPC_GRPC_GRPC_COMMON_H_
