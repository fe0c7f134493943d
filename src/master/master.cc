#include "master/master.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>

#include "core/fault.h"
#include "core/metrics.h"
#include "core/owner.h"
#include "core/status_macros.h"
#include "io/output_committer.h"
#include "io/split.h"
#include "master/shuffle_outputs.h"
#include "master/submit.h"

namespace taskgrid {
namespace {

// How a Reduce started early (Processor::reduces_early) gets its results
// and, once the maps are terminal, its attempt (Master::NextFedResults,
// Master::BeginEarlyReduce).
struct EarlyReduceFeed {
  std::function<bool(std::vector<TaskResult>*, bool*)> next;
  std::function<std::optional<std::pair<TaskRef, TaskCounts>>()> begin;
};

constexpr char kAbandoned[] =
    "the reduce started with the job was abandoned: not every map task "
    "succeeded, or the job stopped";

// The JobContext that Reduce() and PostProcess() see.
class JobContextImpl : public JobContext {
 public:
  // `ref`: the reduce attempt this context runs (its files go to that
  // attempt's directory); nullopt for PostProcess, or for a Reduce started
  // early, whose attempt `early` begins.
  JobContextImpl(const JobDefinition& def, StateStore* store,
                 StoreWriter* writer, const TaskCounts& counts,
                 const std::atomic<bool>* cancelled, Clock* clock,
                 std::optional<TaskRef> ref,
                 const EarlyReduceFeed* early = nullptr)
      : def_(def),
        store_(store),
        writer_(writer),
        cancelled_(cancelled),
        clock_(clock),
        early_(early),
        counts_(counts),
        started_ms_(clock->NowMs()) {
    if (ref) SetAttempt(*ref);
  }

  int64_t job_id() const override { return def_.job_id; }
  const std::string& job_name() const override { return def_.name; }
  const Params& params() const override { return def_.params; }
  const std::string& output_dir() const override { return def_.output; }
  StatusOr<std::string> OutputPath(std::string_view name) override {
    if (def_.output.empty()) {
      return FailedPreconditionError(
          "the job has no output directory (set `output:` in its spec)");
    }
    if (!Begun()) return AbortedError(kAbandoned);
    if (attempt_dir_.empty()) {
      return FailedPreconditionError("OutputPath is available in Reduce only");
    }
    RETURN_IF_ERROR(CheckOutputName(name));
    std::error_code ec;
    std::filesystem::create_directories(attempt_dir_, ec);
    if (ec) {
      return PermissionDeniedError("cannot create " + attempt_dir_ + ": " +
                                   ec.message());
    }
    wrote_outputs_ = true;
    return attempt_dir_ + "/" + std::string(name);
  }
  int64_t succeeded_tasks() const override {
    Begun();
    return counts_[static_cast<size_t>(TaskState::kSucceeded)];
  }
  int64_t dead_tasks() const override {
    Begun();
    return counts_[static_cast<size_t>(TaskState::kDead)];
  }
  Status ForEachResult(
      const std::function<void(const TaskResult&)>& fn) override {
    // The first call of a Reduce started early takes what is fed to it,
    // then (if the feed overflowed) the rest from the store.
    std::vector<int64_t> taken;
    if (early_ != nullptr && !streamed_) {
      streamed_ = true;
      std::vector<TaskResult> batch;
      bool complete = true;
      while (early_->next(&batch, &complete)) {
        for (const TaskResult& r : batch) {
          taken.push_back(r.task_id);
          fn(r);
        }
        batch.clear();
      }
      fed_ = static_cast<int64_t>(taken.size());
      if (complete && Begun()) return OkStatus();
      std::sort(taken.begin(), taken.end());  // the rest: from the store
    }
    if (!Begun()) return AbortedError(kAbandoned);
    // Results reach the store by group commit: make them all durable first.
    RETURN_IF_ERROR(writer_->Flush());
    TaskResult r;
    return store_->ForEachResult(
        def_.job_id, kReduceStage,
        [&](int64_t id, const std::string& stage, const std::string& result) {
          if (std::binary_search(taken.begin(), taken.end(), id)) return;
          r.task_id = id;
          r.stage = stage;
          r.result = result;
          fn(r);
        });
  }
  Status ForEachTask(const std::function<void(const TaskInput&)>& fn) override {
    TaskInput t;
    return store_->ForEachPayload(
        def_.job_id, kReduceStage,
        [&](int64_t id, const std::string& stage, const std::string& payload) {
          t.task_id = id;
          t.stage = stage;
          t.payload = payload;
          fn(t);
        });
  }
  void Log(LogLevel level, std::string_view line) override {
    logs_.push_back(
        {clock_->NowMs(), static_cast<int>(level), std::string(line)});
  }
  bool cancelled() const override { return cancelled_->load(); }
  void SetResult(std::string result) override { result_ = std::move(result); }

