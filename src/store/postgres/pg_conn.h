// The libpq connection layer of PostgresStateStore (internal to
// src/store/postgres/): one connection with its cache of prepared
// statements (Conn), a binary COPY FROM STDIN (CopyIn), and a transaction
// (Txn). The wire format (errors, results, parameters) is in pg_wire.h.
//
// Thread-safety: none of these types is thread-safe. A Conn, and every
// CopyIn and Txn made on it, is used by one thread at a time (the store
// guards its writer with a mutex and lends each reader to one caller).
#ifndef TASKGRID_STORE_POSTGRES_PG_CONN_H_
#define TASKGRID_STORE_POSTGRES_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/postgres/pg_wire.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace pg_internal {

// One libpq connection and its prepared statements.
class Conn {
 public:
  // Connects with `conninfo` (a postgresql:// URL or key=value string);
  // `name` (user@host:port/db, no password) is for messages. Unavailable if
  // the server cannot be reached or refuses us.
  static StatusOr<std::unique_ptr<Conn>> Connect(const std::string& conninfo,
                                                 const std::string& name);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  PGconn* raw() const { return conn_; }
  const std::string& name() const { return name_; }
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

  // Reconnects if the connection is broken (the server restarted, an
  // administrator ended our backend); prepared statements are forgotten.
  // Unavailable if the server cannot be reached.
  Status Revive();

  // The error of a failed statement: its SQLSTATE mapped by PgStatus, the
  // message naming the server, `what` and the server's message.
  Status Error(const PGresult* r, std::string_view what) const;

  // Runs the statement `sql` (static storage duration: prepared once per
  // connection, keyed by its address) with `params`; rows in binary format.
  // A statement sent outside a transaction block (a read) that fails
  // because the connection was lost is sent once more on a new connection.
  StatusOr<Result> Exec(const char* sql, const Params& params = Params());
  // The same for a statement run rarely (not prepared).
  StatusOr<Result> ExecOnce(const std::string& sql,
                            const Params& params = Params());
  // Runs statements without parameters (simple query protocol, several
  // statements allowed); returns the last result, in text format.
  StatusOr<Result> Simple(const char* sql);

  // Runs the query `sql` (as Exec) and calls `row(result, i)` for each row
  // as it arrives (single-row mode), so a result of millions of rows is
  // never in memory at once. After an error from `row`, the remaining rows
  // are read and dropped, and that error is returned. A lost connection is
  // retried as in Exec only if no row was delivered yet.
  Status Stream(const char* sql, const Params& params,
                const std::function<Status(const Result&, int)>& row);

  // The start of `sql`, for error messages.
  static std::string Abbrev(std::string_view sql);

 private:
  Conn(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}

  // The name of the prepared statement for `sql`, preparing it if needed.
  StatusOr<std::string> Prepared(const char* sql, const Params& params);
  // Runs `send` (which sends one statement and returns its result); if
  // the statement failed because the connection was lost, and no
  // transaction was open, revives the connection and runs `send` again.
  StatusOr<Result> WithRetry(std::string_view what,
                             const std::function<StatusOr<Result>()>& send);
  // One attempt of Stream; `*delivered` tells if `row` saw a row.
  Status StreamOnce(const char* sql, const Params& params,
                    const std::function<Status(const Result&, int)>& row,
                    bool* delivered);

  PGconn* const conn_;
  const std::string name_;
  std::unordered_map<const char*, std::string> prepared_;
  int next_statement_ = 0;
};

// COPY <table> (<columns>) FROM STDIN (FORMAT binary): rows are encoded
// here and sent in pieces of about a megabyte. Must be finished (or
// destroyed, which aborts it) before anything else runs on the connection.
// `conn` must outlive it.
class CopyIn {
 public:
  explicit CopyIn(Conn* conn) : conn_(conn) {}
  ~CopyIn();
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;

  // Sends the COPY statement `sql`.
  Status Start(const std::string& sql);
  // A row of `fields` fields follows.
  void Row(int16_t fields);
  void Int4(int32_t v);
  void Int8(int64_t v);
  void Bytes(std::string_view v);
  // Sends what is buffered if it is big enough.
  Status MaybeFlush();
  // Ends the COPY; its error (a unique violation, say) is returned here.
  Status Finish();

 private:
  Status Flush();

  Conn* conn_;
  std::string sql_;
  std::string buf_;
  bool active_ = false;
};

// One transaction: BEGIN ... COMMIT, rolled back unless committed. `conn`
// must outlive it.
//
// Begin on a connection that turns out lost reconnects and begins again
// (nothing was sent). Commit on a connection lost in the middle asks a new
// connection whether the transaction committed (txid_status), so a batch
// that did commit is not reported as failed and applied twice; if that
// cannot be known the error is kUnavailable and says so.
class Txn {
 public:
  // `settings` are statements (each ending in ';') run right after BEGIN
  // in the same round trip, e.g. "SET LOCAL ...;". Static storage.
  explicit Txn(Conn* conn, const char* settings = "")
      : conn_(conn), settings_(settings) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Status Begin();
  Status Commit();

 private:
  Status Resolve(const Status& commit_error);

  Conn* const conn_;
  const char* const settings_;
  std::string xid_;  // of the open transaction, as text
  bool open_ = false;
};

}  // namespace pg_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_CONN_H_
