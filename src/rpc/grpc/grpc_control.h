// ControlService (rpc/control.h) over gRPC: service taskgrid.pb.Control in
// rpc/grpc/proto/taskgrid.proto, one unary RPC per method.
//
//   GrpcControlClient       a ControlService whose calls go to a master.
//   NewGrpcControlService   the server side; GrpcMasterServer::Start serves
//                           it on the master's port when given a
//                           ControlService, behind the same token and TLS.
//
// Auth, TLS and errors as GrpcMasterClient (rpc/grpc/grpc_transport.h):
// every call carries the cluster token ("authorization: Bearer <token>");
// callers see the master's own Status, code and message unchanged;
// Unavailable, naming the address, when the master cannot be reached or a
// call runs out of time (call_timeout_ms); Unauthenticated for a bad token;
// InvalidArgument if the master's answer holds a state this build does not
// know.
#ifndef TASKGRID_RPC_GRPC_GRPC_CONTROL_H_
#define TASKGRID_RPC_GRPC_GRPC_CONTROL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rpc/control.h"
#include "rpc/grpc/grpc_transport.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace taskgrid {

// Thread-safety: thread-safe (calls from many threads share one channel).
class GrpcControlClient : public ControlService {
 public:
  // Makes the channel; does not connect yet (the first call does), so an
  // unreachable master shows up as Unavailable on calls, not here.
  // InvalidArgument for an empty address or token or an unreadable TLS file.
  // options.fetch_margin_ms is unused (Control has no long polls).
  static StatusOr<std::unique_ptr<GrpcControlClient>> Create(
      GrpcClientOptions options);
  ~GrpcControlClient() override;

  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& req) override;
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) override;
  StatusOr<JobStatus> GetJob(int64_t job_id) override;
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override;
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override;
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override;
  Status CancelJob(int64_t job_id) override;
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& task_ids) override;
  StatusOr<ClusterStatus> GetCluster() override;

  class Impl;

 private:
  explicit GrpcControlClient(std::unique_ptr<Impl> impl);
  const std::unique_ptr<Impl> impl_;
};

// The gRPC service answering taskgrid.pb.Control from `control` (which must
// outlive it), rejecting any call without `token` (non-empty) with
// Unauthenticated before `control` sees it. A request holding a state value
// `control` cannot know is answered InvalidArgument. For GrpcMasterServer.
std::unique_ptr<grpc::Service> NewGrpcControlService(ControlService* control,
                                                     std::string token);

}  // namespace taskgrid

#endif  // TASKGRID_RPC_GRPC_GRPC_CONTROL_H_
