#include "master/submit.h"

#include "core/status_macros.h"
#include "master/job_tracker.h"

namespace taskgrid {

StatusOr<SubmitResult> SubmitJob(StateStore* store, const JobSpec& spec,
                                 const std::vector<std::string>& workers,
                                 bool force, Clock* clock) {
  JobRecord job;
  job.name = spec.name;
  job.key = force ? "" : spec.key;
  job.spec_yaml = JobSpecToYaml(spec);
  job.state = JobState::kPending;
  job.created_ms = clock->NowMs();
  if (!job.key.empty()) {
    ASSIGN_OR_RETURN(auto existing, store->FindJobByKey(job.key));
    if (existing) return SubmitResult{existing->id, true};
  }

  std::vector<TaskRecord> tasks;
  auto add = [&](std::string stage, std::string payload) {
    TaskRecord t;
    t.id = static_cast<int64_t>(tasks.size()) + 1;
    t.stage = std::move(stage);
    t.payload = std::move(payload);
    tasks.push_back(std::move(t));
  };
  switch (spec.model) {
    case Model::kStandalone:
      add("root", "");
      break;
    case Model::kBroadcast:
      for (const auto& w : workers) add(kBroadcastStage, w);
      break;
    case Model::kMap:
    case Model::kMapReduce: {
      const int64_t n = spec.InputTaskCount();
      if (n == 0) {
        add("root", "");
      } else {
        tasks.reserve(n);
        for (int64_t i = 0; i < n; ++i) add("map", spec.InputPayload(i));
      }
      break;
    }
  }
  job.next_task_id = static_cast<int64_t>(tasks.size()) + 1;
  auto id = store->CreateJob(job, tasks);
  if (!id.ok() && id.status().code() == StatusCode::kAlreadyExists &&
      !job.key.empty()) {
    // Lost a race with another submitter of the same key.
    ASSIGN_OR_RETURN(auto existing, store->FindJobByKey(job.key));
    if (existing) return SubmitResult{existing->id, true};
  }
  if (!id.ok()) return id.status();
  return SubmitResult{*id, false};
}

}  // namespace taskgrid
