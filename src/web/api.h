// Api: the endpoints of the HTTP API (docs/api.md) as functions from a
// parsed request (path ids, query parameters, body) to a response, free of
// any HTTP library; web_server.cc routes requests here after its security
// checks.
//
// Errors are JSON bodies {"error": MESSAGE, "code": "NOT_FOUND"} with the
// HTTP status of the Status code (HttpStatusFor).
//
// Thread-safety: thread-safe (holds no mutable state; `control` is).
#ifndef TASKGRID_WEB_API_H_
#define TASKGRID_WEB_API_H_

#include <cstdint>
#include <map>
#include <string>

#include "core/metrics.h"
#include "rpc/control.h"
#include "taskgrid/status.h"

namespace taskgrid {

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Query parameters, as parsed from the URL (a name may repeat).
using ApiParams = std::multimap<std::string, std::string>;

// 400 InvalidArgument/OutOfRange, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 FailedPrecondition/AlreadyExists/
// Aborted, 429 ResourceExhausted, 501 Unimplemented, 503 Unavailable, 504
// DeadlineExceeded, 500 otherwise.
int HttpStatusFor(StatusCode code);
// The JSON error response for `s` (not OK).
ApiResponse ErrorResponse(const Status& s);

// Pages of the task list hold at most this many tasks.
inline constexpr int64_t kMaxTaskPage = 10'000;
// The task detail shows at most this much of a task's result.
inline constexpr size_t kResultPreviewBytes = 64 * 1024;

class Api {
 public:
  // `control` and `metrics` must outlive the Api.
  Api(ControlService* control, const MetricsRegistry* metrics);

  // GET /api/jobs?limit=N
  ApiResponse ListJobs(const ApiParams& q);
  // GET /api/jobs/{id}
  ApiResponse GetJob(int64_t job_id);
  // GET /api/jobs/{id}/tasks?state=&stage=&after=&limit=&offset=
  ApiResponse ListTasks(int64_t job_id, const ApiParams& q);
  // GET /api/jobs/{id}/tasks/{task}
  ApiResponse GetTask(int64_t job_id, int64_t task_id);
  // POST /api/jobs/{id}/rerun with {"failed": true} or {"tasks": [ids]}
  ApiResponse Rerun(int64_t job_id, const std::string& body);
  // POST /api/jobs/{id}/cancel
  ApiResponse Cancel(int64_t job_id);
  // GET /api/workers
  ApiResponse Workers();
  // GET /metrics (Prometheus text format 0.0.4)
  ApiResponse PrometheusMetrics();

 private:
  ControlService* const control_;
  const MetricsRegistry* const metrics_;
};

}  // namespace taskgrid

#endif  // TASKGRID_WEB_API_H_