  // A Reduce started early: waits for the maps to be terminal and begins
  // its attempt, once; false if the run is abandoned. True otherwise.
  bool Begun() const {
    if (early_ == nullptr || begin_called_) return !abandoned_;
    begin_called_ = true;
    auto begun = early_->begin();
    abandoned_ = !begun.has_value();
    if (abandoned_) return false;
    counts_ = begun->second;
    SetAttempt(begun->first);
    started_ms_ = clock_->NowMs();
    if (fed_ > 0) {
      logs_.push_back({started_ms_, static_cast<int>(LogLevel::kInfo),
                       "started with the job: took " + std::to_string(fed_) +
                           " result(s) as their map tasks succeeded"});
    }
    return true;
  }
  // When the attempt began: at construction, or when a Reduce started
  // early began.
  int64_t started_ms() const { return started_ms_; }
  // The attempt this context ran (valid once Begun()).
  const TaskRef& ref() const { return ref_; }
  std::vector<ReportedLog>& logs() { return logs_; }
  std::string& result() { return result_; }
  bool wrote_outputs() const { return wrote_outputs_; }
  const std::string& attempt_dir() const { return attempt_dir_; }

 private:
  void SetAttempt(const TaskRef& ref) const {
    ref_ = ref;
    if (!def_.output.empty()) {
      attempt_dir_ =
          AttemptOutputDir(def_.output, def_.job_id, ref.task_id, ref.attempt);
    }
  }

  const JobDefinition& def_;
  StateStore* const store_;
  StoreWriter* const writer_;
  const std::atomic<bool>* cancelled_;
  Clock* const clock_;
  const EarlyReduceFeed* const early_;
  // Known at construction, or once a Reduce started early begins.
  mutable TaskCounts counts_;
  mutable TaskRef ref_;
  mutable std::string attempt_dir_;
  mutable int64_t started_ms_;
  mutable bool begin_called_ = false;
  mutable bool abandoned_ = false;
  bool streamed_ = false;
  int64_t fed_ = 0;
  mutable std::vector<ReportedLog> logs_;
  std::string result_;
  bool wrote_outputs_ = false;
};

// A task's input as the manifest shows it: a file path, "path@offset+length"
// for a byte range, or the payload itself.
std::string DescribeInput(const std::string& payload) {
  if (payload.find('\0') == std::string::npos) return payload;
  auto split = FileSplit::Parse(payload);
  if (!split.ok()) return payload;
  return split->path + "@" + std::to_string(split->offset) + "+" +
         std::to_string(split->length);
}

// Outcomes of the attempts of one call (a report batch), added to the
// process's metrics at destruction: one atomic add per counter touched.
class OutcomeMetrics {
 public:
  OutcomeMetrics() : m_(Metrics()), durations_(m_.task_duration) {}
  ~OutcomeMetrics() {
    if (succeeded_ != 0) m_.completed_succeeded->Add(succeeded_);
    if (failed_ != 0) m_.completed_failed->Add(failed_);
    if (dead_ != 0) m_.completed_dead->Add(dead_);
    m_.task_duration->Merge(durations_);
  }
  // An accepted report left its task in state `s`.
  void Add(TaskState s, int64_t started_ms, int64_t finished_ms) {
    switch (s) {
      case TaskState::kSucceeded:
        ++succeeded_;
        break;
      case TaskState::kFailed:
        ++failed_;
        break;
      case TaskState::kDead:
        ++dead_;
        break;
      default:
        return;
    }
    if (started_ms > 0 && finished_ms >= started_ms) {
      durations_.Observe(static_cast<double>(finished_ms - started_ms) / 1e3);
    }
  }

