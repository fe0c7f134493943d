// StoreControl: the ControlService (rpc/control.h) answered straight from a
// StateStore. The CLI uses it on a local state file; the cluster master
// wraps it, adding job start-up and the cluster's own view.
//
// Counts of a finished job are counted once and kept (keyed by the job's
// state, epoch and finish time, which a rerun or cancel changes): a finished
// 10M-task job's page is then not a scan of its rows per poll. A job that a
// master in this process drives answers from that master's memory
// (options.live), exact and free.
//
// Thread-safety: thread-safe (the store is).
#ifndef TASKGRID_MASTER_STORE_CONTROL_H_
#define TASKGRID_MASTER_STORE_CONTROL_H_

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "master/master.h"
#include "rpc/control.h"

namespace taskgrid {

struct StoreControlOptions {
  // Broadcast jobs get one task per worker named here (at submit time).
  std::function<std::vector<std::string>()> workers;
  // Whether a live process drives the job now (rerun is refused then).
  std::function<bool(const JobRecord&)> is_running;
  // The progress of job `id` if a master in this process drives it now.
  std::function<std::optional<Progress>(int64_t id)> live;
  Clock* clock = nullptr;  // nullptr = Clock::Real()
};

class StoreControl : public ControlService {
 public:
  // `store` must outlive this.
  StoreControl(StateStore* store, StoreControlOptions options);

  // Parses the spec (InvalidArgument naming line and column), expands its
  // inputs and creates the job (master/submit.h). Does not run it.
  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& req) override;
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) override;
  StatusOr<JobStatus> GetJob(int64_t job_id) override;
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override;
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override;
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override;
  Status CancelJob(int64_t job_id) override;
  // FailedPrecondition if the job is being run (options.is_running); also
  // resets the reduce task. Does not run the job.
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& task_ids) override;
  // The leader record only (no workers: a store knows none).
  StatusOr<ClusterStatus> GetCluster() override;

 private:
  struct CachedCounts {
    JobState state;
    int64_t epoch;
    int64_t finished_ms;
    std::vector<StageCounts> stages;
  };
  // The job with its counts: from a live master, from the cache if it is
  // finished and unchanged, else counted in the store.
  StatusOr<JobStatus> StatusOf(JobRecord job);

  StateStore* const store_;
  const StoreControlOptions options_;
  Clock* const clock_;
  std::mutex mu_;
  std::map<int64_t, CachedCounts> finished_counts_;  // guarded by mu_
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_STORE_CONTROL_H_
