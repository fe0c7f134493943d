// The SQL of PostgresStateStore (internal to src/store/postgres/): the
// statements the store runs, and Migrate, which brings a database's schema
// up to date. The tables themselves are created by the versioned
// migrations in pg_schema.cc.
//
// Every statement is an inline constant, so it has one address in the whole
// program: Conn::Exec keys its prepared statements by that address.
//
// Batches travel as arrays: a statement takes `$2::int8[]`, `$3::text[]`...
// (one per column, built with ArrayBuilder) and unnest()s them, so a chunk
// of thousands of rows is one round trip. Parameter types follow the
// columns: INTEGER columns take int4, BIGINT ones int8.
//
// Thread-safety: the constants are immutable; Migrate uses the one Conn it
// is given (see pg_conn.h).
#ifndef TASKGRID_STORE_POSTGRES_PG_SCHEMA_H_
#define TASKGRID_STORE_POSTGRES_PG_SCHEMA_H_

#include "core/states.h"
#include "store/postgres/pg_conn.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace pg_internal {

// The SQL below spells states as their numbers.
static_assert(static_cast<int>(TaskState::kPending) == 0);
static_assert(static_cast<int>(TaskState::kSucceeded) == 3);
static_assert(static_cast<int>(TaskState::kFailed) == 4);
static_assert(static_cast<int>(TaskState::kDead) == 5);
static_assert(static_cast<int>(TaskState::kCancelled) == 6);
static_assert(static_cast<int>(JobState::kPending) == 0);
static_assert(static_cast<int>(JobState::kRunning) == 1);
static_assert(static_cast<int>(JobState::kCancelled) == 4);

// Brings the schema of the database `conn` is connected to (the first
// schema of its search_path) to PostgresStateStore::kSchemaVersion: in one
// transaction, under an advisory lock, so concurrent openers migrate once.
// FailedPrecondition if the database's version is newer.
Status Migrate(Conn* conn);

// Column lists, in the order ReadJobRow / ReadTaskRow read them.
#define TG_PG_JOB_COLS                                                       \
  "id, name, key, spec_yaml, state, created_ms, finished_ms, epoch, owner, " \
  "heartbeat_ms, result, next_task_id"
#define TG_PG_TASK_COLS                                                   \
  "job_id, id, parent_id, stage, payload, state, attempt, attempt_base, " \
  "worker, started_ms, finished_ms, not_before_ms, result, error"

// ---------------------------------------------------------------------------
// Jobs.

inline constexpr char kGetJobSql[] =
    "SELECT " TG_PG_JOB_COLS " FROM jobs WHERE id = $1";
// The job row, locked until the end of the transaction: every write to a
// job's rows takes it first, so writers of one job are serialized (and a
// stale epoch is seen by the same transaction that would write).
inline constexpr char kLockJobSql[] =
    "SELECT " TG_PG_JOB_COLS " FROM jobs WHERE id = $1 FOR UPDATE";
inline constexpr char kLockEpochSql[] =
    "SELECT epoch FROM jobs WHERE id = $1 FOR UPDATE";
inline constexpr char kJobEpochSql[] = "SELECT epoch FROM jobs WHERE id = $1";
// `key <> ''` matches the partial unique index jobs_key.
inline constexpr char kFindJobSql[] =
    "SELECT " TG_PG_JOB_COLS " FROM jobs WHERE key = $1 AND key <> ''";
// LIMIT NULL is no limit.
inline constexpr char kListJobsSql[] =
    "SELECT " TG_PG_JOB_COLS " FROM jobs ORDER BY id DESC LIMIT $1";
// No row back: the key is taken (nothing inserted, no error to roll back).
inline constexpr char kInsertJobSql[] =
    "INSERT INTO jobs (name, key, spec_yaml, state, created_ms, finished_ms, "
    "epoch, owner, heartbeat_ms, result, next_task_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (key) WHERE key <> '' DO NOTHING RETURNING id";
inline constexpr char kRaiseNextTaskIdSql[] =
    "UPDATE jobs SET next_task_id = greatest(next_task_id, $2) WHERE id = $1";
inline constexpr char kUpdateJobSql[] =
    "UPDATE jobs SET state = coalesce($2, state), "
    "finished_ms = CASE WHEN $3 <> 0 THEN $3 ELSE finished_ms END, "
    "result = coalesce($4, result), "
    "next_task_id = greatest(next_task_id, $5), "
    "heartbeat_ms = CASE WHEN $6 <> 0 THEN $6 ELSE heartbeat_ms END "
    "WHERE id = $1";
inline constexpr char kAcquireSql[] =
    "UPDATE jobs SET epoch = epoch + 1, owner = $2, heartbeat_ms = $3, "
    "state = CASE WHEN state = 0 THEN 1 ELSE state END WHERE id = $1";
inline constexpr char kCancelJobSql[] =
    "UPDATE jobs SET state = 4, finished_ms = $2, epoch = epoch + 1 "
    "WHERE id = $1";
inline constexpr char kCancelTasksSql[] =
    "UPDATE tasks SET state = 6, finished_ms = $2 "
    "WHERE job_id = $1 AND state IN (0, 1, 2, 4)";

