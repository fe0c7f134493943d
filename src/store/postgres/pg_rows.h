// Job and task rows of PostgresStateStore (internal to src/store/postgres/):
// decoding rows into JobRecord / TaskRecord, reading one job, and the
// errors that name a job or task (worded as SqliteStateStore's).
//
// Thread-safety: each function uses only the Conn or Result it is given
// (see pg_conn.h); the rest are pure functions.
#ifndef TASKGRID_STORE_POSTGRES_PG_ROWS_H_
#define TASKGRID_STORE_POSTGRES_PG_ROWS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/states.h"
#include "store/postgres/pg_conn.h"
#include "store/state_store.h"
#include "store/store_errors.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace pg_internal {

// Messages shared by every backend (store/store_errors.h).
using store_errors::AlreadyTerminal;
using store_errors::JobName;
using store_errors::JobNotFound;
using store_errors::TaskNotFound;

// A stored task state; DataLoss if the number is not one.
StatusOr<TaskState> DecodeTaskState(int64_t v);

// Row `row` of `r`, selected as TG_PG_JOB_COLS / TG_PG_TASK_COLS
// (pg_schema.h). DataLoss for an unknown state.
StatusOr<JobRecord> ReadJobRow(const Result& r, int row);
StatusOr<TaskRecord> ReadTaskRow(const Result& r, int row);

// The job's row; NotFound if there is none. With `lock`, the row stays
// locked until the end of the caller's transaction (SELECT ... FOR UPDATE).
StatusOr<JobRecord> MustReadJob(Conn* conn, int64_t job_id, bool lock);
// OK if the job exists, NotFound otherwise.
Status CheckJobExists(Conn* conn, int64_t job_id);

// The row of cluster_leader; DataLoss if it is missing (the migration
// inserts it, and nothing deletes it). With `lock`, as MustReadJob.
StatusOr<LeaderRecord> ReadLeader(Conn* conn, bool lock);

// InvalidArgument for a task id < 1; raises `*next_id` above every id.
Status ValidateTaskIds(const std::vector<TaskRecord>& tasks, int64_t* next_id);

}  // namespace pg_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_ROWS_H_
