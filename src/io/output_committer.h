// Output commit: how a task's files reach the job's output directory
// exactly once.
//
//   OUT/_temporary/job-J/attempt-T-A/NAME   written by attempt A of task T
//   OUT/NAME                                moved there at job commit
//   OUT/_manifest.csv, OUT/_SUCCESS         written last, at job commit
//
// An attempt writes only into its own directory. When it succeeds, the
// worker seals the files (fsync, size, CRC-32) and reports them with the
// success; the master accepts the report only from the current attempt
// (first committer wins, fenced by attempt) and records the files in the
// state store in the same transaction as the success. At job commit the
// master moves, for every succeeded task, the files of the attempt the store
// recorded — never another attempt's — into OUT, fsyncing the directory,
// then writes the manifest and _SUCCESS and removes _temporary/job-J.
//
// Every step is idempotent, so a crash anywhere is repaired by running the
// job again (`resume`): an attempt that crashed after sealing but before its
// report is simply not the recorded one; a job commit interrupted half-way
// finds each file either still in its attempt directory or already in OUT.
// A reader of OUT never sees a partial file (each arrives by rename), and no
// task's output appears twice (each name comes from exactly one recorded
// attempt; two tasks naming the same file fail the commit).
#ifndef TASKGRID_IO_OUTPUT_COMMITTER_H_
#define TASKGRID_IO_OUTPUT_COMMITTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/output_file.h"
#include "taskgrid/status.h"

namespace taskgrid {

// One file to commit: a task's sealed output and where it came from.
struct CommittedOutput {
  int64_t task_id = 0;
  int32_t attempt = 0;
  std::string input;  // the task's input, for the manifest
  OutputFileInfo file;
};

// OUT/_temporary/job-J/attempt-T-A
std::string AttemptOutputDir(const std::string& output_dir, int64_t job_id,
                             int64_t task_id, int32_t attempt);

// InvalidArgument unless `name` is a plain file name: non-empty, no '/',
// not "." or "..", not starting with '_' or '.' (reserved), no NUL.
// Creates `dir` and its parents: ResourceExhausted for a full disk,
// PermissionDenied for any other failure, naming the directory.
Status MakeDirectories(const std::string& dir);

Status CheckOutputName(std::string_view name);

// Lists, fsyncs and checksums the files of an attempt directory (a missing
// directory means no outputs). InvalidArgument for anything but regular
// files in it; an I/O error (disk full, read-only) fails with the path.
StatusOr<std::vector<OutputFileInfo>> SealAttemptOutputs(
    const std::string& attempt_dir);

// Removes an attempt directory (best effort; a failed attempt's files).
void DiscardAttemptOutputs(const std::string& attempt_dir);

// The job commit described above. `fault` (tests only) is called after each
// file is moved, with the count so far; it may end the process.
Status CommitJobOutputs(const std::string& output_dir, int64_t job_id,
                        const std::vector<CommittedOutput>& outputs,
                        const std::function<void(int)>& fault = nullptr);

}  // namespace taskgrid

#endif  // TASKGRID_IO_OUTPUT_COMMITTER_H_
