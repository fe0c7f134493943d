#include "master/store_writer.h"

#include <algorithm>
#include <chrono>

#include "core/metrics.h"

namespace taskgrid {
namespace {

// Store.Apply, timed into taskgrid_store_commit_seconds. Real time, not
// the injected clock: this measures the store, and needs sub-millisecond
// resolution.
StatusOr<ApplyResult> TimedApply(StateStore* store, const WriteBatch& batch) {
  static Histogram* const commit = Metrics().store_commit;
  const auto start = std::chrono::steady_clock::now();
  StatusOr<ApplyResult> r = store->Apply(batch);
  commit->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return r;
}

}  // namespace

StoreWriter::StoreWriter(StateStore* store, int64_t job_id, int64_t epoch,
                         Clock* clock, StoreWriterOptions options,
                         std::function<void(const Status&)> on_error)
    : store_(store),
      job_id_(job_id),
      epoch_(epoch),
      clock_(clock),
      options_(options),
      on_error_(std::move(on_error)) {
  thread_ = std::thread([this] { Run(); });
}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreWriter::WaitForRoomLocked(std::unique_lock<std::mutex>& lock) {
  if (pending_.size() >= options_.max_batch) cv_.notify_one();
  done_cv_.wait(lock, [&] {
    return pending_.size() < 4 * options_.max_batch || !error_.ok() || stop_;
  });
}

void StoreWriter::AddTask(TaskRecord task) {
  std::unique_lock<std::mutex> lock(mu_);
  WaitForRoomLocked(lock);
  task.job_id = job_id_;
  pending_.new_index[task.id] = pending_.batch.new_tasks.size();
  pending_.batch.new_tasks.push_back(std::move(task));
  ++seq_added_;
}

void StoreWriter::UpdateTask(TaskUpdate u) {
  std::unique_lock<std::mutex> lock(mu_);
  WaitForRoomLocked(lock);
  ++seq_added_;
  auto nit = pending_.new_index.find(u.id);
  if (nit != pending_.new_index.end()) {
    // Not in the store yet: change the row we are about to insert.
    TaskRecord& t = pending_.batch.new_tasks[nit->second];
    t.state = u.state;
    t.attempt = u.attempt;
    t.worker = std::move(u.worker);
    t.started_ms = u.started_ms;
    t.finished_ms = u.finished_ms;
    t.not_before_ms = u.not_before_ms;
    t.result = std::move(u.result);
    t.error = std::move(u.error);
    return;
  }
  auto uit = pending_.update_index.find(u.id);
  if (uit != pending_.update_index.end()) {
    // The store still holds the attempt the first update expected.
    TaskUpdate& prev = pending_.batch.updates[uit->second];
    u.expected_attempt = prev.expected_attempt;
    prev = std::move(u);
    return;
  }
  pending_.update_index[u.id] = pending_.batch.updates.size();
  pending_.batch.updates.push_back(std::move(u));
}

void StoreWriter::AddLog(LogLine line) {
  std::unique_lock<std::mutex> lock(mu_);
  WaitForRoomLocked(lock);
  ++seq_added_;
  pending_.batch.logs.push_back(std::move(line));
}

void StoreWriter::AddOutput(OutputRecord output) {
  std::unique_lock<std::mutex> lock(mu_);
  WaitForRoomLocked(lock);
  ++seq_added_;
  pending_.batch.outputs.push_back(std::move(output));
}

void StoreWriter::SetNextTaskId(int64_t next_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++seq_added_;
  pending_.batch.next_task_id = std::max(pending_.batch.next_task_id, next_id);
}

void StoreWriter::SetJobState(JobState state, int64_t finished_ms,
                              std::optional<std::string> result) {
  std::lock_guard<std::mutex> lock(mu_);
  ++seq_added_;
  pending_.batch.job_state = state;
  pending_.batch.job_finished_ms = finished_ms;
  pending_.batch.job_result = std::move(result);
}

Status StoreWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = seq_added_;
  flush_requested_ = true;
  cv_.notify_one();
  done_cv_.wait(lock, [&] { return seq_durable_ >= target || !error_.ok(); });
  return error_;
}

Status StoreWriter::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

int64_t StoreWriter::batches_applied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

int64_t StoreWriter::fenced_updates() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fenced_;
}

void StoreWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  int64_t last_write = clock_->MonoMs();
  int64_t retry_delay_ms = 50;
  while (true) {
    const auto interval = std::chrono::milliseconds(options_.flush_interval_ms);
    cv_.wait_for(lock, interval, [&] {
      return stop_ || flush_requested_ || pending_.size() >= options_.max_batch;
    });
    if (stop_ || !error_.ok()) return;
    const int64_t now = clock_->MonoMs();
    const bool heartbeat_due =
        now - last_write >= options_.heartbeat_interval_ms;
    if (pending_.empty() && !heartbeat_due) {
      if (flush_requested_) {
        flush_requested_ = false;
        seq_durable_ = seq_added_;
        done_cv_.notify_all();
      }
      continue;
    }
    Pending batch;
    std::swap(batch, pending_);
    const uint64_t covered = seq_added_;
    flush_requested_ = false;
    done_cv_.notify_all();  // producers blocked on a full buffer
    batch.batch.job_id = job_id_;
    batch.batch.epoch = epoch_;
    batch.batch.heartbeat_ms = clock_->NowMs();
    lock.unlock();
    StatusOr<ApplyResult> r = TimedApply(store_, batch.batch);
    while (!r.ok() && r.status().code() == StatusCode::kUnavailable) {
      // The store is busy or restarting: keep the batch and try again.
      lock.lock();
      const bool stopping = stop_;
      lock.unlock();
      if (stopping) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(retry_delay_ms));
      retry_delay_ms = std::min<int64_t>(retry_delay_ms * 2, 2000);
      r = TimedApply(store_, batch.batch);
    }
    retry_delay_ms = 50;
    lock.lock();
    last_write = clock_->MonoMs();
    if (!r.ok()) {
      error_ = r.status();
      done_cv_.notify_all();
      lock.unlock();
      if (on_error_) on_error_(r.status());
      return;
    }
    ++batches_;
    fenced_ += r->fenced;
    seq_durable_ = std::max(seq_durable_, covered);
    done_cv_.notify_all();
  }
}

}  // namespace taskgrid
