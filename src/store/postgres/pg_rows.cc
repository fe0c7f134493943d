// Job and task rows of PostgresStateStore (see pg_rows.h).
//
// Thread-safety: as pg_rows.h; no state of its own.
#include "store/postgres/pg_rows.h"

#include <algorithm>

#include "core/status_macros.h"
#include "store/postgres/pg_schema.h"

namespace taskgrid {
namespace pg_internal {

StatusOr<TaskState> DecodeTaskState(int64_t v) {
  if (v < 0 || v >= kNumTaskStates) {
    return DataLossError("postgresql: unknown task state " + std::to_string(v));
  }
  return static_cast<TaskState>(v);
}

StatusOr<JobRecord> ReadJobRow(const Result& r, int row) {
  JobRecord j;
  j.id = r.Int(row, 0);
  j.name = r.Str(row, 1);
  j.key = r.Str(row, 2);
  j.spec_yaml = r.Str(row, 3);
  const int64_t state = r.Int(row, 4);
  if (state < 0 || state > static_cast<int>(JobState::kCancelled)) {
    return DataLossError(JobName(j.id) + " has unknown state " +
                         std::to_string(state));
  }
  j.state = static_cast<JobState>(state);
  j.created_ms = r.Int(row, 5);
  j.finished_ms = r.Int(row, 6);
  j.epoch = r.Int(row, 7);
  j.owner = r.Str(row, 8);
  j.heartbeat_ms = r.Int(row, 9);
  j.result = r.Str(row, 10);
  j.next_task_id = r.Int(row, 11);
  return j;
}

StatusOr<TaskRecord> ReadTaskRow(const Result& r, int row) {
  TaskRecord t;
  t.job_id = r.Int(row, 0);
  t.id = r.Int(row, 1);
  t.parent_id = r.Int(row, 2);
  t.stage = r.Str(row, 3);
  t.payload = r.Str(row, 4);
  const int64_t state = r.Int(row, 5);
  if (state < 0 || state >= kNumTaskStates) {
    return DataLossError(JobName(t.job_id) + ": task " + std::to_string(t.id) +
                         " has unknown state " + std::to_string(state));
  }
  t.state = static_cast<TaskState>(state);
  t.attempt = static_cast<int32_t>(r.Int(row, 6));
  t.attempt_base = static_cast<int32_t>(r.Int(row, 7));
  t.worker = r.Str(row, 8);
  t.started_ms = r.Int(row, 9);
  t.finished_ms = r.Int(row, 10);
  t.not_before_ms = r.Int(row, 11);
  t.result = r.Str(row, 12);
  t.error = r.Str(row, 13);
  return t;
}

StatusOr<JobRecord> MustReadJob(Conn* conn, int64_t job_id, bool lock) {
  Params p;
  p.Int8(job_id);
  ASSIGN_OR_RETURN(Result r, conn->Exec(lock ? kLockJobSql : kGetJobSql, p));
  if (r.rows() == 0) return JobNotFound(job_id);
  return ReadJobRow(r, 0);
}

Status CheckJobExists(Conn* conn, int64_t job_id) {
  Params p;
  p.Int8(job_id);
  ASSIGN_OR_RETURN(Result r, conn->Exec(kJobEpochSql, p));
  return r.rows() > 0 ? OkStatus() : JobNotFound(job_id);
}

StatusOr<LeaderRecord> ReadLeader(Conn* conn, bool lock) {
  ASSIGN_OR_RETURN(Result r, conn->Exec(lock ? kLockLeaderSql : kGetLeaderSql));
  if (r.rows() == 0) {
    return DataLossError("postgresql " + conn->name() +
                         ": table cluster_leader has no row (it is created "
                         "with one, and taskgrid never deletes it)");
  }
  LeaderRecord l;
  l.epoch = r.Int(0, 0);
  l.owner = r.Str(0, 1);
  l.address = r.Str(0, 2);
  l.heartbeat_ms = r.Int(0, 3);
  return l;
}

Status ValidateTaskIds(const std::vector<TaskRecord>& tasks, int64_t* next_id) {
  for (const TaskRecord& t : tasks) {
    if (t.id < 1) {
      return InvalidArgumentError("task id " + std::to_string(t.id) +
                                  " is not >= 1");
    }
    *next_id = std::max(*next_id, t.id + 1);
  }
  return OkStatus();
}

}  // namespace pg_internal
}  // namespace taskgrid
