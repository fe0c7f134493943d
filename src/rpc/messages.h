// The messages between master and workers. The same structs travel over
// every Transport: by value in-process, as protobuf over gRPC.
#ifndef TASKGRID_RPC_MESSAGES_H_
#define TASKGRID_RPC_MESSAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/output_file.h"
#include "taskgrid/job_spec.h"
#include "taskgrid/params.h"

namespace taskgrid {

// Everything a worker needs to run tasks of one job; fetched once per job.
struct JobDefinition {
  int64_t job_id = 0;
  std::string name;
  std::string processor;
  Model model = Model::kStandalone;
  Params params;
  std::string output;
  int64_t timeout_ms = 0;  // 0 = no limit
};

struct WorkerInfo {
  std::string id;
  int slots = 1;
  std::string host;
  int64_t pid = 0;
};

struct TaskRef {
  int64_t job_id = 0;
  int64_t task_id = 0;
  int32_t attempt = 0;
};

struct TaskAssignment {
  TaskRef ref;
  std::string stage;
  std::string payload;
};

struct FetchRequest {
  std::string worker_id;
  int max_tasks = 1;
  int64_t wait_ms = 0;  // long-poll: wait up to this long for a task
};

struct FetchResponse {
  std::vector<TaskAssignment> tasks;
  bool shutdown = false;  // the master is done: the worker should stop
};

struct ReportedLog {
  int64_t ts_ms = 0;
  int level = 0;
  std::string line;
};

struct ChildTasks {
  std::string stage;
  std::vector<std::string> payloads;
};

struct TaskReport {
  TaskRef ref;
  bool ok = false;
  std::string result;
  std::string error;  // when !ok
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::vector<ReportedLog> logs;
  std::vector<ChildTasks> children;     // from TaskContext::Map, when ok
  std::vector<OutputFileInfo> outputs;  // sealed output files, when ok
};

struct ReportResponse {
  // accepted[i] is false when report i came from an attempt that is no
  // longer current (fenced) or for a task that was cancelled meanwhile.
  std::vector<bool> accepted;
};

struct HeartbeatRequest {
  std::string worker_id;
  std::vector<TaskRef> running;
};

struct HeartbeatResponse {
  std::vector<TaskRef> cancel;  // attempts the worker should cancel
  bool shutdown = false;
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_MESSAGES_H_
