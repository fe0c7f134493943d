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
  // Shuffle jobs (JobSpec's fields of the same names).
  int partitions = 1;
  int64_t memory_bytes = 0;
  std::vector<std::string> range_splits;
};

struct WorkerInfo {
  std::string id;
  int slots = 1;
  std::string host;
  int64_t pid = 0;
  // Where its data service (worker/data_service.h) answers, "host:port";
  // "" = it serves no data. tg://ID/PATH URLs resolve to it.
  std::string data_address;
};

struct TaskRef {
  int64_t job_id = 0;
  int64_t task_id = 0;
  int32_t attempt = 0;
};

// One map output's segment for a shuffle reduce task: partition
// `payload` of map task `map_task_id`, bytes [offset, offset + length) of
// `path` on the worker whose data service answers at `address` ("" = this
// machine's disk, embedded mode).
struct ShuffleInput {
  int64_t map_task_id = 0;
  std::string address;
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t records = 0;
  uint32_t crc = 0;
};

struct TaskAssignment {
  TaskRef ref;
  std::string stage;
  std::string payload;
  // Shuffle reduce tasks: the partition's segment of every map output, in
  // map task id order (filled at dispatch, so always the current outputs).
  std::vector<ShuffleInput> shuffle_inputs;
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
  // A shuffle reduce that failed: the map tasks whose outputs it could not
  // read (the master makes them again; the attempt does not count).
  std::vector<int64_t> lost_map_tasks;
};

struct ReportResponse {
  // accepted[i] is false when report i came from an attempt that is no
  // longer current (fenced) or for a task that was cancelled meanwhile.
  std::vector<bool> accepted;
};

struct HeartbeatRequest {
  std::string worker_id;
  std::vector<TaskRef> running;
  // Jobs whose shuffle data (DATA_DIR/shuffle/job-J) this worker holds.
  std::vector<int64_t> shuffle_jobs;
};

struct HeartbeatResponse {
  std::vector<TaskRef> cancel;  // attempts the worker should cancel
  bool shutdown = false;
  // Of the request's shuffle_jobs, those that are finished (succeeded,
  // failed or cancelled): the worker may remove their shuffle data.
  std::vector<int64_t> drop_jobs;
};

}  // namespace taskgrid

#endif  // TASKGRID_RPC_MESSAGES_H_
