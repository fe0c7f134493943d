// Small helpers shared by the CLI commands.
#ifndef TASKGRID_CLI_CLI_UTIL_H_
#define TASKGRID_CLI_CLI_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "rpc/control.h"
#include "store/state_store.h"
#include "taskgrid/job_spec.h"
#include "taskgrid/status.h"

namespace taskgrid {

// Whether `s` is a PostgreSQL URL (postgresql://... or postgres://...).
bool IsPostgresUrl(const std::string& s);
// Opens the SQLite state file; prints the error and returns nullptr.
std::unique_ptr<StateStore> OpenStoreOrPrint(const std::string& path);
// The ControlService of the cluster (o.remote enabled) or of the local
// state file; prints the error and returns nullptr.
std::unique_ptr<ControlService> OpenControlOrPrint(const CommonOptions& o);

// The job that runs the stage after job `job_id` in a chain (0 if none):
// the job with its key. It was made after `job_id`, so it is among the
// newest 1000 jobs unless more than that came since; then all jobs are
// listed (the control interface has no lookup by key).
StatusOr<int64_t> FindNextStage(ControlService* control, int64_t job_id);
// Reads and parses the job spec at `path`; prints the error (naming the
// file, line and column) and returns nullopt if either fails.
// --memory SIZE: the memory budget of every shuffle stage of `spec` ("" =
// keep the spec's). False (error printed) for a bad size or a spec with no
// shuffle stage.
bool ApplyMemoryOrPrint(const std::string& memory, JobSpec* spec);

std::optional<JobSpec> ReadSpecOrPrint(const std::string& path);
// The cluster token from `path` (first line, surrounding blanks removed).
StatusOr<std::string> ReadTokenFile(const std::string& path);
// "2026-11-21T10:40:00.123Z"; "" for 0.
std::string FormatTime(int64_t ms);
// "1.25 s", "3m05s", "850 ms".
std::string FormatDuration(int64_t ms);
// Completed tasks count of `counts` (succeeded + dead + cancelled).
int64_t DoneCount(const TaskCounts& counts);
// "job 7: 120/400 done, 2 running, 0 failed, 0 dead | 55 tasks/s | ETA 5 s"
std::string ProgressLine(int64_t job_id, const TaskCounts& counts,
                         int64_t total, double secs, int64_t done_at_start);
// The exit code for a job that ended (or stopped) in state `s`.
int ExitCodeFor(JobState s);
// Prints `s` as "taskgrid: <message>" to stderr.
void PrintError(const Status& s);

}  // namespace taskgrid

#endif  // TASKGRID_CLI_CLI_UTIL_H_
