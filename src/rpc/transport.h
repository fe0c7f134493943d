// MasterService: what a worker may ask of the master. Transport: how a
// worker reaches it. Master and worker code see only these two interfaces,
// so the same code runs embedded (in-process transport) and in a cluster
// (gRPC transport).
//
// Error codes: Unavailable (master unreachable or restarting: retry the
// call), NotFound (unknown job), FailedPrecondition (worker not registered:
// register again), Unauthenticated (bad cluster token).
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef TASKGRID_RPC_TRANSPORT_H_
#define TASKGRID_RPC_TRANSPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "rpc/messages.h"
#include "taskgrid/status.h"

namespace taskgrid {

class MasterService {
 public:
  virtual ~MasterService() = default;
  virtual Status RegisterWorker(const WorkerInfo& info) = 0;
  virtual StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) = 0;
  // Hands out up to max_tasks tasks, waiting up to wait_ms for one.
  virtual StatusOr<FetchResponse> Fetch(const FetchRequest& req) = 0;
  // Tells the master these dispatched tasks have started running.
  virtual Status Started(const std::string& worker_id,
                         const std::vector<TaskRef>& tasks) = 0;
  virtual StatusOr<ReportResponse> Report(const std::string& worker_id,
                                          std::vector<TaskReport> reports) = 0;
  virtual StatusOr<HeartbeatResponse> Heartbeat(
      const HeartbeatRequest& req) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Master side: serve `master` (which must outlive the transport) until
  // the transport is destroyed.
  virtual Status Serve(MasterService* master) = 0;
  // Worker side: a handle on the master.
  virtual StatusOr<std::unique_ptr<MasterService>> Connect() = 0;
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_TRANSPORT_H_