 private:
  const TaskgridMetrics& m_;
  Histogram::Batch durations_;
  uint64_t succeeded_ = 0, failed_ = 0, dead_ = 0;
};

// Runs fn, turning an exception into a failed Status.
template <typename Fn>
Status Guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return UnknownError(std::string("exception: ") + e.what());
  } catch (...) {
    return UnknownError("unknown exception");
  }
}

}  // namespace

Master::Master(StateStore* store, const ProcessorRegistry* registry,
               MasterOptions options)
    : store_(store),
      registry_(registry),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::Real()) {}

Master::~Master() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = Phase::kDone;
  }
  work_cv_.notify_all();
  writer_.reset();
}

Status Master::Start(int64_t job_id,
                     const std::vector<std::string>& worker_ids) {
  ASSIGN_OR_RETURN(JobRecord job, store_->GetJob(job_id));
  auto spec = ParseJobSpec(job.spec_yaml, "job " + std::to_string(job_id));
  if (!spec.ok()) {
    return FailedPreconditionError("cannot load the spec of job " +
                                   std::to_string(job_id) + ": " +
                                   spec.status().message());
  }
  spec_ = *std::move(spec);
  worker_ids_ = worker_ids;
  const auto gone = [](const std::string&) { return false; };
  ASSIGN_OR_RETURN(
      epoch_, store_->AcquireJob(
                  job_id, options_.owner, clock_->NowMs(), options_.lease_ms,
                  options_.take_over
                      ? std::function<bool(const std::string&)>(gone)
                      : std::function<bool(const std::string&)>(OwnerIsAlive)));
  job_id_ = job_id;
  definition_.job_id = job_id;
  definition_.name = spec_.name;
  definition_.processor = spec_.processor;
  definition_.model = spec_.model;
  definition_.params = spec_.params;
  definition_.output = spec_.output;
  definition_.timeout_ms = spec_.timeout.count();
  definition_.partitions = spec_.partitions;
  definition_.memory_bytes = spec_.memory_bytes;
  definition_.range_splits = spec_.range_splits;
  durable_dispatch_ = options_.durable_dispatch &&
                      (!spec_.output.empty() || spec_.model == Model::kShuffle);

  writer_ = std::make_unique<StoreWriter>(
      store_, job_id, epoch_, clock_, options_.writer,
      [this](const Status& s) { OnWriterError(s); });
  auto tracker = std::make_unique<JobTracker>(job_id, spec_.model, spec_.retry,
                                              writer_.get(), clock_);
  tracker->SetKnownWorkers(worker_ids);
  if (spec_.model == Model::kShuffle) {
    tracker->SetShufflePartitions(spec_.partitions);
    shuffle_ = std::make_unique<ShuffleOutputs>(spec_.partitions);
    RETURN_IF_ERROR(shuffle_->Load(store_, job_id));
  }
  ASSIGN_OR_RETURN(std::vector<StageCounts> counts,
                   store_->CountTasksByStage(job_id));
  tracker->AddTerminalCounts(counts);
  RETURN_IF_ERROR(store_->ForEachUnfinishedTask(
      job_id, [&](TaskRecord&& t) { tracker->AddLoadedTask(std::move(t)); }));
  if (spec_.model == Model::kMapReduce && !tracker->has_reduce_task()) {
    RETURN_IF_ERROR(LoadTerminalReduce(counts, tracker.get()));
  }
  tracker->SetNextTaskId(job.next_task_id);
  tracker->MaybeStartShuffleReduce();
  if (spec_.model == Model::kMapReduce && !tracker->has_reduce_task() &&
      std::none_of(counts.begin(), counts.end(), [](const StageCounts& c) {
        return c.counts[static_cast<size_t>(TaskState::kSucceeded)] > 0;
      })) {
    const auto proc = registry_->Create(spec_.processor);
    early_reduce_ = proc != nullptr && proc->reduces_early();
  }
  std::lock_guard<std::mutex> lock(mu_);
  tracker_ = std::move(tracker);
  phase_ = Phase::kRunning;
  if (early_reduce_) feed_state_ = Feed::kOpen;
  WakeWorkersLocked();
  return OkStatus();
}

void Master::WakeWorkersLocked() {
  work_cv_.notify_all();
  if (options_.on_work) options_.on_work();
}

void Master::OnWriterError(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  writer_error_ = s;
  state_cv_.notify_all();
}

void Master::Interrupt() {
  std::lock_guard<std::mutex> lock(mu_);
  interrupted_ = true;
  if (phase_ == Phase::kRunning) phase_ = Phase::kStopping;
  state_cv_.notify_all();
  WakeWorkersLocked();
}

