#include "store/sqlite/sqlite_state_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <filesystem>
#include <iterator>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/status_macros.h"

namespace taskgrid {

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
// scan one job's range of the primary key. Rows must stay small (payloads
// and results are "small" by contract, DESIGN.md §2).
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
};
static_assert(std::size(kMigrations) == SqliteStateStore::kSchemaVersion);

// Per-connection scratch tables for RerunTasks. Created once per connection
// (creating them per call would change the schema and force every cached
// statement to be prepared again); temp tables are transactional, so a
// rolled-back rerun leaves them empty.
constexpr char kTempTables[] = R"sql(
CREATE TEMP TABLE rerun_ids (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE doomed_ids (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE tree (parent_id INTEGER NOT NULL, id INTEGER NOT NULL,
                        PRIMARY KEY (parent_id, id)) WITHOUT ROWID;
)sql";

#define TG_JOB_COLS                                                          \
  "id, name, key, spec_yaml, state, created_ms, finished_ms, epoch, owner, " \
  "heartbeat_ms, result, next_task_id"
#define TG_TASK_COLS                                                      \
  "job_id, id, parent_id, stage, payload, state, attempt, attempt_base, " \
  "worker, started_ms, finished_ms, not_before_ms, result, error"

constexpr char kBeginSql[] = "BEGIN IMMEDIATE";
constexpr char kCommitSql[] = "COMMIT";
constexpr char kHasVersionTableSql[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
    "name = 'schema_version'";
constexpr char kVersionSql[] = "SELECT max(version) FROM schema_version";
constexpr char kSetVersionSql[] = "UPDATE schema_version SET version = ?1";

constexpr char kGetJobSql[] = "SELECT " TG_JOB_COLS " FROM jobs WHERE id = ?1";
// `key <> ''` lets the planner use the partial index jobs_key.
constexpr char kFindJobSql[] =
    "SELECT " TG_JOB_COLS " FROM jobs WHERE key = ?1 AND key <> ''";
constexpr char kListJobsSql[] =
    "SELECT " TG_JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1";
constexpr char kInsertJobSql[] =
    "INSERT INTO jobs (name, key, spec_yaml, state, created_ms, finished_ms, "
    "epoch, owner, heartbeat_ms, result, next_task_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr char kRaiseNextTaskIdSql[] =
    "UPDATE jobs SET next_task_id = max(next_task_id, ?1) WHERE id = ?2";
constexpr char kJobEpochSql[] = "SELECT epoch FROM jobs WHERE id = ?1";
constexpr char kUpdateJobSql[] =
    "UPDATE jobs SET state = ifnull(?2, state), "
    "finished_ms = CASE WHEN ?3 <> 0 THEN ?3 ELSE finished_ms END, "
    "result = ifnull(?4, result), "
    "next_task_id = max(next_task_id, ?5), "
    "heartbeat_ms = CASE WHEN ?6 <> 0 THEN ?6 ELSE heartbeat_ms END "
    "WHERE id = ?1";
constexpr char kAcquireSql[] =
    "UPDATE jobs SET epoch = epoch + 1, owner = ?2, heartbeat_ms = ?3, "
    "state = CASE WHEN state = 0 THEN 1 ELSE state END WHERE id = ?1";
constexpr char kCancelJobSql[] =
    "UPDATE jobs SET state = 4, finished_ms = ?2, epoch = epoch + 1 "
    "WHERE id = ?1";
constexpr char kCancelTasksSql[] =
    "UPDATE tasks SET state = 6, finished_ms = ?2 "
    "WHERE job_id = ?1 AND state IN (0, 1, 2, 4)";

constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (" TG_TASK_COLS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
// Fenced by attempt; a cancelled task stays cancelled.
constexpr char kUpdateTaskSql[] =
    "UPDATE tasks SET state = ?4, attempt = ?5, worker = ?6, started_ms = ?7, "
    "finished_ms = ?8, not_before_ms = ?9, result = ?10, error = ?11 "
    "WHERE job_id = ?1 AND id = ?2 AND attempt = ?3 AND state <> 6";
// seq: the next number within (task, attempt); max() over a primary-key
// prefix is one b-tree seek.
constexpr char kInsertLogSql[] =
    "INSERT INTO task_logs (job_id, task_id, attempt, seq, ts_ms, level, "
    "line) VALUES (?1, ?2, ?3, (SELECT ifnull(max(seq), 0) + 1 FROM task_logs "
    "WHERE job_id = ?1 AND task_id = ?2 AND attempt = ?3), ?4, ?5, ?6)";
constexpr char kGetTaskSql[] =
    "SELECT " TG_TASK_COLS " FROM tasks WHERE job_id = ?1 AND id = ?2";
constexpr char kListTasksSql[] =
    "SELECT " TG_TASK_COLS
    " FROM tasks WHERE job_id = ?1 AND id > ?2 "
    "AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR stage = ?4) "
    "ORDER BY id LIMIT ?5";
constexpr char kCountTasksSql[] =
    "SELECT state, count(*) FROM tasks WHERE job_id = ?1 GROUP BY state";
constexpr char kUnfinishedSql[] =
    "SELECT " TG_TASK_COLS
    " FROM tasks WHERE job_id = ?1 AND state NOT IN (3, 5, 6) ORDER BY id";
constexpr char kResultsSql[] =
    "SELECT id, stage, result FROM tasks WHERE job_id = ?1 AND state = 3 "
    "AND (?2 = '' OR stage <> ?2) ORDER BY id";
constexpr char kGetLogsSql[] =
    "SELECT task_id, attempt, ts_ms, level, line FROM task_logs "
    "WHERE job_id = ?1 AND task_id = ?2 ORDER BY attempt, seq";

constexpr char kTaskStateSql[] =
    "SELECT state FROM tasks WHERE job_id = ?1 AND id = ?2";
constexpr char kAddRerunIdSql[] =
    "INSERT OR IGNORE INTO temp.rerun_ids (id) VALUES (?1)";
constexpr char kAddFailedSql[] =
    "INSERT INTO temp.rerun_ids (id) SELECT id FROM tasks "
    "WHERE job_id = ?1 AND state IN (4, 5)";
// Without an index on parent_id (which every insert would pay for), this
// is a scan of the job; it spares building `tree` when nothing has
// children, the common case of rerunning failed leaves.
constexpr char kHasChildrenSql[] =
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE job_id = ?1 "
    "AND parent_id IN (SELECT id FROM temp.rerun_ids))";
constexpr char kFillTreeSql[] =
    "INSERT INTO temp.tree (parent_id, id) SELECT parent_id, id FROM tasks "
    "WHERE job_id = ?1 AND parent_id <> 0";
// Strict descendants of the rerun tasks, through the indexed copy of the
// job's (parent_id, id) pairs. UNION (not UNION ALL) ends even if corrupt
// data held a cycle.
constexpr char kFindDoomedSql[] =
    "WITH RECURSIVE d (id) AS ("
    " SELECT id FROM temp.tree WHERE parent_id IN (SELECT id FROM "
    "temp.rerun_ids)"
    " UNION SELECT t.id FROM temp.tree t JOIN d ON t.parent_id = d.id) "
    "INSERT OR IGNORE INTO temp.doomed_ids (id) SELECT id FROM d";
// A listed task that descends from another listed task is deleted, not
// rerun: its ancestor's Map() creates it again.
constexpr char kUndoomRerunSql[] =
    "DELETE FROM temp.rerun_ids WHERE id IN (SELECT id FROM temp.doomed_ids)";
constexpr char kDeleteDoomedSql[] =
    "DELETE FROM tasks WHERE job_id = ?1 AND id IN "
    "(SELECT id FROM temp.doomed_ids)";
constexpr char kDeleteDoomedLogsSql[] =
    "DELETE FROM task_logs WHERE job_id = ?1 AND task_id IN "
    "(SELECT id FROM temp.doomed_ids)";
constexpr char kCountRerunSql[] = "SELECT count(*) FROM temp.rerun_ids";
#define TG_RESET_TASK                                                \
  "UPDATE tasks SET state = 0, attempt_base = attempt, error = '', " \
  "result = x'', finished_ms = 0, not_before_ms = 0 WHERE job_id = ?1 "
constexpr char kResetRerunSql[] =
    TG_RESET_TASK "AND id IN (SELECT id FROM temp.rerun_ids)";
constexpr char kResetStageSql[] = TG_RESET_TASK "AND stage = ?2";
constexpr char kResetJobSql[] =
    "UPDATE jobs SET state = 0, finished_ms = 0, result = x'' WHERE id = ?1";
constexpr char kClearTempSql[] =
    "DELETE FROM temp.rerun_ids; DELETE FROM temp.doomed_ids; "
    "DELETE FROM temp.tree;";

constexpr size_t kInsertChunk = 64;
// Tasks CreateJobFrom asks its source for at a time.
constexpr size_t kCreateChunk = 64 * 1024;
constexpr int kTaskColumns = 14;
// INSERT of kInsertChunk rows; built once, and static so that its address
// keys the statement cache.
const char* InsertTaskChunkSql() {
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

#undef TG_JOB_COLS
#undef TG_TASK_COLS
#undef TG_RESET_TASK

constexpr size_t kMaxIdleReaders = 4;

}  // namespace

// Our code for an SQLite result code; the message names the file, what was
// being done and SQLite's own message.
Status SqliteStatus(int rc, sqlite3* db, std::string_view what,
                    const std::string& path) {
  std::string msg = "sqlite " + path + ": " + std::string(what) + ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (code " + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(msg);
    case SQLITE_FULL:
      return ResourceExhaustedError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLossError(msg);
    case SQLITE_TOOBIG:
      return InvalidArgumentError(msg);
    default:
      return InternalError(msg);
  }
}

enum class Role { kWriter, kReader, kCheckpointer };

class Db {
 public:
  // Opens a connection with the store's pragmas. The writer also switches
  // the file to WAL and creates RerunTasks' scratch tables; readers are
  // query_only.
  static StatusOr<std::unique_ptr<Db>> Open(const std::string& path, Role role,
                                            int busy_timeout_ms);
  ~Db() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* raw() const { return db_; }
  Status Error(int rc, std::string_view what) const {
    return SqliteStatus(rc, db_, what, path_);
  }
  // Runs statements that take no parameters; their rows are ignored.
  Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? OkStatus() : Error(rc, Abbrev(sql));
  }
  // The cached prepared statement for `sql`, which must have static storage
  // duration: the cache is keyed by its address.
  StatusOr<sqlite3_stmt*> Prepare(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) return Error(rc, Abbrev(sql));
    stmts_.emplace(sql, stmt);
    return stmt;
  }

  static std::string Abbrev(const char* sql) {
    std::string_view s(sql);
    while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) {
      s.remove_prefix(1);
    }
    return std::string(s.substr(0, 48)) + (s.size() > 48 ? "..." : "");
  }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* const db_;
  const std::string path_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, Role role,
                                       int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (raw == nullptr) return SqliteStatus(rc, nullptr, "open", path);
  std::unique_ptr<Db> db(new Db(raw, path));
  if (rc != SQLITE_OK) return db->Error(rc, "open");
  sqlite3_extended_result_codes(raw, 1);
  // Lets a CLI process and a running master share the file: a writer that
  // finds it locked waits instead of failing at once.
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (role == Role::kWriter) {
    // synchronous=NORMAL in WAL mode: a commit is durable across a crash of
    // any process (kill -9), which is what the system must survive; only a
    // power loss or OS crash may lose the last commits, never consistency.
    // foreign_keys stays off: the schema has none, and checks would cost
    // every write. A 64 MiB page cache (the default is 2 MiB) for the big
    // batches; journal_size_limit gives back the disk of a WAL that a
    // big transaction grew.
    RETURN_IF_ERROR(
        db->Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                 "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536; "
                 "PRAGMA journal_size_limit = 67108864;"));
    ASSIGN_OR_RETURN(sqlite3_stmt * mode, db->Prepare("PRAGMA journal_mode"));
    rc = sqlite3_step(mode);
    std::string got =
        rc == SQLITE_ROW
            ? reinterpret_cast<const char*>(sqlite3_column_text(mode, 0))
            : "";
    sqlite3_reset(mode);
    if (rc != SQLITE_ROW) return db->Error(rc, "PRAGMA journal_mode");
    if (got != "wal") {
      return FailedPreconditionError("sqlite " + path +
                                     ": cannot use WAL mode (journal_mode is " +
                                     got + "); is the file system local?");
    }
    RETURN_IF_ERROR(db->Exec(kTempTables));
  } else if (role == Role::kReader) {
    RETURN_IF_ERROR(
        db->Exec("PRAGMA foreign_keys = OFF; PRAGMA query_only = ON;"));
  } else {
    RETURN_IF_ERROR(
        db->Exec("PRAGMA synchronous = NORMAL; "
                 "PRAGMA journal_size_limit = 67108864;"));
  }
  return db;
}

