#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <system_error>

#include "core/fault.h"
#include "core/owner.h"
#include "core/status_macros.h"
#include "io/output_committer.h"

namespace taskgrid {

// One attempt in progress: the TaskContext the processor sees.
// A shuffle attempt also answers as a ShuffleTaskContext (from `shuffle`).
class Worker::Running : public TaskContext, public ShuffleTaskContext {
 public:
  Running(const TaskAssignment& a, const JobDefinition& def,
          const std::string& worker_id, Clock* clock,
          std::unique_ptr<ShuffleAttempt> shuffle = nullptr)
      : a_(a),
        def_(def),
        worker_id_(worker_id),
        clock_(clock),
        shuffle_(std::move(shuffle)) {
    if (def.timeout_ms > 0) deadline_mono_ = clock->MonoMs() + def.timeout_ms;
  }

  // TaskContext::Emit.
  void Emit(std::string_view key, std::string_view value) override {
    if (shuffle_ == nullptr || shuffle_->is_reduce()) {
      throw std::logic_error(
          "Emit() is only allowed in the map tasks of a shuffle job");
    }
    Status s = shuffle_->Emit(key, value);
    if (!s.ok()) {
      emit_error_ = s;
      throw std::runtime_error(s.ToString());
    }
  }

  // ShuffleTaskContext (shuffle jobs only: AsShuffleContext checks).
  bool is_shuffle() const override { return shuffle_ != nullptr; }
  const JobDefinition& definition() const override { return def_; }
  StatusOr<std::string> MapOutputDir() override {
    return shuffle_->MapOutputDir();
  }
  void SetMapOutput(shuffle::MapOutputInfo info) override {
    shuffle_->SetMapOutput(std::move(info));
  }
  int partition() const override { return shuffle_->partition(); }
  const std::vector<ShuffleInput>& inputs() const override {
    return a_.shuffle_inputs;
  }
  StatusOr<std::unique_ptr<shuffle::SegmentSource>> OpenInput(
      const ShuffleInput& in) override {
    return shuffle_->OpenInput(in);
  }
  StatusOr<std::string> ScratchDir() override { return shuffle_->ScratchDir(); }
  void ReportLostInput(int64_t map_task_id) override {
    shuffle_->ReportLostInput(map_task_id);
  }

  int64_t job_id() const override { return a_.ref.job_id; }
  int64_t task_id() const override { return a_.ref.task_id; }
  const std::string& stage() const override { return a_.stage; }
  const std::string& payload() const override { return a_.payload; }
  int attempt() const override { return a_.ref.attempt; }
  const Params& params() const override { return def_.params; }
  const std::string& worker_id() const override { return worker_id_; }
  const std::string& output_dir() const override { return def_.output; }

  StatusOr<std::string> OutputPath(std::string_view name) override {
    if (def_.output.empty()) {
      return FailedPreconditionError(
          "the job has no output directory (set `output:` in its spec)");
    }
    Status s = CheckOutputName(name);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    if (attempt_dir_.empty()) {
      const std::string dir = AttemptOutputDir(def_.output, a_.ref.job_id,
                                               a_.ref.task_id, a_.ref.attempt);
      RETURN_IF_ERROR(MakeDirectories(dir));
      attempt_dir_ = dir;
    }
    return attempt_dir_ + "/" + std::string(name);
  }

