// The SQLite connection layer (see sqlite_db.h): opening a connection with
// the store's pragmas, the statement cache, transactions and error mapping.
//
// Thread-safety: as sqlite_db.h; nothing here is shared between connections.
#include "store/sqlite/sqlite_db.h"

#include <chrono>
#include <thread>

#include "core/status_macros.h"

namespace taskgrid {
namespace sqlite_internal {
namespace {

constexpr char kBeginSql[] = "BEGIN IMMEDIATE";
constexpr char kCommitSql[] = "COMMIT";

}  // namespace

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

// ---------------------------------------------------------------------------
// Db.

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
    // every write. The page cache stays at SQLite's default 2 MiB: what
    // fills it beyond a big batch's B-tree interior pages and recent leaves
    // is rows (task results) the writer never touches again, each a page of
    // fresh memory, which costs microseconds on the reference VM (64 MiB
    // made a logstats run 3-7% slower than 8 MiB, and 8 MiB 1-2% slower
    // than 2 MiB; 1M- and 10M-task no-op runs took the same time with
    // each: docs/benchmarks.md). journal_size_limit gives back the disk of
    // a WAL that a big transaction grew.
    // Switching a new file to WAL needs an exclusive lock, and SQLite
    // does not always wait for it through the busy handler (two processes
    // opening a fresh file at once get "database is locked" at once):
    // retry for as long as the busy timeout would have waited.
    for (int waited_ms = 0;; waited_ms += 10) {
      Status wal = db->Exec("PRAGMA journal_mode = WAL;");
      if (wal.ok()) break;
      if (wal.code() != StatusCode::kUnavailable || waited_ms >= 10'000) {
        return wal;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    RETURN_IF_ERROR(
        db->Exec("PRAGMA synchronous = NORMAL; "
                 "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -2048; "
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

Db::~Db() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? OkStatus() : Error(rc, Abbrev(sql));
}

StatusOr<sqlite3_stmt*> Db::Prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return Error(rc, Abbrev(sql));
  stmts_.emplace(sql, stmt);
  return stmt;
}

std::string Db::Abbrev(const char* sql) {
  std::string_view s(sql);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) {
    s.remove_prefix(1);
  }
  return std::string(s.substr(0, 48)) + (s.size() > 48 ? "..." : "");
}

// ---------------------------------------------------------------------------
// Stmt.

Status Stmt::ErrorFor(int rc) const {
  return db_->Error(rc, Db::Abbrev(sqlite3_sql(s_)));
}

StatusOr<bool> Stmt::Step() {
  int rc = StepRc();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorFor(rc);
}

Status Stmt::Run() {
  int rc;
  do {
    rc = StepRc();
  } while (rc == SQLITE_ROW);
  Status status = rc == SQLITE_DONE ? OkStatus() : ErrorFor(rc);
  Reset();
  return status;
}

StatusOr<Stmt> Get(Db* db, const char* sql) {
  ASSIGN_OR_RETURN(sqlite3_stmt * s, db->Prepare(sql));
  return Stmt(db, s);
}

// ---------------------------------------------------------------------------
// WriteTxn.

WriteTxn::~WriteTxn() {
  if (!sqlite3_get_autocommit(db_->raw())) {
    db_->Exec("ROLLBACK").IgnoreError();
  }
}

Status WriteTxn::Begin() {
  ASSIGN_OR_RETURN(Stmt s, Get(db_, kBeginSql));
  return s.Run();
}

Status WriteTxn::Commit() {
  ASSIGN_OR_RETURN(Stmt s, Get(db_, kCommitSql));
  return s.Run();
}

}  // namespace sqlite_internal
}  // namespace taskgrid