namespace {

// A cached statement borrowed for one call. Reset (which ends the read it
// holds) and unbound when it goes out of scope, so SQLITE_STATIC bindings
// never outlive the data they point to.
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }

  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // The bytes must stay alive until the statement is reset.
  Stmt& Text(int i, std::string_view v) {
    if (v.size() > INT_MAX) {
      bind_rc_ = SQLITE_TOOBIG;
    } else {
      sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "",
                        static_cast<int>(v.size()), SQLITE_STATIC);
    }
    return *this;
  }
  Stmt& Blob(int i, std::string_view v) {
    if (v.size() > INT_MAX) {
      bind_rc_ = SQLITE_TOOBIG;
    } else {
      sqlite3_bind_blob(s_, i, v.data() != nullptr ? v.data() : "",
                        static_cast<int>(v.size()), SQLITE_STATIC);
    }
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int StepRc() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }
  Status ErrorFor(int rc) const {
    return db_->Error(rc, Db::Abbrev(sqlite3_sql(s_)));
  }
  // True when a row is ready, false when the statement is done.
  StatusOr<bool> Step() {
    int rc = StepRc();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return ErrorFor(rc);
  }
  // Runs a statement to its end (rows ignored) and resets it, so that it
  // can be bound and run again.
  Status Run() {
    int rc;
    do {
      rc = StepRc();
    } while (rc == SQLITE_ROW);
    Status status = rc == SQLITE_DONE ? OkStatus() : ErrorFor(rc);
    Reset();
    return status;
  }
  void Reset() {
    sqlite3_reset(s_);
    bind_rc_ = SQLITE_OK;
  }

  int64_t ColInt(int i) const { return sqlite3_column_int64(s_, i); }
  // Raw bytes of a TEXT or BLOB column (no conversion in a UTF-8 database).
  std::string ColStr(int i) const {
    const void* p = sqlite3_column_blob(s_, i);
    int n = sqlite3_column_bytes(s_, i);
    return n > 0 ? std::string(static_cast<const char*>(p), n) : std::string();
  }

 private:
  Db* db_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

