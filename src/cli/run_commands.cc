// run, resume, rerun: drive a job on this machine with a live progress line
// (and, with --http, the web API while it runs); dashboard: the web API over
// the state file until Ctrl-C.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/local_runner.h"
#include "cli/net.h"
#include "core/metrics.h"
#include "core/owner.h"
#include "master/store_control.h"
#include "master/submit.h"
#include "web/web_server.h"  // WebServerOptions

namespace taskgrid {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) {
    // Second interrupt: leave now. The store is crash-safe by design.
    _exit(kExitInterrupted);
  }
}

// Whether a live process (this one included) drives the job now: then a
// rerun must wait (the driver would not see it).
bool JobIsDriven(const JobRecord& job) {
  return !IsTerminal(job.state) && !job.owner.empty() &&
         OwnerIsAlive(job.owner) &&
         Clock::Real()->NowMs() - job.heartbeat_ms < 10'000;
}

// The runner driving a job in this process, for the web API's counts
// (registered by DriveJob for as long as the runner lives).
struct LiveRun {
  std::mutex mu;
  const LocalRunner* runner = nullptr;  // guarded by mu
  int64_t job_id = 0;                   // guarded by mu
};

// --http: the web API over a StoreControl on the run's own store, for as
// long as it lives.
struct HttpServing {
  std::shared_ptr<LiveRun> live = std::make_shared<LiveRun>();
  std::unique_ptr<StoreControl> control;
  HttpServer server;  // declared last: stopped first
};

// Serves when `o.http` asks for it; false (error printed) if it cannot.
bool ServeIfAsked(StateStore* store, const RunOptions& o, HttpServing* out) {
  if (o.http.empty()) return true;
  out->control = std::make_unique<StoreControl>(
      store,
      StoreControlOptions{
          .is_running = JobIsDriven,
          .live = [live = out->live](int64_t id) -> std::optional<Progress> {
            std::lock_guard<std::mutex> lock(live->mu);
            if (live->runner == nullptr || live->job_id != id) {
              return std::nullopt;
            }
            return live->runner->progress();
          }});
  out->server = StartHttpOrPrint(o.http, out->control.get(), {});
  return out->server != nullptr;
}

// Shuffle data next to a state file (.taskgrid/data), so that the map
// outputs of an interrupted job are still there when it resumes; in the
// workers' default directory for a PostgreSQL store.
std::string DataDirFor(const std::string& state) {
  if (state.rfind("postgres", 0) == 0) return "";
  const std::filesystem::path parent =
      std::filesystem::path(state).parent_path();
  return (parent.empty() ? std::filesystem::path("data") : parent / "data")
      .string();
}

// With a token (--token-file), tg:// inputs open through the workers' data
// services for as long as the object lives.
class TgInputs {
 public:
  // False (error printed) if the token or TLS files cannot be read.
  bool Install(const RemoteOptions& r) {
    if (r.token_file.empty()) return true;
    installed_ = InstallTgInputs(r);
    return installed_;
  }
  ~TgInputs() {
    if (installed_) UninstallTgInputs();
  }

 private:
  bool installed_ = false;
};