  void Log(LogLevel level, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    logs_.push_back(
        {clock_->NowMs(), static_cast<int>(level), std::string(line)});
  }
  bool cancelled() const override { return cancelled_.load(); }
  bool SleepFor(std::chrono::milliseconds d) override {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return cancelled_.load(); });
  }
  void SetResult(std::string result) override { result_ = std::move(result); }
  void Map(std::vector<std::string> payloads, std::string_view stage) override {
    if (def_.model != Model::kMap && def_.model != Model::kMapReduce) {
      throw std::logic_error(
          "Map() is only allowed under the map and mapreduce models (this "
          "job's model is " +
          std::string(ModelName(def_.model)) + ")");
    }
    if (stage.empty() || stage == "reduce") {
      throw std::invalid_argument("Map(): invalid stage name '" +
                                  std::string(stage) + "'");
    }
    children_.push_back({std::string(stage), std::move(payloads)});
  }

  void Cancel(std::string why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_.load()) return;
      cancel_reason_ = std::move(why);
      cancelled_.store(true);
    }
    cv_.notify_all();
  }

  const TaskRef& ref() const { return a_.ref; }
  int64_t deadline_mono() const { return deadline_mono_; }
  int64_t timeout_ms() const { return def_.timeout_ms; }

  TaskReport TakeReport(Status s, int64_t started_ms) {
    TaskReport r;
    r.ref = a_.ref;
    r.started_ms = started_ms;
    r.finished_ms = clock_->NowMs();
    std::lock_guard<std::mutex> lock(mu_);
    if (!emit_error_.ok()) s = emit_error_;  // not "processor threw"
    if (s.ok() && cancelled_.load()) {
      // Finished, but too late: a timed-out attempt does not count.
      s = DeadlineExceededError(cancel_reason_);
    } else if (!s.ok() && cancelled_.load()) {
      s = Status(s.code(), cancel_reason_ + " (" + s.message() + ")");
    }
    if (s.ok() && shuffle_ != nullptr && !shuffle_->is_reduce()) {
      // The map output is durable before the master hears of it.
      auto result = shuffle_->FinishMap();
      if (result.ok()) {
        result_ = *std::move(result);
      } else {
        s = result.status().WithPrefix("map output");
      }
    }
    if (!s.ok() && shuffle_ != nullptr) {
      r.lost_map_tasks = std::move(shuffle_->lost_inputs());
      shuffle_->Discard();
    }
    if (s.ok() && !attempt_dir_.empty()) {
      // Seal before reporting: the files must be durable before the master
      // can record them as this task's output.
      auto sealed = SealAttemptOutputs(attempt_dir_);
      if (sealed.ok()) {
        r.outputs = *std::move(sealed);
        MaybeInjectFault("after-seal");
      } else {
        s = sealed.status();
      }
    }
    r.ok = s.ok();
    if (r.ok) {
      r.result = std::move(result_);
      r.children = std::move(children_);
    } else {
      r.error = s.ToString();
      if (!attempt_dir_.empty()) DiscardAttemptOutputs(attempt_dir_);
    }
    r.logs = std::move(logs_);
    return r;
  }

 private:
  const TaskAssignment& a_;
  const JobDefinition& def_;
  const std::string& worker_id_;
  Clock* const clock_;
  int64_t deadline_mono_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> cancelled_{false};
  std::string cancel_reason_;         // guarded by mu_
  std::string attempt_dir_;           // guarded by mu_; "" = no outputs
  std::vector<ReportedLog> logs_;     // guarded by mu_
  std::string result_;                // processor thread only
  std::vector<ChildTasks> children_;  // processor thread only
  const std::unique_ptr<ShuffleAttempt> shuffle_;  // shuffle jobs only
  Status emit_error_;                              // processor thread only
};

Worker::Worker(WorkerOptions options, std::unique_ptr<MasterService> master,
               const ProcessorRegistry* registry)
    : options_(std::move(options)),
      master_(std::move(master)),
      registry_(registry),
      clock_(options_.clock ? options_.clock : Clock::Real()),
      shuffle_env_{
          .data_dir = !options_.data_dir.empty()
                          ? options_.data_dir
                          : (std::filesystem::temp_directory_path() /
                             ("taskgrid-data-" + std::to_string(getpid())))
                                .string(),
          .worker_id = options_.id,
          .data_address = options_.data_address} {}

Worker::~Worker() {
  Stop();
  Join();
}

Status Worker::Start() {
  WorkerInfo info;
  info.id = options_.id;
  info.slots = options_.slots;
  info.pid = getpid();
  info.host = HostName();
  info.data_address = options_.data_address;
  Status s = master_->RegisterWorker(info);
  if (!s.ok()) return s;
  live_slots_ = options_.slots;
  for (int i = 0; i < options_.slots; ++i) {
    threads_.emplace_back([this, i] { SlotLoop(i); });
  }
  watchdog_ = std::thread([this] { WatchdogLoop(); });
  return OkStatus();
}