void Master::WorkerLost(const std::string& worker_id, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kRunning) return;
  tracker_->ForgetWorker(worker_id);
  bool any = false;
  if (shuffle_ && !tracker_->ShuffleReduceDone()) {
    // Its map outputs are gone with it: make exactly those again.
    RerunMapsLocked(shuffle_->HeldBy(worker_id),
                    "map output lost with worker " + worker_id);
  }
  OutcomeMetrics metrics;
  for (const TaskRef& ref : tracker_->InFlightOf(worker_id)) {
    TaskReport r;
    r.ref = ref;
    r.ok = false;
    r.error = why;
    if (tracker_->OnReport(std::move(r), kMasterWorkerId)) {
      any = true;
      metrics.Add(tracker_->state_of(ref.task_id), 0, 0);
    }
  }
  // Its failed attempts and the broadcast tasks it never fetched are
  // ready for others now.
  WakeWorkersLocked();
  if (any && tracker_->AllTerminal()) state_cv_.notify_all();
}

void Master::RerunMapsLocked(const std::vector<int64_t>& ids,
                             const std::string& why) {
  for (int64_t id : ids) {
    auto task = store_->GetTask(job_id_, id);
    if (task.ok() && tracker_->RerunLostMapOutput(*task, why)) {
      shuffle_->Erase(id);
    }
  }
  WakeWorkersLocked();
}

void Master::OnLostMapOutputsLocked(const TaskReport& r) {
  if (!tracker_->IsCurrentAttempt(r.ref)) return;  // fenced below anyway
  // The worker that held an unreadable output is suspect as a whole (it
  // may be gone, only not yet declared dead): every output it holds is
  // made again, not one per failed reduce attempt.
  for (int64_t id : r.lost_map_tasks) {
    const std::string* w = shuffle_->WorkerOf(id);
    if (w == nullptr) continue;  // already being made again
    const std::string worker = *w;
    RerunMapsLocked(shuffle_->HeldBy(worker),
                    "map output lost with worker " + worker + " (reduce task " +
                        std::to_string(r.ref.task_id) +
                        " could not read map task " + std::to_string(id) +
                        "'s)");
  }
  // Not the reduce's fault: the attempt does not count against its retry
  // budget — a bounded number of times, so that outputs that can never be
  // read (an unreachable data address) still end the job.
  int& refunds = lost_output_refunds_[r.ref.task_id];
  if (refunds < std::max(3, spec_.retry.max_attempts)) {
    ++refunds;
    tracker_->RefundAttempt(r.ref.task_id);
  }
}

Progress Master::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  Progress p;
  if (tracker_) {
    p.counts = tracker_->counts();
    p.stages = tracker_->stage_counts();
    p.total = tracker_->total_tasks();
    p.loaded = true;
  }
  p.finished = phase_ == Phase::kDone;
  return p;
}

size_t Master::InFlightCount(const std::string& worker_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tracker_ ? tracker_->InFlightOf(worker_id).size() : 0;
}

JobOutcome Master::OutcomeLocked(JobState state, std::string error) const {
  JobOutcome o;
  o.state = state;
  o.counts = tracker_->counts();
  o.attempts = tracker_->attempts_dispatched();
  o.failed_attempts = tracker_->failed_attempts();
  o.rejected_reports = tracker_->rejected_reports();
  o.error = std::move(error);
  return o;
}

Status Master::LoadTerminalReduce(const std::vector<StageCounts>& counts,
                                  JobTracker* tracker) {
  const bool has_reduce =
      std::any_of(counts.begin(), counts.end(), [](const StageCounts& c) {
        return c.stage == kReduceStage &&
               std::any_of(c.counts.begin(), c.counts.end(),
                           [](int64_t n) { return n > 0; });
      });
  if (!has_reduce) return OkStatus();
  TaskFilter filter;
  filter.stage = std::string(kReduceStage);
  filter.limit = 1;
  ASSIGN_OR_RETURN(std::vector<TaskRecord> found,
                   store_->ListTasks(job_id_, filter));
  if (found.empty()) return OkStatus();
  // ListTasks leaves results out; the reduce's is the job's result.
  ASSIGN_OR_RETURN(TaskRecord reduce, store_->GetTask(job_id_, found[0].id));
  if (reduce.state == TaskState::kSucceeded) {
    stored_reduce_result_ = std::move(reduce.result);
  }
  tracker->AddTerminalReduce(std::move(reduce));
  return OkStatus();
}

