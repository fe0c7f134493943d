#include "master/submit.h"

#include <functional>

#include "core/status_macros.h"
#include "io/split.h"
#include "master/job_tracker.h"
#include "taskgrid/processor.h"

namespace taskgrid {

namespace {

// A shuffle job whose processor samples its input (ShuffleProcessor::
// ChooseSplitPoints) gets range split points now, once, in its spec: every
// map task then partitions alike, and a resumed job keeps them. Fewer
// distinct sample keys than partitions make fewer partitions.
StatusOr<JobSpec> WithSplitPoints(const JobSpec& spec,
                                  const std::vector<std::string>& files) {
  JobSpec out = spec;
  if (spec.model != Model::kShuffle || !spec.range_splits.empty() ||
      spec.partitions <= 1) {
    return out;
  }
  auto proc = ProcessorRegistry::Global().Create(spec.processor);
  auto* sp = dynamic_cast<ShuffleProcessor*>(proc.get());
  if (sp == nullptr) return out;
  ASSIGN_OR_RETURN(out.range_splits,
                   sp->ChooseSplitPoints(files, spec.params, spec.partitions));
  if (!out.range_splits.empty()) {
    out.partitions = static_cast<int>(out.range_splits.size()) + 1;
  }
  return out;
}

}  // namespace

StatusOr<SubmitResult> SubmitJob(StateStore* store, const JobSpec& in_spec,
                                 const std::vector<std::string>& workers,
                                 bool force, Clock* clock) {
  JobSpec spec = in_spec;
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

  // The first tasks: (stage, count, payload of the i-th).
  std::vector<FileSplit> splits;
  std::string stage = "root";
  int64_t count = 1;
  std::function<std::string(int64_t)> payload = [](int64_t) {
    return std::string();
  };
  if (spec.model == Model::kBroadcast) {
    stage = kBroadcastStage;
    count = static_cast<int64_t>(workers.size());
    payload = [&](int64_t i) { return workers[i]; };
  } else if (spec.input_kind == JobSpec::InputKind::kFiles) {
    // Globs are expanded now, once: the job's tasks are then fixed, and a
    // resumed job reads exactly the files it started with.
    ASSIGN_OR_RETURN(std::vector<std::string> paths, ExpandGlobs(spec.files));
    ASSIGN_OR_RETURN(splits, PlanSplits(paths, spec.split_bytes));
    ASSIGN_OR_RETURN(spec, WithSplitPoints(spec, paths));
    job.spec_yaml = JobSpecToYaml(spec);
    stage = "map";
    count = static_cast<int64_t>(splits.size());
    payload = [&](int64_t i) { return splits[i].ToPayload(); };
  } else if ((spec.model == Model::kMap || spec.model == Model::kMapReduce ||
              spec.model == Model::kShuffle) &&
             spec.InputTaskCount() > 0) {
    stage = "map";
    count = spec.InputTaskCount();
    payload = [&](int64_t i) { return spec.InputPayload(i); };
  }
  job.next_task_id = count + 1;
  int64_t made = 0;
  auto source = [&](size_t max, std::vector<TaskRecord>* out) {
    for (; made < count && out->size() < max; ++made) {
      TaskRecord t;
      t.id = made + 1;
      t.stage = stage;
      t.payload = payload(made);
      out->push_back(std::move(t));
    }
    return made < count;
  };
  auto id = store->CreateJobFrom(job, source);
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
