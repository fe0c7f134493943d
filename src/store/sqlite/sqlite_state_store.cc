// SqliteStateStore: opening the store, its connections (the writer, the
// pool of readers) and the background checkpointer.
//
// The StateStore methods are in sqlite_state_store_reads.cc (on pooled
// read connections), sqlite_state_store_writes.cc (write transactions on
// the writer) and sqlite_state_store_leader.cc (cluster leadership). Below
// them: sqlite_rows.h (rows), sqlite_schema.h (SQL and migrations), sqlite_db.h
// (connections, statements, transactions).
//
// Thread-safety: as sqlite_state_store.h. The reader pool is guarded by
// pool_mu_, the checkpointer's state by ckpt_mu_; the writer is opened and
// migrated before the store exists, and used under write_mu_ afterwards.
#include "store/sqlite/sqlite_state_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_reader.h"
#include "store/sqlite/sqlite_schema.h"

namespace taskgrid {

using sqlite_internal::Db;
namespace sq = sqlite_internal;

namespace {

// Idle read connections the pool keeps open.
constexpr size_t kMaxIdleReaders = 4;

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
  RETURN_IF_ERROR(writer->Exec(sq::kTempTables));
  RETURN_IF_ERROR(sq::Migrate(writer.get(), path));
  std::unique_ptr<SqliteStateStore> store(
      new SqliteStateStore(path, options, std::move(writer)));
  // Open one reader now, so that a problem shows at Open.
  { ASSIGN_OR_RETURN(Reader r, store->BorrowReader()); }
  return store;
}

StatusOr<std::unique_ptr<StateStore>> OpenSqliteStateStore(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStateStore> store,
                   SqliteStateStore::Open(path));
  return std::unique_ptr<StateStore>(std::move(store));
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

// ---------------------------------------------------------------------------
// Checkpoints.

int SqliteStateStore::OnWalCommit(void* store, sqlite3*, const char*,
                                  int wal_pages) {
  // 1 MiB of frames (SQLite's own wal_autocheckpoint is 1000 pages): the
  // checkpoint that closing the store runs holds up the process's exit by
  // what is left, 14-26 ms at 1000 pages after a logstats job whose map
  // results fill 26 MB (11-16 ms at 256; docs/benchmarks.md).
  constexpr int kCheckpointPages = 256;
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

// ---------------------------------------------------------------------------
// The reader pool.

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
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(std::move(db));
  }
  // Otherwise `db` closes here: a burst of concurrent readers does not keep
  // its connections open.
}

}  // namespace taskgrid
