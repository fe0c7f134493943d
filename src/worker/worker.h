// Worker: N slots that fetch tasks from a MasterService, run the job's
// processor on them and report the outcomes.
//
// Each slot fetches a batch, runs it, and reports it as one call. The batch
// size adapts: it doubles (up to 256) while tasks take under a millisecond
// and falls back to 1 for slow tasks, so a million no-op tasks cost a few
// thousand round trips while long tasks are spread one per slot. Slots in
// one-task mode tell the master when a task starts (state `running`).
//
// Per-task timeouts and cancellation are enforced by a watchdog thread that
// sets the attempt's cancel flag; heartbeats carry the list of running
// attempts and bring back the ones the master wants cancelled. They also
// list the jobs whose shuffle data this worker holds; the master answers
// with those that are finished, whose data the worker then removes (once
// no attempt of the job runs here).
//
// Thread-safety: Start/Stop/Join from one controlling thread.
#ifndef TASKGRID_WORKER_WORKER_H_
#define TASKGRID_WORKER_WORKER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "rpc/transport.h"
#include "taskgrid/processor.h"
#include "worker/shuffle_task.h"

namespace taskgrid {

struct WorkerOptions {
  std::string id;
  int slots = 1;
  int64_t heartbeat_ms = 200;
  int64_t fetch_wait_ms = 500;
  int max_batch = 256;
  Clock* clock = nullptr;  // nullptr = Clock::Real()
  // Sent in WorkerInfo: where this worker's data service answers ("" =
  // none; worker/data_service.h).
  std::string data_address;
  // Called from a slot thread before the first task of a job a slot runs
  // (again after the slot forgot old jobs), with the job's definition: the
  // worker process adds the job's output directory to its data service.
  // Must be thread-safe and quick. Empty = nothing.
  std::function<void(const JobDefinition&)> on_job;
  // Shuffle jobs: map outputs go under DATA_DIR/shuffle ("" = a directory
  // in the system's temporary directory); reduce tasks read other workers'
  // outputs as tg:// URLs (worker/shuffle_task.h).
  std::string data_dir;
};

class Worker {
 public:
  // `registry` must outlive the worker.
  Worker(WorkerOptions options, std::unique_ptr<MasterService> master,
         const ProcessorRegistry* registry);
  ~Worker();  // Stop() + Join()

  Status Start();
  // Asks every slot to finish its current batch and exit.
  void Stop();
  void Join();
  // True once every slot has exited (the master said shutdown, or Stop()).
  bool done() const;

 private:
  class Running;  // one running attempt
  struct Slot;

  void SlotLoop(int index);
  void WatchdogLoop();
  // Removes the shuffle data (DATA_DIR/shuffle/job-J) of the finished
  // `jobs` the master named, except of a job with an attempt running here.
  void DropShuffleData(const std::vector<int64_t>& jobs);

  const WorkerOptions options_;
  const std::unique_ptr<MasterService> master_;
  const ProcessorRegistry* const registry_;
  Clock* const clock_;
  const ShuffleEnv shuffle_env_;

  std::atomic<bool> stop_{false};
  std::atomic<int> live_slots_{0};
  std::mutex running_mu_;
  std::vector<Running*> running_;  // guarded by running_mu_
  std::vector<std::thread> threads_;
  std::thread watchdog_;
  std::mutex watchdog_mu_;  // with watchdog_wake_: Join wakes the watchdog
  std::condition_variable watchdog_wake_;
};

}  // namespace taskgrid

#endif  // TASKGRID_WORKER_WORKER_H_
