// Job and task rows of SqliteStateStore (internal to src/store/sqlite/):
// decoding rows into JobRecord / TaskRecord, reading one job, inserting
// tasks in bulk, and the errors that name a job or task.
//
// Thread-safety: each function uses only the Db or Stmt it is given (see
// sqlite_db.h); the rest are pure functions.
#ifndef TASKGRID_STORE_SQLITE_SQLITE_ROWS_H_
#define TASKGRID_STORE_SQLITE_SQLITE_ROWS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/states.h"
#include "store/sqlite/sqlite_db.h"
#include "store/state_store.h"
#include "store/store_errors.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace sqlite_internal {

// Messages shared by every backend (store/store_errors.h).
using store_errors::AlreadyTerminal;
using store_errors::JobName;
using store_errors::JobNotFound;
using store_errors::TaskNotFound;

// A stored task state; DataLoss if the number is not one.
StatusOr<TaskState> DecodeTaskState(int64_t v);

// The current row of `s`, selected as TG_JOB_COLS / TG_TASK_COLS
// (sqlite_schema.h). DataLoss for an unknown state.
StatusOr<JobRecord> ReadJobRow(const Stmt& s);
StatusOr<TaskRecord> ReadTaskRow(const Stmt& s);

// The job's row; NotFound if there is none.
StatusOr<JobRecord> MustReadJob(Db* db, int64_t job_id);
// OK if the job exists, NotFound otherwise.
Status CheckJobExists(Db* db, int64_t job_id);

// The row of cluster_leader; DataLoss if it is missing (the migration
// inserts it, and nothing deletes it).
StatusOr<LeaderRecord> ReadLeader(Db* db);

// Inserts tasks of `job_id` (their own job_id fields are ignored), in
// statements of kInsertChunk rows: per-statement overhead dominates a
// 1M-task CreateJob otherwise. A duplicate id is InvalidArgument in a new
// job (the caller's list repeats it) and AlreadyExists in Apply (the id is
// taken). Runs inside the caller's transaction.
Status InsertTasks(Db* db, int64_t job_id, const std::vector<TaskRecord>& tasks,
                   bool new_job);

// InvalidArgument for a task id < 1; raises `*next_id` above every id.
Status ValidateTaskIds(const std::vector<TaskRecord>& tasks, int64_t* next_id);

}  // namespace sqlite_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_SQLITE_SQLITE_ROWS_H_
