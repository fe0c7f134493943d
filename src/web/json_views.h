// The JSON shapes of jobs, tasks, log lines and workers: one place for what
// `taskgrid jobs|status|tasks|logs --json` prints and what the HTTP API
// (web/web_server.h, docs/api.md) returns, so both speak the same fields.
//
// Times are ISO 8601 UTC strings ("2026-11-21T10:40:00.123Z") or null when
// unset; optional strings are null when empty. Payloads, results, errors and
// log lines are arbitrary bytes: serialize with DumpJson, which replaces
// invalid UTF-8 with U+FFFD instead of throwing.
//
// Thread-safety: pure functions.
#ifndef TASKGRID_WEB_JSON_VIEWS_H_
#define TASKGRID_WEB_JSON_VIEWS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rpc/control.h"

namespace taskgrid {

// "2026-11-21T10:40:00.123Z", or null for 0.
nlohmann::json TimeJson(int64_t ms);
// {"pending": 3, "dispatched": 0, ...}: every state, zeros included.
nlohmann::json CountsJson(const TaskCounts& counts);
// id, name, key, state, tasks (total), counts, created, finished.
nlohmann::json JobJson(const JobRecord& job, const TaskCounts& counts);
// JobJson plus result, owner, epoch, heartbeat, spec (the YAML) and stages
// ([{"stage", "tasks", "counts"}] in the order of their first task).
nlohmann::json JobDetailJson(const JobStatus& st);
// id, stage (and "name", its older alias), state, attempt, worker, started,
// finished, duration_ms, result_size, error, parent, payload.
nlohmann::json TaskJson(const TaskRecord& t);
// attempt, time, level ("INFO", "WARN", "ERROR"), line.
nlohmann::json LogLineJson(const LogLine& l);
// The task's log grouped by attempt, oldest first: one entry per attempt
// from 1 to the task's current attempt (and any other attempt that has log
// lines), each {"attempt", "current", "logs": [...]}; the current attempt
// also carries worker, started, finished, duration_ms and error.
nlohmann::json AttemptsJson(const TaskRecord& t,
                            const std::vector<LogLine>& logs);
// id, host, pid, slots, last_seen, running.
nlohmann::json WorkerJson(const WorkerStatus& w);
// {"leader": {...}, "workers": [...], "active_jobs": [...]}.
nlohmann::json ClusterJson(const ClusterStatus& c);

// j.dump(indent), with invalid UTF-8 replaced (never throws on bytes).
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace taskgrid

#endif  // TASKGRID_WEB_JSON_VIEWS_H_