StatusOr<Stmt> Get(Db* db, const char* sql) {
  ASSIGN_OR_RETURN(sqlite3_stmt * s, db->Prepare(sql));
  return Stmt(db, s);
}

// One BEGIN IMMEDIATE transaction: taking the write lock up front means two
// writers never both hold read locks and then deadlock upgrading them. Rolls
// back unless committed.
class WriteTxn {
 public:
  explicit WriteTxn(Db* db) : db_(db) {}
  ~WriteTxn() {
    if (!sqlite3_get_autocommit(db_->raw())) {
      db_->Exec("ROLLBACK").IgnoreError();
    }
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  Status Begin() {
    ASSIGN_OR_RETURN(Stmt s, Get(db_, kBeginSql));
    return s.Run();
  }
  Status Commit() {
    ASSIGN_OR_RETURN(Stmt s, Get(db_, kCommitSql));
    return s.Run();
  }

 private:
  Db* db_;
};

std::string JobName(int64_t job_id) { return "job " + std::to_string(job_id); }

Status JobNotFound(int64_t job_id) {
  return NotFoundError(JobName(job_id) + " not found");
}

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

// Inserts tasks of `job_id` (their own job_id fields are ignored).
// A duplicate id is InvalidArgument in a new job (the caller's list repeats
// it) and AlreadyExists in Apply (the id is taken).
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

// Inserts tasks of `job_id` (their own job_id fields are ignored), in
// statements of kInsertChunk rows: per-statement overhead dominates a
// 1M-task CreateJob otherwise. A duplicate id is InvalidArgument in a new
// job (the caller's list repeats it) and AlreadyExists in Apply (the id is
// taken).
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

}  // namespace
}  // namespace sqlite_internal

