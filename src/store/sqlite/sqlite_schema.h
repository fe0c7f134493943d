// The SQL of SqliteStateStore (internal to src/store/sqlite/): the
// statements the store runs, RerunTasks' per-connection scratch tables, and
// Migrate, which brings a database file's schema up to date. The tables
// themselves are created by the versioned migrations in sqlite_schema.cc.
//
// Every statement is an inline constant, so it has one address in the whole
// program: Db::Prepare keys its statement cache by that address.
//
// Thread-safety: the constants are immutable; Migrate uses the one Db it is
// given (see sqlite_db.h).
#ifndef TASKGRID_STORE_SQLITE_SQLITE_SCHEMA_H_
#define TASKGRID_STORE_SQLITE_SQLITE_SCHEMA_H_

#include <cstddef>
#include <string>

#include "core/states.h"
#include "store/sqlite/sqlite_db.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace sqlite_internal {

// The SQL below spells states as their numbers.
static_assert(static_cast<int>(TaskState::kPending) == 0);
static_assert(static_cast<int>(TaskState::kDispatched) == 1);
static_assert(static_cast<int>(TaskState::kRunning) == 2);
static_assert(static_cast<int>(TaskState::kSucceeded) == 3);
static_assert(static_cast<int>(TaskState::kFailed) == 4);
static_assert(static_cast<int>(TaskState::kDead) == 5);
static_assert(static_cast<int>(TaskState::kCancelled) == 6);
static_assert(static_cast<int>(JobState::kPending) == 0);
static_assert(static_cast<int>(JobState::kCancelled) == 4);

// Brings the schema of the database that `db` (the writer) has open to
// SqliteStateStore::kSchemaVersion, in one transaction. FailedPrecondition
// if the file's version is newer; `path` is for messages.
Status Migrate(Db* db, const std::string& path);

