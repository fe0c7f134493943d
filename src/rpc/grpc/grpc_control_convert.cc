#include "rpc/grpc/grpc_control_convert.h"

#include <string>
#include <utility>

#include "core/status_macros.h"

namespace taskgrid {
namespace {

// The enums share their numbering with core/states.h (checked below), so a
// value converts by a range check and a cast.
static_assert(
    static_cast<int>(TaskState::kCancelled) == pb::TASK_STATE_CANCELLED &&
    static_cast<int>(TaskState::kDead) == pb::TASK_STATE_DEAD &&
    static_cast<int>(TaskState::kFailed) == pb::TASK_STATE_FAILED &&
    static_cast<int>(TaskState::kSucceeded) == pb::TASK_STATE_SUCCEEDED &&
    static_cast<int>(TaskState::kRunning) == pb::TASK_STATE_RUNNING &&
    static_cast<int>(TaskState::kDispatched) == pb::TASK_STATE_DISPATCHED &&
    static_cast<int>(TaskState::kPending) == pb::TASK_STATE_PENDING);
static_assert(kNumTaskStates == pb::TaskState_ARRAYSIZE);
static_assert(static_cast<int>(JobState::kPending) == pb::JOB_STATE_PENDING &&
              static_cast<int>(JobState::kRunning) == pb::JOB_STATE_RUNNING &&
              static_cast<int>(JobState::kSucceeded) ==
                  pb::JOB_STATE_SUCCEEDED &&
              static_cast<int>(JobState::kFailed) == pb::JOB_STATE_FAILED &&
              static_cast<int>(JobState::kCancelled) ==
                  pb::JOB_STATE_CANCELLED &&
              pb::JobState_ARRAYSIZE == 5);

}  // namespace

pb::TaskState ToProto(TaskState s) {
  return static_cast<pb::TaskState>(static_cast<int>(s));
}

StatusOr<TaskState> FromProto(pb::TaskState s) {
  const int v = static_cast<int>(s);
  if (v < 0 || v >= kNumTaskStates) {
    return InvalidArgumentError("unknown task state value " +
                                std::to_string(v));
  }
  return static_cast<TaskState>(v);
}

pb::JobState ToProto(JobState s) {
  return static_cast<pb::JobState>(static_cast<int>(s));
}

StatusOr<JobState> FromProto(pb::JobState s) {
  const int v = static_cast<int>(s);
  if (v < 0 || v >= pb::JobState_ARRAYSIZE) {
    return InvalidArgumentError("unknown job state value " + std::to_string(v));
  }
  return static_cast<JobState>(v);
}

void ToProto(const JobRecord& in, pb::JobRecord* out) {
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_key(in.key);
  out->set_spec_yaml(in.spec_yaml);
  out->set_state(ToProto(in.state));
  out->set_created_ms(in.created_ms);
  out->set_finished_ms(in.finished_ms);
  out->set_epoch(in.epoch);
  out->set_owner(in.owner);
  out->set_heartbeat_ms(in.heartbeat_ms);
  out->set_result(in.result);
  out->set_next_task_id(in.next_task_id);
}

StatusOr<JobRecord> FromProto(const pb::JobRecord& in) {
  JobRecord out;
  out.id = in.id();
  StatusOr<JobState> state = FromProto(in.state());
  if (!state.ok()) {
    return state.status().WithPrefix("job " + std::to_string(in.id()));
  }
  out.state = *state;
  out.name = in.name();
  out.key = in.key();
  out.spec_yaml = in.spec_yaml();
  out.created_ms = in.created_ms();
  out.finished_ms = in.finished_ms();
  out.epoch = in.epoch();
  out.owner = in.owner();
  out.heartbeat_ms = in.heartbeat_ms();
  out.result = in.result();
  out.next_task_id = in.next_task_id();
  return out;
}

void ToProto(const TaskRecord& in, pb::TaskRecord* out) {
  out->set_job_id(in.job_id);
  out->set_id(in.id);
  out->set_parent_id(in.parent_id);
  out->set_stage(in.stage);
  out->set_payload(in.payload);
  out->set_state(ToProto(in.state));
  out->set_attempt(in.attempt);
  out->set_attempt_base(in.attempt_base);
  out->set_worker(in.worker);
  out->set_started_ms(in.started_ms);
  out->set_finished_ms(in.finished_ms);
  out->set_not_before_ms(in.not_before_ms);
  out->set_result(in.result);
  out->set_error(in.error);
}

StatusOr<TaskRecord> FromProto(const pb::TaskRecord& in) {
  TaskRecord out;
  out.job_id = in.job_id();
  out.id = in.id();
  StatusOr<TaskState> state = FromProto(in.state());
  if (!state.ok()) {
    return state.status().WithPrefix("task " + std::to_string(in.job_id()) +
                                     "/" + std::to_string(in.id()));
  }
  out.state = *state;
  out.parent_id = in.parent_id();
  out.stage = in.stage();
  out.payload = in.payload();
  out.attempt = in.attempt();
  out.attempt_base = in.attempt_base();
  out.worker = in.worker();
  out.started_ms = in.started_ms();
  out.finished_ms = in.finished_ms();
  out.not_before_ms = in.not_before_ms();
  out.result = in.result();
  out.error = in.error();
  return out;
}

void ToProto(const LogLine& in, pb::LogLine* out) {
  out->set_task_id(in.task_id);
  out->set_attempt(in.attempt);
  out->set_ts_ms(in.ts_ms);
  out->set_level(in.level);
  out->set_line(in.line);
}

LogLine FromProto(const pb::LogLine& in) {
  LogLine out;
  out.task_id = in.task_id();
  out.attempt = in.attempt();
  out.ts_ms = in.ts_ms();
  out.level = in.level();
  out.line = in.line();
  return out;
}

void ToProto(const TaskFilter& in, pb::TaskFilter* out) {
  if (in.state.has_value()) out->set_state(ToProto(*in.state));
  if (in.stage.has_value()) out->set_stage(*in.stage);
  out->set_after_id(in.after_id);
  out->set_limit(in.limit);
  out->set_order(static_cast<pb::TaskOrder>(in.order));
  out->set_offset(in.offset);
}

StatusOr<TaskFilter> FromProto(const pb::TaskFilter& in) {
  TaskFilter out;
  if (in.has_state()) {
    StatusOr<TaskState> state = FromProto(in.state());
    if (!state.ok()) return state.status().WithPrefix("task filter");
    out.state = *state;
  }
  if (in.has_stage()) out.stage = in.stage();
  out.after_id = in.after_id();
  out.limit = in.limit();
  switch (in.order()) {
    case pb::TASK_ORDER_ID:
      out.order = TaskOrder::kId;
      break;
    case pb::TASK_ORDER_DURATION_DESC:
      out.order = TaskOrder::kDurationDesc;
      break;
    case pb::TASK_ORDER_ATTEMPTS_DESC:
      out.order = TaskOrder::kAttemptsDesc;
      break;
    default:
      return InvalidArgumentError("task filter: unknown order " +
                                  std::to_string(in.order()));
  }
  out.offset = in.offset();
  return out;
}

void ToProto(const LeaderRecord& in, pb::LeaderRecord* out) {
  out->set_epoch(in.epoch);
  out->set_owner(in.owner);
  out->set_address(in.address);
  out->set_heartbeat_ms(in.heartbeat_ms);
}

LeaderRecord FromProto(const pb::LeaderRecord& in) {
  LeaderRecord out;
  out.epoch = in.epoch();
  out.owner = in.owner();
  out.address = in.address();
  out.heartbeat_ms = in.heartbeat_ms();
  return out;
}

namespace {

void CountsToProto(const TaskCounts& in,
                   google::protobuf::RepeatedField<int64_t>* out) {
  out->Reserve(static_cast<int>(in.size()));
  for (int64_t c : in) out->Add(c);
}

StatusOr<TaskCounts> CountsFromProto(
    const google::protobuf::RepeatedField<int64_t>& in,
    const std::string& what) {
  if (in.size() > kNumTaskStates) {
    return InvalidArgumentError(
        what + ": " + std::to_string(in.size()) + " task counts, but only " +
        std::to_string(kNumTaskStates) + " task states are known");
  }
  TaskCounts out{};
  for (int i = 0; i < in.size(); ++i) out[i] = in[i];
  return out;
}

}  // namespace

void ToProto(const JobStatus& in, pb::JobStatus* out) {
  ToProto(in.job, out->mutable_job());
  CountsToProto(in.counts, out->mutable_counts());
  for (const StageCounts& s : in.stages) {
    pb::StageCounts* p = out->add_stages();
    p->set_stage(s.stage);
    CountsToProto(s.counts, p->mutable_counts());
  }
}

StatusOr<JobStatus> FromProto(const pb::JobStatus& in) {
  JobStatus out;
  ASSIGN_OR_RETURN(out.job, FromProto(in.job()));
  const std::string what = "job " + std::to_string(in.job().id());
  ASSIGN_OR_RETURN(out.counts, CountsFromProto(in.counts(), what));
  for (const pb::StageCounts& p : in.stages()) {
    ASSIGN_OR_RETURN(TaskCounts counts,
                     CountsFromProto(p.counts(), what + " stage " + p.stage()));
    out.stages.push_back(StageCounts{p.stage(), counts});
  }
  return out;
}

void ToProto(const WorkerStatus& in, pb::WorkerStatus* out) {
  out->set_id(in.id);
  out->set_host(in.host);
  out->set_pid(in.pid);
  out->set_slots(in.slots);
  out->set_last_seen_ms(in.last_seen_ms);
  out->set_running(in.running);
  out->set_data_address(in.data_address);
}

WorkerStatus FromProto(const pb::WorkerStatus& in) {
  WorkerStatus out;
  out.id = in.id();
  out.host = in.host();
  out.pid = in.pid();
  out.slots = in.slots();
  out.last_seen_ms = in.last_seen_ms();
  out.running = in.running();
  out.data_address = in.data_address();
  return out;
}

void ToProto(const ClusterStatus& in, pb::ClusterStatus* out) {
  ToProto(in.leader, out->mutable_leader());
  out->mutable_workers()->Reserve(static_cast<int>(in.workers.size()));
  for (const auto& w : in.workers) ToProto(w, out->add_workers());
  out->mutable_active_jobs()->Reserve(static_cast<int>(in.active_jobs.size()));
  for (int64_t j : in.active_jobs) out->add_active_jobs(j);
}

ClusterStatus FromProto(const pb::ClusterStatus& in) {
  ClusterStatus out;
  out.leader = FromProto(in.leader());
  out.workers.reserve(in.workers_size());
  for (const auto& w : in.workers()) out.workers.push_back(FromProto(w));
  out.active_jobs.assign(in.active_jobs().begin(), in.active_jobs().end());
  return out;
}

void ToProto(const SubmitJobRequest& in, pb::SubmitJobRequest* out) {
  out->set_spec_yaml(in.spec_yaml);
  out->set_force(in.force);
}

SubmitJobRequest FromProto(const pb::SubmitJobRequest& in) {
  SubmitJobRequest out;
  out.spec_yaml = in.spec_yaml();
  out.force = in.force();
  return out;
}

void ToProto(const SubmitJobResponse& in, pb::SubmitJobResponse* out) {
  out->set_job_id(in.job_id);
  out->set_existed(in.existed);
}

SubmitJobResponse FromProto(const pb::SubmitJobResponse& in) {
  SubmitJobResponse out;
  out.job_id = in.job_id();
  out.existed = in.existed();
  return out;
}

}  // namespace taskgrid
