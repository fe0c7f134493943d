// The libpq connection layer of PostgresStateStore (see pg_conn.h):
// connections, prepared statements, single-row streams, binary COPY and
// transactions.
//
// Thread-safety: as pg_conn.h; nothing here is shared between connections.
#include "store/postgres/pg_conn.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/status_macros.h"

namespace taskgrid {
namespace pg_internal {
namespace {

// Pieces of COPY data sent at a time.
constexpr size_t kCopyFlushBytes = 1 << 20;

}  // namespace

// ---------------------------------------------------------------------------
// Conn.

StatusOr<std::unique_ptr<Conn>> Conn::Connect(const std::string& conninfo,
                                              const std::string& name) {
  // Entries before dbname (which expands `conninfo`) are defaults the
  // string may override; client_encoding comes after it, as every string
  // we send is UTF-8. Without connect_timeout an unreachable host would
  // hang the caller for minutes; the keepalives notice a server that
  // vanished (a failed-over host) within about a minute, not hours.
  const char* const keys[] = {"connect_timeout",           "keepalives_idle",
                              "keepalives_interval",       "keepalives_count",
                              "fallback_application_name", "dbname",
                              "client_encoding",           nullptr};
  const char* const values[] = {
      "10", "30", "10", "3", "taskgrid", conninfo.c_str(), "UTF8", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) {
    return ResourceExhaustedError("postgresql " + name +
                                  ": out of memory connecting");
  }
  std::unique_ptr<Conn> conn(new Conn(raw, name));
  if (PQstatus(raw) != CONNECTION_OK) {
    return UnavailableError("postgresql " + name + ": cannot connect: " +
                            OneLine(PQerrorMessage(raw)));
  }
  // Notices ("relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  return conn;
}

Conn::~Conn() { PQfinish(conn_); }

Status Conn::Revive() {
  if (!broken()) return OkStatus();
  prepared_.clear();
  PQreset(conn_);
  if (broken()) {
    return UnavailableError("postgresql " + name_ + ": cannot reconnect: " +
                            OneLine(PQerrorMessage(conn_)));
  }
  return OkStatus();
}

Status Conn::Error(const PGresult* r, std::string_view what) const {
  const char* state =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string msg = "postgresql " + name_ + ": " + std::string(what) + ": ";
  if (primary != nullptr) {
    msg += primary;
  } else {
    std::string m = OneLine(r != nullptr ? PQresultErrorMessage(r) : "");
    msg += m.empty() ? OneLine(PQerrorMessage(conn_)) : m;
  }
  if (detail != nullptr) msg += std::string(" (") + detail + ")";
  if (state != nullptr && *state != '\0') {
    msg += std::string(" (SQLSTATE ") + state + ")";
    return PgStatus(state, msg);
  }
  // No SQLSTATE: libpq's own error. Only a lost connection is worth a retry.
  return broken() ? PgStatus("", msg + " (connection lost)")
                  : InternalError(msg);
}

std::string Conn::Abbrev(std::string_view s) {
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) {
    s.remove_prefix(1);
  }
  return std::string(s.substr(0, 48)) + (s.size() > 48 ? "..." : "");
}

StatusOr<std::string> Conn::Prepared(const char* sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  std::string name = "tg" + std::to_string(next_statement_++);
  Result r(PQprepare(conn_, name.c_str(), sql, params.size(), params.types()));
  if (PQresultStatus(r.raw()) != PGRES_COMMAND_OK) {
    return Error(r.raw(), Abbrev(sql));
  }
  prepared_.emplace(sql, name);
  return name;
}

StatusOr<Result> Conn::WithRetry(
    std::string_view what, const std::function<StatusOr<Result>()>& send) {
  RETURN_IF_ERROR(Revive());
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  for (int round = 0;; ++round) {
    StatusOr<Result> r = send();
    Status err;
    if (r.ok()) {
      const ExecStatusType st = PQresultStatus(r->raw());
      if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
      err = Error(r->raw(), what);
    } else {
      err = r.status();
    }
    if (round > 0 || !idle || !broken()) return err;
    RETURN_IF_ERROR(Revive());
  }
}

StatusOr<Result> Conn::Exec(const char* sql, const Params& params) {
  return WithRetry(Abbrev(sql), [&]() -> StatusOr<Result> {
    ASSIGN_OR_RETURN(std::string name, Prepared(sql, params));
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    params.Pointers(&values, &lengths, &formats);
    return Result(PQexecPrepared(conn_, name.c_str(), params.size(),
                                 values.data(), lengths.data(), formats.data(),
                                 /*resultFormat=*/1));
  });
}

StatusOr<Result> Conn::ExecOnce(const std::string& sql, const Params& params) {
  return WithRetry(Abbrev(sql), [&]() -> StatusOr<Result> {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    params.Pointers(&values, &lengths, &formats);
    return Result(PQexecParams(conn_, sql.c_str(), params.size(),
                               params.types(), values.data(), lengths.data(),
                               formats.data(), /*resultFormat=*/1));
  });
}

StatusOr<Result> Conn::Simple(const char* sql) {
  Result r(PQexec(conn_, sql));
  const ExecStatusType st = PQresultStatus(r.raw());
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
  return Error(r.raw(), Abbrev(sql));
}

Status Conn::Stream(const char* sql, const Params& params,
                    const std::function<Status(const Result&, int)>& row) {
  RETURN_IF_ERROR(Revive());
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  for (int round = 0;; ++round) {
    bool delivered = false;
    Status s = StreamOnce(sql, params, row, &delivered);
    if (s.ok() || delivered || round > 0 || !idle || !broken()) return s;
    RETURN_IF_ERROR(Revive());
  }
}

Status Conn::StreamOnce(const char* sql, const Params& params,
                        const std::function<Status(const Result&, int)>& row,
                        bool* delivered) {
  ASSIGN_OR_RETURN(std::string name, Prepared(sql, params));
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  params.Pointers(&values, &lengths, &formats);
  if (!PQsendQueryPrepared(conn_, name.c_str(), params.size(), values.data(),
                           lengths.data(), formats.data(),
                           /*resultFormat=*/1)) {
    return Error(nullptr, Abbrev(sql));
  }
  // If single-row mode cannot be set, rows come in one result: still right.
  PQsetSingleRowMode(conn_);
  Status status;
  while (PGresult* raw = PQgetResult(conn_)) {
    Result r(raw);
    const ExecStatusType st = PQresultStatus(raw);
    if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
      for (int i = 0; status.ok() && i < r.rows(); ++i) {
        *delivered = true;
        status = row(r, i);
      }
    } else if (status.ok()) {
      status = Error(raw, Abbrev(sql));
    }
  }
  return status;
}