// Per-connection scratch tables for RerunTasks. Created once, when the
// writer opens (creating them per call would change the schema and force
// every cached statement to be prepared again); temp tables are
// transactional, so a rolled-back rerun leaves them empty.
inline constexpr char kTempTables[] = R"sql(
CREATE TEMP TABLE rerun_ids (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE doomed_ids (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE tree (parent_id INTEGER NOT NULL, id INTEGER NOT NULL,
                        PRIMARY KEY (parent_id, id)) WITHOUT ROWID;
)sql";

// Column lists, in the order ReadJobRow / ReadTaskRow read them.
#define TG_JOB_COLS                                                          \
  "id, name, key, spec_yaml, state, created_ms, finished_ms, epoch, owner, " \
  "heartbeat_ms, result, next_task_id"
#define TG_TASK_COLS                                                      \
  "job_id, id, parent_id, stage, payload, state, attempt, attempt_base, " \
  "worker, started_ms, finished_ms, not_before_ms, result, error"

// ---------------------------------------------------------------------------
// Jobs.

inline constexpr char kGetJobSql[] =
    "SELECT " TG_JOB_COLS " FROM jobs WHERE id = ?1";
// `key <> ''` lets the planner use the partial index jobs_key.
inline constexpr char kFindJobSql[] =
    "SELECT " TG_JOB_COLS " FROM jobs WHERE key = ?1 AND key <> ''";
inline constexpr char kListJobsSql[] =
    "SELECT " TG_JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1";
inline constexpr char kInsertJobSql[] =
    "INSERT INTO jobs (name, key, spec_yaml, state, created_ms, finished_ms, "
    "epoch, owner, heartbeat_ms, result, next_task_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
inline constexpr char kRaiseNextTaskIdSql[] =
    "UPDATE jobs SET next_task_id = max(next_task_id, ?1) WHERE id = ?2";
inline constexpr char kJobEpochSql[] = "SELECT epoch FROM jobs WHERE id = ?1";
inline constexpr char kUpdateJobSql[] =
    "UPDATE jobs SET state = ifnull(?2, state), "
    "finished_ms = CASE WHEN ?3 <> 0 THEN ?3 ELSE finished_ms END, "
    "result = ifnull(?4, result), "
    "next_task_id = max(next_task_id, ?5), "
    "heartbeat_ms = CASE WHEN ?6 <> 0 THEN ?6 ELSE heartbeat_ms END "
    "WHERE id = ?1";
inline constexpr char kAcquireSql[] =
    "UPDATE jobs SET epoch = epoch + 1, owner = ?2, heartbeat_ms = ?3, "
    "state = CASE WHEN state = 0 THEN 1 ELSE state END WHERE id = ?1";
inline constexpr char kCancelJobSql[] =
    "UPDATE jobs SET state = 4, finished_ms = ?2, epoch = epoch + 1 "
    "WHERE id = ?1";
inline constexpr char kCancelTasksSql[] =
    "UPDATE tasks SET state = 6, finished_ms = ?2 "
    "WHERE job_id = ?1 AND state IN (0, 1, 2, 4)";

// ---------------------------------------------------------------------------
// Tasks and logs.

inline constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (" TG_TASK_COLS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
// The INSERT of kInsertChunk rows of kTaskColumns parameters each; built
// once, at a fixed address (for the statement cache). Defined here, where
// the column list is.
inline constexpr size_t kInsertChunk = 64;
inline constexpr int kTaskColumns = 14;
inline const char* InsertTaskChunkSql() {
  static const std::string* const sql = [] {
    auto* s = new std::string("INSERT INTO tasks (" TG_TASK_COLS ") VALUES ");
    for (size_t r = 0; r < kInsertChunk; ++r) {
      *s += r == 0 ? "(" : ", (";
      for (int c = 0; c < kTaskColumns; ++c) *s += c == 0 ? "?" : ", ?";
      *s += ")";
    }
    return s;
  }();
  return sql->c_str();
}
// Fenced by attempt; a cancelled task stays cancelled.
inline constexpr char kUpdateTaskSql[] =
    "UPDATE tasks SET state = ?4, attempt = ?5, worker = ?6, started_ms = ?7, "
    "finished_ms = ?8, not_before_ms = ?9, result = ?10, error = ?11 "
    "WHERE job_id = ?1 AND id = ?2 AND attempt = ?3 AND state <> 6";
// seq: the next number within (task, attempt); max() over a primary-key
// prefix is one b-tree seek.
inline constexpr char kInsertLogSql[] =
    "INSERT INTO task_logs (job_id, task_id, attempt, seq, ts_ms, level, "
    "line) VALUES (?1, ?2, ?3, (SELECT ifnull(max(seq), 0) + 1 FROM task_logs "
    "WHERE job_id = ?1 AND task_id = ?2 AND attempt = ?3), ?4, ?5, ?6)";
// A task's recorded outputs are replaced as a whole (see WriteBatch).
inline constexpr char kDeleteTaskOutputsSql[] =
    "DELETE FROM task_outputs WHERE job_id = ?1 AND task_id = ?2";
inline constexpr char kInsertOutputSql[] =
    "INSERT OR REPLACE INTO task_outputs (job_id, task_id, name, attempt, "
    "bytes, crc32) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr char kOutputsSql[] =
    "SELECT o.task_id, o.attempt, o.name, o.bytes, o.crc32, t.payload "
    "FROM task_outputs o JOIN tasks t ON t.job_id = o.job_id AND "
    "t.id = o.task_id WHERE o.job_id = ?1 AND t.state = 3 "
    "ORDER BY o.task_id, o.name";
inline constexpr char kGetTaskSql[] =
    "SELECT " TG_TASK_COLS " FROM tasks WHERE job_id = ?1 AND id = ?2";
// Task lists: ?1 job, ?2 after_id (by id) or offset (sorted), ?3 state or
// NULL, ?4 stage or NULL, ?5 limit. The unhealthy forms (a filter by state
// failed or dead) name the partial index and repeat its predicate (SQLite's
// prover matches terms literally): without statistics the planner would
// rather scan the job's range of the primary key when it has to sort.
#define TG_LIST_TASKS(from, extra, tail)                                 \
  "SELECT " TG_TASK_COLS " FROM tasks " from " WHERE job_id = ?1 " extra \
  "AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR stage = ?4) " tail
#define TG_BY_ID "AND id > ?2 ORDER BY id LIMIT ?5"
#define TG_BY_DURATION                                               \
  "ORDER BY CASE WHEN started_ms > 0 AND finished_ms >= started_ms " \
  "THEN finished_ms - started_ms ELSE -1 END DESC, id LIMIT ?5 OFFSET ?2"
#define TG_BY_ATTEMPTS "ORDER BY attempt DESC, id LIMIT ?5 OFFSET ?2"
#define TG_UNHEALTHY_FROM "INDEXED BY tasks_unhealthy"
#define TG_UNHEALTHY_WHERE "AND state IN (4, 5) "
// Indexed by [TaskOrder][unhealthy].
inline constexpr const char* kListTasksSql[3][2] = {
    {TG_LIST_TASKS("", "", TG_BY_ID),
     TG_LIST_TASKS(TG_UNHEALTHY_FROM, TG_UNHEALTHY_WHERE, TG_BY_ID)},
    {TG_LIST_TASKS("", "", TG_BY_DURATION),
     TG_LIST_TASKS(TG_UNHEALTHY_FROM, TG_UNHEALTHY_WHERE, TG_BY_DURATION)},
    {TG_LIST_TASKS("", "", TG_BY_ATTEMPTS),
     TG_LIST_TASKS(TG_UNHEALTHY_FROM, TG_UNHEALTHY_WHERE, TG_BY_ATTEMPTS)},
};
#undef TG_LIST_TASKS
#undef TG_BY_ID
#undef TG_BY_DURATION
#undef TG_BY_ATTEMPTS
#undef TG_UNHEALTHY_FROM
#undef TG_UNHEALTHY_WHERE
inline constexpr char kCountByStageSql[] =
    "SELECT stage, state, count(*), min(id) FROM tasks WHERE job_id = ?1 "
    "GROUP BY stage, state";
inline constexpr char kCountTasksSql[] =
    "SELECT state, count(*) FROM tasks WHERE job_id = ?1 GROUP BY state";
inline constexpr char kUnfinishedSql[] =
    "SELECT " TG_TASK_COLS
    " FROM tasks WHERE job_id = ?1 AND state NOT IN (3, 5, 6) ORDER BY id";
inline constexpr char kResultsSql[] =
    "SELECT id, stage, result FROM tasks WHERE job_id = ?1 AND state = 3 "
    "AND (?2 = '' OR stage <> ?2) ORDER BY id";
inline constexpr char kPayloadsSql[] =
    "SELECT id, stage, payload FROM tasks WHERE job_id = ?1 "
    "AND (?2 = '' OR stage <> ?2) ORDER BY id";
inline constexpr char kGetLogsSql[] =
    "SELECT task_id, attempt, ts_ms, level, line FROM task_logs "
    "WHERE job_id = ?1 AND task_id = ?2 ORDER BY attempt, seq";

// ---------------------------------------------------------------------------
// Cluster leadership: the one row of cluster_leader.

inline constexpr char kGetLeaderSql[] =
    "SELECT epoch, owner, address, heartbeat_ms FROM cluster_leader "
    "WHERE id = 1";
inline constexpr char kSetLeaderSql[] =
    "UPDATE cluster_leader SET epoch = ?1, owner = ?2, address = ?3, "
    "heartbeat_ms = ?4 WHERE id = 1";
inline constexpr char kReleaseLeaderSql[] =
    "UPDATE cluster_leader SET heartbeat_ms = 0 WHERE id = 1 AND owner = ?1";

// ---------------------------------------------------------------------------
// RerunTasks, on the scratch tables of kTempTables.

inline constexpr char kTaskStateSql[] =
    "SELECT state FROM tasks WHERE job_id = ?1 AND id = ?2";
inline constexpr char kAddRerunIdSql[] =
    "INSERT OR IGNORE INTO temp.rerun_ids (id) VALUES (?1)";
inline constexpr char kAddFailedSql[] =
    "INSERT INTO temp.rerun_ids (id) SELECT id FROM tasks "
    "WHERE job_id = ?1 AND state IN (4, 5)";
// Without an index on parent_id (which every insert would pay for), this
// is a scan of the job; it spares building `tree` when nothing has
// children, the common case of rerunning failed leaves.
inline constexpr char kHasChildrenSql[] =
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = ?1 "
    "AND parent_id IN (SELECT id FROM temp.rerun_ids))";
inline constexpr char kFillTreeSql[] =
    "INSERT INTO temp.tree (parent_id, id) SELECT parent_id, id FROM tasks "
    "WHERE job_id = ?1 AND parent_id <> 0";
// Strict descendants of the rerun tasks, through the indexed copy of the
// job's (parent_id, id) pairs. UNION (not UNION ALL) ends even if corrupt
// data held a cycle.
inline constexpr char kFindDoomedSql[] =
    "WITH RECURSIVE d (id) AS ("
    " SELECT id FROM temp.tree WHERE parent_id IN (SELECT id FROM "
    "temp.rerun_ids)"
    " UNION SELECT t.id FROM temp.tree t JOIN d ON t.parent_id = d.id) "
    "INSERT OR IGNORE INTO temp.doomed_ids (id) SELECT id FROM d";
// A listed task that descends from another listed task is deleted, not
// rerun: its ancestor's Map() creates it again.
inline constexpr char kUndoomRerunSql[] =
    "DELETE FROM temp.rerun_ids WHERE id IN (SELECT id FROM temp.doomed_ids)";
inline constexpr char kDeleteDoomedSql[] =
    "DELETE FROM tasks WHERE job_id = ?1 AND id IN "
    "(SELECT id FROM temp.doomed_ids)";
inline constexpr char kDeleteDoomedLogsSql[] =
    "DELETE FROM task_logs WHERE job_id = ?1 AND task_id IN "
    "(SELECT id FROM temp.doomed_ids)";
inline constexpr char kDeleteDoomedOutputsSql[] =
    "DELETE FROM task_outputs WHERE job_id = ?1 AND task_id IN "
    "(SELECT id FROM temp.doomed_ids)";
inline constexpr char kDeleteRerunOutputsSql[] =
    "DELETE FROM task_outputs WHERE job_id = ?1 AND task_id IN "
    "(SELECT id FROM temp.rerun_ids)";
inline constexpr char kCountRerunSql[] = "SELECT count(*) FROM temp.rerun_ids";
#define TG_RESET_TASK                                                \
  "UPDATE tasks SET state = 0, attempt_base = attempt, error = '', " \
  "result = x'', finished_ms = 0, not_before_ms = 0 WHERE job_id = ?1 "
inline constexpr char kResetRerunSql[] =
    TG_RESET_TASK "AND id IN (SELECT id FROM temp.rerun_ids)";
inline constexpr char kResetStageSql[] = TG_RESET_TASK "AND stage = ?2";
inline constexpr char kResetJobSql[] =
    "UPDATE jobs SET state = 0, finished_ms = 0, result = x'' WHERE id = ?1";
inline constexpr char kClearTempSql[] =
    "DELETE FROM temp.rerun_ids; DELETE FROM temp.doomed_ids; "
    "DELETE FROM temp.tree;";

#undef TG_JOB_COLS
#undef TG_TASK_COLS
#undef TG_RESET_TASK

}  // namespace sqlite_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_SQLITE_SQLITE_SCHEMA_H_
