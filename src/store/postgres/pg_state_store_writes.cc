// PostgresStateStore: the write methods (but RerunTasks, in
// pg_state_store_rerun.cc), each one transaction on the writer connection
// that first locks the job's row.
//
// Thread-safety: as pg_state_store.h. Every transaction runs under
// write_mu_; AcquireJob reads first on a pooled reader with no lock held
// (see there).
#include <algorithm>
#include <utility>

#include "core/status_macros.h"
#include "store/postgres/pg_batch.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_reader.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_state_store.h"

namespace taskgrid {

using pg_internal::Conn;
using pg_internal::JobName;
using pg_internal::MustReadJob;
using pg_internal::Params;
using pg_internal::Result;
using pg_internal::Txn;
namespace pg = pg_internal;

namespace {

// Tasks CreateJobFrom asks its source for at a time (one COPY each).
constexpr size_t kCreateChunk = 64 * 1024;

// Apply joins each chunk of at most kRowsPerStatement rows with the job's
// tasks; the right plan is always a nested loop over the primary key. Just
// after a big CreateJob the table has no statistics yet, and the planner,
// guessing the job small, would hash the whole job for every chunk (10x
// slower on a 1M-task job). Only these joins run in Apply's transaction.
constexpr char kApplySettings[] =
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;";

}  // namespace

// ---------------------------------------------------------------------------
// Jobs.

StatusOr<int64_t> PostgresStateStore::CreateJobFrom(const JobRecord& job,
                                                    const TaskSource& source) {
  const int64_t first_next_id = std::max<int64_t>(job.next_task_id, 1);
  int64_t next_id = first_next_id;
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn* conn = writer_.get();
  Txn txn(conn);
  RETURN_IF_ERROR(txn.Begin());
  int64_t job_id = 0;
  {
    Params p;
    p.Text(job.name)
        .Text(job.key)
        .Text(job.spec_yaml)
        .Int4(static_cast<int>(job.state))
        .Int8(job.created_ms)
        .Int8(job.finished_ms)
        .Int8(job.epoch)
        .Text(job.owner)
        .Int8(job.heartbeat_ms)
        .Bytea(job.result)
        .Int8(first_next_id);
    ASSIGN_OR_RETURN(Result r, conn->Exec(pg::kInsertJobSql, p));
    if (r.rows() == 0) {  // the key is taken
      Params k;
      k.Text(job.key);
      ASSIGN_OR_RETURN(Result found, conn->Exec(pg::kFindJobSql, k));
      return AlreadyExistsError(
          "job key '" + job.key + "' already exists" +
          (found.rows() > 0 ? ": job " + std::to_string(found.Int(0, 0))
                            : std::string()));
    }
    job_id = r.Int(0, 0);
  }
  std::vector<TaskRecord> chunk;
  bool more = true;
  bool first = true;
  while (more) {
    chunk.clear();
    more = source(kCreateChunk, &chunk);
    RETURN_IF_ERROR(pg::ValidateTaskIds(chunk, &next_id));
    RETURN_IF_ERROR(pg::CopyTasks(conn, job_id, chunk, first));
    first = first && chunk.empty();
  }
  if (next_id != first_next_id) {
    Params p;
    p.Int8(job_id).Int8(next_id);
    RETURN_IF_ERROR(conn->Exec(pg::kRaiseNextTaskIdSql, p).status());
  }
  RETURN_IF_ERROR(txn.Commit());
  return job_id;
}

StatusOr<int64_t> PostgresStateStore::AcquireJob(
    int64_t job_id, const std::string& owner, int64_t now_ms, int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  // owner_alive may be slow (it may ask another machine), so it runs with
  // no lock held; the write transaction then checks that the ownership it
  // judged has not changed in between, and judges again if it has.
  constexpr int kMaxRounds = 5;
  for (int round = 0; round < kMaxRounds; ++round) {
    JobRecord seen;
    {
      ASSIGN_OR_RETURN(Reader r, BorrowReader());
      ASSIGN_OR_RETURN(seen, MustReadJob(r.conn(), job_id, /*lock=*/false));
    }
    RETURN_IF_ERROR(
        store_errors::JudgeLease(seen, owner, now_ms, lease_ms, owner_alive));
    std::lock_guard<std::mutex> lock(write_mu_);
    Conn* conn = writer_.get();
    Txn txn(conn);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(JobRecord now, MustReadJob(conn, job_id, /*lock=*/true));
    if (store_errors::OwnershipChanged(seen, now)) {
      continue;  // changed under us: judge again
    }
    Params p;
    p.Int8(job_id).Text(owner).Int8(now_ms);
    RETURN_IF_ERROR(conn->Exec(pg::kAcquireSql, p).status());
    RETURN_IF_ERROR(txn.Commit());
    return now.epoch + 1;
  }
  return UnavailableError(JobName(job_id) +
                          ": ownership keeps changing; try again");
}

Status PostgresStateStore::CancelJob(int64_t job_id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn* conn = writer_.get();
  Txn txn(conn);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(JobRecord job, MustReadJob(conn, job_id, /*lock=*/true));
  if (IsTerminal(job.state)) return pg::AlreadyTerminal(job_id, job.state);
  Params p;
  p.Int8(job_id).Int8(now_ms);
  RETURN_IF_ERROR(conn->Exec(pg::kCancelJobSql, p).status());
  RETURN_IF_ERROR(conn->Exec(pg::kCancelTasksSql, p).status());
  return txn.Commit();
}

// ---------------------------------------------------------------------------
// Apply.

StatusOr<ApplyResult> PostgresStateStore::Apply(const WriteBatch& batch) {
  // next_task_id also covers the new tasks, so that "ids below next_task_id
  // are taken" holds even if the caller forgot to raise it.
  int64_t next_id = batch.next_task_id;
  RETURN_IF_ERROR(pg::ValidateTaskIds(batch.new_tasks, &next_id));
  const int64_t job_id = batch.job_id;

  std::lock_guard<std::mutex> lock(write_mu_);
  Conn* conn = writer_.get();
  Txn txn(conn, kApplySettings);
  RETURN_IF_ERROR(txn.Begin());
  {
    // The lock on the job row holds until commit: a CancelJob or AcquireJob
    // that bumps the epoch waits for this batch, or this batch for it.
    Params p;
    p.Int8(job_id);
    ASSIGN_OR_RETURN(Result r, conn->Exec(pg::kLockEpochSql, p));
    if (r.rows() == 0) return pg::JobNotFound(job_id);
    const int64_t epoch = r.Int(0, 0);
    if (epoch != batch.epoch) {
      return AbortedError(JobName(job_id) + ": epoch " +
                          std::to_string(batch.epoch) + " is stale (current " +
                          std::to_string(epoch) + ")");
    }
  }
  RETURN_IF_ERROR(pg::InsertTasks(conn, job_id, batch.new_tasks));
  ApplyResult result;
  ASSIGN_OR_RETURN(result.fenced, pg::UpdateTasks(conn, job_id, batch.updates));
  RETURN_IF_ERROR(pg::InsertLogs(conn, job_id, batch.logs));
  RETURN_IF_ERROR(pg::ReplaceOutputs(conn, job_id, batch.outputs));
  if (batch.job_state || batch.job_finished_ms != 0 || batch.job_result ||
      next_id > 0 || batch.heartbeat_ms != 0) {
    Params p;
    p.Int8(job_id);
    if (batch.job_state) {
      p.Int4(static_cast<int>(*batch.job_state));
    } else {
      p.Null(pg::kInt4Oid);
    }
    p.Int8(batch.job_finished_ms);
    if (batch.job_result) {
      p.Bytea(*batch.job_result);
    } else {
      p.Null(pg::kByteaOid);
    }
    p.Int8(next_id).Int8(batch.heartbeat_ms);
    RETURN_IF_ERROR(conn->Exec(pg::kUpdateJobSql, p).status());
  }
  RETURN_IF_ERROR(txn.Commit());
  return result;
}

}  // namespace taskgrid
