// SqliteStateStore::Reader (internal to src/store/sqlite/): a read
// connection borrowed from the store's pool for one call, and given back
// when it goes out of scope. Shared by the files that implement the store.
//
// Thread-safety: a Reader and its Db belong to the one caller that borrowed
// it; borrowing and giving back are thread-safe (SqliteStateStore::pool_mu_).
// The store must outlive its Readers.
#ifndef TASKGRID_STORE_SQLITE_SQLITE_READER_H_
#define TASKGRID_STORE_SQLITE_SQLITE_READER_H_

#include <memory>
#include <utility>

#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {

class SqliteStateStore::Reader {
 public:
  Reader(SqliteStateStore* store, std::unique_ptr<sqlite_internal::Db> db)
      : store_(store), db_(std::move(db)) {}
  Reader(Reader&&) = default;
  Reader& operator=(Reader&&) = delete;
  ~Reader() {
    if (db_ != nullptr) store_->ReturnReader(std::move(db_));
  }
  sqlite_internal::Db* db() const { return db_.get(); }

 private:
  SqliteStateStore* store_;
  std::unique_ptr<sqlite_internal::Db> db_;
};

}  // namespace taskgrid

#endif  // TASKGRID_STORE_SQLITE_SQLITE_READER_H_