// ---------------------------------------------------------------------------
// Writing tasks, logs and outputs.

// CreateJobFrom's bulk load; the rows are CopyIn-encoded in this order.
inline constexpr char kCopyTasksSql[] =
    "COPY tasks (" TG_PG_TASK_COLS ") FROM STDIN (FORMAT binary)";
inline constexpr int kTaskColumns = 14;
// Apply's new tasks. A taken id is skipped, not an error (which would abort
// the transaction before we could name it): ids missing from the RETURNING
// rows are the duplicates.
inline constexpr char kInsertTasksSql[] =
    "INSERT INTO tasks (" TG_PG_TASK_COLS
    ") SELECT $1, u.* FROM unnest($2::int8[], $3::int8[], $4::text[], "
    "$5::bytea[], $6::int4[], $7::int4[], $8::int4[], $9::text[], "
    "$10::int8[], $11::int8[], $12::int8[], $13::bytea[], $14::text[]) AS u "
    "ON CONFLICT (job_id, id) DO NOTHING RETURNING id";
// Fenced by attempt; a cancelled task stays cancelled. The updates of one
// statement name distinct tasks (Apply sends repeats in later statements),
// so the rows it touched are the updates that were not fenced.
inline constexpr char kUpdateTasksSql[] =
    "UPDATE tasks AS t SET state = u.state, attempt = u.attempt, "
    "worker = u.worker, started_ms = u.started_ms, "
    "finished_ms = u.finished_ms, not_before_ms = u.not_before_ms, "
    "result = u.result, error = u.error "
    "FROM unnest($2::int8[], $3::int4[], $4::int4[], $5::int4[], $6::text[], "
    "$7::int8[], $8::int8[], $9::int8[], $10::bytea[], $11::text[]) "
    "AS u (id, expected_attempt, state, attempt, worker, started_ms, "
    "finished_ms, not_before_ms, result, error) "
    "WHERE t.job_id = $1 AND t.id = u.id AND t.attempt = u.expected_attempt "
    "AND t.state <> 6";
// seq comes from an identity column, assigned in the batch's order.
inline constexpr char kInsertLogsSql[] =
    "INSERT INTO task_logs (job_id, task_id, attempt, ts_ms, level, line) "
    "SELECT $1, l.task_id, l.attempt, l.ts_ms, l.level, l.line "
    "FROM unnest($2::int8[], $3::int4[], $4::int8[], $5::int4[], $6::bytea[]) "
    "WITH ORDINALITY AS l (task_id, attempt, ts_ms, level, line, ord) "
    "ORDER BY l.ord";
inline constexpr char kDeleteOutputsSql[] =
    "DELETE FROM task_outputs WHERE job_id = $1 AND task_id IN "
    "(SELECT unnest($2::int8[]))";
inline constexpr char kInsertOutputsSql[] =
    "INSERT INTO task_outputs (job_id, task_id, name, attempt, bytes, crc32) "
    "SELECT $1, o.* FROM unnest($2::int8[], $3::text[], $4::int4[], "
    "$5::int8[], $6::int8[]) AS o";

// ---------------------------------------------------------------------------
// Reading tasks, logs and outputs.

inline constexpr char kGetTaskSql[] =
    "SELECT " TG_PG_TASK_COLS " FROM tasks WHERE job_id = $1 AND id = $2";
// Task lists: $1 job, $2 after_id (by id) or offset (sorted), $3 state or
// NULL, $4 stage or NULL, $5 limit or NULL. The *Unhealthy forms repeat the
// partial index's predicate (state IN (4, 5)), which lets the planner use
// it for a filter by state failed or dead whatever $3 is bound to.
#define TG_PG_LIST_TASKS(extra, tail)                                      \
  "SELECT " TG_PG_TASK_COLS " FROM tasks WHERE job_id = $1 " extra         \
  "AND ($3::int4 IS NULL OR state = $3) AND ($4::text IS NULL OR stage = " \
  "$4) " tail
#define TG_PG_BY_ID "AND id > $2 ORDER BY id LIMIT $5"
#define TG_PG_BY_DURATION                                            \
  "ORDER BY CASE WHEN started_ms > 0 AND finished_ms >= started_ms " \
  "THEN finished_ms - started_ms ELSE -1 END DESC, id LIMIT $5 OFFSET $2"
#define TG_PG_BY_ATTEMPTS "ORDER BY attempt DESC, id LIMIT $5 OFFSET $2"
#define TG_PG_UNHEALTHY "AND state IN (4, 5) "
// Indexed by [TaskOrder][unhealthy].
inline constexpr const char* kListTasksSql[3][2] = {
    {TG_PG_LIST_TASKS("", TG_PG_BY_ID),
     TG_PG_LIST_TASKS(TG_PG_UNHEALTHY, TG_PG_BY_ID)},
    {TG_PG_LIST_TASKS("", TG_PG_BY_DURATION),
     TG_PG_LIST_TASKS(TG_PG_UNHEALTHY, TG_PG_BY_DURATION)},
    {TG_PG_LIST_TASKS("", TG_PG_BY_ATTEMPTS),
     TG_PG_LIST_TASKS(TG_PG_UNHEALTHY, TG_PG_BY_ATTEMPTS)},
};
#undef TG_PG_LIST_TASKS
#undef TG_PG_BY_ID
#undef TG_PG_BY_DURATION
#undef TG_PG_BY_ATTEMPTS
#undef TG_PG_UNHEALTHY
inline constexpr char kCountByStageSql[] =
    "SELECT stage, state, count(*), min(id) FROM tasks WHERE job_id = $1 "
    "GROUP BY stage, state";
