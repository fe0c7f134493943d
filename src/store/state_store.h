// StateStore: the durable state of jobs, tasks and task logs.
//
// One interface, one backend per folder (sqlite/, later postgres/), and one
// conformance suite (tests/conformance/state_store_conformance.h) that every
// backend runs.
//
// Ownership and fencing. A process that drives a job (a master) first calls
// AcquireJob, which bumps the job's epoch and records the owner. Every
// Apply() carries that epoch; the store rejects a batch whose epoch is not
// the job's current one with kAborted, inside the same transaction, so a
// stale master can never overwrite a newer one. CancelJob also bumps the
// epoch: the driving master's next Apply fails with kAborted, it rereads the
// job, sees `cancelled` and stops.
//
// Writes are batched: the master collects task updates, new tasks and log
// lines and applies them in one transaction (group commit); a backend must
// never need one transaction per task.
//
// Thread-safety: every method may be called concurrently from any thread.
#ifndef TASKGRID_STORE_STATE_STORE_H_
#define TASKGRID_STORE_STATE_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/output_file.h"
#include "core/states.h"
#include "taskgrid/status.h"

namespace taskgrid {

struct JobRecord {
  int64_t id = 0;  // assigned by CreateJob
  std::string name;
  std::string key;        // "" = none; unique among jobs otherwise
  std::string spec_yaml;  // JobSpecToYaml of the spec
  JobState state = JobState::kPending;
  int64_t created_ms = 0;
  int64_t finished_ms = 0;   // 0 until terminal
  int64_t epoch = 0;         // bumped by AcquireJob and CancelJob
  std::string owner;         // "pid@host" of the driving process, or ""
  int64_t heartbeat_ms = 0;  // last time the owner wrote
  std::string result;        // the reduce result, if any
  int64_t next_task_id = 1;  // ids below this are taken
};

struct TaskRecord {
  int64_t job_id = 0;
  int64_t id = 0;         // unique within its job, >= 1
  int64_t parent_id = 0;  // task whose Map() created it; 0 = input/root
  std::string stage;
  std::string payload;
  TaskState state = TaskState::kPending;
  int32_t attempt = 0;       // last dispatched attempt; 0 = never run
  int32_t attempt_base = 0;  // attempt at the last rerun (retry budget base)
  std::string worker;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t not_before_ms = 0;  // a failed task waits until then (backoff)
  std::string result;
  std::string error;
};

// A change of a task's mutable fields, fenced by attempt: applied only if
// the stored attempt equals `expected_attempt` (the store skips it otherwise
// and counts it in ApplyResult::fenced).
struct TaskUpdate {
  int64_t id = 0;
  int32_t expected_attempt = 0;
  TaskState state = TaskState::kPending;
  int32_t attempt = 0;
  std::string worker;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t not_before_ms = 0;
  std::string result;
  std::string error;
};

struct LogLine {
  int64_t task_id = 0;
  int32_t attempt = 0;
  int64_t ts_ms = 0;
  int level = 0;  // LogLevel as int
  std::string line;
};

// An output file recorded for the attempt of a task that succeeded.
struct OutputRecord {
  int64_t task_id = 0;
  int32_t attempt = 0;
  OutputFileInfo file;
};

struct WriteBatch {
  int64_t job_id = 0;
  int64_t epoch = 0;  // must equal the job's current epoch
  std::vector<TaskRecord> new_tasks;
  std::vector<TaskUpdate> updates;
  std::vector<LogLine> logs;
  // Replace the task's recorded outputs (all rows of task_id) with these.
  std::vector<OutputRecord> outputs;
  // Job fields to set, if any. next_task_id is raised to at least this.
  std::optional<JobState> job_state;
  int64_t job_finished_ms = 0;
  std::optional<std::string> job_result;
  int64_t next_task_id = 0;
  int64_t heartbeat_ms = 0;  // 0 = leave as is
};

struct ApplyResult {
  int64_t fenced = 0;  // updates skipped because their attempt was stale
};

using TaskCounts = std::array<int64_t, kNumTaskStates>;

// Who leads the cluster (cluster mode runs several masters on one store;
// one leads, the others stand by). epoch grows by one at every change of
// leader, so a master can tell that it lost leadership in between even if
// it holds it again now.
struct LeaderRecord {
  int64_t epoch = 0;         // 0 = nobody has ever led
  std::string owner;         // unique id of the leading master process
  std::string address;       // where it serves workers and clients
  int64_t heartbeat_ms = 0;  // its last renewal (0 = released)
};

// The order of a task list. Duration is finished_ms - started_ms of a task
// that has both; tasks without one (never run, or running) come last.
enum class TaskOrder { kId, kDurationDesc, kAttemptsDesc };

struct TaskFilter {
  std::optional<TaskState> state;
  std::optional<std::string> stage;
  int64_t after_id = 0;  // kId: only tasks with id > after_id (keyset paging)
  int64_t limit = 100;   // <= 0 means no limit
  // Sorted orders (ties by id) page by `offset` (after_id is ignored) and
  // read every task of the job that passes the filter, so a page of a
  // 10M-task job costs a scan; filters by state failed or dead use an index.
  TaskOrder order = TaskOrder::kId;
  int64_t offset = 0;
};

// "id", "duration", "attempts" (the names the CLI and the web API take).
std::string_view TaskOrderName(TaskOrder order);
std::optional<TaskOrder> ParseTaskOrder(std::string_view name);

// Counts by state of the tasks of one stage.
struct StageCounts {
  std::string stage;
  TaskCounts counts{};
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Produces a job's first tasks in chunks, so a job of ten million tasks
  // never has them all in memory: appends up to `max` tasks to `*out`
  // (empty on entry) and returns false once there are no more.
  using TaskSource =
      std::function<bool(size_t max, std::vector<TaskRecord>* out)>;