// ---------------------------------------------------------------------------
// CopyIn.

CopyIn::~CopyIn() {
  if (!active_) return;
  PQputCopyEnd(conn_->raw(), "aborted by taskgrid");
  while (PGresult* r = PQgetResult(conn_->raw())) PQclear(r);
}

Status CopyIn::Start(const std::string& sql) {
  sql_ = Conn::Abbrev(sql);
  Result r(PQexec(conn_->raw(), sql.c_str()));
  if (PQresultStatus(r.raw()) != PGRES_COPY_IN) {
    return conn_->Error(r.raw(), sql_);
  }
  active_ = true;
  buf_.assign("PGCOPY\n\377\r\n\0", 11);  // signature
  AppendBE32(&buf_, 0);                   // flags
  AppendBE32(&buf_, 0);                   // header extension length
  return OkStatus();
}

void CopyIn::Row(int16_t fields) {
  AppendBE16(&buf_, static_cast<uint16_t>(fields));
}

void CopyIn::Int4(int32_t v) {
  AppendBE32(&buf_, 4);
  AppendBE32(&buf_, static_cast<uint32_t>(v));
}

void CopyIn::Int8(int64_t v) {
  AppendBE32(&buf_, 8);
  AppendBE64(&buf_, static_cast<uint64_t>(v));
}