int DefaultWorkers() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Drives job `job_id` to completion in this process and prints a summary;
// `http`'s API reads the runner's counts while it runs. *next_job: the job
// of a chain's next stage, once this one succeeded (else 0).
int DriveJob(StateStore* store, int64_t job_id, const RunOptions& o,
             HttpServing* http, int64_t* next_job) {
  *next_job = 0;
  const int workers = o.workers > 0 ? o.workers : DefaultWorkers();
  LocalRunnerOptions lo;
  lo.workers = workers;
  lo.data_dir = DataDirFor(o.common.state_path);
  LocalRunner runner(store, &ProcessorRegistry::Global(), lo);
  struct Registration {
    LiveRun* live;
    Registration(LiveRun* l, const LocalRunner* r, int64_t id) : live(l) {
      std::lock_guard<std::mutex> lock(live->mu);
      live->runner = r;
      live->job_id = id;
    }
    ~Registration() {
      std::lock_guard<std::mutex> lock(live->mu);
      live->runner = nullptr;
    }
  } registration(http->live.get(), &runner, job_id);
  Metrics().workers->Set(workers);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const bool tty = o.progress && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  // The watcher ticks every 50 ms until the job ends, and is woken then
  // (not left to finish its tick, which would delay every run's exit).
  std::mutex finished_mu;
  std::condition_variable finished_cv;
  bool finished = false;  // guarded by finished_mu
  std::thread watcher([&] {
    bool interrupted = false;
    int64_t done_at_start = -1;
    int tick = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(finished_mu);
        if (finished_cv.wait_for(lock, std::chrono::milliseconds(50),
                                 [&] { return finished; })) {
          break;
        }
      }
      if (!interrupted && g_signals.load() > 0) {
        interrupted = true;
        if (tty) std::cerr << "\r\033[K";
        std::cerr << "taskgrid: interrupted; stopping (job " << job_id
                  << " stays resumable; press Ctrl-C again to quit now)\n";
        runner.Interrupt();
      }
      if (!tty || ++tick % 5 != 0) continue;
      const Progress p = runner.progress();
      if (done_at_start < 0) done_at_start = DoneCount(p.counts);
      const double secs = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
      std::cerr << "\r\033[K"
                << ProgressLine(job_id, p.counts, p.total, secs, done_at_start)
                << std::flush;
    }
    if (tty) std::cerr << "\r\033[K" << std::flush;
  });

  StatusOr<JobOutcome> outcome = runner.Run(job_id);
  Metrics().workers->Set(0);
  {
    std::lock_guard<std::mutex> lock(finished_mu);
    finished = true;
  }
  finished_cv.notify_all();
  watcher.join();
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  if (!outcome.ok()) {
    PrintError(outcome.status());
    return outcome.status().code() == StatusCode::kFailedPrecondition
               ? kExitUsage
               : kExitJobFailed;
  }
  const JobOutcome& out = *outcome;
  const auto c = [&](TaskState s) {
    return out.counts[static_cast<size_t>(s)];
  };
  int64_t total = 0;
  for (int64_t n : out.counts) total += n;
  std::cout << fmt::format("job {} {} in {}\n", job_id,
                           out.state == JobState::kRunning
                               ? std::string("interrupted")
                               : std::string(JobStateName(out.state)),
                           FormatDuration(wall_ms));
  std::cout << fmt::format(
      "  tasks:    {} total: {} succeeded, {} dead, {} cancelled, {} "
      "unfinished\n",
      total, c(TaskState::kSucceeded), c(TaskState::kDead),
      c(TaskState::kCancelled),
      c(TaskState::kPending) + c(TaskState::kFailed) +
          c(TaskState::kDispatched) + c(TaskState::kRunning));
  std::cout << fmt::format(
      "  attempts: {} this run ({} failed, {} late reports rejected), "
      "{:.0f} tasks/s\n",
      out.attempts, out.failed_attempts, out.rejected_reports,
      wall_ms > 0 ? out.attempts * 1000.0 / wall_ms : 0.0);
  if (!out.result.empty()) {
    std::cout << "  result:   " << out.result << "\n";
  }
  if (!out.error.empty() && out.state != JobState::kSucceeded) {
    std::cout << "  reason:   " << out.error << "\n";
  }
  if (c(TaskState::kDead) > 0) {
    std::cout << fmt::format(
        "  see: taskgrid tasks {} --status dead; taskgrid rerun {} --failed\n",
        job_id, job_id);
  }
  if (out.state == JobState::kRunning) {
    std::cout << fmt::format("  resume with: taskgrid resume {}\n", job_id);
  }
  if (out.next_job != 0) {
    std::cout << fmt::format("  next:     job {} runs the next stage\n",
                             out.next_job);
    *next_job = out.next_job;
  }
  return ExitCodeFor(out.state);
}