void Worker::Stop() { stop_ = true; }

void Worker::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  stop_ = true;
  // Every slot has exited (done()): wake the watchdog rather than wait
  // out its tick. Taking the lock orders this after a check of done()
  // that the watchdog made before it began to wait.
  { std::lock_guard<std::mutex> lock(watchdog_mu_); }
  watchdog_wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

bool Worker::done() const { return live_slots_.load() == 0; }

namespace {

// Runs the processor (a shuffle job's reduce tasks: its ReducePartition),
// turning an exception into a failed attempt.
Status RunGuarded(Processor& p, TaskContext& ctx, bool shuffle_reduce) {
  try {
    if (shuffle_reduce) {
      auto* sp = dynamic_cast<ShuffleProcessor*>(&p);
      if (sp == nullptr) {
        return FailedPreconditionError(
            "a shuffle job's processor must derive from ShuffleProcessor");
      }
      return sp->ReducePartition(ctx);
    }
    return p.Process(ctx);
  } catch (const std::exception& e) {
    return UnknownError(std::string("processor threw: ") + e.what());
  } catch (...) {
    return UnknownError("processor threw a non-std exception");
  }
}

}  // namespace

void Worker::SlotLoop(int) {
  // Per-slot caches: one job definition and processor instance per job.
  std::map<int64_t, JobDefinition> defs;
  std::map<int64_t, std::unique_ptr<Processor>> procs;
  std::map<int64_t, std::shared_ptr<const shuffle::Partitioner>> partitioners;
  int batch = 1;
  int64_t backoff_ms = 10;
  while (!stop_) {
    FetchRequest req;
    req.worker_id = options_.id;
    req.max_tasks = batch;
    req.wait_ms = options_.fetch_wait_ms;
    auto fetched = master_->Fetch(req);
    if (!fetched.ok()) {
      // Master unreachable: back off and retry.
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
      continue;
    }
    backoff_ms = 10;
    if (fetched->shutdown) break;
    if (fetched->tasks.empty()) continue;

    std::vector<TaskReport> reports;
    reports.reserve(fetched->tasks.size());
    const int64_t batch_start = clock_->MonoMs();
    for (const TaskAssignment& a : fetched->tasks) {
      const int64_t job_id = a.ref.job_id;
      auto dit = defs.find(job_id);
      if (dit == defs.end() && defs.size() >= 64) {
        // A long-lived worker sees many jobs: forget the old ones.
        defs.clear();
        procs.clear();
        partitioners.clear();
      }
      if (dit == defs.end()) {
        auto def = master_->GetJobDefinition(job_id);
        if (!def.ok()) {
          TaskReport r;
          r.ref = a.ref;
          r.error = def.status().ToString();
          reports.push_back(std::move(r));
          continue;
        }
        dit = defs.emplace(job_id, *std::move(def)).first;
        if (options_.on_job) options_.on_job(dit->second);
      }
      auto pit = procs.find(job_id);
      if (pit == procs.end()) {
        pit = procs.emplace(job_id, registry_->Create(dit->second.processor))
                  .first;
      }
      const JobDefinition& def = dit->second;
      std::unique_ptr<ShuffleAttempt> shuffle;
      Status setup;
      if (def.model == Model::kShuffle) {
        auto part = partitioners.find(job_id);
        if (part == partitioners.end()) {
          auto made = MakeJobPartitioner(def);
          if (made.ok()) {
            part = partitioners.emplace(job_id, *std::move(made)).first;
          } else {
            setup = made.status();
          }
        }
        if (setup.ok()) {
          shuffle = std::make_unique<ShuffleAttempt>(
              a, def, shuffle_env_, part->second,
              dynamic_cast<ShuffleProcessor*>(pit->second.get()));
        }
      }
      const bool shuffle_reduce = shuffle != nullptr && shuffle->is_reduce();
      if (shuffle_reduce) MaybeInjectFault("shuffle-reduce-start");
      Running run(a, def, options_.id, clock_, std::move(shuffle));
      const int64_t started = clock_->NowMs();
      if (fetched->tasks.size() == 1) {
        master_->Started(options_.id, {a.ref}).IgnoreError();
      }
      {
        std::lock_guard<std::mutex> lock(running_mu_);
        running_.push_back(&run);
      }
      Status s = pit->second == nullptr
                     ? FailedPreconditionError("processor '" + def.processor +
                                               "' is not registered in this "
                                               "worker")
                 : !setup.ok() ? setup
                               : RunGuarded(*pit->second, run, shuffle_reduce);
      // Reported before it leaves running_: TakeReport still writes (a
      // map's output, sealed files), and a job's shuffle data is only
      // dropped while none of its attempts is in running_.
      reports.push_back(run.TakeReport(std::move(s), started));
      {
        std::lock_guard<std::mutex> lock(running_mu_);
        running_.erase(std::find(running_.begin(), running_.end(), &run));
      }
    }
    const int64_t elapsed = clock_->MonoMs() - batch_start;
    const auto n = static_cast<int64_t>(fetched->tasks.size());
    if (elapsed <= n / 4) {
      batch = std::min(batch * 2, options_.max_batch);  // under ~0.25 ms/task
    } else if (elapsed > 20 * n || elapsed > 50) {
      batch = 1;
    }
    // Reports are retried until the master takes them: an outcome is never
    // dropped while the master is merely unreachable.
    while (true) {
      auto resp = master_->Report(options_.id, reports);
      if (resp.ok() || stop_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
    }
  }
  live_slots_.fetch_sub(1);
}

void Worker::DropShuffleData(const std::vector<int64_t>& jobs) {
  for (int64_t job : jobs) {
    std::string detached;
    {
      // Under running_mu_: no attempt of the job can start writing while
      // its directory is moved aside (a later one makes a fresh one).
      std::lock_guard<std::mutex> lock(running_mu_);
      const bool busy =
          std::any_of(running_.begin(), running_.end(),
                      [&](Running* r) { return r->ref().job_id == job; });
      if (busy) continue;  // asked again at the next heartbeat
      detached = DetachShuffleJob(shuffle_env_.data_dir, job);
    }
    RemoveShuffleTree(detached);
  }
}

void Worker::WatchdogLoop() {
  int64_t last_heartbeat = 0;
  while (!done()) {
    {
      std::unique_lock<std::mutex> lock(watchdog_mu_);
      if (watchdog_wake_.wait_for(lock, std::chrono::milliseconds(10),
                                  [&] { return done(); })) {
        break;
      }
    }
    const int64_t now = clock_->MonoMs();
    std::vector<TaskRef> running;
    {
      std::lock_guard<std::mutex> lock(running_mu_);
      for (Running* r : running_) {
        if (r->deadline_mono() != 0 && now >= r->deadline_mono()) {
          r->Cancel("timed out after " + std::to_string(r->timeout_ms()) +
                    " ms");
        }
        running.push_back(r->ref());
      }
    }
    if (now - last_heartbeat < options_.heartbeat_ms) continue;
    last_heartbeat = now;
    HeartbeatRequest hb;
    hb.worker_id = options_.id;
    hb.running = running;
    hb.shuffle_jobs = ShuffleJobsOnDisk(shuffle_env_.data_dir);
    auto resp = master_->Heartbeat(hb);
    if (!resp.ok()) continue;
    if (!resp->drop_jobs.empty()) DropShuffleData(resp->drop_jobs);
    if (!resp->cancel.empty()) {
      std::lock_guard<std::mutex> lock(running_mu_);
      for (Running* r : running_) {
        for (const TaskRef& c : resp->cancel) {
          if (c.job_id == r->ref().job_id && c.task_id == r->ref().task_id &&
              c.attempt == r->ref().attempt) {
            r->Cancel("cancelled by the master");
          }
        }
      }
    }
  }
}

}  // namespace taskgrid