Master::ReduceEnd Master::RunReduce(std::unique_lock<std::mutex>& lock,
                                    std::string* result, bool early) {
  if (!early) {
    switch (tracker_->state_of(tracker_->EnsureReduceTask())) {
      case TaskState::kSucceeded:  // loaded so (LoadTerminalReduce)
        *result = stored_reduce_result_;
        return ReduceEnd::kSucceeded;
      case TaskState::kDead:
      case TaskState::kCancelled:
        return ReduceEnd::kDead;
      default:
        break;
    }
  }
  const EarlyReduceFeed feed{
      [this](std::vector<TaskResult>* batch, bool* complete) {
        return NextFedResults(batch, complete);
      },
      [this] { return BeginEarlyReduce(); }};
  std::atomic<bool> cancelled{false};
  while (true) {
    if (interrupted_ || !writer_error_.ok()) return ReduceEnd::kNotRun;
    std::optional<TaskRef> ref;
    TaskCounts counts{};
    if (!early) {
      ref = tracker_->StartReduce();
      Metrics().tasks_dispatched->Add(1);
      counts = tracker_->counts();
    }
    lock.unlock();
    JobContextImpl ctx(definition_, store_, writer_.get(), counts, &cancelled,
                       clock_, ref, early ? &feed : nullptr);
    TaskReport report;
    Status s = Guarded([&] {
      auto proc = registry_->Create(spec_.processor);
      if (proc == nullptr) {
        return FailedPreconditionError("processor '" + spec_.processor +
                                       "' is not registered");
      }
      return proc->Reduce(ctx);
    });
    if (early) {
      // It takes no more results. Whatever it did, the run is an attempt
      // only if the maps all succeed (it may have returned before they
      // were done).
      lock.lock();
      feed_state_ = Feed::kClosed;
      feed_ = {};
      feed_bytes_ = 0;
      lock.unlock();
      if (!ctx.Begun()) {
        lock.lock();
        return ReduceEnd::kNotRun;
      }
    }
    if (s.ok() && ctx.wrote_outputs()) {
      auto sealed = SealAttemptOutputs(ctx.attempt_dir());
      if (sealed.ok()) {
        report.outputs = *std::move(sealed);
      } else {
        s = sealed.status();
      }
    }
    if (!s.ok() && ctx.wrote_outputs()) {
      DiscardAttemptOutputs(ctx.attempt_dir());
    }
    report.ref = ctx.ref();
    report.started_ms = ctx.started_ms();
    report.finished_ms = clock_->NowMs();
    report.ok = s.ok();
    report.error = s.ok() ? "" : s.ToString();
    report.result = ctx.result();
    report.logs = std::move(ctx.logs());
    const int64_t started_ms = report.started_ms;
    const int64_t finished_ms = report.finished_ms;
    lock.lock();
    early = false;
    const bool accepted =
        tracker_->OnReport(std::move(report), kMasterWorkerId);
    const TaskState st = tracker_->state_of(ctx.ref().task_id);
    if (accepted) OutcomeMetrics().Add(st, started_ms, finished_ms);
    if (st == TaskState::kSucceeded) {
      *result = ctx.result();
      return ReduceEnd::kSucceeded;
    }
    if (st == TaskState::kDead) return ReduceEnd::kDead;
    // Failed, will retry: wait out the backoff (interruptible).
    const int64_t backoff =
        tracker_->Backoff(tracker_->used_attempts_of(ctx.ref().task_id));
    state_cv_.wait_for(lock, std::chrono::milliseconds(backoff),
                       [&] { return interrupted_ || !writer_error_.ok(); });
  }
}

void Master::FeedLocked(TaskResult r) {
  const size_t bytes = r.stage.size() + r.result.size();
  if (feed_bytes_ + bytes > options_.reduce_feed_bytes) {
    feed_state_ = Feed::kOverflowed;  // this one and the rest: the store
  } else {
    feed_bytes_ += bytes;
    feed_.push_back(std::move(r));
  }
  state_cv_.notify_all();
}