// Drives job `job_id` and, for a chain of stages, each stage after it.
int DriveChain(StateStore* store, int64_t job_id, const RunOptions& o,
               HttpServing* http) {
  while (true) {
    int64_t next = 0;
    const int rc = DriveJob(store, job_id, o, http, &next);
    if (next == 0) return rc;
    // A stage run again (rerun) finds the stage after it as it was left.
    auto job = store->GetJob(next);
    if (job.ok() && IsTerminal(job->state)) {
      std::cout << fmt::format("job {} (the next stage) is already {}\n", next,
                               JobStateName(job->state));
      return ExitCodeFor(job->state);
    }
    job_id = next;
  }
}

// Submits `spec` (unless its key has a job) and drives it.
int SubmitAndDrive(const RunOptions& o, const JobSpec& spec) {
  auto store = OpenStoreOrPrint(o.common.state_path);
  if (!store) return kExitUsage;
  TgInputs tg;
  if (!tg.Install(o.common.remote)) return kExitUsage;
  HttpServing http;
  if (!ServeIfAsked(store.get(), o, &http)) return kExitUsage;
  const int workers = o.workers > 0 ? o.workers : DefaultWorkers();
  std::vector<std::string> ids;
  for (int i = 0; i < workers; ++i) ids.push_back("local-" + std::to_string(i));
  auto submitted = SubmitJob(store.get(), spec, ids, o.force, Clock::Real());
  if (!submitted.ok()) {
    PrintError(submitted.status());
    const StatusCode code = submitted.status().code();
    // A glob that matches nothing or a missing input is a spec error.
    return code == StatusCode::kInvalidArgument ||
                   code == StatusCode::kNotFound ||
                   code == StatusCode::kPermissionDenied
               ? kExitUsage
               : kExitJobFailed;
  }
  if (submitted->existed) {
    auto job = store->GetJob(submitted->job_id);
    if (!job.ok()) {
      PrintError(job.status());
      return kExitJobFailed;
    }
    std::cout << fmt::format(
        "job {} with key '{}' already exists (state: {}); not starting "
        "another. Use --force to run it again.\n",
        job->id, job->key, JobStateName(job->state));
    CommonOptions co = o.common;
    co.json = false;
    CmdStatus(co, job->id);
    return job->state == JobState::kSucceeded ? kExitOk
           : IsTerminal(job->state)           ? kExitJobFailed
                                              : kExitOk;
  }
  if (!isatty(STDERR_FILENO) || !o.progress) {
    std::cerr << "taskgrid: job " << submitted->job_id << " started\n";
  }
  return DriveChain(store.get(), submitted->job_id, o, &http);
}

}  // namespace

int CmdRun(const RunOptions& o, const std::string& spec_path) {
  std::optional<JobSpec> spec = ReadSpecOrPrint(spec_path);
  if (!spec || !ApplyMemoryOrPrint(o.memory, &*spec)) return kExitUsage;
  return SubmitAndDrive(o, *spec);
}

int CmdRunShell(const RunOptions& o, const ShellOptions& shell,
                const std::vector<std::string>& inputs) {
  if (shell.output.empty()) {
    std::cerr << "taskgrid run --shell: --output DIR is required\n";
    return kExitUsage;
  }
  JobSpec spec;
  spec.name = "shell";
  spec.processor = "shell";
  spec.model = Model::kMap;
  spec.input_kind = JobSpec::InputKind::kFiles;
  spec.files = inputs;
  spec.params = Params({{"command", shell.command}});
  spec.output = shell.output;
  spec.retry.max_attempts = shell.max_attempts;
  return SubmitAndDrive(o, spec);
}

