// The bulk writes of PostgresStateStore (internal to src/store/postgres/):
// each sends rows in chunks of kRowsPerStatement, one statement (one round
// trip) per chunk, with the rows as arrays (pg_schema.h); CopyTasks uses a
// binary COPY. All run inside the caller's transaction.
//
// Thread-safety: each function uses only the Conn it is given.
#ifndef TASKGRID_STORE_POSTGRES_PG_BATCH_H_
#define TASKGRID_STORE_POSTGRES_PG_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "store/postgres/pg_conn.h"
#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace pg_internal {

// Rows per statement: big enough that per-statement costs vanish, small
// enough that the planner's nested loop over the primary key stays the
// plan and one statement's memory stays small.
inline constexpr size_t kRowsPerStatement = 1000;

// Loads one chunk of a new job's tasks (their own job_id fields are
// ignored) with COPY, under a savepoint so that a duplicate id can be
// named: InvalidArgument "job <id>: task id <n> is given twice". `first`
// tells if this is the job's first chunk.
Status CopyTasks(Conn* conn, int64_t job_id,
                 const std::vector<TaskRecord>& tasks, bool first);

// Inserts Apply's new tasks. AlreadyExists "job <id>: task id <n> already
// exists" for the first id (in list order) that is taken, by an existing
// task or an earlier one of the list.
Status InsertTasks(Conn* conn, int64_t job_id,
                   const std::vector<TaskRecord>& tasks);

// Applies the updates in order, fenced by attempt (and never to a cancelled
// task); returns how many were fenced. An update that names the same task
// as an earlier one goes in a later statement, so it sees that one's
// effect, as if they ran one by one.
StatusOr<int64_t> UpdateTasks(Conn* conn, int64_t job_id,
                              const std::vector<TaskUpdate>& updates);

// Appends log lines, numbered in the order given.
Status InsertLogs(Conn* conn, int64_t job_id, const std::vector<LogLine>& logs);

// Replaces the recorded outputs of each task in `outputs` (WriteBatch), as
// SqliteStateStore does row by row: a task's rows are replaced whenever
// its run of consecutive records starts, and a name repeated within a run
// keeps its last record.
Status ReplaceOutputs(Conn* conn, int64_t job_id,
                      const std::vector<OutputRecord>& outputs);

// Runs `sql` with $1 = job_id and $2 = an int8[] of `ids`, in chunks.
Status RunWithIds(Conn* conn, const char* sql, int64_t job_id,
                  const std::vector<int64_t>& ids);

}  // namespace pg_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_BATCH_H_
