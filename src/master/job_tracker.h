// JobTracker: the in-memory schedule of one job — which tasks are ready,
// which are in flight and with which attempt, retries and their backoff,
// counts by state. Pure logic: no threads, no I/O; every state change is
// also sent to a WriteSink, so the store sees exactly what the tracker did.
//
// Fencing: a report is accepted only from the current attempt of an
// in-flight task; anything else (a late report from an attempt that timed
// out, was rerun or cancelled) is rejected and noted in the task's log.
//
// Thread-safety: not thread-safe; the Master serializes calls.
#ifndef TASKGRID_MASTER_JOB_TRACKER_H_
#define TASKGRID_MASTER_JOB_TRACKER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "master/write_sink.h"
#include "rpc/messages.h"
#include "store/state_store.h"
#include "taskgrid/job_spec.h"
#include "taskgrid/processor.h"

namespace taskgrid {

inline constexpr char kReduceStage[] = "reduce";
inline constexpr char kBroadcastStage[] = "broadcast";
inline constexpr char kMasterWorkerId[] = "master";

class JobTracker {
 public:
  // `sink` and `clock` must outlive the tracker.
  JobTracker(int64_t job_id, Model model, RetryPolicy retry, WriteSink* sink,
             Clock* clock);

  // --- Loading (before dispatch starts) ---
  // Broadcast tasks are pinned to the worker named by their payload; tasks
  // pinned to a worker not in `workers` go to whoever asks first.
  void SetKnownWorkers(const std::vector<std::string>& workers);
  // Adds a task read from the store. An in-flight task (its master died)
  // becomes pending again; its next dispatch is attempt+1.
  void AddLoadedTask(TaskRecord&& task);
  // Tasks the store holds as terminal (by stage), counted but not loaded.
  void AddTerminalCounts(const std::vector<StageCounts>& stages);
  // The mapreduce model's reduce task when the store holds it as terminal
  // (a crash after it, while committing): known, so that no second one is
  // made, and not counted again (AddTerminalCounts did).
  void AddTerminalReduce(TaskRecord&& task);
  void SetNextTaskId(int64_t next_id);
  // Shuffle jobs: the number of reduce tasks, created (stage "reduce",
  // payload the partition number) once every other task has succeeded, and
  // dispatched to workers like any task — but only while every map task is
  // succeeded (a map rerun for a lost output holds them back).
  void SetShufflePartitions(int partitions) {
    shuffle_partitions_ = partitions;
  }
  // After loading: creates the reduce tasks if the maps are all done.
  void MaybeStartShuffleReduce();
  // A succeeded map task whose output was lost (its worker died): back to
  // pending for a new attempt, with a fresh retry budget. `task` is its
  // record (from the store, as terminal tasks are not loaded). False if it
  // is not a succeeded map task.
  bool RerunLostMapOutput(const TaskRecord& task, const std::string& why);
  bool MapsAllSucceeded() const;
  // The in-flight attempt `ref` will not count against its task's retry
  // budget.
  void RefundAttempt(int64_t task_id);
  bool IsCurrentAttempt(const TaskRef& ref) const;
  // Every reduce task of a shuffle job exists and succeeded.
  bool ShuffleReduceDone() const;
  const std::string& stage_of(int64_t task_id) const;

  // --- Scheduling ---
  // Up to `max` ready tasks for `worker`, now dispatched with attempt+1.
  std::vector<TaskAssignment> Dispatch(const std::string& worker, int max);
  // Milliseconds until the next backoff expires, or -1 if none is waiting.
  int64_t MsUntilNextRetry() const;
  // The backoff after a task's `used_attempts`-th failed attempt:
  // retry.backoff doubled per earlier attempt, capped at 60 s.
  int64_t Backoff(int32_t used_attempts) const;
  void MarkStarted(const TaskRef& ref);
  // Applies a report. Returns false if fenced (stale attempt, not in
  // flight, cancelled). Children of a successful report become pending
  // tasks, written atomically with the parent's success.
  bool OnReport(TaskReport&& report, const std::string& worker);

