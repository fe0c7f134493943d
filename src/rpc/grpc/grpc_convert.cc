#include "rpc/grpc/grpc_convert.h"

#include <map>
#include <utility>

namespace taskgrid {
namespace {

pb::Model ModelToProto(Model m) {
  switch (m) {
    case Model::kStandalone:
      return pb::MODEL_STANDALONE;
    case Model::kBroadcast:
      return pb::MODEL_BROADCAST;
    case Model::kMap:
      return pb::MODEL_MAP;
    case Model::kMapReduce:
      return pb::MODEL_MAPREDUCE;
    case Model::kShuffle:
      return pb::MODEL_SHUFFLE;
  }
  return pb::MODEL_STANDALONE;
}

}  // namespace

void ToProto(const JobDefinition& in, pb::JobDefinition* out) {
  out->set_job_id(in.job_id);
  out->set_name(in.name);
  out->set_processor(in.processor);
  out->set_model(ModelToProto(in.model));
  auto* params = out->mutable_params();
  for (const auto& [k, v] : in.params.values()) (*params)[k] = v;
  out->set_output(in.output);
  out->set_timeout_ms(in.timeout_ms);
  out->set_partitions(in.partitions);
  out->set_memory_bytes(in.memory_bytes);
  for (const std::string& k : in.range_splits) out->add_range_splits(k);
}

StatusOr<JobDefinition> FromProto(const pb::JobDefinition& in) {
  JobDefinition out;
  out.job_id = in.job_id();
  out.name = in.name();
  out.processor = in.processor();
  switch (in.model()) {
    case pb::MODEL_STANDALONE:
      out.model = Model::kStandalone;
      break;
    case pb::MODEL_BROADCAST:
      out.model = Model::kBroadcast;
      break;
    case pb::MODEL_MAP:
      out.model = Model::kMap;
      break;
    case pb::MODEL_MAPREDUCE:
      out.model = Model::kMapReduce;
      break;
    case pb::MODEL_SHUFFLE:
      out.model = Model::kShuffle;
      break;
    default:
      return InvalidArgumentError("job definition " +
                                  std::to_string(in.job_id()) +
                                  ": unknown model value " +
                                  std::to_string(static_cast<int>(in.model())));
  }
  std::map<std::string, std::string, std::less<>> params(in.params().begin(),
                                                         in.params().end());
  out.params = Params(std::move(params));
  out.output = in.output();
  out.timeout_ms = in.timeout_ms();
  out.partitions = in.partitions();
  out.memory_bytes = in.memory_bytes();
  out.range_splits.assign(in.range_splits().begin(), in.range_splits().end());
  return out;
}

void ToProto(const WorkerInfo& in, pb::WorkerInfo* out) {
  out->set_id(in.id);
  out->set_slots(in.slots);
  out->set_host(in.host);
  out->set_pid(in.pid);
  out->set_data_address(in.data_address);
}

WorkerInfo FromProto(const pb::WorkerInfo& in) {
  WorkerInfo out;
  out.id = in.id();
  out.slots = in.slots();
  out.host = in.host();
  out.pid = in.pid();
  out.data_address = in.data_address();
  return out;
}

void ToProto(const TaskRef& in, pb::TaskRef* out) {
  out->set_job_id(in.job_id);
  out->set_task_id(in.task_id);
  out->set_attempt(in.attempt);
}

TaskRef FromProto(const pb::TaskRef& in) {
  TaskRef out;
  out.job_id = in.job_id();
  out.task_id = in.task_id();
  out.attempt = in.attempt();
  return out;
}

std::vector<TaskRef> FromProto(
    const google::protobuf::RepeatedPtrField<pb::TaskRef>& in) {
  std::vector<TaskRef> out;
  out.reserve(in.size());
  for (const auto& r : in) out.push_back(FromProto(r));
  return out;
}

void ToProto(const TaskAssignment& in, pb::TaskAssignment* out) {
  ToProto(in.ref, out->mutable_ref());
  out->set_stage(in.stage);
  out->set_payload(in.payload);
  for (const ShuffleInput& si : in.shuffle_inputs) {
    pb::ShuffleInput* p = out->add_shuffle_inputs();
    p->set_map_task_id(si.map_task_id);
    p->set_address(si.address);
    p->set_path(si.path);
    p->set_offset(si.offset);
    p->set_length(si.length);
    p->set_records(si.records);
    p->set_crc(si.crc);
  }
}

TaskAssignment FromProto(const pb::TaskAssignment& in) {
  TaskAssignment out;
  out.ref = FromProto(in.ref());
  out.stage = in.stage();
  out.payload = in.payload();
  out.shuffle_inputs.reserve(in.shuffle_inputs_size());
  for (const pb::ShuffleInput& p : in.shuffle_inputs()) {
    out.shuffle_inputs.push_back(ShuffleInput{p.map_task_id(), p.address(),
                                              p.path(), p.offset(), p.length(),
                                              p.records(), p.crc()});
  }
  return out;
}

void ToProto(const FetchRequest& in, pb::FetchRequest* out) {
  out->set_worker_id(in.worker_id);
  out->set_max_tasks(in.max_tasks);
  out->set_wait_ms(in.wait_ms);
}

FetchRequest FromProto(const pb::FetchRequest& in) {
  FetchRequest out;
  out.worker_id = in.worker_id();
  out.max_tasks = in.max_tasks();
  out.wait_ms = in.wait_ms();
  return out;
}

void ToProto(const FetchResponse& in, pb::FetchResponse* out) {
  out->mutable_tasks()->Reserve(static_cast<int>(in.tasks.size()));
  for (const auto& t : in.tasks) ToProto(t, out->add_tasks());
  out->set_shutdown(in.shutdown);
}

FetchResponse FromProto(const pb::FetchResponse& in) {
  FetchResponse out;
  out.tasks.reserve(in.tasks_size());
  for (const auto& t : in.tasks()) out.tasks.push_back(FromProto(t));
  out.shutdown = in.shutdown();
  return out;
}

void ToProto(const TaskReport& in, pb::TaskReport* out) {
  ToProto(in.ref, out->mutable_ref());
  out->set_ok(in.ok);
  out->set_result(in.result);
  out->set_error(in.error);
  out->set_started_ms(in.started_ms);
  out->set_finished_ms(in.finished_ms);
  for (const auto& l : in.logs) {
    auto* pl = out->add_logs();
    pl->set_ts_ms(l.ts_ms);
    pl->set_level(l.level);
    pl->set_line(l.line);
  }
  for (const auto& c : in.children) {
    auto* pc = out->add_children();
    pc->set_stage(c.stage);
    for (const auto& p : c.payloads) pc->add_payloads(p);
  }
  for (const auto& o : in.outputs) {
    auto* po = out->add_outputs();
    po->set_name(o.name);
    po->set_bytes(o.bytes);
    po->set_crc32(o.crc32);
  }
  for (int64_t id : in.lost_map_tasks) out->add_lost_map_tasks(id);
}

TaskReport FromProto(const pb::TaskReport& in) {
  TaskReport out;
  out.ref = FromProto(in.ref());
  out.ok = in.ok();
  out.result = in.result();
  out.error = in.error();
  out.started_ms = in.started_ms();
  out.finished_ms = in.finished_ms();
  out.logs.reserve(in.logs_size());
  for (const auto& pl : in.logs()) {
    out.logs.push_back(ReportedLog{pl.ts_ms(), pl.level(), pl.line()});
  }
  out.children.reserve(in.children_size());
  for (const auto& pc : in.children()) {
    ChildTasks c;
    c.stage = pc.stage();
    c.payloads.assign(pc.payloads().begin(), pc.payloads().end());
    out.children.push_back(std::move(c));
  }
  out.outputs.reserve(in.outputs_size());
  for (const auto& po : in.outputs()) {
    out.outputs.push_back(OutputFileInfo{po.name(), po.bytes(), po.crc32()});
  }
  out.lost_map_tasks.assign(in.lost_map_tasks().begin(),
                            in.lost_map_tasks().end());
  return out;
}

void ToProto(const ReportResponse& in, pb::ReportResponse* out) {
  out->mutable_accepted()->Reserve(static_cast<int>(in.accepted.size()));
  for (bool a : in.accepted) out->add_accepted(a);
}

ReportResponse FromProto(const pb::ReportResponse& in) {
  ReportResponse out;
  out.accepted.assign(in.accepted().begin(), in.accepted().end());
  return out;
}

void ToProto(const HeartbeatRequest& in, pb::HeartbeatRequest* out) {
  out->set_worker_id(in.worker_id);
  for (const auto& r : in.running) ToProto(r, out->add_running());
  out->mutable_shuffle_jobs()->Add(in.shuffle_jobs.begin(),
                                   in.shuffle_jobs.end());
}

HeartbeatRequest FromProto(const pb::HeartbeatRequest& in) {
  HeartbeatRequest out;
  out.worker_id = in.worker_id();
  out.running = FromProto(in.running());
  out.shuffle_jobs.assign(in.shuffle_jobs().begin(), in.shuffle_jobs().end());
  return out;
}

void ToProto(const HeartbeatResponse& in, pb::HeartbeatResponse* out) {
  for (const auto& r : in.cancel) ToProto(r, out->add_cancel());
  out->set_shutdown(in.shutdown);
  out->mutable_drop_jobs()->Add(in.drop_jobs.begin(), in.drop_jobs.end());
}

HeartbeatResponse FromProto(const pb::HeartbeatResponse& in) {
  HeartbeatResponse out;
  out.cancel = FromProto(in.cancel());
  out.shutdown = in.shutdown();
  out.drop_jobs.assign(in.drop_jobs().begin(), in.drop_jobs().end());
  return out;
}

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // Our codes and grpc::StatusCode share the canonical numbering 0..16.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return OkStatus();
  const int code = static_cast<int>(s.error_code());
  if (code < 0 || code > static_cast<int>(StatusCode::kUnauthenticated)) {
    return UnknownError("gRPC status " + std::to_string(code) + ": " +
                        s.error_message());
  }
  return Status(static_cast<StatusCode>(code), s.error_message());
}

}  // namespace taskgrid
