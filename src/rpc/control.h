// ControlService: what a person or a program (the CLI, later the web API)
// may ask of a cluster: submit a job, read jobs, tasks and logs, cancel and
// rerun. The master of a cluster implements it over its store; over the
// network it travels as gRPC service taskgrid.pb.Control
// (rpc/grpc/grpc_control.h), with the same token as the workers' service.
//
// Error codes: as MasterService (rpc/transport.h) — Unavailable (master
// unreachable, a standby, or the store is down: retry or try another
// master), NotFound (unknown job or task), InvalidArgument (bad spec or
// input), FailedPrecondition (e.g. rerun of a job that is running),
// Unauthenticated (bad cluster token).
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef TASKGRID_RPC_CONTROL_H_
#define TASKGRID_RPC_CONTROL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {

struct SubmitJobRequest {
  // The job spec as YAML (JobSpecToYaml of a parsed spec, paths absolute:
  // the master resolves inputs and output on its own file system).
  std::string spec_yaml;
  // Run even if a job with the spec's key exists (the new job has no key).
  bool force = false;
};

struct SubmitJobResponse {
  int64_t job_id = 0;
  bool existed = false;  // the spec's key already had this job
};

struct JobStatus {
  JobRecord job;
  TaskCounts counts{};
  // By stage (GetJob only; ListJobs leaves it empty).
  std::vector<StageCounts> stages;
};

struct WorkerStatus {
  std::string id;
  std::string host;
  int64_t pid = 0;
  int slots = 0;
  int64_t last_seen_ms = 0;  // wall clock of its last call
  int64_t running = 0;       // attempts it holds now (dispatched or running)
  std::string data_address;  // its data service, "host:port"; "" = none
};

struct ClusterStatus {
  LeaderRecord leader;  // who leads, and since which epoch
  std::vector<WorkerStatus> workers;
  std::vector<int64_t> active_jobs;  // jobs this master drives now
};

class ControlService {
 public:
  virtual ~ControlService() = default;
  virtual StatusOr<SubmitJobResponse> SubmitJob(
      const SubmitJobRequest& req) = 0;
  // Newest first; limit <= 0 = all.
  virtual StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) = 0;
  virtual StatusOr<JobStatus> GetJob(int64_t job_id) = 0;
  virtual StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) = 0;
  virtual StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) = 0;
  virtual StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                                 int64_t task_id) = 0;
  virtual Status CancelJob(int64_t job_id) = 0;
  // As StateStore::RerunTasks, then the job runs again. Returns the number
  // of tasks set to run again.
  virtual StatusOr<int64_t> RerunTasks(
      int64_t job_id, bool failed_only,
      const std::vector<int64_t>& task_ids) = 0;
  virtual StatusOr<ClusterStatus> GetCluster() = 0;
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_CONTROL_H_