using sqlite_internal::Db;
using sqlite_internal::Get;
using sqlite_internal::JobName;
using sqlite_internal::JobNotFound;
using sqlite_internal::MustReadJob;
using sqlite_internal::Stmt;
using sqlite_internal::WriteTxn;
namespace sq = sqlite_internal;

// ---------------------------------------------------------------------------
// Opening and the reader pool.

class SqliteStateStore::Reader {
 public:
  Reader(SqliteStateStore* store, std::unique_ptr<Db> db)
      : store_(store), db_(std::move(db)) {}
  Reader(Reader&&) = default;
  Reader& operator=(Reader&&) = delete;
  ~Reader() {
    if (db_ != nullptr) store_->ReturnReader(std::move(db_));
  }
  Db* db() const { return db_.get(); }

 private:
  SqliteStateStore* store_;
  std::unique_ptr<Db> db_;
};

namespace {

StatusOr<int> ReadSchemaVersion(Db* db) {
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kHasVersionTableSql));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.ColInt(0) == 0) return 0;
  }
  ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kVersionSql));
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
    RETURN_IF_ERROR(db->Exec(sq::kMigrations[v])
                        .WithPrefix("migrating to schema version " +
                                    std::to_string(v + 1)));
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kSetVersionSql));
    RETURN_IF_ERROR(s.Int(1, SqliteStateStore::kSchemaVersion).Run());
  }
  return txn.Commit();
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(
    const std::string& path, const SqliteStoreOptions& options) {
  if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
    return InvalidArgumentError("sqlite store needs a plain file path, got '" +
                                path + "'");
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      std::string msg = "sqlite " + path + ": cannot create directory " +
                        parent.string() + ": " + ec.message();
      return ec == std::errc::permission_denied ? PermissionDeniedError(msg)
                                                : InternalError(msg);
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> writer,
                   Db::Open(path, sq::Role::kWriter, options.busy_timeout_ms));
  RETURN_IF_ERROR(Migrate(writer.get(), path));
  std::unique_ptr<SqliteStateStore> store(
      new SqliteStateStore(path, options, std::move(writer)));
  // Open one reader now, so that a problem shows at Open.
  { ASSIGN_OR_RETURN(Reader r, store->BorrowReader()); }
  return store;
}

