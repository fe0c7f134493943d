// jobs, status, tasks, logs, cancel: read (or cancel) what the state store
// holds, as a table for people or JSON for programs.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "taskgrid/processor.h"
#include "web/json_views.h"

namespace taskgrid {
namespace {

using nlohmann::json;

std::string CountsText(const TaskCounts& counts) {
  std::string out;
  for (int i = 0; i < kNumTaskStates; ++i) {
    if (counts[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", counts[i],
                       TaskStateName(static_cast<TaskState>(i)));
  }
  return out.empty() ? "no tasks" : out;
}

// Replaces control characters so a payload or error cannot garble a table.
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

int CmdJobs(const CommonOptions& o, int64_t limit) {
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  auto jobs = control->ListJobs(limit);
  if (!jobs.ok()) {
    PrintError(jobs.status());
    return kExitJobFailed;
  }
  json arr = json::array();
  if (!o.json) {
    std::cout << fmt::format("{:>6}  {:<10}  {:<24}  {:<24}  {}\n", "ID",
                             "STATE", "NAME", "CREATED", "TASKS");
  }
  for (const JobStatus& st : *jobs) {
    const JobRecord& job = st.job;
    if (o.json) {
      arr.push_back(JobJson(job, st.counts));
    } else {
      std::cout << fmt::format("{:>6}  {:<10}  {:<24}  {:<24}  {}\n", job.id,
                               JobStateName(job.state), Printable(job.name, 24),
                               FormatTime(job.created_ms),
                               CountsText(st.counts));
    }
  }
  if (o.json) std::cout << DumpJson(arr, 2) << "\n";
  return kExitOk;
}

int CmdStatus(const CommonOptions& o, int64_t job_id) {
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  auto st = control->GetJob(job_id);
  if (!st.ok()) {
    PrintError(st.status());
    return st.status().code() == StatusCode::kNotFound ? kExitUsage
                                                       : kExitJobFailed;
  }
  const JobRecord* job = &st->job;
  const TaskCounts* counts = &st->counts;
  if (o.json) {
    std::cout << DumpJson(JobDetailJson(*st), 2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("job {} ({}): {}\n", job->id, job->name,
                           JobStateName(job->state));
  if (!job->key.empty()) std::cout << "  key:      " << job->key << "\n";
  if (auto spec = ParseJobSpec(job->spec_yaml, "job");
      spec.ok() && spec->stage > 0) {
    std::cout << fmt::format("  stage:    {} of {}", spec->stage, spec->stages);
    if (spec->after_job != 0) {
      std::cout << fmt::format(", after job {}", spec->after_job);
    }
    if (!spec->then.empty() && job->state == JobState::kSucceeded) {
      auto next = FindNextStage(control.get(), job->id);
      if (next.ok() && *next != 0) {
        std::cout << fmt::format("; next: job {}", *next);
      }
    }
    std::cout << "\n";
  }
  std::cout << "  created:  " << FormatTime(job->created_ms) << "\n";
  if (job->finished_ms != 0) {
    std::cout << "  finished: " << FormatTime(job->finished_ms) << " ("
              << FormatDuration(job->finished_ms - job->created_ms) << ")\n";
  }
  std::cout << "  tasks:    " << CountsText(*counts) << "\n";
  if (st->stages.size() > 1) {
    for (const StageCounts& sc : st->stages) {
      std::cout << fmt::format("    {:<10} {}\n", Printable(sc.stage, 10),
                               CountsText(sc.counts));
    }
  }
  if (!job->result.empty()) {
    std::cout << "  result:   " << Printable(job->result, 200) << "\n";
  }
  return kExitOk;
}

int CmdTasks(const CommonOptions& o, int64_t job_id,
             const std::optional<std::string>& state,
             const std::optional<std::string>& stage, int64_t after,
             int64_t limit, const std::string& sort, int64_t offset) {
  TaskFilter f;
  if (auto order = ParseTaskOrder(sort)) {
    f.order = *order;
  } else {
    std::cerr << "taskgrid tasks: unknown --sort '" << sort
              << "' (id, duration, attempts)\n";
    return kExitUsage;
  }
  if (f.order == TaskOrder::kId && offset != 0) {
    std::cerr << "taskgrid tasks: --offset pages a sorted list (--sort "
                 "duration|attempts); page by id with --after\n";
    return kExitUsage;
  }
  f.offset = offset;
  if (state) {
    f.state = ParseTaskState(*state);
    if (!f.state) {
      std::cerr << "taskgrid tasks: unknown --status '" << *state
                << "' (pending, dispatched, running, succeeded, failed, "
                   "dead, cancelled)\n";
      return kExitUsage;
    }
  }
  f.stage = stage;
  f.after_id = after;
  f.limit = limit;
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  auto tasks = control->ListTasks(job_id, f);
  if (!tasks.ok()) {
    PrintError(tasks.status());
    return tasks.status().code() == StatusCode::kNotFound ? kExitUsage
                                                          : kExitJobFailed;
  }
  if (o.json) {
    json arr = json::array();
    for (const TaskRecord& t : *tasks) arr.push_back(TaskJson(t));
    // Invalid UTF-8 in a payload must not abort the dump: replaced.
    std::cout << DumpJson(arr, 2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{:>9}  {:<10}  {:<10}  {:>3}  {:<10}  {:>10}  {}\n",
                           "ID", "STAGE", "STATE", "TRY", "WORKER", "DURATION",
                           "PAYLOAD / ERROR");
  for (const TaskRecord& t : *tasks) {
    const std::string dur = t.finished_ms != 0 && t.started_ms != 0
                                ? FormatDuration(t.finished_ms - t.started_ms)
                                : "";
    std::cout << fmt::format(
        "{:>9}  {:<10}  {:<10}  {:>3}  {:<10}  {:>10}  {}\n", t.id,
        Printable(t.stage, 10), TaskStateName(t.state), t.attempt,
        Printable(t.worker, 10), dur,
        t.error.empty() ? Printable(t.payload, 60) : Printable(t.error, 100));
  }
  return kExitOk;
}

int CmdLogs(const CommonOptions& o, int64_t job_id, int64_t task_id) {
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  auto task = control->GetTask(job_id, task_id);
  if (!task.ok()) {
    PrintError(task.status());
    return task.status().code() == StatusCode::kNotFound ? kExitUsage
                                                         : kExitJobFailed;
  }
  auto logs = control->GetLogs(job_id, task_id);
  if (!logs.ok()) {
    PrintError(logs.status());
    return kExitJobFailed;
  }
  static constexpr const char* kLevels[] = {"INFO", "WARN", "ERROR"};
  auto level = [](int l) { return kLevels[l >= 0 && l <= 2 ? l : 0]; };
  if (o.json) {
    json arr = json::array();
    for (const LogLine& l : *logs) arr.push_back(LogLineJson(l));
    std::cout << DumpJson(arr, 2) << "\n";
    return kExitOk;
  }
  int32_t attempt = -1;
  for (const LogLine& l : *logs) {
    if (l.attempt != attempt) {
      attempt = l.attempt;
      std::cout << fmt::format("--- attempt {} ---\n", attempt);
    }
    std::cout << fmt::format("{} {:<5} {}\n", FormatTime(l.ts_ms),
                             level(l.level), l.line);
  }
  if (logs->empty()) {
    std::cout << fmt::format("task {} of job {} has no log lines ({})\n",
                             task_id, job_id, TaskStateName(task->state));
  }
  return kExitOk;
}

int CmdCancel(const CommonOptions& o, int64_t job_id) {
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  Status s = control->CancelJob(job_id);
  if (!s.ok()) {
    PrintError(s);
    return s.code() == StatusCode::kNotFound ? kExitUsage : kExitJobFailed;
  }
  std::cout << "job " << job_id << " cancelled\n";
  return kExitOk;
}

}  // namespace taskgrid
