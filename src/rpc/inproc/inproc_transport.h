// InProcTransport: master and workers in one process. Calls go straight to
// the master's MasterService; messages are passed by value, so the worker
// and master share no mutable state, as over a network.
//
// Thread-safety: thread-safe.
#ifndef TASKGRID_RPC_INPROC_INPROC_TRANSPORT_H_
#define TASKGRID_RPC_INPROC_INPROC_TRANSPORT_H_

#include <atomic>
#include <memory>

#include "rpc/transport.h"

namespace taskgrid {

class InProcTransport : public Transport {
 public:
  Status Serve(MasterService* master) override;
  // FailedPrecondition before Serve().
  StatusOr<std::unique_ptr<MasterService>> Connect() override;

 private:
  std::atomic<MasterService*> master_{nullptr};
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_INPROC_INPROC_TRANSPORT_H_
