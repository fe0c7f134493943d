// SqliteStateStore: the embedded StateStore backend (DESIGN.md §3), one
// SQLite file in WAL mode, e.g. `.taskgrid/state.db`.
//
// Several processes may open the same file at once (a running master and a
// `taskgrid cancel` / `status` CLI): every write is one BEGIN IMMEDIATE
// transaction, and a call that finds the file locked waits up to
// SqliteStoreOptions::busy_timeout_ms before it fails with kUnavailable.
//
// Checkpoints (copying the WAL back into the database file) run on a
// background thread that the store starts on first need, not inside the
// commit of the call that filled the WAL.
//
// Durability: synchronous=NORMAL in WAL mode. A committed transaction
// survives the crash of any process (kill -9), which is the failure the
// system is built for; the last transactions before a power loss or kernel
// crash may be lost (the database stays consistent).
//
// Where state_store.h leaves a point open, this backend follows the readings
// listed in tests/conformance/state_store_conformance.h.
//
// Errors: SQLite failures keep the codes of StateStore's contract and carry
// the SQLite message and the file path in the message. A lock still held
// after the busy timeout is kUnavailable, a full disk kResourceExhausted, a
// corrupt file or one that is not a database kDataLoss, a string or blob
// over SQLite's 1 GB limit kInvalidArgument, anything else kInternal.
//
// Thread-safety: all methods are thread-safe. Writes go through one
// connection guarded by a mutex; reads use a small pool of read connections
// (WAL readers block neither the writer nor each other), so a slow
// ForEachResult / ForEachUnfinishedTask callback never stalls the master's
// writes. A callback may call back into the store. A ForEach* stream reads
// one snapshot, which holds back checkpoints until it ends.
#ifndef TASKGRID_STORE_SQLITE_SQLITE_STATE_STORE_H_
#define TASKGRID_STORE_SQLITE_SQLITE_STATE_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/state_store.h"
#include "taskgrid/status.h"

struct sqlite3;

namespace taskgrid {

namespace sqlite_internal {
class Db;  // one sqlite3 connection and its prepared statements
}  // namespace sqlite_internal

struct SqliteStoreOptions {
  // How long a call waits for a lock held by another connection or process
  // before failing with kUnavailable.
  int busy_timeout_ms = 10'000;
};

class SqliteStateStore : public StateStore {
 public:
  // The schema version this binary writes. Opening a file whose version is
  // newer fails with kFailedPrecondition; older files are migrated in one
  // transaction.
  static constexpr int kSchemaVersion = 4;

  // Opens (creating it and its parent directories if needed) the database
  // at `path` and brings its schema up to date. InvalidArgument for an empty
  // path or ":memory:" (the store needs a file that several connections and
  // processes share).
  static StatusOr<std::unique_ptr<SqliteStateStore>> Open(
      const std::string& path, const SqliteStoreOptions& options = {});

  ~SqliteStateStore() override;
  SqliteStateStore(const SqliteStateStore&) = delete;
  SqliteStateStore& operator=(const SqliteStateStore&) = delete;

  const std::string& path() const { return path_; }

  StatusOr<int64_t> CreateJobFrom(const JobRecord& job,
                                  const TaskSource& tasks) override;
  StatusOr<JobRecord> GetJob(int64_t job_id) override;
  StatusOr<std::optional<JobRecord>> FindJobByKey(
      const std::string& key) override;
  StatusOr<std::vector<JobRecord>> ListJobs(int64_t limit) override;
  StatusOr<int64_t> AcquireJob(
      int64_t job_id, const std::string& owner, int64_t now_ms,
      int64_t lease_ms,
      const std::function<bool(const std::string&)>& owner_alive) override;
  StatusOr<ApplyResult> Apply(const WriteBatch& batch) override;
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override;
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override;
  StatusOr<TaskCounts> CountTasks(int64_t job_id) override;
  StatusOr<std::vector<StageCounts>> CountTasksByStage(int64_t job_id) override;
  Status ForEachUnfinishedTask(
      int64_t job_id, const std::function<void(TaskRecord&&)>& fn) override;
  Status ForEachOutput(
      int64_t job_id,
      const std::function<void(const OutputRecord&, const std::string&)>& fn)
      override;
  Status ForEachResult(
      int64_t job_id, const std::string& exclude_stage,
      const std::function<void(int64_t, const std::string&,
                               const std::string&)>& fn) override;
  Status ForEachPayload(
      int64_t job_id, const std::string& exclude_stage,
      const std::function<void(int64_t, const std::string&,
                               const std::string&)>& fn) override;
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override;
  Status CancelJob(int64_t job_id, int64_t now_ms) override;
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& task_ids,
                               const std::string& reset_stage) override;
  StatusOr<LeaderRecord> ClaimLeadership(
      const std::string& owner, const std::string& address, int64_t now_ms,
      int64_t lease_ms,
      const std::function<bool(const std::string&)>& owner_alive) override;
  Status ReleaseLeadership(const std::string& owner) override;
  StatusOr<LeaderRecord> GetLeader() override;

 private:
  class Reader;  // a read connection borrowed from the pool

  SqliteStateStore(std::string path, const SqliteStoreOptions& options,
                   std::unique_ptr<sqlite_internal::Db> writer);

  StatusOr<Reader> BorrowReader();
  // ForEachResult and ForEachPayload: streams (id, stage, third column) of
  // the rows `sql` selects (job, then excluded stage, as parameters);
  // NotFound for an unknown job.
  Status StreamTaskColumn(const char* sql, int64_t job_id,
                          const std::string& exclude_stage,
                          const std::function<void(int64_t, const std::string&,
                                                   const std::string&)>& fn);
  void ReturnReader(std::unique_ptr<sqlite_internal::Db> db);
  // Called by SQLite after each commit of the writer.
  static int OnWalCommit(void* store, sqlite3* db, const char* name,
                         int wal_pages);
  void RequestCheckpoint();
  void CheckpointLoop();

  // Constant after construction.
  const std::string path_;
  const SqliteStoreOptions options_;

  // The write connection; also used for the reads inside write
  // transactions.
  std::mutex write_mu_;
  const std::unique_ptr<sqlite_internal::Db> writer_;  // guarded by write_mu_

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<sqlite_internal::Db>> idle_readers_;  // pool_mu_

  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_requested_ = false;  // guarded by ckpt_mu_
  bool stopping_ = false;        // guarded by ckpt_mu_
  std::thread checkpointer_;     // started by RequestCheckpoint; ckpt_mu_
};

// Opens the SQLite store at `path` (see SqliteStateStore::Open).
StatusOr<std::unique_ptr<StateStore>> OpenSqliteStateStore(
    const std::string& path);

}  // namespace taskgrid

#endif  // TASKGRID_STORE_SQLITE_SQLITE_STATE_STORE_H_
