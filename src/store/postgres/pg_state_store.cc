// PostgresStateStore: opening the store and its connections (the writer,
// the pool of readers).
//
// The StateStore methods are in pg_state_store_reads.cc (on pooled read
// connections), pg_state_store_writes.cc and pg_state_store_rerun.cc
// (transactions on the writer), and pg_state_store_leader.cc (cluster
// leadership). Below them: pg_batch.h (bulk writes),
// pg_rows.h (rows), pg_schema.h (SQL and migrations), pg_conn.h
// (connections, statements, transactions).
//
// Thread-safety: as pg_state_store.h. The reader pool is guarded by
// pool_mu_; the writer is connected and migrated before the store exists,
// and used under write_mu_ afterwards.
#include "store/postgres/pg_state_store.h"

#include <string_view>
#include <utility>

#include "core/status_macros.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_reader.h"
#include "store/postgres/pg_schema.h"

namespace taskgrid {

using pg_internal::Conn;

namespace {

// Idle read connections the pool keeps open.
constexpr size_t kMaxIdleReaders = 4;

// What the store needs of the server, checked once at Open.
Status CheckServer(const Conn& conn) {
  const int version = PQserverVersion(conn.raw());
  if (version < 100000) {
    return FailedPreconditionError(
        "postgresql " + conn.name() + ": server version " +
        std::to_string(version) + " is too old; taskgrid needs 10 or newer");
  }
  const char* enc = PQparameterStatus(conn.raw(), "server_encoding");
  std::string_view encoding(enc != nullptr ? enc : "");
  if (encoding != "UTF8" && encoding != "SQL_ASCII") {
    return FailedPreconditionError(
        "postgresql " + conn.name() + ": database encoding is " +
        std::string(encoding) +
        "; taskgrid needs a database created with ENCODING 'UTF8'");
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<PostgresStateStore>> PostgresStateStore::Open(
    const std::string& conninfo) {
  if (conninfo.empty()) {
    return InvalidArgumentError(
        "postgresql store needs a connection string, e.g. "
        "postgresql://USER@HOST:PORT/DB");
  }
  ASSIGN_OR_RETURN(std::string name, pg_internal::DescribeConninfo(conninfo));
  ASSIGN_OR_RETURN(std::unique_ptr<Conn> writer, Conn::Connect(conninfo, name));
  RETURN_IF_ERROR(CheckServer(*writer));
  RETURN_IF_ERROR(pg_internal::Migrate(writer.get()));
  std::unique_ptr<PostgresStateStore> store(
      new PostgresStateStore(conninfo, std::move(name), std::move(writer)));
  // Open one reader now, so that a problem shows at Open.
  { ASSIGN_OR_RETURN(Reader r, store->BorrowReader()); }
  return store;
}

StatusOr<std::unique_ptr<StateStore>> OpenPostgresStateStore(
    const std::string& conninfo) {
  ASSIGN_OR_RETURN(std::unique_ptr<PostgresStateStore> store,
                   PostgresStateStore::Open(conninfo));
  return std::unique_ptr<StateStore>(std::move(store));
}

PostgresStateStore::PostgresStateStore(std::string conninfo, std::string name,
                                       std::unique_ptr<Conn> writer)
    : conninfo_(std::move(conninfo)),
      name_(std::move(name)),
      writer_(std::move(writer)) {}

PostgresStateStore::~PostgresStateStore() = default;

// ---------------------------------------------------------------------------
// The reader pool.

StatusOr<PostgresStateStore::Reader> PostgresStateStore::BorrowReader() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(this, std::move(conn));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Conn::Connect(conninfo_, name_));
  return Reader(this, std::move(conn));
}

void PostgresStateStore::ReturnReader(std::unique_ptr<Conn> conn) {
  // A broken connection, or one left inside a transaction (an error in the
  // middle of a stream), is closed rather than lent again.
  if (conn->broken() || PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) {
    return;
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(std::move(conn));
  }
  // Otherwise `conn` closes here: a burst of concurrent readers does not
  // keep its connections open.
}

}  // namespace taskgrid