void CopyIn::Bytes(std::string_view v) {
  AppendBE32(&buf_, static_cast<uint32_t>(v.size()));
  buf_.append(v);
}

Status CopyIn::MaybeFlush() {
  return buf_.size() >= kCopyFlushBytes ? Flush() : OkStatus();
}

Status CopyIn::Flush() {
  if (buf_.empty()) return OkStatus();
  if (PQputCopyData(conn_->raw(), buf_.data(), static_cast<int>(buf_.size())) !=
      1) {
    return conn_->Error(nullptr, sql_);
  }
  buf_.clear();
  return OkStatus();
}

Status CopyIn::Finish() {
  AppendBE16(&buf_, 0xffff);  // trailer: a field count of -1
  RETURN_IF_ERROR(Flush());
  active_ = false;
  if (PQputCopyEnd(conn_->raw(), nullptr) != 1) {
    return conn_->Error(nullptr, sql_);
  }
  Status status;
  while (PGresult* raw = PQgetResult(conn_->raw())) {
    Result r(raw);
    if (status.ok() && PQresultStatus(raw) != PGRES_COMMAND_OK) {
      status = conn_->Error(raw, sql_);
    }
  }
  return status;
}

// ---------------------------------------------------------------------------
// Txn.

Txn::~Txn() {
  if (open_ && !conn_->broken())
    conn_->Simple("ROLLBACK").status().IgnoreError();
}

Status Txn::Begin() {
  for (int round = 0;; ++round) {
    RETURN_IF_ERROR(conn_->Revive());
    // One round trip; the xid lets Commit find out what became of the
    // transaction if the connection breaks during COMMIT.
    const std::string sql =
        std::string("BEGIN; ") + settings_ + " SELECT txid_current()";
    StatusOr<Result> r = conn_->Simple(sql.c_str());
    if (r.ok() && r->rows() == 1) {
      xid_ = PQgetvalue(r->raw(), 0, 0);
      open_ = true;
      return OkStatus();
    }
    // Nothing was done: on a connection found lost, begin again on a new one.
    if (round == 0 && conn_->broken()) continue;
    if (!conn_->broken() && PQtransactionStatus(conn_->raw()) != PQTRANS_IDLE) {
      conn_->Simple("ROLLBACK").status().IgnoreError();
    }
    return r.ok() ? InternalError("postgresql " + conn_->name() +
                                  ": BEGIN: no transaction id")
                  : r.status();
  }
}

Status Txn::Commit() {
  open_ = false;
  Result r(PQexec(conn_->raw(), "COMMIT"));
  if (PQresultStatus(r.raw()) == PGRES_COMMAND_OK) {
    if (std::strcmp(PQcmdStatus(r.raw()), "COMMIT") == 0) return OkStatus();
    return InternalError("postgresql " + conn_->name() +
                         ": COMMIT: the transaction had failed and was rolled "
                         "back");
  }
  Status err = conn_->Error(r.raw(), "COMMIT");
  // Still connected: the server refused the commit and rolled back.
  if (!conn_->broken()) return err;
  return Resolve(err);
}

Status Txn::Resolve(const Status& commit_error) {
  const std::string unknown =
      commit_error.message() + "; whether the transaction committed is unknown";
  Status revived = conn_->Revive();
  if (!revived.ok())
    return UnavailableError(unknown + " (" + revived.message() + ")");
  Params p;
  p.Int8(std::strtoll(xid_.c_str(), nullptr, 10));
  // The old backend may still be ending the transaction: ask until it is
  // decided, for up to about two seconds.
  for (int i = 0; i < 100; ++i) {
    StatusOr<Result> r = conn_->ExecOnce("SELECT txid_status($1)", p);
    if (!r.ok() || r->rows() != 1 || r->IsNull(0, 0)) break;
    const std::string state = r->Str(0, 0);
    if (state == "committed") return OkStatus();
    if (state == "aborted") {
      return UnavailableError(commit_error.message() +
                              "; the transaction was rolled back");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return UnavailableError(unknown);
}

}  // namespace pg_internal
}  // namespace taskgrid
