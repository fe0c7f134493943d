// PostgresStateStore: the read methods, each on a read connection borrowed
// from the pool, outside any transaction (each statement reads its own
// snapshot).
//
// The job-scoped task reads return NotFound for an unknown job rather than
// an empty answer (checked only when the answer is empty, so it costs
// nothing otherwise; jobs are never deleted).
//
// Thread-safety: as pg_state_store.h. Each call holds its own Reader and no
// lock while it reads, so a ForEach* callback may call back into the store.
#include <optional>
#include <utility>

#include "core/status_macros.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_reader.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_state_store.h"

namespace taskgrid {

using pg_internal::CheckJobExists;
using pg_internal::kInt4Oid;
using pg_internal::kInt8Oid;
using pg_internal::kTextOid;
using pg_internal::Params;
using pg_internal::Result;
namespace pg = pg_internal;

// ---------------------------------------------------------------------------
// Jobs.

StatusOr<JobRecord> PostgresStateStore::GetJob(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  return pg::MustReadJob(r.conn(), job_id, /*lock=*/false);
}

StatusOr<std::optional<JobRecord>> PostgresStateStore::FindJobByKey(
    const std::string& key) {
  if (key.empty()) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Text(key);
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kFindJobSql, p));
  if (res.rows() == 0) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(JobRecord j, pg::ReadJobRow(res, 0));
  return std::optional<JobRecord>(std::move(j));
}

StatusOr<std::vector<JobRecord>> PostgresStateStore::ListJobs(int64_t limit) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  if (limit > 0) {
    p.Int8(limit);
  } else {
    p.Null(kInt8Oid);  // LIMIT NULL: all
  }
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kListJobsSql, p));
  std::vector<JobRecord> jobs;
  jobs.reserve(static_cast<size_t>(res.rows()));
  for (int i = 0; i < res.rows(); ++i) {
    ASSIGN_OR_RETURN(JobRecord j, pg::ReadJobRow(res, i));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// ---------------------------------------------------------------------------
// Tasks and logs.

StatusOr<TaskRecord> PostgresStateStore::GetTask(int64_t job_id,
                                                 int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id).Int8(task_id);
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kGetTaskSql, p));
  if (res.rows() == 0) {
    RETURN_IF_ERROR(CheckJobExists(r.conn(), job_id));
    return pg::TaskNotFound(job_id, task_id);
  }
  return pg::ReadTaskRow(res, 0);
}

StatusOr<std::vector<TaskRecord>> PostgresStateStore::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  const bool unhealthy =
      filter.state == TaskState::kFailed || filter.state == TaskState::kDead;
  const bool by_id = filter.order == TaskOrder::kId;
  Params p;
  p.Int8(job_id).Int8(by_id ? filter.after_id : filter.offset);
  if (filter.state) {
    p.Int4(static_cast<int>(*filter.state));
  } else {
    p.Null(kInt4Oid);
  }
  if (filter.stage) {
    p.Text(*filter.stage);
  } else {
    p.Null(kTextOid);
  }
  if (filter.limit > 0) {
    p.Int8(filter.limit);
  } else {
    p.Null(kInt8Oid);
  }
  std::vector<TaskRecord> tasks;
  RETURN_IF_ERROR(r.conn()->Stream(
      pg::kListTasksSql[static_cast<int>(filter.order)][unhealthy], p,
      [&](const Result& res, int i) -> Status {
        ASSIGN_OR_RETURN(TaskRecord t, pg::ReadTaskRow(res, i));
        tasks.push_back(std::move(t));
        return OkStatus();
      }));
  if (tasks.empty()) RETURN_IF_ERROR(CheckJobExists(r.conn(), job_id));
  return tasks;
}

StatusOr<TaskCounts> PostgresStateStore::CountTasks(int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id);
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kCountTasksSql, p));
  TaskCounts counts{};
  for (int i = 0; i < res.rows(); ++i) {
    ASSIGN_OR_RETURN(TaskState state, pg::DecodeTaskState(res.Int(i, 0)));
    counts[static_cast<size_t>(state)] = res.Int(i, 1);
  }
  if (res.rows() == 0) RETURN_IF_ERROR(CheckJobExists(r.conn(), job_id));
  return counts;
}