bool Master::NextFedResults(std::vector<TaskResult>* batch, bool* complete) {
  std::unique_lock<std::mutex> lock(mu_);
  state_cv_.wait(lock, [&] {
    return !feed_.empty() || feed_state_ != Feed::kOpen || interrupted_ ||
           !writer_error_.ok() || tracker_->AllTerminal();
  });
  if (interrupted_ || !writer_error_.ok()) return false;
  if (!feed_.empty()) {
    batch->swap(feed_);
    feed_bytes_ = 0;
    return true;
  }
  *complete = feed_state_ != Feed::kOverflowed;
  return false;
}

std::optional<std::pair<TaskRef, TaskCounts>> Master::BeginEarlyReduce() {
  std::unique_lock<std::mutex> lock(mu_);
  state_cv_.wait(lock, [&] {
    return interrupted_ || !writer_error_.ok() || tracker_->AllTerminal();
  });
  if (interrupted_ || !writer_error_.ok() || !tracker_->AllSucceeded()) {
    return std::nullopt;
  }
  tracker_->EnsureReduceTask();
  const TaskRef ref = tracker_->StartReduce();
  Metrics().tasks_dispatched->Add(1);
  return std::make_pair(ref, tracker_->counts());
}

Status Master::CommitOutputs(std::unique_lock<std::mutex>& lock,
                             std::vector<std::string>* names) {
  lock.unlock();
  // Every success (and its outputs) must be durable before the files that
  // the store names are moved.
  Status s = writer_->Flush();
  std::vector<CommittedOutput> outputs;
  if (s.ok()) {
    s = store_->ForEachOutput(
        job_id_, [&](const OutputRecord& o, const std::string& payload) {
          CommittedOutput c;
          c.task_id = o.task_id;
          c.attempt = o.attempt;
          c.input = DescribeInput(payload);
          c.file = o.file;
          names->push_back(o.file.name);
          outputs.push_back(std::move(c));
        });
  }
  if (s.ok()) {
    s = CommitJobOutputs(spec_.output, job_id_, outputs,
                         [](int) { MaybeInjectFault("job-commit-move"); });
  }
  lock.lock();
  return s;
}

StatusOr<int64_t> Master::StartNextStage(
    std::unique_lock<std::mutex>& lock, const std::vector<std::string>& names) {
  std::vector<std::string> files;
  files.reserve(names.size());
  for (const std::string& name : names)
    files.push_back(spec_.output + "/" + name);
  // Part files are numbered: in name order they are in the order the stage
  // made them (a sort's parts concatenate sorted).
  std::sort(files.begin(), files.end());
  const JobSpec next = NextStage(spec_, job_id_, std::move(files));
  lock.unlock();
  StatusOr<SubmitResult> r =
      SubmitJob(store_, next, worker_ids_, /*force=*/false, clock_);
  lock.lock();
  RETURN_IF_ERROR(r.status());
  return r->job_id;
}

Status Master::RunPostProcess(std::unique_lock<std::mutex>& lock) {
  std::atomic<bool> cancelled{false};
  const TaskCounts counts = tracker_->counts();
  lock.unlock();
  JobContextImpl ctx(definition_, store_, writer_.get(), counts, &cancelled,
                     clock_, /*ref=*/std::nullopt);
  Status s = Guarded([&] {
    auto proc = registry_->Create(spec_.processor);
    if (proc == nullptr) {
      return FailedPreconditionError("processor '" + spec_.processor +
                                     "' is not registered");
    }
    return proc->PostProcess(ctx);
  });
  for (const auto& l : ctx.logs()) {
    std::cerr << "[job " << job_id_ << " post-process] " << l.line << "\n";
  }
  lock.lock();
  return s;
}

