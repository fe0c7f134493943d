// The SQLite connection layer of SqliteStateStore (internal to
// src/store/sqlite/): one connection with the store's pragmas and its cache
// of prepared statements (Db), a cached statement borrowed for one call
// (Stmt, from Get), a BEGIN IMMEDIATE transaction (WriteTxn), and the
// mapping of SQLite result codes onto our Status codes (SqliteStatus).
//
// Thread-safety: none of these types is thread-safe. A Db, and every Stmt
// and WriteTxn made from it, is used by one thread at a time (the store
// guards its writer with a mutex and lends each reader to one caller).
// SqliteStatus is a pure function.
#ifndef TASKGRID_STORE_SQLITE_SQLITE_DB_H_
#define TASKGRID_STORE_SQLITE_SQLITE_DB_H_

#include <sqlite3.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "taskgrid/status.h"

namespace taskgrid {
namespace sqlite_internal {

// Our code for an SQLite result code; the message names the file, what was
// being done and SQLite's own message (from `db` if given, else from `rc`).
// Busy or locked: kUnavailable; full: kResourceExhausted; corrupt or not a
// database: kDataLoss; too big: kInvalidArgument; anything else kInternal.
Status SqliteStatus(int rc, sqlite3* db, std::string_view what,
                    const std::string& path);

// What a connection is for; it decides the pragmas Db::Open sets.
enum class Role { kWriter, kReader, kCheckpointer };

// One sqlite3 connection and its prepared statements.
class Db {
 public:
  // Opens a connection with the store's pragmas. The writer also switches
  // the file to WAL (FailedPrecondition if the file system refuses it);
  // readers are query_only.
  static StatusOr<std::unique_ptr<Db>> Open(const std::string& path, Role role,
                                            int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* raw() const { return db_; }
  Status Error(int rc, std::string_view what) const {
    return SqliteStatus(rc, db_, what, path_);
  }
  // Runs statements that take no parameters; their rows are ignored.
  Status Exec(const char* sql);
  // The cached prepared statement for `sql`, which must have static storage
  // duration: the cache is keyed by its address.
  StatusOr<sqlite3_stmt*> Prepare(const char* sql);

  // The start of `sql`, for error messages.
  static std::string Abbrev(const char* sql);

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* const db_;
  const std::string path_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

// A cached statement borrowed for one call. Reset (which ends the read it
// holds) and unbound when it goes out of scope, so SQLITE_STATIC bindings
// never outlive the data they point to. `db` must outlive it.
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

  // Parameters are numbered from 1, as ?1, ?2... in the SQL.
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // The bytes must stay alive until the statement is reset. A string over
  // SQLite's limit makes the next step fail with SQLITE_TOOBIG.
  Stmt& Text(int i, std::string_view v) {
    return Bytes(i, v, sqlite3_bind_text);
  }
  Stmt& Blob(int i, std::string_view v) {
    return Bytes(i, v, sqlite3_bind_blob);
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int StepRc() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }
  Status ErrorFor(int rc) const;
  // True when a row is ready, false when the statement is done.
  StatusOr<bool> Step();
  // Runs a statement to its end (rows ignored) and resets it, so that it
  // can be bound and run again.
  Status Run();
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
  // Binds `v` with sqlite3_bind_text or sqlite3_bind_blob.
  template <typename BindFn>
  Stmt& Bytes(int i, std::string_view v, BindFn bind) {
    if (v.size() > INT_MAX) {
      bind_rc_ = SQLITE_TOOBIG;
    } else {
      bind(s_, i, v.data() != nullptr ? v.data() : "",
           static_cast<int>(v.size()), SQLITE_STATIC);
    }
    return *this;
  }

  Db* db_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// The cached statement for `sql` (static storage duration, see
// Db::Prepare), borrowed for one call.
StatusOr<Stmt> Get(Db* db, const char* sql);

// One BEGIN IMMEDIATE transaction: taking the write lock up front means two
// writers never both hold read locks and then deadlock upgrading them. Rolls
// back unless committed. `db` must outlive it.
class WriteTxn {
 public:
  explicit WriteTxn(Db* db) : db_(db) {}
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  // Unavailable if the lock is still held after the busy timeout.
  Status Begin();
  Status Commit();

 private:
  Db* db_;
};

}  // namespace sqlite_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_SQLITE_SQLITE_DB_H_
