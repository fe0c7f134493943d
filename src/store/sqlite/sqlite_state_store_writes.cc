// SqliteStateStore: the write methods, each one BEGIN IMMEDIATE transaction
// on the writer connection.
//
// Thread-safety: as sqlite_state_store.h. Every transaction runs under
// write_mu_; AcquireJob reads first on a pooled reader with no lock held
// (see there).
#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_reader.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {

using sqlite_internal::Db;
using sqlite_internal::Get;
using sqlite_internal::JobName;
using sqlite_internal::MustReadJob;
using sqlite_internal::Stmt;
using sqlite_internal::WriteTxn;
namespace sq = sqlite_internal;

namespace {

// Tasks CreateJobFrom asks its source for at a time.
constexpr size_t kCreateChunk = 64 * 1024;

}  // namespace

// ---------------------------------------------------------------------------
// Jobs.

StatusOr<int64_t> SqliteStateStore::CreateJobFrom(const JobRecord& job,
                                                  const TaskSource& source) {
  const int64_t first_next_id = std::max<int64_t>(job.next_task_id, 1);
  int64_t next_id = first_next_id;
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kInsertJobSql));
    s.Text(1, job.name)
        .Text(2, job.key)
        .Text(3, job.spec_yaml)
        .Int(4, static_cast<int>(job.state))
        .Int(5, job.created_ms)
        .Int(6, job.finished_ms)
        .Int(7, job.epoch)
        .Text(8, job.owner)
        .Int(9, job.heartbeat_ms)
        .Blob(10, job.result)
        .Int(11, first_next_id);
    int rc = s.StepRc();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      s.Reset();
      ASSIGN_OR_RETURN(Stmt find, Get(db, sq::kFindJobSql));
      find.Text(1, job.key);
      ASSIGN_OR_RETURN(bool row, find.Step());
      return AlreadyExistsError(
          "job key '" + job.key + "' already exists" +
          (row ? ": job " + std::to_string(find.ColInt(0)) : std::string()));
    }
    if (rc != SQLITE_DONE) return s.ErrorFor(rc);
  }
  const int64_t job_id = sqlite3_last_insert_rowid(db->raw());
  std::vector<TaskRecord> chunk;
  bool more = true;
  while (more) {
    chunk.clear();
    more = source(kCreateChunk, &chunk);
    RETURN_IF_ERROR(sq::ValidateTaskIds(chunk, &next_id));
    RETURN_IF_ERROR(sq::InsertTasks(db, job_id, chunk, /*new_job=*/true));
  }
  if (next_id != first_next_id) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kRaiseNextTaskIdSql));
    s.Int(1, next_id).Int(2, job_id);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  return job_id;
}

StatusOr<int64_t> SqliteStateStore::AcquireJob(
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
      ASSIGN_OR_RETURN(seen, MustReadJob(r.db(), job_id));
    }
    RETURN_IF_ERROR(
        store_errors::JudgeLease(seen, owner, now_ms, lease_ms, owner_alive));
    std::lock_guard<std::mutex> lock(write_mu_);
    Db* db = writer_.get();
    WriteTxn txn(db);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(JobRecord now, MustReadJob(db, job_id));
    if (store_errors::OwnershipChanged(seen, now)) {
      continue;  // changed under us: judge again
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kAcquireSql));
      RETURN_IF_ERROR(s.Int(1, job_id).Text(2, owner).Int(3, now_ms).Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return now.epoch + 1;
  }
  return UnavailableError(JobName(job_id) +
                          ": ownership keeps changing; try again");
}

Status SqliteStateStore::CancelJob(int64_t job_id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(JobRecord job, MustReadJob(db, job_id));
  if (IsTerminal(job.state)) return sq::AlreadyTerminal(job_id, job.state);
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCancelJobSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Int(2, now_ms).Run());
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCancelTasksSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Int(2, now_ms).Run());
  }
  return txn.Commit();
}

// ---------------------------------------------------------------------------
// Apply.