namespace {

// Opens the state file and reads job `job_id`; prints the error (and sets
// *rc to the exit code) when either fails.
std::unique_ptr<StateStore> OpenWithJob(const CommonOptions& o, int64_t job_id,
                                        JobRecord* job, int* rc) {
  *rc = kExitUsage;
  auto store = OpenStoreOrPrint(o.state_path);
  if (!store) return nullptr;
  auto j = store->GetJob(job_id);
  if (!j.ok()) {
    PrintError(j.status());
    return nullptr;
  }
  *job = *std::move(j);
  return store;
}

}  // namespace

int CmdResume(const RunOptions& o, int64_t job_id) {
  JobRecord job;
  int rc = kExitOk;
  auto store = OpenWithJob(o.common, job_id, &job, &rc);
  if (!store) return rc;
  // A chained stage that succeeded: go on with the first stage after it
  // that is not finished.
  while (job.state == JobState::kSucceeded) {
    auto next = store->FindJobByKey(NextStageKey(job.id));
    if (!next.ok()) {
      PrintError(next.status());
      return kExitJobFailed;
    }
    if (!*next) break;
    std::cout << fmt::format("job {} succeeded; job {} runs the next stage\n",
                             job.id, (*next)->id);
    job = **next;
  }
  if (IsTerminal(job.state)) {
    std::cout << fmt::format("job {} is already {}; nothing to resume\n",
                             job.id, JobStateName(job.state));
    return ExitCodeFor(job.state);
  }
  TgInputs tg;
  if (!tg.Install(o.common.remote)) return kExitUsage;
  HttpServing http;
  if (!ServeIfAsked(store.get(), o, &http)) return kExitUsage;
  return DriveChain(store.get(), job.id, o, &http);
}

int CmdRerun(const RunOptions& o, int64_t job_id, bool failed,
             const std::vector<int64_t>& task_ids) {
  JobRecord job;
  int rc = kExitOk;
  auto store = OpenWithJob(o.common, job_id, &job, &rc);
  if (!store) return rc;
  if (JobIsDriven(job)) {
    std::cerr << fmt::format(
        "taskgrid: job {} is being run by {}; wait for it or cancel it\n",
        job_id, job.owner);
    return kExitUsage;
  }
  auto n = store->RerunTasks(job_id, failed, task_ids, kReduceStage);
  if (!n.ok()) {
    PrintError(n.status());
    return n.status().code() == StatusCode::kNotFound ? kExitUsage
                                                      : kExitJobFailed;
  }
  if (*n == 0) {
    std::cout << fmt::format("job {}: no task to rerun (state: {})\n", job_id,
                             JobStateName(job.state));
    return ExitCodeFor(job.state);
  }
  std::cout << fmt::format("job {}: {} task(s) set to run again\n", job_id, *n);
  TgInputs tg;
  if (!tg.Install(o.common.remote)) return kExitUsage;
  HttpServing http;
  if (!ServeIfAsked(store.get(), o, &http)) return kExitUsage;
  return DriveChain(store.get(), job_id, o, &http);
}

int CmdDashboard(const CommonOptions& o, const std::string& http) {
  // Taken synchronously below; blocked before any thread starts, so no
  // server thread gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::error_code ec;
  if (!std::filesystem::exists(o.state_path, ec)) {
    std::cerr << "taskgrid dashboard: no state file at " << o.state_path
              << " (give --state FILE, or run a job first)\n";
    return kExitUsage;
  }
  auto store = OpenStoreOrPrint(o.state_path);
  if (!store) return kExitUsage;
  StoreControl control(store.get(),
                       StoreControlOptions{.is_running = JobIsDriven});
  auto server =
      StartHttpOrPrint(http.empty() ? kDefaultHttpAddress : http, &control, {});
  if (!server) return kExitUsage;
  std::cerr << "taskgrid dashboard: serving " << o.state_path
            << " until Ctrl-C\n";
  int sig = 0;
  sigwait(&stop, &sig);
  server.reset();  // stops it
  return kExitOk;
}

}  // namespace taskgrid