SqliteStateStore::SqliteStateStore(std::string path,
                                   const SqliteStoreOptions& options,
                                   std::unique_ptr<Db> writer)
    : path_(std::move(path)), options_(options), writer_(std::move(writer)) {
  // Replaces SQLite's automatic checkpoint, which would run inside the
  // commit of whichever call crossed the threshold (about 1 s after a
  // 1M-task CreateJob).
  sqlite3_wal_hook(writer_->raw(), &SqliteStateStore::OnWalCommit, this);
}

SqliteStateStore::~SqliteStateStore() {
  std::thread checkpointer;
  {
    std::lock_guard<std::mutex> lock(ckpt_mu_);
    stopping_ = true;
    checkpointer = std::move(checkpointer_);
  }
  ckpt_cv_.notify_all();
  if (checkpointer.joinable()) checkpointer.join();
  // Closing the last connection checkpoints what is left.
}

int SqliteStateStore::OnWalCommit(void* store, sqlite3*, const char*,
                                  int wal_pages) {
  // SQLite's own default threshold (wal_autocheckpoint), about 4 MiB.
  constexpr int kCheckpointPages = 1000;
  if (wal_pages >= kCheckpointPages) {
    static_cast<SqliteStateStore*>(store)->RequestCheckpoint();
  }
  return SQLITE_OK;
}

void SqliteStateStore::RequestCheckpoint() {
  {
    std::lock_guard<std::mutex> lock(ckpt_mu_);
    if (stopping_) return;
    ckpt_requested_ = true;
    if (!checkpointer_.joinable()) {
      checkpointer_ = std::thread([this] { CheckpointLoop(); });
    }
  }
  ckpt_cv_.notify_one();
}

void SqliteStateStore::CheckpointLoop() {
  std::unique_ptr<Db> db;
  std::unique_lock<std::mutex> lock(ckpt_mu_);
  while (true) {
    ckpt_cv_.wait(lock, [this] { return ckpt_requested_ || stopping_; });
    if (stopping_) break;
    ckpt_requested_ = false;
    lock.unlock();
    if (db == nullptr) {
      auto opened =
          Db::Open(path_, sq::Role::kCheckpointer, options_.busy_timeout_ms);
      if (opened.ok()) db = std::move(opened).value();
    }
    // PASSIVE copies what no reader still needs and never blocks a writer
    // or reader. A failure (another process checkpointing, a reader holding
    // old frames) is retried at the next request, and the last connection
    // to close checkpoints everything.
    if (db != nullptr) {
      sqlite3_wal_checkpoint_v2(db->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                nullptr, nullptr);
    }
    lock.lock();
  }
  lock.unlock();
  db.reset();
}

StatusOr<SqliteStateStore::Reader> SqliteStateStore::BorrowReader() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Db> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(this, std::move(db));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path_, sq::Role::kReader,
                                                    options_.busy_timeout_ms));
  return Reader(this, std::move(db));
}

void SqliteStateStore::ReturnReader(std::unique_ptr<Db> db) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (idle_readers_.size() < sq::kMaxIdleReaders) {
    idle_readers_.push_back(std::move(db));
  }
  // Otherwise `db` closes here: a burst of concurrent readers does not keep
  // its connections open.
}

StatusOr<std::unique_ptr<StateStore>> OpenSqliteStateStore(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStateStore> store,
                   SqliteStateStore::Open(path));
  return std::unique_ptr<StateStore>(std::move(store));
}

// ---------------------------------------------------------------------------
// Jobs.

