// SqliteStateStore: the read methods, each on a read connection borrowed
// from the pool (WAL readers block neither the writer nor each other).
//
// The job-scoped task reads return NotFound for an unknown job rather than
// an empty answer (checked only when the answer is empty, so it costs
// nothing otherwise; jobs are never deleted).
//
// Thread-safety: as sqlite_state_store.h. Each call holds its own Reader
// and no lock while it reads, so a ForEach* callback may call back into the
// store.
#include <optional>
#include <utility>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_reader.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {

using sqlite_internal::CheckJobExists;
using sqlite_internal::Get;
using sqlite_internal::Stmt;
namespace sq = sqlite_internal;

// ---------------------------------------------------------------------------
// Jobs.

StatusOr<JobRecord> SqliteStateStore::GetJob(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  return sq::MustReadJob(r.db(), job_id);
}

StatusOr<std::optional<JobRecord>> SqliteStateStore::FindJobByKey(
    const std::string& key) {
  if (key.empty()) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kFindJobSql));
  s.Text(1, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(JobRecord j, sq::ReadJobRow(s));
  return std::optional<JobRecord>(std::move(j));
}

StatusOr<std::vector<JobRecord>> SqliteStateStore::ListJobs(int64_t limit) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kListJobsSql));
  s.Int(1, limit > 0 ? limit : -1);
  std::vector<JobRecord> jobs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord j, sq::ReadJobRow(s));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// ---------------------------------------------------------------------------
// Tasks and logs.

StatusOr<TaskRecord> SqliteStateStore::GetTask(int64_t job_id,
                                               int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kGetTaskSql));
  ASSIGN_OR_RETURN(bool row, s.Int(1, job_id).Int(2, task_id).Step());
  if (!row) {
    RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
    return sq::TaskNotFound(job_id, task_id);
  }
  return sq::ReadTaskRow(s);
}

StatusOr<std::vector<TaskRecord>> SqliteStateStore::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  std::vector<TaskRecord> tasks;
  {
    const bool unhealthy =
        filter.state == TaskState::kFailed || filter.state == TaskState::kDead;
    const bool by_id = filter.order == TaskOrder::kId;
    ASSIGN_OR_RETURN(
        Stmt s,
        Get(r.db(),
            sq::kListTasksSql[static_cast<int>(filter.order)][unhealthy]));
    s.Int(1, job_id).Int(2, by_id ? filter.after_id : filter.offset);
    if (filter.state) {
      s.Int(3, static_cast<int>(*filter.state));
    } else {
      s.Null(3);
    }
    if (filter.stage) {
      s.Text(4, *filter.stage);
    } else {
      s.Null(4);
    }
    s.Int(5, filter.limit > 0 ? filter.limit : -1);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskRecord t, sq::ReadTaskRow(s));
      tasks.push_back(std::move(t));
    }
  }
  if (tasks.empty()) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return tasks;
}

StatusOr<TaskCounts> SqliteStateStore::CountTasks(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  TaskCounts counts{};
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kCountTasksSql));
    s.Int(1, job_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskState state, sq::DecodeTaskState(s.ColInt(0)));
      counts[static_cast<size_t>(state)] = s.ColInt(1);
      any = true;
    }
  }
  if (!any) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return counts;
}

StatusOr<std::vector<StageCounts>> SqliteStateStore::CountTasksByStage(
    int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  StageCountsBuilder counts;
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kCountByStageSql));
    s.Int(1, job_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskState state, sq::DecodeTaskState(s.ColInt(1)));
      counts.Add(s.ColStr(0), state, s.ColInt(2), s.ColInt(3));
      any = true;
    }
  }
  if (!any) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return counts.Finish();
}

Status SqliteStateStore::ForEachUnfinishedTask(
    int64_t job_id, const std::function<void(TaskRecord&&)>& fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kUnfinishedSql));
    s.Int(1, job_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskRecord t, sq::ReadTaskRow(s));
      any = true;
      fn(std::move(t));
    }
  }
  return any ? OkStatus() : CheckJobExists(r.db(), job_id);
}

Status SqliteStateStore::StreamTaskColumn(
    const char* sql, int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sql));
    s.Int(1, job_id).Text(2, exclude_stage);
    std::string stage;
    std::string value;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      any = true;
      stage = s.ColStr(1);
      value = s.ColStr(2);
      fn(s.ColInt(0), stage, value);
    }
  }
  return any ? OkStatus() : CheckJobExists(r.db(), job_id);
}

Status SqliteStateStore::ForEachResult(
    int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  return StreamTaskColumn(sq::kResultsSql, job_id, exclude_stage, fn);
}

Status SqliteStateStore::ForEachPayload(
    int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  return StreamTaskColumn(sq::kPayloadsSql, job_id, exclude_stage, fn);
}

Status SqliteStateStore::ForEachOutput(
    int64_t job_id,
    const std::function<void(const OutputRecord&, const std::string&)>& fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  bool any = false;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kOutputsSql));
    s.Int(1, job_id);
    OutputRecord o;
    std::string payload;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      any = true;
      o.task_id = s.ColInt(0);
      o.attempt = static_cast<int32_t>(s.ColInt(1));
      o.file.name = s.ColStr(2);
      o.file.bytes = s.ColInt(3);
      o.file.crc32 = static_cast<uint32_t>(s.ColInt(4));
      payload = s.ColStr(5);
      fn(o, payload);
    }
  }
  return any ? OkStatus() : CheckJobExists(r.db(), job_id);
}

StatusOr<std::vector<LogLine>> SqliteStateStore::GetLogs(int64_t job_id,
                                                         int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  std::vector<LogLine> lines;
  {
    ASSIGN_OR_RETURN(Stmt s, Get(r.db(), sq::kGetLogsSql));
    s.Int(1, job_id).Int(2, task_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      LogLine l;
      l.task_id = s.ColInt(0);
      l.attempt = static_cast<int32_t>(s.ColInt(1));
      l.ts_ms = s.ColInt(2);
      l.level = static_cast<int>(s.ColInt(3));
      l.line = s.ColStr(4);
      lines.push_back(std::move(l));
    }
  }
  if (lines.empty()) RETURN_IF_ERROR(CheckJobExists(r.db(), job_id));
  return lines;
}

}  // namespace taskgrid
