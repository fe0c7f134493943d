// Clients of a cluster of several masters (cluster mode: several masters on
// one store; one leads, the others answer every call with Unavailable,
// "standby ... leader is X"). Workers and clients are given the list of
// master addresses; these clients find the leader and follow it.
//
//   ConnectMasterService   a MasterService (for a worker)
//   ConnectControlService  a ControlService (for the CLI, web, programs)
//
// Each call goes to the master that answered last (shared by every thread
// of the client). On Unavailable (unreachable, out of time, a standby) the
// call tries the next address, cycling through the list, with a pause after
// each full round that grows from 20 ms to 1 s, until failover_timeout_ms
// has passed since the call began and every address has been tried at least
// once; then it returns Unavailable naming every address tried and the last
// error. Unauthenticated is never retried: it returns at once, saying which
// master rejected the cluster token. Any other status (the master's own
// answer) passes through unchanged, and that master becomes the current one.
//
// The MasterService also remembers the WorkerInfo of the last RegisterWorker
// call. When any other call returns FailedPrecondition (the master
// does not know this worker: a new leader after a failover, or it declared
// the worker dead), it registers again with that info and retries the call
// once.
//
// A call that failed over may have reached the master before its answer was
// lost (Unavailable after a deadline): as for any retry on Unavailable
// (rpc/transport.h), calls must be safe to repeat.
//
// Per address the clients are GrpcMasterClient / GrpcControlClient, made
// lazily on first use; Fetch keeps its deadline of wait_ms + margin.
//
// Thread-safety: the returned services are thread-safe.
#ifndef TASKGRID_RPC_GRPC_GRPC_FAILOVER_H_
#define TASKGRID_RPC_GRPC_GRPC_FAILOVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "rpc/control.h"
#include "rpc/grpc/grpc_transport.h"
#include "rpc/transport.h"
#include "taskgrid/status.h"

namespace taskgrid {

struct ClusterClientOptions {
  std::vector<std::string> addresses;  // "host:port", tried in order
  std::string token;                   // the cluster token (required)
  GrpcTlsOptions tls;
  int64_t call_timeout_ms = 30'000;  // deadline of each call to one master
  int64_t fetch_margin_ms = 10'000;  // Fetch's deadline: wait_ms + this
  // Keep trying the list this long when every master is unavailable.
  int64_t failover_timeout_ms = 30'000;
};

// Seams for tests; the defaults are the real thing.
struct FailoverHooks {
  Clock* clock = nullptr;                 // monotonic time; null: real
  std::function<void(int64_t ms)> sleep;  // empty: sleep this thread
  // The client of one address; empty: GrpcMasterClient / GrpcControlClient.
  std::function<StatusOr<std::unique_ptr<MasterService>>(const std::string&)>
      master_factory;
  std::function<StatusOr<std::unique_ptr<ControlService>>(const std::string&)>
      control_factory;
};

// "h1:7700,h2:7700" -> {"h1:7700", "h2:7700"}. Spaces around entries are
// ignored, as are empty entries and repeats of an address. InvalidArgument,
// naming the entry, for an empty list, an entry without a host or a port
// (1..65535), or an IPv6 host without brackets ("[::1]:7700").
StatusOr<std::vector<std::string>> ParseMasterList(const std::string& list);

// InvalidArgument for no addresses, an empty token, a timeout < 0, or an
// unreadable TLS file. Does not connect: an unreachable cluster shows up as
// Unavailable on calls.
StatusOr<std::unique_ptr<MasterService>> ConnectMasterService(
    const ClusterClientOptions& options, const FailoverHooks& hooks = {});
StatusOr<std::unique_ptr<ControlService>> ConnectControlService(
    const ClusterClientOptions& options, const FailoverHooks& hooks = {});

}  // namespace taskgrid

#endif  // TASKGRID_RPC_GRPC_GRPC_FAILOVER_H_