StatusOr<int64_t> SqliteStateStore::CreateJobFrom(const JobRecord& job,
                                                 const TaskSource& source) {
  const int64_t first_next_id = std::max<int64_t>(job.next_task_id, 1);
  int64_t next_id = first_next_id;
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kInsertJobSql));
    s.Text(1, job.name)
        .Text(2, job.key)
        .Text(3, job.spec_yaml)
        .Int(4, static_cast<int>(job.state))
        .Int(5, job.created_ms)
        .Int(6, job.finished_ms)
        .Int(7, job.epoch)
        .Text(8, job.owner)
        .Int(9, job.heartbeat_ms)
        .Blob(10, job.result)
        .Int(11, first_next_id);
    int rc = s.StepRc();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      s.Reset();
      ASSIGN_OR_RETURN(Stmt find, Get(db, sq::kFindJobSql));
      find.Text(1, job.key);
      ASSIGN_OR_RETURN(bool row, find.Step());
      return AlreadyExistsError(
          "job key '" + job.key + "' already exists" +
          (row ? ": job " + std::to_string(find.ColInt(0)) : std::string()));
    }
    if (rc != SQLITE_DONE) return s.ErrorFor(rc);
  }
  const int64_t job_id = sqlite3_last_insert_rowid(db->raw());
  std::vector<TaskRecord> chunk;
  bool more = true;
  while (more) {
    chunk.clear();
    more = source(sq::kCreateChunk, &chunk);
    RETURN_IF_ERROR(sq::ValidateTaskIds(chunk, &next_id));
    RETURN_IF_ERROR(sq::InsertTasks(db, job_id, chunk, /*new_job=*/true));
  }
  if (next_id != first_next_id) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kRaiseNextTaskIdSql));
    s.Int(1, next_id).Int(2, job_id);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  return job_id;
}

StatusOr<JobRecord> SqliteStateStore::GetJob(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  return MustReadJob(r.db(), job_id);
}

StatusOr<std::optional<JobRecord>> SqliteStateStore::FindJobByKey(
    const std::string& key) {
  if (key.empty()) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kFindJobSql));
  s.Text(1, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(JobRecord j, sq::ReadJobRow(s));
  return std::optional<JobRecord>(std::move(j));
}

StatusOr<std::vector<JobRecord>> SqliteStateStore::ListJobs(int64_t limit) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kListJobsSql));
  s.Int(1, limit > 0 ? limit : -1);
  std::vector<JobRecord> jobs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord j, sq::ReadJobRow(s));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

StatusOr<int64_t> SqliteStateStore::AcquireJob(
    int64_t job_id, const std::string& owner, int64_t now_ms, int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  // owner_alive may be slow (it may ask another machine), so it runs with
  // no lock held; the write transaction then checks that the ownership it
  // judged has not changed in between, and judges again if it has.
  constexpr int kMaxRounds = 5;
  for (int round = 0; round < kMaxRounds; ++round) {
    JobRecord seen;
    {
      ASSIGN_OR_RETURN(Reader r, BorrowReader());
      ASSIGN_OR_RETURN(seen, MustReadJob(r.db(), job_id));
    }
    if (IsTerminal(seen.state)) {
      return FailedPreconditionError(JobName(job_id) + " is already " +
                                     std::string(JobStateName(seen.state)));
    }
    const bool held = !seen.owner.empty() && seen.owner != owner &&
                      now_ms - seen.heartbeat_ms < lease_ms;
    // Without a liveness check, a fresh lease is presumed held.
    if (held && (!owner_alive || owner_alive(seen.owner))) {
      return FailedPreconditionError(
          JobName(job_id) + " is owned by " + seen.owner +
          ", which is alive (last heartbeat " +
          std::to_string(now_ms - seen.heartbeat_ms) + " ms ago)");
    }
    std::lock_guard<std::mutex> lock(write_mu_);
    Db* db = writer_.get();
    WriteTxn txn(db);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(JobRecord now, MustReadJob(db, job_id));
    if (now.epoch != seen.epoch || now.owner != seen.owner ||
        now.heartbeat_ms != seen.heartbeat_ms || now.state != seen.state) {
      continue;  // changed under us: judge again
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kAcquireSql));
      RETURN_IF_ERROR(s.Int(1, job_id).Text(2, owner).Int(3, now_ms).Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return now.epoch + 1;
  }
  return UnavailableError(JobName(job_id) +
                          ": ownership keeps changing; try again");
}

Status SqliteStateStore::CancelJob(int64_t job_id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(JobRecord job, MustReadJob(db, job_id));
  if (IsTerminal(job.state)) {
    return FailedPreconditionError(JobName(job_id) + " is already " +
                                   std::string(JobStateName(job.state)));
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCancelJobSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Int(2, now_ms).Run());
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCancelTasksSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Int(2, now_ms).Run());
  }
  return txn.Commit();
}

// ---------------------------------------------------------------------------
// Apply.

