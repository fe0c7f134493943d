// PostgresStateStore::RerunTasks: one transaction on the writer connection.
//
// Readings of the contract, as SqliteStateStore has them:
// - Rerunning a dispatched or running task is FailedPrecondition: a worker
//   may still report it, and the rerun would race that report.
// - A listed task that descends from another listed task is deleted, not
//   rerun (its ancestor's Map() will create it again), and is not counted.
// - When nothing is rerun (failed_only and no dead or failed task), neither
//   the reset stage nor the job changes: a succeeded job stays succeeded.
// - The epoch is not bumped (only AcquireJob and CancelJob bump it).
// - Descendants are found in memory from the job's (parent, child) pairs,
//   read in one query: there is no index on parent_id (every insert would
//   pay for it), and a recursive query without one scans the job once per
//   level.
//
// Thread-safety: as pg_state_store.h; the transaction runs under write_mu_.
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/status_macros.h"
#include "store/postgres/pg_batch.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_state_store.h"

namespace taskgrid {

using pg_internal::ArrayBuilder;
using pg_internal::Conn;
using pg_internal::JobName;
using pg_internal::Params;
using pg_internal::Result;
using pg_internal::Txn;
namespace pg = pg_internal;

namespace {

Params JobAndIds(int64_t job_id, const std::vector<int64_t>& ids) {
  ArrayBuilder a(pg::kInt8Oid);
  for (int64_t id : ids) a.Int8(id);
  Params p;
  p.Int8(job_id).Array(pg::kInt8ArrayOid, a.Finish());
  return p;
}

// The ids to rerun: the job's dead and failed tasks, or the listed ones
// (each once, in list order), checked to exist and not be in flight.
StatusOr<std::vector<int64_t>> RerunIds(Conn* conn, int64_t job_id,
                                        bool failed_only,
                                        const std::vector<int64_t>& task_ids) {
  std::vector<int64_t> ids;
  if (failed_only) {
    Params p;
    p.Int8(job_id);
    ASSIGN_OR_RETURN(Result r, conn->Exec(pg::kFailedIdsSql, p));
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.Int(i, 0));
    return ids;
  }
  ASSIGN_OR_RETURN(Result r,
                   conn->Exec(pg::kTaskStatesSql, JobAndIds(job_id, task_ids)));
  std::unordered_map<int64_t, int64_t> state_of;
  for (int i = 0; i < r.rows(); ++i) state_of[r.Int(i, 0)] = r.Int(i, 1);
  std::unordered_set<int64_t> added;
  for (int64_t id : task_ids) {
    auto it = state_of.find(id);
    if (it == state_of.end()) return pg::TaskNotFound(job_id, id);
    ASSIGN_OR_RETURN(TaskState st, pg::DecodeTaskState(it->second));
    if (IsInFlight(st)) {
      return FailedPreconditionError(
          JobName(job_id) + ": task " + std::to_string(id) + " is " +
          std::string(TaskStateName(st)) +
          "; wait for it or cancel the job before rerunning it");
    }
    if (added.insert(id).second) ids.push_back(id);
  }
  return ids;
}

// Strict descendants of `roots`, from the job's (parent, child) pairs.
StatusOr<std::vector<int64_t>> Descendants(Conn* conn, int64_t job_id,
                                           const std::vector<int64_t>& roots) {
  std::vector<std::pair<int64_t, int64_t>> edges;  // (parent, child)
  {
    Params p;
    p.Int8(job_id);
    RETURN_IF_ERROR(
        conn->Stream(pg::kTreeSql, p, [&](const Result& r, int i) -> Status {
          edges.emplace_back(r.Int(i, 0), r.Int(i, 1));
          return OkStatus();
        }));
  }
  std::sort(edges.begin(), edges.end());
  std::vector<int64_t> found;
  std::unordered_set<int64_t> seen;  // ends even if bad data held a cycle
  std::vector<int64_t> frontier = roots;
  while (!frontier.empty()) {
    const int64_t parent = frontier.back();
    frontier.pop_back();
    auto it = std::lower_bound(edges.begin(), edges.end(),
                               std::make_pair(parent, INT64_MIN));
    for (; it != edges.end() && it->first == parent; ++it) {
      if (seen.insert(it->second).second) {
        found.push_back(it->second);
        frontier.push_back(it->second);
      }
    }
  }
  return found;
}

}  // namespace

StatusOr<int64_t> PostgresStateStore::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids,
    const std::string& reset_stage) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn* conn = writer_.get();
  Txn txn(conn);
  RETURN_IF_ERROR(txn.Begin());
  RETURN_IF_ERROR(pg::MustReadJob(conn, job_id, /*lock=*/true).status());
  ASSIGN_OR_RETURN(std::vector<int64_t> rerun,
                   RerunIds(conn, job_id, failed_only, task_ids));

  bool has_children = false;
  if (!rerun.empty()) {
    ASSIGN_OR_RETURN(Result r,
                     conn->Exec(pg::kHasChildrenSql, JobAndIds(job_id, rerun)));
    has_children = r.rows() == 1 && r.Int(0, 0) != 0;
  }
  if (has_children) {
    ASSIGN_OR_RETURN(std::vector<int64_t> doomed,
                     Descendants(conn, job_id, rerun));
    // A listed task that descends from another is deleted, not rerun.
    const std::unordered_set<int64_t> doomed_set(doomed.begin(), doomed.end());
    std::erase_if(rerun, [&](int64_t id) { return doomed_set.count(id) > 0; });
    for (const char* sql :
         {pg::kDeleteTasksSql, pg::kDeleteLogsSql, pg::kDeleteOutputsSql}) {
      RETURN_IF_ERROR(pg::RunWithIds(conn, sql, job_id, doomed));
    }
  }

  if (!rerun.empty()) {
    RETURN_IF_ERROR(pg::RunWithIds(conn, pg::kResetTasksSql, job_id, rerun));
    RETURN_IF_ERROR(pg::RunWithIds(conn, pg::kDeleteOutputsSql, job_id, rerun));
    Params p;
    p.Int8(job_id);
    if (!reset_stage.empty()) {
      Params s;
      s.Int8(job_id).Text(reset_stage);
      RETURN_IF_ERROR(conn->Exec(pg::kResetStageSql, s).status());
    }
    RETURN_IF_ERROR(conn->Exec(pg::kResetJobSql, p).status());
  }
  RETURN_IF_ERROR(txn.Commit());
  return static_cast<int64_t>(rerun.size());
}

}  // namespace taskgrid