StatusOr<JobOutcome> Master::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!tracker_) return FailedPreconditionError("Master::Wait before Start");
  // A Reduce that starts with the job runs now, taking results as the
  // maps report them; it ends once they are all terminal.
  std::string result;
  ReduceEnd early = ReduceEnd::kNotRun;
  if (early_reduce_) early = RunReduce(lock, &result, /*early=*/true);
  state_cv_.wait(lock, [&] {
    return interrupted_ || !writer_error_.ok() || tracker_->AllTerminal();
  });
  auto finish = [&](JobOutcome o) -> StatusOr<JobOutcome> {
    phase_ = Phase::kDone;
    WakeWorkersLocked();
    return o;
  };
  if (!writer_error_.ok()) {
    phase_ = Phase::kStopping;
    const Status err = writer_error_;
    lock.unlock();
    auto job = store_->GetJob(job_id_);
    lock.lock();
    if (job.ok() && job->state == JobState::kCancelled) {
      tracker_->CancelAll();
      return finish(OutcomeLocked(JobState::kCancelled, "job cancelled"));
    }
    return err.WithPrefix("lost the job's state store");
  }
  if (interrupted_) {
    phase_ = Phase::kStopping;
    WakeWorkersLocked();
    lock.unlock();
    Status s = writer_->Flush();
    lock.lock();
    RETURN_IF_ERROR(s);
    return finish(OutcomeLocked(JobState::kRunning, "interrupted"));
  }
  // Every task is terminal.
  std::string error;
  bool ok = tracker_->AllSucceeded();
  if (ok && spec_.model == Model::kMapReduce) {
    const ReduceEnd end = early != ReduceEnd::kNotRun
                              ? early
                              : RunReduce(lock, &result, /*early=*/false);
    ok = end == ReduceEnd::kSucceeded;
    if (!ok) error = "reduce failed";
    if (interrupted_ || !writer_error_.ok()) {
      lock.unlock();
      writer_->Flush().IgnoreError();
      lock.lock();
      if (!writer_error_.ok()) return writer_error_;
      return finish(OutcomeLocked(JobState::kRunning, "interrupted"));
    }
  } else if (!ok) {
    error = std::to_string(
                tracker_->counts()[static_cast<size_t>(TaskState::kDead)]) +
            " task(s) dead";
  }
  std::vector<std::string> committed;
  if (ok && !spec_.output.empty()) {
    Status commit = CommitOutputs(lock, &committed);
    if (!commit.ok()) {
      ok = false;
      error = commit.WithPrefix("output commit").ToString();
    }
  }
  Status post = RunPostProcess(lock);
  if (!post.ok()) {
    ok = false;
    error = post.WithPrefix("post-process").ToString();
  }
  int64_t next_job = 0;
  if (ok && !spec_.then.empty()) {
    // Before this stage is marked succeeded: a crash in between is
    // repaired by running this job again, which finds the next by its key.
    StatusOr<int64_t> next = StartNextStage(lock, committed);
    if (next.ok()) {
      next_job = *next;
      MaybeInjectFault("chain-next-made");
    } else {
      ok = false;
      error =
          next.status()
              .WithPrefix("starting stage " + std::to_string(spec_.stage + 1))
              .ToString();
    }
  }
  const JobState final_state = ok ? JobState::kSucceeded : JobState::kFailed;
  writer_->SetJobState(
      final_state, clock_->NowMs(),
      result.empty() ? std::nullopt : std::optional<std::string>(result));
  lock.unlock();
  Status s = writer_->Flush();
  lock.lock();
  if (!s.ok()) {
    auto job = store_->GetJob(job_id_);
    if (job.ok() && job->state == JobState::kCancelled) {
      return finish(OutcomeLocked(JobState::kCancelled, "job cancelled"));
    }
    return s.WithPrefix("could not record the job's final state");
  }
  JobOutcome o = OutcomeLocked(final_state, error);
  o.result = result;
  o.next_job = next_job;
  return finish(o);
}

Status Master::RegisterWorker(const WorkerInfo&) { return OkStatus(); }

StatusOr<JobDefinition> Master::GetJobDefinition(int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (job_id != job_id_ || phase_ == Phase::kIdle) {
    return NotFoundError("job " + std::to_string(job_id) +
                         " is not run by this master");
  }
  return definition_;
}

