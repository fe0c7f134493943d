#include "master/store_control.h"

#include "core/status_macros.h"
#include "master/job_tracker.h"
#include "master/submit.h"
#include "store/store_errors.h"

namespace taskgrid {

StoreControl::StoreControl(StateStore* store, StoreControlOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::Real()) {}

StatusOr<SubmitJobResponse> StoreControl::SubmitJob(
    const SubmitJobRequest& req) {
  ASSIGN_OR_RETURN(JobSpec spec, ParseJobSpec(req.spec_yaml, "submitted spec"));
  const std::vector<std::string> workers =
      options_.workers ? options_.workers() : std::vector<std::string>{};
  if (spec.model == Model::kBroadcast && workers.empty()) {
    return FailedPreconditionError(
        "a broadcast job needs workers: none is connected");
  }
  ASSIGN_OR_RETURN(SubmitResult r, taskgrid::SubmitJob(store_, spec, workers,
                                                       req.force, clock_));
  return SubmitJobResponse{r.job_id, r.existed};
}

StatusOr<JobStatus> StoreControl::StatusOf(JobRecord job) {
  if (options_.live && !IsTerminal(job.state)) {
    if (std::optional<Progress> p = options_.live(job.id);
        p && p->loaded && !p->finished) {
      return JobStatus{std::move(job), p->counts, std::move(p->stages)};
    }
  }
  std::vector<StageCounts> stages;
  bool cached = false;
  if (IsTerminal(job.state)) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = finished_counts_.find(job.id);
    if (it != finished_counts_.end() && it->second.state == job.state &&
        it->second.epoch == job.epoch &&
        it->second.finished_ms == job.finished_ms) {
      stages = it->second.stages;
      cached = true;
    }
  }
  if (!cached) {
    ASSIGN_OR_RETURN(stages, store_->CountTasksByStage(job.id));
    if (IsTerminal(job.state)) {
      // Counted after the job was read: if it changed in between (a rerun),
      // its record changed too, and the next read misses this entry.
      std::lock_guard<std::mutex> lock(mu_);
      finished_counts_[job.id] =
          CachedCounts{job.state, job.epoch, job.finished_ms, stages};
    }
  }
  const TaskCounts counts = TotalCounts(stages);
  return JobStatus{std::move(job), counts, std::move(stages)};
}

StatusOr<std::vector<JobStatus>> StoreControl::ListJobs(int64_t limit) {
  ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, store_->ListJobs(limit));
  std::vector<JobStatus> out;
  out.reserve(jobs.size());
  for (JobRecord& job : jobs) {
    ASSIGN_OR_RETURN(JobStatus st, StatusOf(std::move(job)));
    st.stages.clear();
    out.push_back(std::move(st));
  }
  return out;
}

StatusOr<JobStatus> StoreControl::GetJob(int64_t job_id) {
  ASSIGN_OR_RETURN(JobRecord job, store_->GetJob(job_id));
  return StatusOf(std::move(job));
}

StatusOr<std::vector<TaskRecord>> StoreControl::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  RETURN_IF_ERROR(store_->GetJob(job_id).status());
  return store_->ListTasks(job_id, filter);
}

StatusOr<TaskRecord> StoreControl::GetTask(int64_t job_id, int64_t task_id) {
  return store_->GetTask(job_id, task_id);
}

StatusOr<std::vector<LogLine>> StoreControl::GetLogs(int64_t job_id,
                                                     int64_t task_id) {
  RETURN_IF_ERROR(store_->GetTask(job_id, task_id).status());
  return store_->GetLogs(job_id, task_id);
}

Status StoreControl::CancelJob(int64_t job_id) {
  return store_->CancelJob(job_id, clock_->NowMs());
}

StatusOr<int64_t> StoreControl::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids) {
  ASSIGN_OR_RETURN(JobRecord job, store_->GetJob(job_id));
  if (!IsTerminal(job.state) && options_.is_running &&
      options_.is_running(job)) {
    return FailedPreconditionError(store_errors::JobName(job_id) +
                                   " is being run by " + job.owner +
                                   "; wait for it or cancel it");
  }
  return store_->RerunTasks(job_id, failed_only, task_ids, kReduceStage);
}

StatusOr<ClusterStatus> StoreControl::GetCluster() {
  ClusterStatus c;
  ASSIGN_OR_RETURN(c.leader, store_->GetLeader());
  return c;
}

}  // namespace taskgrid