  // Creates the job and its first tasks atomically (one transaction); sets
  // the job's id and returns it. AlreadyExists (message names the existing
  // job id) if the key is taken; InvalidArgument for a task id < 1 or given
  // twice. next_task_id becomes max(job.next_task_id, highest id + 1).
  virtual StatusOr<int64_t> CreateJobFrom(const JobRecord& job,
                                          const TaskSource& tasks) = 0;
  // The same, from a vector.
  StatusOr<int64_t> CreateJob(const JobRecord& job,
                              const std::vector<TaskRecord>& tasks);

  // NotFound if absent.
  virtual StatusOr<JobRecord> GetJob(int64_t job_id) = 0;
  // std::nullopt if no job has this key.
  virtual StatusOr<std::optional<JobRecord>> FindJobByKey(
      const std::string& key) = 0;
  // Newest first; limit <= 0 means all.
  virtual StatusOr<std::vector<JobRecord>> ListJobs(int64_t limit) = 0;

  // Takes ownership of a job for `owner`, returning the new epoch.
  // FailedPrecondition if the job is terminal, or if another owner's
  // heartbeat is newer than `now_ms - lease_ms` and `owner_alive(owner)`
  // says it still runs.
  virtual StatusOr<int64_t> AcquireJob(
      int64_t job_id, const std::string& owner, int64_t now_ms,
      int64_t lease_ms,
      const std::function<bool(const std::string&)>& owner_alive) = 0;

  // Applies the batch in one transaction. Aborted if the epoch is stale
  // (nothing applied); NotFound if the job does not exist.
  virtual StatusOr<ApplyResult> Apply(const WriteBatch& batch) = 0;

  virtual StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) = 0;
  virtual StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) = 0;
  virtual StatusOr<TaskCounts> CountTasks(int64_t job_id) = 0;
  // Counts by stage and state, stages in the order of their first task id.
  virtual StatusOr<std::vector<StageCounts>> CountTasksByStage(
      int64_t job_id) = 0;

  // Streams every task of the job that is not succeeded, dead or cancelled,
  // in id order (what a resuming master must load).
  virtual Status ForEachUnfinishedTask(
      int64_t job_id, const std::function<void(TaskRecord&&)>& fn) = 0;
  // Streams (id, stage, result) of succeeded tasks not in `exclude_stage`,
  // in id order.
  virtual Status ForEachResult(
      int64_t job_id, const std::string& exclude_stage,
      const std::function<void(int64_t, const std::string&,
                               const std::string&)>& fn) = 0;
  // Streams (id, stage, payload) of every task not in `exclude_stage`,
  // whatever its state, in id order.
  virtual Status ForEachPayload(
      int64_t job_id, const std::string& exclude_stage,
      const std::function<void(int64_t, const std::string&,
                               const std::string&)>& fn) = 0;

  // Streams the recorded outputs of the job's succeeded tasks, by task id
  // then file name, each with its task's payload (for the manifest).
  virtual Status ForEachOutput(
      int64_t job_id,
      const std::function<void(const OutputRecord&, const std::string&)>& fn);

  // Log lines of a task, by attempt then order of writing.
  virtual StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                                 int64_t task_id) = 0;

  // Marks the job cancelled, every non-terminal task cancelled, bumps the
  // epoch. FailedPrecondition if the job is already terminal.
  virtual Status CancelJob(int64_t job_id, int64_t now_ms) = 0;

  // Claims or renews cluster leadership for `owner`, atomically:
  //  - `owner` holds it: renews it (heartbeat = now_ms, address), same epoch;
  //  - nobody holds it, it was released, the holder's heartbeat is older
  //    than now_ms - lease_ms, or `owner_alive` (if given) says the holder
  //    no longer runs: `owner` takes it, epoch + 1;
  //  - otherwise: leaves it as it is.
  // Returns the record as it stands after the call: the caller leads iff
  // record.owner == owner.
  virtual StatusOr<LeaderRecord> ClaimLeadership(
      const std::string& owner, const std::string& address, int64_t now_ms,
      int64_t lease_ms,
      const std::function<bool(const std::string&)>& owner_alive) = 0;
  // Gives up leadership if `owner` holds it (heartbeat_ms becomes 0, owner
  // and epoch stay), so a standby takes over at its next claim.
  virtual Status ReleaseLeadership(const std::string& owner) = 0;
  // The current record (epoch 0 and empty owner if nobody ever led).
  virtual StatusOr<LeaderRecord> GetLeader() = 0;

  // Sets the given tasks back to pending for a new attempt (attempt_base =
  // attempt, error cleared), deletes every descendant of them (their Map()
  // will run again), and sets the job back to pending. With `failed_only`,
  // `task_ids` is ignored and every dead or failed task is rerun.
  // Also resets the tasks of `reset_stage` (e.g. "reduce") if any exist.
  // Returns the number of tasks rerun. NotFound for an unknown task id.
  virtual StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                                       const std::vector<int64_t>& task_ids,
                                       const std::string& reset_stage) = 0;
};

// The sum over stages.
TaskCounts TotalCounts(const std::vector<StageCounts>& stages);

// For backends: collects the rows of a GROUP BY stage, state query into
// CountTasksByStage's answer (stages ordered by their smallest task id).
class StageCountsBuilder {
 public:
  void Add(std::string stage, TaskState state, int64_t count, int64_t min_id);
  std::vector<StageCounts> Finish();

 private:
  struct Entry {
    int64_t min_id;
    StageCounts counts;
  };
  std::vector<Entry> entries_;
};

}  // namespace taskgrid

#endif  // TASKGRID_STORE_STATE_STORE_H_
