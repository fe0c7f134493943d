// The versioned schema of SqliteStateStore: the migrations that create and
// evolve the tables, and Migrate, which applies the ones a file lacks.
//
// Thread-safety: Migrate uses only the Db it is given; concurrent openers
// in other processes are serialized by its write transaction.
#include "store/sqlite/sqlite_schema.h"

#include <iterator>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace sqlite_internal {
namespace {

// Schema migrations, applied in order inside one transaction; entry i
// brings the schema to version i + 1. Never edit a released entry: append.
//
// State columns hold the numbers of the enums in core/states.h. payload and
// result are BLOBs (arbitrary bytes); the other strings are TEXT.
//
// tasks is WITHOUT ROWID: its primary key (job_id, id) is the only b-tree,
// so an insert or a fenced update touches one tree, and ListTasks /
// ForEachResult walk it in order. There is deliberately no index on state:
// every state change would pay for it, and the queries that filter by state
// scan one job's range of the primary key — except for the rare states
// failed and dead, which have a partial index (version 4). Rows must stay small
// (payloads and results are "small" by contract, DESIGN.md §2).
constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
  name TEXT NOT NULL,
  key TEXT NOT NULL,                     -- '' = none
  spec_yaml TEXT NOT NULL,
  state INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  owner TEXT NOT NULL,
  heartbeat_ms INTEGER NOT NULL,
  result BLOB NOT NULL,
  next_task_id INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_key ON jobs (key) WHERE key <> '';
CREATE TABLE tasks (
  job_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  parent_id INTEGER NOT NULL,
  stage TEXT NOT NULL,
  payload BLOB NOT NULL,
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  attempt_base INTEGER NOT NULL,
  worker TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  not_before_ms INTEGER NOT NULL,
  result BLOB NOT NULL,
  error TEXT NOT NULL,
  PRIMARY KEY (job_id, id)
) WITHOUT ROWID;
CREATE TABLE task_logs (
  job_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  seq INTEGER NOT NULL,  -- order of writing within (task, attempt)
  ts_ms INTEGER NOT NULL,
  level INTEGER NOT NULL,
  line TEXT NOT NULL,
  PRIMARY KEY (job_id, task_id, attempt, seq)
) WITHOUT ROWID;
)sql",
    // Version 2: the sealed output files of each succeeded task's recorded
    // attempt (io/output_committer.h), read back at job commit.
    R"sql(
CREATE TABLE task_outputs (
  job_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  crc32 INTEGER NOT NULL,
  PRIMARY KEY (job_id, task_id, name)
) WITHOUT ROWID;
)sql",
    // Version 3: who leads the cluster (StateStore::ClaimLeadership). One
    // row, present from the start, so a claim only ever updates it.
    R"sql(
CREATE TABLE cluster_leader (
  id INTEGER PRIMARY KEY CHECK (id = 1),  -- the one row
  epoch INTEGER NOT NULL,                 -- + 1 at every change of leader
  owner TEXT NOT NULL,                    -- '' = nobody ever led
  address TEXT NOT NULL,
  heartbeat_ms INTEGER NOT NULL           -- 0 = released
);
INSERT INTO cluster_leader (id, epoch, owner, address, heartbeat_ms)
  VALUES (1, 0, '', '', 0);
)sql",
    // Version 4: the tasks that failed or are dead, so that a filter by
    // those states (the dashboard's "failed first") does not scan a 10M-task
    // job. Partial: a task only pays for it while it is failed or dead,
    // which a healthy job never is.
    R"sql(
CREATE INDEX tasks_unhealthy ON tasks (job_id, id) WHERE state IN (4, 5);
)sql",
};
static_assert(std::size(kMigrations) == SqliteStateStore::kSchemaVersion);

constexpr char kHasVersionTableSql[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
    "name = 'schema_version'";
constexpr char kVersionSql[] = "SELECT max(version) FROM schema_version";
constexpr char kSetVersionSql[] = "UPDATE schema_version SET version = ?1";

StatusOr<int> ReadSchemaVersion(Db* db) {
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, kHasVersionTableSql));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.ColInt(0) == 0) return 0;
  }
  ASSIGN_OR_RETURN(Stmt s, Get(db, kVersionSql));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<int>(s.ColInt(0)) : 0;
}

Status TooNew(const std::string& path, int version) {
  return FailedPreconditionError(
      "sqlite " + path + ": database schema version " +
      std::to_string(version) + " is newer than version " +
      std::to_string(SqliteStateStore::kSchemaVersion) +
      " known to this binary; use a newer taskgrid");
}

}  // namespace

Status Migrate(Db* db, const std::string& path) {
  // Fast path without the write lock: a CLI opening the file while a master
  // writes must not queue behind it just to read the version.
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(db));
  if (version == SqliteStateStore::kSchemaVersion) return OkStatus();
  if (version > SqliteStateStore::kSchemaVersion) return TooNew(path, version);

  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(version, ReadSchemaVersion(db));  // another process won?
  if (version > SqliteStateStore::kSchemaVersion) return TooNew(path, version);
  for (int v = version; v < SqliteStateStore::kSchemaVersion; ++v) {
    RETURN_IF_ERROR(db->Exec(kMigrations[v])
                        .WithPrefix("migrating to schema version " +
                                    std::to_string(v + 1)));
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, kSetVersionSql));
    RETURN_IF_ERROR(s.Int(1, SqliteStateStore::kSchemaVersion).Run());
  }
  return txn.Commit();
}

}  // namespace sqlite_internal
}  // namespace taskgrid
