#include "web/json_views.h"

#include <fmt/format.h>

#include <ctime>
#include <map>

namespace taskgrid {

using nlohmann::json;

namespace {

json StringOrNull(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json DurationJson(int64_t started_ms, int64_t finished_ms) {
  return finished_ms != 0 && started_ms != 0 ? json(finished_ms - started_ms)
                                             : json(nullptr);
}

const char* LevelName(int level) {
  static constexpr const char* kLevels[] = {"INFO", "WARN", "ERROR"};
  return kLevels[level >= 0 && level <= 2 ? level : 0];
}

}  // namespace

json TimeJson(int64_t ms) {
  if (ms == 0) return nullptr;
  const std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

json CountsJson(const TaskCounts& counts) {
  json j = json::object();
  for (int i = 0; i < kNumTaskStates; ++i) {
    j[std::string(TaskStateName(static_cast<TaskState>(i)))] = counts[i];
  }
  return j;
}

json JobJson(const JobRecord& job, const TaskCounts& counts) {
  int64_t total = 0;
  for (int64_t n : counts) total += n;
  return json{{"id", job.id},
              {"name", job.name},
              {"key", StringOrNull(job.key)},
              {"state", JobStateName(job.state)},
              {"tasks", total},
              {"counts", CountsJson(counts)},
              {"created", TimeJson(job.created_ms)},
              {"finished", TimeJson(job.finished_ms)}};
}

json JobDetailJson(const JobStatus& st) {
  const JobRecord& job = st.job;
  json j = JobJson(job, st.counts);
  json stages = json::array();
  for (const StageCounts& s : st.stages) {
    int64_t total = 0;
    for (int64_t n : s.counts) total += n;
    stages.push_back(json{{"stage", s.stage},
                          {"tasks", total},
                          {"counts", CountsJson(s.counts)}});
  }
  j["stages"] = std::move(stages);
  j["result"] = job.result;
  j["owner"] = job.owner;
  j["epoch"] = job.epoch;
  j["heartbeat"] = TimeJson(job.heartbeat_ms);
  j["spec"] = job.spec_yaml;
  return j;
}

json TaskJson(const TaskRecord& t) {
  return json{{"id", t.id},
              {"stage", t.stage},
              {"name", t.stage},
              {"state", TaskStateName(t.state)},
              {"attempt", t.attempt},
              {"worker", StringOrNull(t.worker)},
              {"started", TimeJson(t.started_ms)},
              {"finished", TimeJson(t.finished_ms)},
              {"duration_ms", DurationJson(t.started_ms, t.finished_ms)},
              {"result_size", t.result.size()},
              {"error", StringOrNull(t.error)},
              {"parent", t.parent_id == 0 ? json(nullptr) : json(t.parent_id)},
              {"payload", t.payload}};
}

json LogLineJson(const LogLine& l) {
  return json{{"attempt", l.attempt},
              {"time", TimeJson(l.ts_ms)},
              {"level", LevelName(l.level)},
              {"line", l.line}};
}

json AttemptsJson(const TaskRecord& t, const std::vector<LogLine>& logs) {
  // Lines of attempt 0 (written before any dispatch) and of attempts rerun
  // away still show: every attempt number seen is listed.
  std::map<int32_t, json> by_attempt;
  for (int32_t a = 1; a <= t.attempt; ++a) by_attempt[a] = json::array();
  for (const LogLine& l : logs) {
    by_attempt.try_emplace(l.attempt, json::array())
        .first->second.push_back(LogLineJson(l));
  }
  json out = json::array();
  for (auto& [attempt, lines] : by_attempt) {
    json a{{"attempt", attempt},
           {"current", attempt == t.attempt},
           {"logs", std::move(lines)}};
    if (attempt == t.attempt) {
      a["worker"] = StringOrNull(t.worker);
      a["started"] = TimeJson(t.started_ms);
      a["finished"] = TimeJson(t.finished_ms);
      a["duration_ms"] = DurationJson(t.started_ms, t.finished_ms);
      a["error"] = StringOrNull(t.error);
    }
    out.push_back(std::move(a));
  }
  return out;
}

json WorkerJson(const WorkerStatus& w) {
  return json{{"id", w.id},
              {"host", w.host},
              {"pid", w.pid},
              {"slots", w.slots},
              {"last_seen", TimeJson(w.last_seen_ms)},
              {"running", w.running},
              {"data_address", StringOrNull(w.data_address)}};
}

json ClusterJson(const ClusterStatus& c) {
  json workers = json::array();
  for (const WorkerStatus& w : c.workers) workers.push_back(WorkerJson(w));
  return json{{"leader",
               {{"owner", StringOrNull(c.leader.owner)},
                {"address", StringOrNull(c.leader.address)},
                {"epoch", c.leader.epoch},
                {"heartbeat", TimeJson(c.leader.heartbeat_ms)}}},
              {"workers", std::move(workers)},
              {"active_jobs", c.active_jobs}};
}

std::string DumpJson(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace taskgrid
