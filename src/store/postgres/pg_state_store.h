// PostgresStateStore: the cluster StateStore backend (DESIGN.md §3), a
// PostgreSQL database reached with libpq, e.g.
// `postgresql://taskgrid@db.example:5432/taskgrid`.
//
// The tables (jobs, tasks, task_logs, task_outputs, cluster_leader,
// schema_version) are plain SQL that operators may query; docs/architecture.md
// describes them. The schema is versioned like SqliteStateStore's: Open
// migrates an older database in one transaction under an advisory lock, and
// refuses a newer one with kFailedPrecondition.
//
// Every write is one transaction that first locks the job's row (SELECT
// ... FOR UPDATE), so the epoch check and the writes it fences are atomic,
// and two writers of one job are serialized. Batches travel as arrays, a
// chunk of thousands of rows per statement, and a new job's tasks as one
// binary COPY: no call costs a round trip per task.
//
// Where state_store.h leaves a point open, this backend follows the readings
// listed in tests/conformance/state_store_conformance.h, as SQLite does.
// Log lines are stored byte for byte; a task's error message is stored as
// TEXT, so bytes that are not valid UTF-8 (and NUL) become U+FFFD.
//
// Errors keep the codes of StateStore's contract and carry the server
// ("user@host:port/db", never the password), the statement and the
// server's message with its SQLSTATE. A lost connection, a server shutting
// down, a serialization failure or deadlock is kUnavailable: retry the
// call. The next call reconnects by itself; a read, or a write whose
// transaction had not begun, is retried once on the new connection within
// the same call. If the connection breaks during COMMIT, the store asks the
// server whether the transaction committed, and reports success if it did.
//
// Thread-safety: all methods are thread-safe. Writes go through one
// connection guarded by a mutex; reads use a small pool of connections, so
// a slow ForEachResult / ForEachUnfinishedTask callback never stalls the
// master's writes. A callback may call back into the store. A ForEach*
// stream is one query, so it reads one snapshot.
#ifndef TASKGRID_STORE_POSTGRES_PG_STATE_STORE_H_
#define TASKGRID_STORE_POSTGRES_PG_STATE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {

namespace pg_internal {
class Conn;  // one libpq connection and its prepared statements
}  // namespace pg_internal

class PostgresStateStore : public StateStore {
 public:
  // The schema version this binary writes (the same numbering as
  // SqliteStateStore's). A database whose version is newer is refused with
  // kFailedPrecondition; older ones are migrated in one transaction.
  static constexpr int kSchemaVersion = 4;

  // Connects to the database of `conninfo` (a postgresql:// URL or a
  // key=value string, as libpq takes them; unless it says otherwise,
  // connect_timeout is 10 seconds and TCP keepalives notice a vanished
  // server within about a minute) and brings its schema up to date. The tables
  // live in the first schema of the connection's search_path (normally public).
  // InvalidArgument for an empty or malformed string; Unavailable if the
  // server cannot be reached; FailedPrecondition for a newer schema, a
  // server older than 10 or a database encoding other than UTF8 or
  // SQL_ASCII.
  static StatusOr<std::unique_ptr<PostgresStateStore>> Open(
      const std::string& conninfo);

  ~PostgresStateStore() override;
  PostgresStateStore(const PostgresStateStore&) = delete;
  PostgresStateStore& operator=(const PostgresStateStore&) = delete;

  // "user@host:port/db", as in messages.
  const std::string& name() const { return name_; }

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

  PostgresStateStore(std::string conninfo, std::string name,
                     std::unique_ptr<pg_internal::Conn> writer);

  StatusOr<Reader> BorrowReader();
  // ForEachResult and ForEachPayload: streams (id, stage, third column) of
  // the rows `sql` selects (job, then excluded stage, as parameters);
  // NotFound for an unknown job.
  Status StreamTaskColumn(const char* sql, int64_t job_id,
                          const std::string& exclude_stage,
                          const std::function<void(int64_t, const std::string&,
                                                   const std::string&)>& fn);
  void ReturnReader(std::unique_ptr<pg_internal::Conn> conn);

  // Constant after construction.
  const std::string conninfo_;  // may hold a password: never in messages
  const std::string name_;

  // The write connection; also used for the reads inside write
  // transactions.
  std::mutex write_mu_;
  const std::unique_ptr<pg_internal::Conn> writer_;  // guarded by write_mu_

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<pg_internal::Conn>> idle_readers_;  // pool_mu_
};

// Opens the PostgreSQL store at `conninfo` (see PostgresStateStore::Open).
StatusOr<std::unique_ptr<StateStore>> OpenPostgresStateStore(
    const std::string& conninfo);

}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_STATE_STORE_H_