StatusOr<ApplyResult> SqliteStateStore::Apply(const WriteBatch& batch) {
  // next_task_id also covers the new tasks, so that "ids below next_task_id
  // are taken" holds even if the caller forgot to raise it.
  int64_t next_id = batch.next_task_id;
  RETURN_IF_ERROR(sq::ValidateTaskIds(batch.new_tasks, &next_id));
  const int64_t job_id = batch.job_id;

  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kJobEpochSql));
    ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
    if (!row) return JobNotFound(job_id);
    const int64_t epoch = s.ColInt(0);
    if (epoch != batch.epoch) {
      return AbortedError(JobName(job_id) + ": epoch " +
                          std::to_string(batch.epoch) + " is stale (current " +
                          std::to_string(epoch) + ")");
    }
  }
  RETURN_IF_ERROR(
      sq::InsertTasks(db, job_id, batch.new_tasks, /*new_job=*/false));

  ApplyResult result;
  if (!batch.updates.empty()) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kUpdateTaskSql));
    for (const TaskUpdate& u : batch.updates) {
      s.Int(1, job_id)
          .Int(2, u.id)
          .Int(3, u.expected_attempt)
          .Int(4, static_cast<int>(u.state))
          .Int(5, u.attempt)
          .Text(6, u.worker)
          .Int(7, u.started_ms)
          .Int(8, u.finished_ms)
          .Int(9, u.not_before_ms)
          .Blob(10, u.result)
          .Text(11, u.error);
      RETURN_IF_ERROR(s.Run());
      // No row: stale attempt, cancelled, or deleted by a rerun.
      if (sqlite3_changes64(db->raw()) == 0) ++result.fenced;
    }
  }
  if (!batch.logs.empty()) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kInsertLogSql));
    for (const LogLine& l : batch.logs) {
      s.Int(1, job_id)
          .Int(2, l.task_id)
          .Int(3, l.attempt)
          .Int(4, l.ts_ms)
          .Int(5, l.level)
          .Text(6, l.line);
      RETURN_IF_ERROR(s.Run());
    }
  }
  if (batch.job_state || batch.job_finished_ms != 0 || batch.job_result ||
      next_id > 0 || batch.heartbeat_ms != 0) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kUpdateJobSql));
    s.Int(1, job_id);
    if (batch.job_state) {
      s.Int(2, static_cast<int>(*batch.job_state));
    } else {
      s.Null(2);
    }
    s.Int(3, batch.job_finished_ms);
    if (batch.job_result) {
      s.Blob(4, *batch.job_result);
    } else {
      s.Null(4);
    }
    s.Int(5, next_id).Int(6, batch.heartbeat_ms);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  return result;
}

// ---------------------------------------------------------------------------
// Task reads. The job-scoped reads return NotFound for an unknown job
// rather than an empty answer (checked only when the answer is empty, so it
// costs nothing otherwise; jobs are never deleted).

namespace {

Status CheckJobExists(Db* db, int64_t job_id) {
  ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kJobEpochSql));
  ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
  return row ? OkStatus() : JobNotFound(job_id);
}

}  // namespace

StatusOr<TaskRecord> SqliteStateStore::GetTask(int64_t job_id,
                                               int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kGetTaskSql));
  ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Int(2, task_id).Step());
  if (!row) {
    RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
    return NotFoundError(JobName(job_id) + " has no task " +
                         std::to_string(task_id));
  }
  return sq::ReadTaskRow(s);
}

StatusOr<std::vector<TaskRecord>> SqliteStateStore::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  std::vector<TaskRecord> tasks;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kListTasksSql));
    s.Int(1, job_id).Int(2, filter.after_id);
    if (filter.state) {
      s.Int(3, static_cast<int>(*filter.state));
    } else {
      s.Null(3);
    }
    if (filter.stage) {
      s.Text(4, *filter.stage);
    } else {
      s.Null(4);
    }
    s.Int(5, filter.limit > 0 ? filter.limit : -1);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskRecord t, sq::ReadTaskRow(s));
      tasks.push_back(std::move(t));
    }
  }
  if (tasks.empty()) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return tasks;
}

StatusOr<TaskCounts> SqliteStateStore::CountTasks(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  TaskCounts counts{};
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kCountTasksSql));
    s.Int(1, job_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskState state, sq::DecodeTaskState(s.ColInt(0)));
      counts[static_cast<size_t>(state)] = s.ColInt(1);
      any = true;
    }
  }
  if (!any) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return counts;
}