inline constexpr char kCountTasksSql[] =
    "SELECT state, count(*) FROM tasks WHERE job_id = $1 GROUP BY state";
inline constexpr char kUnfinishedSql[] =
    "SELECT " TG_PG_TASK_COLS
    " FROM tasks WHERE job_id = $1 AND state NOT IN (3, 5, 6) ORDER BY id";
inline constexpr char kResultsSql[] =
    "SELECT id, stage, result FROM tasks WHERE job_id = $1 AND state = 3 "
    "AND ($2 = '' OR stage <> $2) ORDER BY id";
inline constexpr char kPayloadsSql[] =
    "SELECT id, stage, payload FROM tasks WHERE job_id = $1 "
    "AND ($2 = '' OR stage <> $2) ORDER BY id";
inline constexpr char kOutputsSql[] =
    "SELECT o.task_id, o.attempt, o.name, o.bytes, o.crc32, t.payload "
    "FROM task_outputs o JOIN tasks t ON t.job_id = o.job_id AND "
    "t.id = o.task_id WHERE o.job_id = $1 AND t.state = 3 "
    "ORDER BY o.task_id, o.name";
inline constexpr char kGetLogsSql[] =
    "SELECT task_id, attempt, ts_ms, level, line FROM task_logs "
    "WHERE job_id = $1 AND task_id = $2 ORDER BY attempt, seq";

// ---------------------------------------------------------------------------
// Cluster leadership: the one row of cluster_leader. A claim locks it first,
// so concurrent claims are serialized.

#define TG_PG_LEADER_SELECT                                         \
  "SELECT epoch, owner, address, heartbeat_ms FROM cluster_leader " \
  "WHERE id = 1"
inline constexpr char kGetLeaderSql[] = TG_PG_LEADER_SELECT;
inline constexpr char kLockLeaderSql[] = TG_PG_LEADER_SELECT " FOR UPDATE";
inline constexpr char kSetLeaderSql[] =
    "UPDATE cluster_leader SET epoch = $1, owner = $2, address = $3, "
    "heartbeat_ms = $4 WHERE id = 1";
inline constexpr char kReleaseLeaderSql[] =
    "UPDATE cluster_leader SET heartbeat_ms = 0 WHERE id = 1 AND owner = $1";

// ---------------------------------------------------------------------------
// RerunTasks. Ids travel as int8[] arrays; `IN (SELECT unnest(...))` is a
// hash semi-join, not a linear search of the array per row.

inline constexpr char kTaskStatesSql[] =
    "SELECT id, state FROM tasks WHERE job_id = $1 AND id IN "
    "(SELECT unnest($2::int8[]))";
inline constexpr char kFailedIdsSql[] =
    "SELECT id FROM tasks WHERE job_id = $1 AND state IN (4, 5) ORDER BY id";
inline constexpr char kHasChildrenSql[] =
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = $1 AND parent_id IN "
    "(SELECT unnest($2::int8[])))";
// The job's (parent, child) pairs; RerunTasks walks them in memory, as no
// index on parent_id exists for a recursive query to use (every insert
// would pay for one).
inline constexpr char kTreeSql[] =
    "SELECT parent_id, id FROM tasks WHERE job_id = $1 AND parent_id <> 0";
inline constexpr char kDeleteTasksSql[] =
    "DELETE FROM tasks WHERE job_id = $1 AND id IN (SELECT unnest($2::int8[]))";
inline constexpr char kDeleteLogsSql[] =
    "DELETE FROM task_logs WHERE job_id = $1 AND task_id IN "
    "(SELECT unnest($2::int8[]))";
#define TG_PG_RESET_TASK                                             \
  "UPDATE tasks SET state = 0, attempt_base = attempt, error = '', " \
  "result = '', finished_ms = 0, not_before_ms = 0 WHERE job_id = $1 "
inline constexpr char kResetTasksSql[] =
    TG_PG_RESET_TASK "AND id IN (SELECT unnest($2::int8[]))";
inline constexpr char kResetStageSql[] = TG_PG_RESET_TASK "AND stage = $2";
inline constexpr char kResetJobSql[] =
    "UPDATE jobs SET state = 0, finished_ms = 0, result = '' WHERE id = $1";

#undef TG_PG_JOB_COLS
#undef TG_PG_TASK_COLS
#undef TG_PG_RESET_TASK
#undef TG_PG_LEADER_SELECT

}  // namespace pg_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_SCHEMA_H_
