#include "web/api.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "web/json_views.h"

namespace taskgrid {

using nlohmann::json;

namespace {

// The first value of query parameter `name`, if given.
std::optional<std::string> Param(const ApiParams& q, const std::string& name) {
  auto it = q.find(name);
  if (it == q.end()) return std::nullopt;
  return it->second;
}

// A non-negative decimal integer, or InvalidArgument naming the parameter.
StatusOr<int64_t> ParseCount(const std::string& name,
                             const std::string& value) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || p != value.data() + value.size() ||
      v < 0) {
    return InvalidArgumentError(
        name + "= must be a non-negative integer, not '" + value + "'");
  }
  return v;
}

ApiResponse JsonResponse(const json& j, int status = 200) {
  return ApiResponse{status, "application/json", DumpJson(j)};
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

ApiResponse ErrorResponse(const Status& s) {
  return JsonResponse(
      json{{"error", s.message()}, {"code", StatusCodeName(s.code())}},
      HttpStatusFor(s.code()));
}

Api::Api(ControlService* control, const MetricsRegistry* metrics)
    : control_(control), metrics_(metrics) {
  // Registers taskgrid's own series, so that a scrape lists all of them
  // (at 0) even in a process that has not counted anything yet.
  Metrics();
}

ApiResponse Api::ListJobs(const ApiParams& q) {
  int64_t limit = 100;
  if (auto v = Param(q, "limit")) {
    auto n = ParseCount("limit", *v);
    if (!n.ok()) return ErrorResponse(n.status());
    limit = *n;
  }
  auto jobs = control_->ListJobs(limit);
  if (!jobs.ok()) return ErrorResponse(jobs.status());
  json arr = json::array();
  for (const JobStatus& st : *jobs) arr.push_back(JobJson(st.job, st.counts));
  return JsonResponse(json{{"jobs", std::move(arr)}});
}

ApiResponse Api::GetJob(int64_t job_id) {
  auto st = control_->GetJob(job_id);
  if (!st.ok()) return ErrorResponse(st.status());
  return JsonResponse(JobDetailJson(*st));
}

ApiResponse Api::ListTasks(int64_t job_id, const ApiParams& q) {
  TaskFilter f;
  f.limit = 100;
  if (auto v = Param(q, "state"); v && !v->empty()) {
    f.state = ParseTaskState(*v);
    if (!f.state) {
      return ErrorResponse(InvalidArgumentError(
          "unknown state '" + *v +
          "' (pending, dispatched, running, succeeded, failed, dead, "
          "cancelled)"));
    }
  }
  if (auto v = Param(q, "stage"); v && !v->empty()) f.stage = *v;
  if (auto v = Param(q, "sort"); v && !v->empty()) {
    auto order = ParseTaskOrder(*v);
    if (!order) {
      return ErrorResponse(InvalidArgumentError("unknown sort '" + *v +
                                                "' (id, duration, attempts)"));
    }
    f.order = *order;
  }
  const bool by_id = f.order == TaskOrder::kId;
  const auto after = Param(q, "after");
  const auto offset = Param(q, "offset");
  if (after && offset) {
    return ErrorResponse(
        InvalidArgumentError("give after= or offset=, not both"));
  }
  if (after && !by_id) {
    return ErrorResponse(InvalidArgumentError(
        "after= pages the list by id; page a sorted list with offset="));
  }
  if (after) {
    auto n = ParseCount("after", *after);
    if (!n.ok()) return ErrorResponse(n.status());
    f.after_id = *n;
  }
  if (offset) {
    auto n = ParseCount("offset", *offset);
    if (!n.ok()) return ErrorResponse(n.status());
    if (!by_id) {
      f.offset = *n;
    } else if (f.state || f.stage) {
      // Task ids are dense from 1, so skipping N tasks is after_id = N:
      // but only over all tasks; under a filter it would skip ids.
      return ErrorResponse(InvalidArgumentError(
          "offset= works only without state= and stage= (or with sort=); "
          "page a filtered list with after= (the next_after of the "
          "previous page)"));
    } else {
      f.after_id = *n;
    }
  }
  if (auto v = Param(q, "limit")) {
    auto n = ParseCount("limit", *v);
    if (!n.ok()) return ErrorResponse(n.status());
    if (*n < 1 || *n > kMaxTaskPage) {
      return ErrorResponse(InvalidArgumentError(
          "limit= must be between 1 and " + std::to_string(kMaxTaskPage)));
    }
    f.limit = *n;
  }
  auto tasks = control_->ListTasks(job_id, f);
  if (!tasks.ok()) return ErrorResponse(tasks.status());
  json arr = json::array();
  for (const TaskRecord& t : *tasks) arr.push_back(TaskJson(t));
  const bool full = static_cast<int64_t>(tasks->size()) == f.limit;
  json page{{"job", job_id},
            {"sort", TaskOrderName(f.order)},
            {"tasks", std::move(arr)}};
  if (by_id) {
    page["next_after"] = full ? json(tasks->back().id) : json(nullptr);
  } else {
    page["next_offset"] = full ? json(f.offset + f.limit) : json(nullptr);
  }
  return JsonResponse(std::move(page));
}

ApiResponse Api::GetTask(int64_t job_id, int64_t task_id) {
  auto task = control_->GetTask(job_id, task_id);
  if (!task.ok()) return ErrorResponse(task.status());
  auto logs = control_->GetLogs(job_id, task_id);
  if (!logs.ok()) return ErrorResponse(logs.status());
  json t = TaskJson(*task);
  t["attempt_base"] = task->attempt_base;
  t["not_before"] = TimeJson(task->not_before_ms);
  t["result"] = task->result.substr(0, kResultPreviewBytes);
  t["result_truncated"] = task->result.size() > kResultPreviewBytes;
  return JsonResponse(json{{"job", job_id},
                           {"task", std::move(t)},
                           {"attempts", AttemptsJson(*task, *logs)}});
}

ApiResponse Api::Rerun(int64_t job_id, const std::string& body) {
  const json req = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const auto bad = [](const std::string& why) {
    return ErrorResponse(InvalidArgumentError(
        why + ": send {\"failed\": true} or {\"tasks\": [ID, ...]}"));
  };
  if (req.is_discarded() || !req.is_object()) {
    return bad("the body is not a JSON object");
  }
  bool failed = false;
  std::vector<int64_t> ids;
  if (auto it = req.find("failed"); it != req.end()) {
    if (!it->is_boolean()) return bad("\"failed\" must be true or false");
    failed = it->get<bool>();
  }
  if (auto it = req.find("tasks"); it != req.end()) {
    if (!it->is_array()) return bad("\"tasks\" must be an array of task ids");
    for (const json& id : *it) {
      if (!id.is_number_integer() || id.get<int64_t>() < 1) {
        return bad("\"tasks\" must hold task ids (integers >= 1)");
      }
      ids.push_back(id.get<int64_t>());
    }
  }
  if (failed == !ids.empty()) {
    return bad(failed ? "give \"failed\" or \"tasks\", not both"
                      : "nothing to rerun");
  }
  auto n = control_->RerunTasks(job_id, failed, ids);
  if (!n.ok()) return ErrorResponse(n.status());
  return JsonResponse(json{{"job", job_id}, {"rerun", *n}});
}

ApiResponse Api::Cancel(int64_t job_id) {
  Status s = control_->CancelJob(job_id);
  if (!s.ok()) return ErrorResponse(s);
  return JsonResponse(json{{"job", job_id}, {"state", "cancelled"}});
}

ApiResponse Api::Workers() {
  auto c = control_->GetCluster();
  if (!c.ok()) return ErrorResponse(c.status());
  return JsonResponse(ClusterJson(*c));
}

ApiResponse Api::PrometheusMetrics() {
  std::string out;
  // Jobs and tasks by state, from the ControlService at scrape time: one
  // ListJobs (each job with its counts by state). Tasks are summed over
  // the jobs not finished: finished jobs would only repeat their totals.
  auto jobs = control_->ListJobs(0);
  WriteMetricFamily(&out, "taskgrid_control_up",
                    "1 if the jobs could be read for this scrape (0: the "
                    "store is down, or this master is a standby).",
                    "gauge", {{{}, jobs.ok() ? 1.0 : 0.0}});
  if (jobs.ok()) {
    constexpr size_t kNumJobStates = 5;  // JobState
    std::array<int64_t, kNumJobStates> job_counts{};
    TaskCounts task_counts{};
    for (const JobStatus& st : *jobs) {
      ++job_counts[static_cast<size_t>(st.job.state)];
      if (IsTerminal(st.job.state)) continue;
      for (int i = 0; i < kNumTaskStates; ++i) task_counts[i] += st.counts[i];
    }
    std::vector<MetricSample> samples;
    for (size_t i = 0; i < job_counts.size(); ++i) {
      samples.push_back(
          {{{"state", std::string(JobStateName(static_cast<JobState>(i)))}},
           static_cast<double>(job_counts[i])});
    }
    WriteMetricFamily(&out, "taskgrid_jobs", "Jobs in the store, by state.",
                      "gauge", samples);
    samples.clear();
    for (int i = 0; i < kNumTaskStates; ++i) {
      samples.push_back(
          {{{"state", std::string(TaskStateName(static_cast<TaskState>(i)))}},
           static_cast<double>(task_counts[i])});
    }
    WriteMetricFamily(&out, "taskgrid_tasks",
                      "Tasks of the unfinished jobs, by state.", "gauge",
                      samples);
  }
  metrics_->Render(&out);
  return ApiResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                     std::move(out)};
}

}  // namespace taskgrid