Status SqliteStateStore::ForEachUnfinishedTask(
    int64_t job_id, const std::function<void(TaskRecord&&)>& fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kUnfinishedSql));
    s.Int(1, job_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskRecord t, sq::ReadTaskRow(s));
      any = true;
      fn(std::move(t));
    }
  }
  return any ? OkStatus() : CheckJobExists(r.db(), job_id);
}

Status SqliteStateStore::ForEachResult(
    int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kResultsSql));
    s.Int(1, job_id).Text(2, exclude_stage);
    std::string stage;
    std::string result;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      any = true;
      stage = s.ColStr(1);
      result = s.ColStr(2);
      fn(s.ColInt(0), stage, result);
    }
  }
  return any ? OkStatus() : CheckJobExists(r.db(), job_id);
}

StatusOr<std::vector<LogLine>> SqliteStateStore::GetLogs(int64_t job_id,
                                                         int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  std::vector<LogLine> lines;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kGetLogsSql));
    s.Int(1, job_id).Int(2, task_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      LogLine l;
      l.task_id = s.ColInt(0);
      l.attempt = static_cast<int32_t>(s.ColInt(1));
      l.ts_ms = s.ColInt(2);
      l.level = static_cast<int>(s.ColInt(3));
      l.line = s.ColStr(4);
      lines.push_back(std::move(l));
    }
  }
  if (lines.empty()) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return lines;
}

// ---------------------------------------------------------------------------
// Rerun.
//
// Readings of the contract, as a durable job system needs them:
// - Rerunning a dispatched or running task is FailedPrecondition: a worker
//   may still report it, and the rerun would race that report.
// - A listed task that descends from another listed task is deleted, not
//   rerun (its ancestor's Map() will create it again), and is not counted.
// - When nothing is rerun (failed_only and no dead or failed task), neither
//   the reset stage nor the job changes: a succeeded job stays succeeded.
// - The epoch is not bumped (only AcquireJob and CancelJob bump it): a
//   master that reruns tasks of the job it drives keeps its epoch. Rerun of a
//   job that another live master drives should go through that master.
// - Descendants are found with a recursive CTE over a per-call indexed copy
//   of the job's (parent_id, id) pairs; a permanent index on parent_id would
//   cost every insert, and a CTE over the unindexed table is quadratic.

StatusOr<int64_t> SqliteStateStore::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids,
    const std::string& reset_stage) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(MustReadJob(db, job_id).status());
  RETURN_IF_ERROR(db->Exec(sq::kClearTempSql));
  if (failed_only) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kAddFailedSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Run());
  } else {
    ASSIGN_OR_RETURN(Stmt state, Get(db, sq::kTaskStateSql));
    ASSIGN_OR_RETURN(Stmt add, Get(db, sq::kAddRerunIdSql));
    for (int64_t id : task_ids) {
      ASSIGN_OR_RETURN(bool row, state.Int(1, job_id).Int(2, id).Step());
      if (!row) {
        return NotFoundError(JobName(job_id) + " has no task " +
                             std::to_string(id));
      }
      ASSIGN_OR_RETURN(TaskState st, sq::DecodeTaskState(state.ColInt(0)));
      state.Reset();
      if (IsInFlight(st)) {
        return FailedPreconditionError(
            JobName(job_id) + ": task " + std::to_string(id) + " is " +
            std::string(TaskStateName(st)) +
            "; wait for it or cancel the job before rerunning it");
      }
      RETURN_IF_ERROR(add.Int(1, id).Run());
    }
  }

  bool has_children = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kHasChildrenSql));
    ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
    has_children = row && s.ColInt(0) != 0;
  }
  if (has_children) {
    for (const char* sql :
         {sq::kFillTreeSql, sq::kFindDoomedSql, sq::kUndoomRerunSql,
          sq::kDeleteDoomedSql, sq::kDeleteDoomedLogsSql}) {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sql));
      // Statements without ?1 ignore the binding (SQLITE_RANGE).
      RETURN_IF_ERROR(s.Int(1, job_id).Run());
    }
  }

  int64_t rerun = 0;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCountRerunSql));
    ASSIGN_OR_RETURN(bool row, s.Step());
    rerun = row ? s.ColInt(0) : 0;
  }
  if (rerun > 0) {
    {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kResetRerunSql));
      RETURN_IF_ERROR(s.Int(1, job_id).Run());
    }
    if (!reset_stage.empty()) {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kResetStageSql));
      RETURN_IF_ERROR(s.Int(1, job_id).Text(2, reset_stage).Run());
    }
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kResetJobSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Run());
  }
  RETURN_IF_ERROR(db->Exec(sq::kClearTempSql));
  RETURN_IF_ERROR(txn.Commit());
  return rerun;
}

}  // namespace taskgrid
