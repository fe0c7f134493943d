// Master: drives one job to completion. It takes the job's lease in the
// store (AcquireJob → epoch), loads what is unfinished, serves tasks to
// workers through MasterService (any Transport), applies their reports
// (fenced by attempt), persists every change through a StoreWriter (group
// commit, fenced by epoch), runs Reduce and PostProcess itself, and writes
// the job's final state.
//
//   Master m(store, registry, opts);
//   RETURN_IF_ERROR(m.Start(job_id, worker_ids));
//   ... workers connect through a Transport serving &m ...
//   StatusOr<JobOutcome> out = m.Wait();
//
// Thread-safety: MasterService methods, Interrupt() and progress() may be
// called from any thread; Start() and Wait() from one controlling thread.
#ifndef TASKGRID_MASTER_MASTER_H_
#define TASKGRID_MASTER_MASTER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "master/job_tracker.h"
#include "master/shuffle_outputs.h"
#include "master/store_writer.h"
#include "rpc/transport.h"
#include "store/state_store.h"
#include "taskgrid/job_spec.h"
#include "taskgrid/processor.h"

namespace taskgrid {

struct MasterOptions {
  std::string owner;  // "pid@host"; identifies the lease holder
  int64_t lease_ms = 10'000;
  StoreWriterOptions writer;
  Clock* clock = nullptr;  // nullptr = Clock::Real()
  // Take the job even if another live owner's lease is fresh: set by the
  // leader of a cluster, whose leadership proves the old owner is gone
  // (its writes are fenced by the job's new epoch).
  bool take_over = false;
  // Fetch returns tasks only once their dispatch (the attempt number) is
  // durable. Needed where workers outlive the master (a cluster): a master
  // that takes the job over must not hand out an attempt number the one
  // before it already gave out, or two runs of one attempt would share its
  // output directory (and one's failure remove the other's files). Applies
  // only to jobs whose attempts have directories: an `output`, or the
  // shuffle model (map outputs in `map-T-aA` on the worker). Without them
  // two runs of one attempt share nothing: the master takes one report,
  // and waiting would only cost a store write per fetch (docs/
  // benchmarks.md, "The cost of durable dispatch").
  bool durable_dispatch = false;
  // Called whenever tasks may have become ready (in addition to waking this
  // master's own Fetch waiters), so a multi-job front end can wake its
  // waiting fetches. Called with the master's lock held: must not call
  // back into the master.
  std::function<void()> on_work;
  // A Reduce started with the job (Processor::reduces_early) is handed
  // each map task's result in memory as the task succeeds, up to this many
  // bytes it has not taken yet; past that it reads the rest from the store
  // once the maps are done (bounded memory whatever the job's size).
  size_t reduce_feed_bytes = size_t{64} << 20;
};

struct JobOutcome {
  JobState state = JobState::kRunning;  // kRunning: interrupted, resumable
  TaskCounts counts{};
  int64_t attempts = 0;         // attempts dispatched by this master
  int64_t failed_attempts = 0;  // of which failed
  int64_t rejected_reports = 0;
  std::string result;  // the reduce result, if any
  std::string error;   // why the job failed or stopped, if it did
  // A chained stage that succeeded: the job of the stage after it (created,
  // or found by its key, before this one was marked succeeded); 0 if none.
  int64_t next_job = 0;
};

struct Progress {
  TaskCounts counts{};
  std::vector<StageCounts> stages;
  int64_t total = 0;
  bool loaded = false;  // the job is loaded: the counts are its own
  bool finished = false;
};

class Master : public MasterService {
 public:
  // `store` and `registry` must outlive the master.
  Master(StateStore* store, const ProcessorRegistry* registry,
         MasterOptions options);
  ~Master() override;

  // Takes the job's lease and loads it. `worker_ids` are the workers
  // expected (broadcast tasks are pinned to them). FailedPrecondition if
  // another live process holds the job or it is already finished.
  Status Start(int64_t job_id, const std::vector<std::string>& worker_ids);
  // Blocks until the job is finished (state durable) or stopped. Returns an
  // error only if the store failed in a way that leaves the state unknown.
  StatusOr<JobOutcome> Wait();
  // Stops handing out tasks and cancels running attempts; the job stays
  // resumable (in-flight tasks rerun as attempt+1 on resume).
  void Interrupt();
  // The worker died (or was declared dead): each of its attempts in flight
  // fails with `why` and is retried (attempt+1) or, out of attempts, dead.
  void WorkerLost(const std::string& worker_id, const std::string& why);
  Progress progress() const;
  // Attempts of `worker_id` in flight now (a scan: for status pages).
  size_t InFlightCount(const std::string& worker_id) const;