StatusOr<ApplyResult> SqliteStateStore::Apply(const WriteBatch& batch) {
  // next_task_id also covers the new tasks, so that "ids below next_task_id
  // are taken" holds even if the caller forgot to raise it.
  int64_t next_id = batch.next_task_id;
  RETURN_IF_ERROR(sq::ValidateTaskIds(batch.new_tasks, &next_id));
  const int64_t job_id = batch.job_id;

  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kJobEpochSql));
    ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
    if (!row) return sq::JobNotFound(job_id);
    const int64_t epoch = s.ColInt(0);
    if (epoch != batch.epoch) {
      return AbortedError(JobName(job_id) + ": epoch " +
                          std::to_string(batch.epoch) + " is stale (current " +
                          std::to_string(epoch) + ")");
    }
  }
  RETURN_IF_ERROR(
      sq::InsertTasks(db, job_id, batch.new_tasks, /*new_job=*/false));

  ApplyResult result;
  if (!batch.updates.empty()) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kUpdateTaskSql));
    for (const TaskUpdate& u : batch.updates) {
      s.Int(1, job_id)
          .Int(2, u.id)
          .Int(3, u.expected_attempt)
          .Int(4, static_cast<int>(u.state))
          .Int(5, u.attempt)
          .Text(6, u.worker)
          .Int(7, u.started_ms)
          .Int(8, u.finished_ms)
          .Int(9, u.not_before_ms)
          .Blob(10, u.result)
          .Text(11, u.error);
      RETURN_IF_ERROR(s.Run());
      // No row: stale attempt, cancelled, or deleted by a rerun.
      if (sqlite3_changes64(db->raw()) == 0) ++result.fenced;
    }
  }
  if (!batch.logs.empty()) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kInsertLogSql));
    for (const LogLine& l : batch.logs) {
      s.Int(1, job_id)
          .Int(2, l.task_id)
          .Int(3, l.attempt)
          .Int(4, l.ts_ms)
          .Int(5, l.level)
          .Text(6, l.line);
      RETURN_IF_ERROR(s.Run());
    }
  }
  if (!batch.outputs.empty()) {
    ASSIGN_OR_RETURN(Stmt del, Get(db, sq::kDeleteTaskOutputsSql));
    ASSIGN_OR_RETURN(Stmt ins, Get(db, sq::kInsertOutputSql));
    int64_t replaced = 0;  // the task whose old rows are already gone
    for (const OutputRecord& o : batch.outputs) {
      if (o.task_id != replaced) {
        RETURN_IF_ERROR(del.Int(1, job_id).Int(2, o.task_id).Run());
        replaced = o.task_id;
      }
      ins.Int(1, job_id)
          .Int(2, o.task_id)
          .Text(3, o.file.name)
          .Int(4, o.attempt)
          .Int(5, o.file.bytes)
          .Int(6, o.file.crc32);
      RETURN_IF_ERROR(ins.Run());
    }
  }
  if (batch.job_state || batch.job_finished_ms != 0 || batch.job_result ||
      next_id > 0 || batch.heartbeat_ms != 0) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kUpdateJobSql));
    s.Int(1, job_id);
    if (batch.job_state) {
      s.Int(2, static_cast<int>(*batch.job_state));
    } else {
      s.Null(2);
    }
    s.Int(3, batch.job_finished_ms);
    if (batch.job_result) {
      s.Blob(4, *batch.job_result);
    } else {
      s.Null(4);
    }
    s.Int(5, next_id).Int(6, batch.heartbeat_ms);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  return result;
}

// ---------------------------------------------------------------------------
// Rerun.
//
// Readings of the contract, as a durable job system needs them:
// - Rerunning a dispatched or running task is FailedPrecondition: a worker
//   may still report it, and the rerun would race that report.
// - A listed task that descends from another listed task is deleted, not
//   rerun (its ancestor's Map() will create it again), and is not counted.
// - When nothing is rerun (failed_only and no dead or failed task), neither
//   the reset stage nor the job changes: a succeeded job stays succeeded.
// - The epoch is not bumped (only AcquireJob and CancelJob bump it): a
//   master that reruns tasks of the job it drives keeps its epoch. Rerun of a
//   job that another live master drives should go through that master.
// - Descendants are found with a recursive CTE over a per-call indexed copy
//   of the job's (parent_id, id) pairs; a permanent index on parent_id would
//   cost every insert, and a CTE over the unindexed table is quadratic.

StatusOr<int64_t> SqliteStateStore::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids,
    const std::string& reset_stage) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(MustReadJob(db, job_id).status());
  RETURN_IF_ERROR(db->Exec(sq::kClearTempSql));
  if (failed_only) {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kAddFailedSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Run());
  } else {
    ASSIGN_OR_RETURN(Stmt state, Get(db, sq::kTaskStateSql));
    ASSIGN_OR_RETURN(Stmt add, Get(db, sq::kAddRerunIdSql));
    for (int64_t id : task_ids) {
      ASSIGN_OR_RETURN(bool row, state.Int(1, job_id).Int(2, id).Step());
      if (!row) return sq::TaskNotFound(job_id, id);
      ASSIGN_OR_RETURN(TaskState st, sq::DecodeTaskState(state.ColInt(0)));
      state.Reset();
      if (IsInFlight(st)) {
        return FailedPreconditionError(
            JobName(job_id) + ": task " + std::to_string(id) + " is " +
            std::string(TaskStateName(st)) +
            "; wait for it or cancel the job before rerunning it");
      }
      RETURN_IF_ERROR(add.Int(1, id).Run());
    }
  }

  bool has_children = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kHasChildrenSql));
    ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Step());
    has_children = row && s.ColInt(0) != 0;
  }
  if (has_children) {
    for (const char* sql :
         {sq::kFillTreeSql, sq::kFindDoomedSql, sq::kUndoomRerunSql,
          sq::kDeleteDoomedSql, sq::kDeleteDoomedLogsSql,
          sq::kDeleteDoomedOutputsSql}) {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sql));
      // Statements without ?1 ignore the binding (SQLITE_RANGE).
      RETURN_IF_ERROR(s.Int(1, job_id).Run());
    }
  }

  int64_t rerun = 0;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kCountRerunSql));
    ASSIGN_OR_RETURN(bool row, s.Step());
    rerun = row ? s.ColInt(0) : 0;
  }
  if (rerun > 0) {
    for (const char* sql : {sq::kResetRerunSql, sq::kDeleteRerunOutputsSql}) {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sql));
      RETURN_IF_ERROR(s.Int(1, job_id).Run());
    }
    if (!reset_stage.empty()) {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kResetStageSql));
      RETURN_IF_ERROR(s.Int(1, job_id).Text(2, reset_stage).Run());
    }
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kResetJobSql));
    RETURN_IF_ERROR(s.Int(1, job_id).Run());
  }
  RETURN_IF_ERROR(db->Exec(sq::kClearTempSql));
  RETURN_IF_ERROR(txn.Commit());
  return rerun;
}

}  // namespace taskgrid