  // --- Job phases ---
  // Every task the workers run is terminal (nothing pending, waiting or in
  // flight). The mapreduce model's reduce task is not among them: the master
  // runs it after this holds, whatever state a rerun or a resumed crash left
  // it in.
  bool AllTerminal() const;
  // AllTerminal, and none of those tasks dead or cancelled.
  bool AllSucceeded() const;
  // The reduce task, created on first call; the master runs it itself.
  // Returns its id. Precondition: AllTerminal().
  int64_t EnsureReduceTask();
  bool has_reduce_task() const { return reduce_id_ != 0; }
  // Dispatches the reduce task to the master itself (attempt+1).
  TaskRef StartReduce();
  // Cancels every task that is not terminal.
  void CancelAll();
  // In-flight attempts of `worker` (to cancel them).
  std::vector<TaskRef> InFlightOf(const std::string& worker) const;
  // `worker` is gone for good: tasks pinned to it (broadcast) that it never
  // fetched go to whoever asks first, as do its later retries.
  void ForgetWorker(const std::string& worker);

  // --- Observation ---
  const TaskCounts& counts() const { return counts_; }
  // Counts by stage, stages in the order they were first seen.
  std::vector<StageCounts> stage_counts() const;
  int64_t total_tasks() const;
  int64_t attempts_dispatched() const { return attempts_dispatched_; }
  int64_t failed_attempts() const { return failed_attempts_; }
  int64_t rejected_reports() const { return rejected_reports_; }
  int32_t attempt_of(int64_t task_id) const;
  // Attempts counted against the retry budget (since the last rerun).
  int32_t used_attempts_of(int64_t task_id) const;
  TaskState state_of(int64_t task_id) const;

 private:
  // counts_ without the reduce task the master runs itself (see AllTerminal).
  TaskCounts WorkerCounts() const;

  struct Slot {
    std::string payload;
    int64_t started_ms = 0;
    int32_t attempt = 0;
    int32_t attempt_base = 0;
    uint16_t stage = 0;   // index into stages_
    uint16_t worker = 0;  // index into workers_
    TaskState state = TaskState::kCancelled;
    bool loaded = false;  // false: an id the store holds as terminal
  };

  Slot* Find(int64_t id);
  const Slot* Find(int64_t id) const;
  // Takes a stored task's fields into its slot (not counted).
  Slot& Load(TaskRecord&& task);
  uint16_t StageIndex(const std::string& stage);
  uint16_t WorkerIndex(const std::string& worker);
  void Count(uint16_t stage, TaskState state, int64_t delta);
  // A new pending task (written to the sink and queued); returns its id.
  // The caller raises the sink's next task id.
  int64_t NewTask(uint16_t stage, int64_t parent, std::string payload);
  static int64_t TotalOf(const TaskCounts& c);
  void SetState(Slot& s, TaskState to);
  void Enqueue(int64_t id, const Slot& s);
  void WriteUpdate(int64_t id, const Slot& s, int32_t expected_attempt,
                   int64_t finished_ms, std::string result, std::string error,
                   int64_t not_before_ms = 0);
  void Log(int64_t id, int32_t attempt, LogLevel level, std::string line);

  const int64_t job_id_;
  const Model model_;
  const RetryPolicy retry_;
  WriteSink* const sink_;
  Clock* const clock_;

  std::vector<Slot> slots_;  // slots_[id - 1]
  int64_t next_id_ = 1;
  std::vector<std::string> stages_;
  std::vector<TaskCounts> stage_counts_;  // parallel to stages_
  std::vector<std::string> workers_ = {""};
  std::unordered_map<std::string, uint16_t> worker_index_;
  std::map<std::string, bool> known_workers_;
  std::deque<int64_t> ready_;
  std::map<uint16_t, std::deque<int64_t>> pinned_;  // by worker index
  // (ready at mono ms, task id) of failed tasks waiting out their backoff.
  std::priority_queue<std::pair<int64_t, int64_t>,
                      std::vector<std::pair<int64_t, int64_t>>, std::greater<>>
      delayed_;
  int64_t reduce_id_ = 0;
  int shuffle_partitions_ = 1;
  bool shuffle_reduce_created_ = false;
  std::deque<int64_t> held_;  // shuffle reduce tasks waiting for the maps
  TaskCounts counts_{};
  int64_t attempts_dispatched_ = 0;
  int64_t failed_attempts_ = 0;
  int64_t rejected_reports_ = 0;
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_JOB_TRACKER_H_