StatusOr<FetchResponse> Master::Fetch(const FetchRequest& req) {
  std::unique_lock<std::mutex> lock(mu_);
  FetchResponse resp;
  const int64_t deadline = clock_->MonoMs() + req.wait_ms;
  while (true) {
    if (phase_ == Phase::kStopping || phase_ == Phase::kDone) {
      resp.shutdown = phase_ == Phase::kDone || interrupted_;
      return resp;
    }
    if (phase_ == Phase::kRunning) {
      resp.tasks = tracker_->Dispatch(req.worker_id, req.max_tasks);
      if (shuffle_) {
        for (TaskAssignment& a : resp.tasks) {
          if (a.stage != kReduceStage) continue;
          int p = -1;
          std::from_chars(a.payload.data(), a.payload.data() + a.payload.size(),
                          p);
          a.shuffle_inputs = shuffle_->InputsFor(p);
        }
      }
      if (!resp.tasks.empty()) {
        static Counter* const dispatched = Metrics().tasks_dispatched;
        dispatched->Add(resp.tasks.size());
        if (durable_dispatch_) {
          lock.unlock();
          RETURN_IF_ERROR(writer_->Flush());
        }
        return resp;
      }
    }
    int64_t wait = deadline - clock_->MonoMs();
    if (wait <= 0) return resp;
    if (phase_ == Phase::kRunning) {
      const int64_t retry = tracker_->MsUntilNextRetry();
      if (retry >= 0) wait = std::min(wait, retry + 1);
    }
    work_cv_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

Status Master::Started(const std::string&, const std::vector<TaskRef>& tasks) {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kRunning) return OkStatus();
  for (const auto& t : tasks) tracker_->MarkStarted(t);
  return OkStatus();
}

StatusOr<ReportResponse> Master::Report(const std::string& worker_id,
                                        std::vector<TaskReport> reports) {
  std::lock_guard<std::mutex> lock(mu_);
  ReportResponse resp;
  resp.accepted.reserve(reports.size());
  bool wake_workers = false;
  OutcomeMetrics metrics;
  for (auto& r : reports) {
    // While stopping, nothing more is recorded: in-flight tasks stay
    // in flight in the store and run again as attempt+1 on resume.
    const bool may_spawn = !r.children.empty() || !r.ok;
    const int64_t task_id = r.ref.task_id;
    const int64_t started_ms = r.started_ms;
    const int64_t finished_ms = r.finished_ms;
    if (shuffle_ && !r.ok && !r.lost_map_tasks.empty() &&
        phase_ == Phase::kRunning) {
      OnLostMapOutputsLocked(r);
    }
    // A Reduce started early gets a copy of each map result (the report's
    // goes to the store writer).
    std::optional<TaskResult> fed;
    if (feed_state_ == Feed::kOpen && r.ok && phase_ == Phase::kRunning &&
        tracker_->stage_of(task_id) != kReduceStage) {
      fed = TaskResult{task_id, tracker_->stage_of(task_id), r.result};
    }
    std::optional<shuffle::MapOutputRef> map_output;
    if (shuffle_ && r.ok && phase_ == Phase::kRunning &&
        tracker_->stage_of(task_id) != kReduceStage) {
      auto ref = shuffle_->Decode(task_id, r.result);
      if (ref.ok()) {
        map_output = *std::move(ref);
      } else {
        r.ok = false;
        r.error = ref.status().ToString();
      }
    }
    const bool ok = phase_ == Phase::kRunning &&
                    tracker_->OnReport(std::move(r), worker_id);
    if (ok) metrics.Add(tracker_->state_of(task_id), started_ms, finished_ms);
    if (ok && fed && tracker_->state_of(task_id) == TaskState::kSucceeded) {
      FeedLocked(*std::move(fed));
    }
    if (ok && map_output &&
        tracker_->state_of(task_id) == TaskState::kSucceeded) {
      shuffle_->Set(task_id, *std::move(map_output));
      wake_workers = true;  // the reduce tasks may be ready now
    }
    wake_workers |= ok && may_spawn;
    resp.accepted.push_back(ok);
  }
  if (wake_workers) WakeWorkersLocked();
  if (tracker_ && tracker_->AllTerminal()) state_cv_.notify_all();
  return resp;
}

StatusOr<HeartbeatResponse> Master::Heartbeat(const HeartbeatRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  HeartbeatResponse resp;
  if (phase_ == Phase::kStopping || phase_ == Phase::kDone) {
    resp.cancel = req.running;
    resp.shutdown = phase_ == Phase::kDone || interrupted_;
    return resp;
  }
  if (tracker_) {
    // Attempts the worker still runs but the master no longer expects
    // (cancelled, or superseded): tell it to stop them.
    for (const auto& ref : req.running) {
      if (ref.job_id != job_id_ ||
          tracker_->attempt_of(ref.task_id) != ref.attempt ||
          !IsInFlight(tracker_->state_of(ref.task_id))) {
        resp.cancel.push_back(ref);
      }
    }
  }
  return resp;
}

}  // namespace taskgrid
