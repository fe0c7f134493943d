// The bulk writes of PostgresStateStore (see pg_batch.h).
//
// Thread-safety: as pg_batch.h; no state of its own.
#include "store/postgres/pg_batch.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/status_macros.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"

namespace taskgrid {
namespace pg_internal {
namespace {

// Calls fn(begin, end) for consecutive index ranges of at most
// kRowsPerStatement covering [0, n).
template <typename Fn>
Status ForEachChunk(size_t n, Fn fn) {
  for (size_t begin = 0; begin < n; begin += kRowsPerStatement) {
    RETURN_IF_ERROR(fn(begin, std::min(n, begin + kRowsPerStatement)));
  }
  return OkStatus();
}

// The columns of tasks after job_id, as arrays (kInsertTasksSql $2..$14).
struct TaskArrays {
  ArrayBuilder id{kInt8Oid}, parent_id{kInt8Oid}, stage{kTextOid},
      payload{kByteaOid}, state{kInt4Oid}, attempt{kInt4Oid},
      attempt_base{kInt4Oid}, worker{kTextOid}, started_ms{kInt8Oid},
      finished_ms{kInt8Oid}, not_before_ms{kInt8Oid}, result{kByteaOid},
      error{kTextOid};

  void Add(const TaskRecord& t) {
    id.Int8(t.id);
    parent_id.Int8(t.parent_id);
    stage.Bytes(t.stage);
    payload.Bytes(t.payload);
    state.Int4(static_cast<int>(t.state));
    attempt.Int4(t.attempt);
    attempt_base.Int4(t.attempt_base);
    worker.Bytes(t.worker);
    started_ms.Int8(t.started_ms);
    finished_ms.Int8(t.finished_ms);
    not_before_ms.Int8(t.not_before_ms);
    result.Bytes(t.result);
    error.Bytes(ValidUtf8(t.error));
  }
  void AddTo(Params* p) {
    p->Array(kInt8ArrayOid, id.Finish())
        .Array(kInt8ArrayOid, parent_id.Finish())
        .Array(kTextArrayOid, stage.Finish())
        .Array(kByteaArrayOid, payload.Finish())
        .Array(kInt4ArrayOid, state.Finish())
        .Array(kInt4ArrayOid, attempt.Finish())
        .Array(kInt4ArrayOid, attempt_base.Finish())
        .Array(kTextArrayOid, worker.Finish())
        .Array(kInt8ArrayOid, started_ms.Finish())
        .Array(kInt8ArrayOid, finished_ms.Finish())
        .Array(kInt8ArrayOid, not_before_ms.Finish())
        .Array(kByteaArrayOid, result.Finish())
        .Array(kTextArrayOid, error.Finish());
  }
};

void CopyTaskRow(CopyIn* copy, int64_t job_id, const TaskRecord& t) {
  copy->Row(kTaskColumns);
  copy->Int8(job_id);
  copy->Int8(t.id);
  copy->Int8(t.parent_id);
  copy->Bytes(t.stage);
  copy->Bytes(t.payload);
  copy->Int4(static_cast<int>(t.state));
  copy->Int4(t.attempt);
  copy->Int4(t.attempt_base);
  copy->Bytes(t.worker);
  copy->Int8(t.started_ms);
  copy->Int8(t.finished_ms);
  copy->Int8(t.not_before_ms);
  copy->Bytes(t.result);
  copy->Bytes(ValidUtf8(t.error));
}

std::string Ids(const std::vector<TaskRecord>& tasks) {
  ArrayBuilder ids(kInt8Oid);
  for (const TaskRecord& t : tasks) ids.Int8(t.id);
  return ids.Finish();
}

// The first task (in list order) whose id is in `taken` or repeats an
// earlier task of the list; 0 if none.
int64_t FirstDuplicate(const std::vector<TaskRecord>& tasks,
                       const std::unordered_set<int64_t>& taken) {
  std::unordered_set<int64_t> seen;
  seen.reserve(tasks.size());
  for (const TaskRecord& t : tasks) {
    if (taken.count(t.id) > 0 || !seen.insert(t.id).second) return t.id;
  }
  return 0;
}

}  // namespace

Status CopyTasks(Conn* conn, int64_t job_id,
                 const std::vector<TaskRecord>& tasks, bool first) {
  if (tasks.empty()) return OkStatus();
  // One savepoint at a time (released before the next), so a job of many
  // chunks does not pile up subtransactions.
  RETURN_IF_ERROR(conn->Simple(first ? "SAVEPOINT tg_chunk"
                                     : "RELEASE SAVEPOINT tg_chunk; "
                                       "SAVEPOINT tg_chunk")
                      .status());
  Status copied;
  {
    CopyIn copy(conn);
    copied = copy.Start(kCopyTasksSql);
    for (size_t i = 0; copied.ok() && i < tasks.size(); ++i) {
      CopyTaskRow(&copy, job_id, tasks[i]);
      copied = copy.MaybeFlush();
    }
    if (copied.ok()) copied = copy.Finish();
  }
  if (copied.code() != StatusCode::kAlreadyExists) return copied;
  // A duplicate id, in this chunk or against an earlier one: find the
  // first, as a row-at-a-time insert would have.
  RETURN_IF_ERROR(conn->Simple("ROLLBACK TO SAVEPOINT tg_chunk").status());
  Params p;
  p.Int8(job_id).Array(kInt8ArrayOid, Ids(tasks));
  ASSIGN_OR_RETURN(Result r, conn->Exec(kTaskStatesSql, p));
  std::unordered_set<int64_t> taken;
  for (int i = 0; i < r.rows(); ++i) taken.insert(r.Int(i, 0));
  const int64_t dup = FirstDuplicate(tasks, taken);
  if (dup == 0) return copied;
  return InvalidArgumentError(JobName(job_id) + ": task id " +
                              std::to_string(dup) + " is given twice");
}

Status InsertTasks(Conn* conn, int64_t job_id,
                   const std::vector<TaskRecord>& tasks) {
  return ForEachChunk(tasks.size(), [&](size_t begin, size_t end) -> Status {
    TaskArrays a;
    for (size_t i = begin; i < end; ++i) a.Add(tasks[i]);
    Params p;
    p.Int8(job_id);
    a.AddTo(&p);
    ASSIGN_OR_RETURN(Result r, conn->Exec(kInsertTasksSql, p));
    if (static_cast<size_t>(r.rows()) == end - begin) return OkStatus();
    // Some ids were taken (ON CONFLICT DO NOTHING skipped them): the first
    // task of the chunk whose id did not come back as inserted.
    std::unordered_multiset<int64_t> inserted;
    for (int i = 0; i < r.rows(); ++i) inserted.insert(r.Int(i, 0));
    for (size_t i = begin; i < end; ++i) {
      auto it = inserted.find(tasks[i].id);
      if (it != inserted.end()) {
        inserted.erase(it);
        continue;
      }
      return AlreadyExistsError(JobName(job_id) + ": task id " +
                                std::to_string(tasks[i].id) +
                                " already exists");
    }
    return InternalError(JobName(job_id) + ": inserted tasks do not add up");
  });
}

StatusOr<int64_t> UpdateTasks(Conn* conn, int64_t job_id,
                              const std::vector<TaskUpdate>& updates) {
  // Round r holds the (r+1)-th update of each task.
  std::vector<std::vector<size_t>> rounds(1);
  {
    std::unordered_map<int64_t, size_t> seen;
    seen.reserve(updates.size());
    for (size_t i = 0; i < updates.size(); ++i) {
      const size_t r = seen[updates[i].id]++;
      if (r >= rounds.size()) rounds.resize(r + 1);
      rounds[r].push_back(i);
    }
  }
  int64_t applied = 0;
  for (const std::vector<size_t>& round : rounds) {
    RETURN_IF_ERROR(
        ForEachChunk(round.size(), [&](size_t begin, size_t end) -> Status {
          ArrayBuilder id(kInt8Oid), expected(kInt4Oid), state(kInt4Oid),
              attempt(kInt4Oid), worker(kTextOid), started(kInt8Oid),
              finished(kInt8Oid), not_before(kInt8Oid), result(kByteaOid),
              error(kTextOid);
          for (size_t k = begin; k < end; ++k) {
            const TaskUpdate& u = updates[round[k]];
            id.Int8(u.id);
            expected.Int4(u.expected_attempt);
            state.Int4(static_cast<int>(u.state));
            attempt.Int4(u.attempt);
            worker.Bytes(u.worker);
            started.Int8(u.started_ms);
            finished.Int8(u.finished_ms);
            not_before.Int8(u.not_before_ms);
            result.Bytes(u.result);
            error.Bytes(ValidUtf8(u.error));
          }
          Params p;
          p.Int8(job_id)
              .Array(kInt8ArrayOid, id.Finish())
              .Array(kInt4ArrayOid, expected.Finish())
              .Array(kInt4ArrayOid, state.Finish())
              .Array(kInt4ArrayOid, attempt.Finish())
              .Array(kTextArrayOid, worker.Finish())
              .Array(kInt8ArrayOid, started.Finish())
              .Array(kInt8ArrayOid, finished.Finish())
              .Array(kInt8ArrayOid, not_before.Finish())
              .Array(kByteaArrayOid, result.Finish())
              .Array(kTextArrayOid, error.Finish());
          ASSIGN_OR_RETURN(Result r, conn->Exec(kUpdateTasksSql, p));
          applied += r.Affected();
          return OkStatus();
        }));
  }
  // Not applied: stale attempt, cancelled, or deleted by a rerun.
  return static_cast<int64_t>(updates.size()) - applied;
}

Status InsertLogs(Conn* conn, int64_t job_id,
                  const std::vector<LogLine>& logs) {
  return ForEachChunk(logs.size(), [&](size_t begin, size_t end) -> Status {
    ArrayBuilder task(kInt8Oid), attempt(kInt4Oid), ts(kInt8Oid),
        level(kInt4Oid), line(kByteaOid);
    for (size_t i = begin; i < end; ++i) {
      task.Int8(logs[i].task_id);
      attempt.Int4(logs[i].attempt);
      ts.Int8(logs[i].ts_ms);
      level.Int4(logs[i].level);
      line.Bytes(logs[i].line);
    }
    Params p;
    p.Int8(job_id)
        .Array(kInt8ArrayOid, task.Finish())
        .Array(kInt4ArrayOid, attempt.Finish())
        .Array(kInt8ArrayOid, ts.Finish())
        .Array(kInt4ArrayOid, level.Finish())
        .Array(kByteaArrayOid, line.Finish());
    return conn->Exec(kInsertLogsSql, p).status();
  });
}

Status ReplaceOutputs(Conn* conn, int64_t job_id,
                      const std::vector<OutputRecord>& outputs) {
  if (outputs.empty()) return OkStatus();
  // Runs of consecutive records of one task; only each task's last run
  // survives (a later run deletes what the earlier one wrote).
  struct Run {
    size_t begin, end;
  };
  std::vector<Run> runs;
  std::unordered_map<int64_t, size_t> last_run;  // task -> index in runs
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (runs.empty() || outputs[i].task_id != outputs[i - 1].task_id) {
      runs.push_back({i, i});
    }
    runs.back().end = i + 1;
    last_run[outputs[i].task_id] = runs.size() - 1;
  }
  std::vector<int64_t> tasks;
  std::vector<size_t> keep;  // indices into outputs
  for (size_t r = 0; r < runs.size(); ++r) {
    const int64_t task = outputs[runs[r].begin].task_id;
    if (last_run[task] != r) continue;
    tasks.push_back(task);
    std::unordered_map<std::string_view, size_t> by_name;  // last wins
    for (size_t i = runs[r].begin; i < runs[r].end; ++i) {
      by_name[outputs[i].file.name] = i;
    }
    for (size_t i = runs[r].begin; i < runs[r].end; ++i) {
      if (by_name[outputs[i].file.name] == i) keep.push_back(i);
    }
  }
  RETURN_IF_ERROR(RunWithIds(conn, kDeleteOutputsSql, job_id, tasks));
  return ForEachChunk(keep.size(), [&](size_t begin, size_t end) -> Status {
    ArrayBuilder task(kInt8Oid), name(kTextOid), attempt(kInt4Oid),
        bytes(kInt8Oid), crc(kInt8Oid);
    for (size_t k = begin; k < end; ++k) {
      const OutputRecord& o = outputs[keep[k]];
      task.Int8(o.task_id);
      name.Bytes(o.file.name);
      attempt.Int4(o.attempt);
      bytes.Int8(o.file.bytes);
      crc.Int8(o.file.crc32);
    }
    Params p;
    p.Int8(job_id)
        .Array(kInt8ArrayOid, task.Finish())
        .Array(kTextArrayOid, name.Finish())
        .Array(kInt4ArrayOid, attempt.Finish())
        .Array(kInt8ArrayOid, bytes.Finish())
        .Array(kInt8ArrayOid, crc.Finish());
    return conn->Exec(kInsertOutputsSql, p).status();
  });
}

Status RunWithIds(Conn* conn, const char* sql, int64_t job_id,
                  const std::vector<int64_t>& ids) {
  // Chunks of ten times as many rows: an id is small.
  constexpr size_t kIdsPerStatement = 10 * kRowsPerStatement;
  for (size_t begin = 0; begin < ids.size(); begin += kIdsPerStatement) {
    ArrayBuilder a(kInt8Oid);
    const size_t end = std::min(ids.size(), begin + kIdsPerStatement);
    for (size_t i = begin; i < end; ++i) a.Int8(ids[i]);
    Params p;
    p.Int8(job_id).Array(kInt8ArrayOid, a.Finish());
    RETURN_IF_ERROR(conn->Exec(sql, p).status());
  }
  return OkStatus();
}

}  // namespace pg_internal
}  // namespace taskgrid
