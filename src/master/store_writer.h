// StoreWriter: group commit for one job. Collects the tracker's changes,
// coalesces several updates of one task into one, and applies them to the
// StateStore in one transaction every flush interval (or sooner when the
// buffer fills), from a thread of its own. It also keeps the job's lease
// fresh: at least one write (a heartbeat) per heartbeat interval.
//
// Failure: Unavailable from the store is retried with backoff, keeping the
// buffer; any other error (Aborted: the job's epoch moved on — cancelled or
// taken over) stops the writer; error() returns it and `on_error` is called
// once, from the writer thread.
//
// Thread-safety: all methods are thread-safe.
#ifndef TASKGRID_MASTER_STORE_WRITER_H_
#define TASKGRID_MASTER_STORE_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "master/write_sink.h"
#include "store/state_store.h"

namespace taskgrid {

struct StoreWriterOptions {
  int64_t flush_interval_ms = 20;
  int64_t heartbeat_interval_ms = 1000;
  // Flush early once this many changes wait; producers block (backpressure)
  // at four times this many.
  size_t max_batch = 50'000;
};

class StoreWriter : public WriteSink {
 public:
  // `store` and `clock` must outlive the writer.
  StoreWriter(StateStore* store, int64_t job_id, int64_t epoch, Clock* clock,
              StoreWriterOptions options,
              std::function<void(const Status&)> on_error);
  ~StoreWriter() override;  // stops the thread; unflushed changes are lost

  void AddTask(TaskRecord task) override;
  void UpdateTask(TaskUpdate update) override;
  void AddLog(LogLine line) override;
  void AddOutput(OutputRecord output) override;
  void SetNextTaskId(int64_t next_id) override;
  void SetJobState(JobState state, int64_t finished_ms,
                   std::optional<std::string> result);

  // Blocks until everything added before the call is durable; returns the
  // writer's error if it stopped.
  Status Flush();
  Status error() const;
  int64_t batches_applied() const;
  int64_t fenced_updates() const;

 private:
  struct Pending {
    WriteBatch batch;
    std::unordered_map<int64_t, size_t> new_index;     // id -> new_tasks[i]
    std::unordered_map<int64_t, size_t> update_index;  // id -> updates[i]
    size_t size() const {
      return batch.new_tasks.size() + batch.updates.size() + batch.logs.size();
    }
    bool empty() const {
      return size() == 0 && !batch.job_state && batch.next_task_id == 0;
    }
  };

  void Run();
  void WaitForRoomLocked(std::unique_lock<std::mutex>& lock);

  StateStore* const store_;
  const int64_t job_id_;
  const int64_t epoch_;
  Clock* const clock_;
  const StoreWriterOptions options_;
  const std::function<void(const Status&)> on_error_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the writer thread
  std::condition_variable done_cv_;  // wakes Flush() and blocked producers
  Pending pending_;                  // guarded by mu_
  uint64_t seq_added_ = 0;           // guarded by mu_: changes handed over
  uint64_t seq_durable_ = 0;         // guarded by mu_
  bool flush_requested_ = false;     // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  Status error_;                     // guarded by mu_
  int64_t batches_ = 0;              // guarded by mu_
  int64_t fenced_ = 0;               // guarded by mu_
  std::thread thread_;
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_STORE_WRITER_H_