StatusOr<std::vector<StageCounts>> PostgresStateStore::CountTasksByStage(
    int64_t job_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id);
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kCountByStageSql, p));
  StageCountsBuilder counts;
  for (int i = 0; i < res.rows(); ++i) {
    ASSIGN_OR_RETURN(TaskState state, pg::DecodeTaskState(res.Int(i, 1)));
    counts.Add(res.Str(i, 0), state, res.Int(i, 2), res.Int(i, 3));
  }
  if (res.rows() == 0) RETURN_IF_ERROR(CheckJobExists(r.conn(), job_id));
  return counts.Finish();
}

Status PostgresStateStore::ForEachUnfinishedTask(
    int64_t job_id, const std::function<void(TaskRecord&&)>& fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id);
  bool any = false;
  RETURN_IF_ERROR(r.conn()->Stream(
      pg::kUnfinishedSql, p, [&](const Result& res, int i) -> Status {
        ASSIGN_OR_RETURN(TaskRecord t, pg::ReadTaskRow(res, i));
        any = true;
        fn(std::move(t));
        return OkStatus();
      }));
  return any ? OkStatus() : CheckJobExists(r.conn(), job_id);
}

Status PostgresStateStore::StreamTaskColumn(
    const char* sql, int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id).Text(exclude_stage);
  bool any = false;
  std::string stage;
  std::string value;
  RETURN_IF_ERROR(
      r.conn()->Stream(sql, p, [&](const Result& res, int i) -> Status {
        any = true;
        stage = res.Str(i, 1);
        value = res.Str(i, 2);
        fn(res.Int(i, 0), stage, value);
        return OkStatus();
      }));
  return any ? OkStatus() : CheckJobExists(r.conn(), job_id);
}

Status PostgresStateStore::ForEachResult(
    int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  return StreamTaskColumn(pg::kResultsSql, job_id, exclude_stage, fn);
}

Status PostgresStateStore::ForEachPayload(
    int64_t job_id, const std::string& exclude_stage,
    const std::function<void(int64_t, const std::string&, const std::string&)>&
        fn) {
  return StreamTaskColumn(pg::kPayloadsSql, job_id, exclude_stage, fn);
}

Status PostgresStateStore::ForEachOutput(
    int64_t job_id,
    const std::function<void(const OutputRecord&, const std::string&)>& fn) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id);
  bool any = false;
  OutputRecord o;
  std::string payload;
  RETURN_IF_ERROR(r.conn()->Stream(
      pg::kOutputsSql, p, [&](const Result& res, int i) -> Status {
        any = true;
        o.task_id = res.Int(i, 0);
        o.attempt = static_cast<int32_t>(res.Int(i, 1));
        o.file.name = res.Str(i, 2);
        o.file.bytes = res.Int(i, 3);
        o.file.crc32 = static_cast<uint32_t>(res.Int(i, 4));
        payload = res.Str(i, 5);
        fn(o, payload);
        return OkStatus();
      }));
  return any ? OkStatus() : CheckJobExists(r.conn(), job_id);
}

StatusOr<std::vector<LogLine>> PostgresStateStore::GetLogs(int64_t job_id,
                                                           int64_t task_id) {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  Params p;
  p.Int8(job_id).Int8(task_id);
  ASSIGN_OR_RETURN(Result res, r.conn()->Exec(pg::kGetLogsSql, p));
  std::vector<LogLine> lines;
  lines.reserve(static_cast<size_t>(res.rows()));
  for (int i = 0; i < res.rows(); ++i) {
    LogLine l;
    l.task_id = res.Int(i, 0);
    l.attempt = static_cast<int32_t>(res.Int(i, 1));
    l.ts_ms = res.Int(i, 2);
    l.level = static_cast<int>(res.Int(i, 3));
    l.line = res.Str(i, 4);
    lines.push_back(std::move(l));
  }
  if (lines.empty()) RETURN_IF_ERROR(CheckJobExists(r.conn(), job_id));
  return lines;
}

}  // namespace taskgrid