  // MasterService.
  Status RegisterWorker(const WorkerInfo& info) override;
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override;
  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override;
  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>& tasks) override;
  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override;
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override;

 private:
  enum class Phase { kIdle, kRunning, kStopping, kDone };

  void OnWriterError(const Status& s);
  void WakeWorkersLocked();
  enum class ReduceEnd { kSucceeded, kDead, kNotRun };
  // Runs Reduce (mapreduce, everything succeeded) with retries. A reduce
  // that succeeded before (a resumed crash after it) is not run again: its
  // stored result is taken. kNotRun: the job stopped (interrupted, store
  // lost) first. `early`: called as the job starts (Processor::
  // reduces_early): the first attempt runs on the results as they are
  // fed, and begins only once the maps are terminal; kNotRun if it was
  // abandoned then (not every map task succeeded, or the job stopped).
  ReduceEnd RunReduce(std::unique_lock<std::mutex>& lock, std::string* result,
                      bool early);
  // A map task succeeded with `r`: fed to a Reduce started early (or,
  // past options_.reduce_feed_bytes, the feed overflows).
  void FeedLocked(TaskResult r);
  // A Reduce started early, from its own thread (mu_ not held): moves the
  // results fed so far into *batch, waiting for one; false once no more
  // will be fed (the maps are terminal or the job stopped; *complete false
  // if the feed overflowed, so that the rest is only in the store).
  bool NextFedResults(std::vector<TaskResult>* batch, bool* complete);
  // A Reduce started early: waits until every map task is terminal, then
  // begins the reduce attempt and returns it with the counts at that time;
  // nullopt if the maps did not all succeed or the job stopped.
  std::optional<std::pair<TaskRef, TaskCounts>> BeginEarlyReduce();
  // At Start: the mapreduce reduce task if the store holds it as terminal,
  // into `tracker` (and its result into stored_reduce_result_).
  Status LoadTerminalReduce(const std::vector<StageCounts>& counts,
                            JobTracker* tracker);
  Status RunPostProcess(std::unique_lock<std::mutex>& lock);
  // The job commit of output files (io/output_committer.h); *names gets
  // the committed files' names.
  Status CommitOutputs(std::unique_lock<std::mutex>& lock,
                       std::vector<std::string>* names);
  // A chained stage that succeeded: creates the next stage's job on the
  // files it committed (`names`, under its output), or finds it by key.
  StatusOr<int64_t> StartNextStage(std::unique_lock<std::mutex>& lock,
                                   const std::vector<std::string>& names);
  JobOutcome OutcomeLocked(JobState state, std::string error) const;
  // Shuffle: map tasks `ids` run again (their outputs are lost).
  void RerunMapsLocked(const std::vector<int64_t>& ids, const std::string& why);
  // Shuffle: a reduce attempt failed reading the outputs it names.
  void OnLostMapOutputsLocked(const TaskReport& r);

  StateStore* const store_;
  const ProcessorRegistry* const registry_;
  const MasterOptions options_;
  Clock* const clock_;

  // Constant after Start().
  int64_t job_id_ = 0;
  JobSpec spec_;
  JobDefinition definition_;
  // options_.durable_dispatch, for a job whose attempts have directories.
  bool durable_dispatch_ = false;
  std::vector<std::string> worker_ids_;
  int64_t epoch_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // tasks became ready
  std::condition_variable state_cv_;  // phase or completion changed
  Phase phase_ = Phase::kIdle;        // guarded by mu_
  bool interrupted_ = false;          // guarded by mu_
  Status writer_error_;               // guarded by mu_
  std::unique_ptr<StoreWriter> writer_;
  std::unique_ptr<JobTracker> tracker_;         // guarded by mu_
  std::unique_ptr<ShuffleOutputs> shuffle_;     // shuffle jobs; guarded by mu_
  std::map<int64_t, int> lost_output_refunds_;  // by reduce task; mu_
  // The result of a reduce task that had succeeded before this master
  // (resumed after a crash while committing); set at Start.
  std::string stored_reduce_result_;
  // Set at Start: the processor reduces early and this is the job's first
  // run (no reduce task yet, no task succeeded), so every map result will
  // pass through Report.
  bool early_reduce_ = false;
  // The feed of a Reduce started early: results of map tasks that
  // succeeded, not yet taken, and their bytes. Guarded by mu_.
  enum class Feed { kClosed, kOpen, kOverflowed };
  Feed feed_state_ = Feed::kClosed;
  std::vector<TaskResult> feed_;
  size_t feed_bytes_ = 0;
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_MASTER_H_
