// PostgresStateStore::Reader (internal to src/store/postgres/): a read
// connection borrowed from the store's pool for one call, and given back
// when it goes out of scope. Shared by the files that implement the store.
//
// Thread-safety: a Reader and its Conn belong to the one caller that
// borrowed it; borrowing and giving back are thread-safe
// (PostgresStateStore::pool_mu_). The store must outlive its Readers.
#ifndef TASKGRID_STORE_POSTGRES_PG_READER_H_
#define TASKGRID_STORE_POSTGRES_PG_READER_H_

#include <memory>
#include <utility>

#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_state_store.h"

namespace taskgrid {

class PostgresStateStore::Reader {
 public:
  Reader(PostgresStateStore* store, std::unique_ptr<pg_internal::Conn> conn)
      : store_(store), conn_(std::move(conn)) {}
  Reader(Reader&&) = default;
  Reader& operator=(Reader&&) = delete;
  ~Reader() {
    if (conn_ != nullptr) store_->ReturnReader(std::move(conn_));
  }
  pg_internal::Conn* conn() const { return conn_.get(); }

 private:
  PostgresStateStore* store_;
  std::unique_ptr<pg_internal::Conn> conn_;
};

}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_READER_H_
