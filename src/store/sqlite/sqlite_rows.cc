// Job and task rows of SqliteStateStore (see sqlite_rows.h).
//
// Thread-safety: as sqlite_rows.h; no state of its own.
#include "store/sqlite/sqlite_rows.h"

#include <algorithm>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_schema.h"

namespace taskgrid {
namespace sqlite_internal {
namespace {

// Binds the kTaskColumns parameters of one task row, from parameter
// `base` + 1 on.
void BindTask(Stmt& s, int base, int64_t job_id, const TaskRecord& t) {
  s.Int(base + 1, job_id)
      .Int(base + 2, t.id)
      .Int(base + 3, t.parent_id)
      .Text(base + 4, t.stage)
      .Blob(base + 5, t.payload)
      .Int(base + 6, static_cast<int>(t.state))
      .Int(base + 7, t.attempt)
      .Int(base + 8, t.attempt_base)
      .Text(base + 9, t.worker)
      .Int(base + 10, t.started_ms)
      .Int(base + 11, t.finished_ms)
      .Int(base + 12, t.not_before_ms)
      .Blob(base + 13, t.result)
      .Text(base + 14, t.error);
}

}  // namespace

StatusOr<TaskState> DecodeTaskState(int64_t v) {
  if (v < 0 || v >= kNumTaskStates) {
    return DataLossError("sqlite: unknown task state " + std::to_string(v));
  }
  return static_cast<TaskState>(v);
}

StatusOr<JobRecord> ReadJobRow(const Stmt& s) {
  JobRecord j;
  j.id = s.ColInt(0);
  j.name = s.ColStr(1);
  j.key = s.ColStr(2);
  j.spec_yaml = s.ColStr(3);
  int64_t state = s.ColInt(4);
  if (state < 0 || state > static_cast<int>(JobState::kCancelled)) {
    return DataLossError(JobName(j.id) + " has unknown state " +
                         std::to_string(state));
  }
  j.state = static_cast<JobState>(state);
  j.created_ms = s.ColInt(5);
  j.finished_ms = s.ColInt(6);
  j.epoch = s.ColInt(7);
  j.owner = s.ColStr(8);
  j.heartbeat_ms = s.ColInt(9);
  j.result = s.ColStr(10);
  j.next_task_id = s.ColInt(11);
  return j;
}

StatusOr<TaskRecord> ReadTaskRow(const Stmt& s) {
  TaskRecord t;
  t.job_id = s.ColInt(0);
  t.id = s.ColInt(1);
  t.parent_id = s.ColInt(2);
  t.stage = s.ColStr(3);
  t.payload = s.ColStr(4);
  int64_t state = s.ColInt(5);
  if (state < 0 || state >= kNumTaskStates) {
    return DataLossError(JobName(t.job_id) + ": task " + std::to_string(t.id) +
                         " has unknown state " + std::to_string(state));
  }
  t.state = static_cast<TaskState>(state);
  t.attempt = static_cast<int32_t>(s.ColInt(6));
  t.attempt_base = static_cast<int32_t>(s.ColInt(7));
  t.worker = s.ColStr(8);
  t.started_ms = s.ColInt(9);
  t.finished_ms = s.ColInt(10);
  t.not_before_ms = s.ColInt(11);
  t.result = s.ColStr(12);
  t.error = s.ColStr(13);
  return t;
}

StatusOr<JobRecord> MustReadJob(Db* db, int64_t job_id) {
  ASSIGN_OR_RETURN(Stmt s, Get(db, kGetJobSql));
  s.Int(1, job_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return JobNotFound(job_id);
  return ReadJobRow(s);
}

Status CheckJobExists(Db* db, int64_t job_id) {
  ASSIGN_OR_RETURN(Stmt s, Get(db, kJobEpochSql));
  ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
  return row ? OkStatus() : JobNotFound(job_id);
}

StatusOr<LeaderRecord> ReadLeader(Db* db) {
  ASSIGN_OR_RETURN(Stmt s, Get(db, kGetLeaderSql));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return DataLossError(
        "sqlite: table cluster_leader has no row (it is created with one, "
        "and taskgrid never deletes it)");
  }
  LeaderRecord l;
  l.epoch = s.ColInt(0);
  l.owner = s.ColStr(1);
  l.address = s.ColStr(2);
  l.heartbeat_ms = s.ColInt(3);
  return l;
}

Status InsertTasks(Db* db, int64_t job_id, const std::vector<TaskRecord>& tasks,
                   bool new_job) {
  size_t i = 0;
  if (tasks.size() >= kInsertChunk) {
    ASSIGN_OR_RETURN(Stmt many, Get(db, InsertTaskChunkSql()));
    for (; i + kInsertChunk <= tasks.size(); i += kInsertChunk) {
      for (size_t r = 0; r < kInsertChunk; ++r) {
        BindTask(many, static_cast<int>(r) * kTaskColumns, job_id,
                 tasks[i + r]);
      }
      const int rc = many.StepRc();
      if (rc == SQLITE_DONE) {
        many.Reset();
        continue;
      }
      Status err = many.ErrorFor(rc);
      many.Reset();
      if ((rc & 0xff) != SQLITE_CONSTRAINT) return err;
      // The statement was undone as a whole; the row-at-a-time loop below
      // finds the duplicate and names it.
      break;
    }
  }
  if (i == tasks.size()) return OkStatus();
  ASSIGN_OR_RETURN(Stmt s, Get(db, kInsertTaskSql));
  for (; i < tasks.size(); ++i) {
    const TaskRecord& t = tasks[i];
    BindTask(s, 0, job_id, t);
    const int rc = s.StepRc();
    if (rc != SQLITE_DONE) {
      Status err = s.ErrorFor(rc);
      s.Reset();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        std::string what =
            JobName(job_id) + ": task id " + std::to_string(t.id);
        return new_job ? InvalidArgumentError(what + " is given twice")
                       : AlreadyExistsError(what + " already exists");
      }
      return err;
    }
    s.Reset();
  }
  return OkStatus();
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

}  // namespace sqlite_internal
}  // namespace taskgrid
