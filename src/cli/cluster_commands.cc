// master, worker, submit, and rerun against a cluster.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/net.h"
#include "core/owner.h"
#include "core/status_macros.h"
#include "master/cluster_master.h"
#include "rpc/grpc/grpc_failover.h"
#include "rpc/grpc/grpc_transport.h"
#include "web/web_server.h"
#include "worker/data_client.h"
#include "worker/data_service.h"
#include "worker/worker.h"

namespace taskgrid {
namespace {

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// (call first), so WaitForSignal() can take them synchronously.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Waits up to `ms` for SIGINT or SIGTERM; true if one came.
bool WaitForSignal(const sigset_t& set, int64_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000),
              static_cast<long>((ms % 1000) * 1'000'000)};
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

// "0.0.0.0:7700" → "HOST:7700" (what a client on another host can dial).
std::string AdvertisedAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    host = HostName();
  }
  return host + ":" + std::to_string(port);
}

StatusOr<ClusterClientOptions> ClientOptions(const RemoteOptions& r,
                                             int64_t failover_timeout_ms) {
  if (!r.enabled()) {
    return InvalidArgumentError(
        "no master given: use --master HOST:PORT[,HOST:PORT] (or set "
        "TASKGRID_MASTER)");
  }
  ClusterClientOptions co;
  auto token = ReadTokenFile(r.token_file);
  if (!token.ok()) return token.status();
  auto addresses = ParseMasterList(r.masters);
  if (!addresses.ok()) return addresses.status();
  co.addresses = *std::move(addresses);
  co.token = *std::move(token);
  co.tls.ca_path = r.tls_ca;
  co.tls.cert_path = r.tls_cert;
  co.tls.key_path = r.tls_key;
  co.failover_timeout_ms = failover_timeout_ms;
  return co;
}

int UsageOrFailure(const Status& s) {
  PrintError(s);
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kFailedPrecondition:
      return kExitUsage;
    default:
      return kExitJobFailed;
  }
}

// Makes the spec's relative paths absolute against this directory: the
// master resolves them on its own file system, from its own directory.
void AbsolutizePaths(JobSpec* spec) {
  namespace fs = std::filesystem;
  const fs::path cwd = fs::current_path();
  const auto absolutize = [&](std::string& path) {
    // URLs (tg://WORKER/PATH) name their own place.
    if (!path.empty() && path[0] != '/' &&
        path.find("://") == std::string::npos) {
      path = (cwd / path).string();
    }
  };
  for (std::string& f : spec->files) absolutize(f);
  absolutize(spec->output);
  for (JobSpec& stage : spec->then) absolutize(stage.output);
}

}  // namespace

int CmdMaster(const MasterCmdOptions& o) {
  const sigset_t signals = BlockStopSignals();
  auto token = ReadTokenFile(o.token_file);
  if (!token.ok()) return UsageOrFailure(token.status());
  auto store = OpenStoreUrl(o.store);
  if (!store.ok()) {
    PrintError(store.status().WithPrefix("cannot open the state store"));
    return kExitUsage;
  }
  ClusterMasterOptions mo;
  mo.worker_timeout_ms = o.worker_timeout_ms;
  mo.leader_lease_ms = o.leader_lease_ms;
  ClusterMaster master(store->get(), &ProcessorRegistry::Global(), mo);
  // Job inputs may name tg:// URLs: their globs are expanded here, at
  // submit, through the workers' data services (ids resolve through this
  // master itself).
  DataClientOptions dco;
  dco.token = *token;
  InstallTgOpener(std::make_shared<TgResolver>(
      static_cast<ControlService*>(&master), std::move(dco)));
  struct OpenerReset {
    ~OpenerReset() { InstallTgOpener(nullptr); }
  } opener_reset;  // after `master`: reset before it goes
  GrpcTlsOptions tls;
  tls.cert_path = o.tls_cert;
  tls.key_path = o.tls_key;
  auto server = GrpcMasterServer::Start(&master, o.listen, *token, tls,
                                        /*control=*/&master);
  if (!server.ok()) return UsageOrFailure(server.status());
  const std::string address =
      o.advertise.empty() ? AdvertisedAddress(o.listen, (*server)->port())
                          : o.advertise;
  master.SetAddress(address);
  Status s = master.Start();
  if (!s.ok()) return UsageOrFailure(s);
  std::cerr << fmt::format(
      "taskgrid master: serving workers and clients on {} (port {}); "
      "waiting for leadership\n",
      address, (*server)->port());
  HttpServer web;
  if (!o.http.empty()) {
    // The API answers from the master itself (a standby answers 503), and
    // its POSTs need the cluster token.
    WebServerOptions wo;
    wo.token = *token;
    if (!o.advertise.empty()) {
      // The name clients use for this host, with the HTTP port.
      wo.allowed_hosts.push_back(o.advertise.substr(0, o.advertise.rfind(':')));
    }
    web = StartHttpOrPrint(o.http, &master, std::move(wo));
    if (!web) {
      master.Stop();
      (*server)->Shutdown(1000);
      return kExitUsage;
    }
  }
  while (!WaitForSignal(signals, 1000)) {
  }
  if (web) web->Stop();
  std::cerr << "taskgrid master: stopping (jobs stay resumable; a standby "
               "takes over)\n";
  master.Stop();
  (*server)->Shutdown(1000);
  return kExitOk;
}

int CmdWorker(const WorkerCmdOptions& o) {
  const sigset_t signals = BlockStopSignals();
  auto co = ClientOptions(o.remote, /*failover_timeout_ms=*/10'000);
  if (!co.ok()) return UsageOrFailure(co.status());
  // Shuffle map outputs live here (served to reduce tasks on other workers).
  const std::string data_dir =
      !o.data_dir.empty() ? o.data_dir
                          : (std::filesystem::temp_directory_path() /
                             ("taskgrid-worker-" + std::to_string(getpid())))
                                .string();
  {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      std::cerr << "taskgrid worker: cannot create --data-dir " << data_dir
                << ": " << ec.message() << "\n";
      return kExitUsage;
    }
  }
  auto conn = ConnectMasterService(*co);
  if (!conn.ok()) return UsageOrFailure(conn.status());
  // The data service: the data dir now, each job's output dir once the
  // worker runs a task of that job.
  DataServerOptions dso;
  dso.listen_address = o.data_listen;
  dso.token = co->token;
  dso.tls.cert_path = o.data_tls_cert;
  dso.tls.key_path = o.data_tls_key;
  dso.roots.push_back(data_dir);
  auto data = DataServer::Start(dso);
  if (!data.ok()) {
    return UsageOrFailure(data.status().WithPrefix("--data-listen"));
  }
  DataServer* const data_server = data->get();
  // Processors here may open tg:// URLs: worker ids resolve through the
  // masters.
  auto control = ConnectControlService(*co);
  if (!control.ok()) return UsageOrFailure(control.status());
  DataClientOptions dco;
  dco.token = co->token;
  dco.tls = co->tls;
  InstallTgOpener(
      std::make_shared<TgResolver>(*std::move(control), std::move(dco)));
  WorkerOptions wo;
  wo.id = o.id.empty() ? HostName() + "-" + std::to_string(getpid()) : o.id;
  const unsigned cores = std::thread::hardware_concurrency();
  wo.slots = o.slots > 0 ? o.slots : (cores == 0 ? 1 : static_cast<int>(cores));
  wo.data_address = o.data_advertise.empty()
                        ? AdvertisedAddress(o.data_listen, data_server->port())
                        : o.data_advertise;
  wo.data_dir = data_dir;
  wo.on_job = [data_server](const JobDefinition& def) {
    if (def.output.empty()) return;
    Status s = data_server->AddRoot(def.output);
    if (!s.ok()) {
      std::cerr << "taskgrid worker: job " << def.job_id
                << ": not serving its output: " << s.message() << "\n";
    }
  };
  Worker worker(wo, *std::move(conn), &ProcessorRegistry::Global());
  // Whatever way this returns: no tg:// opener outlives the command.
  struct OpenerReset {
    ~OpenerReset() { InstallTgOpener(nullptr); }
  } opener_reset;
  // Register, waiting for a master to lead.
  while (true) {
    Status s = worker.Start();
    if (s.ok()) break;
    if (s.code() != StatusCode::kUnavailable) return UsageOrFailure(s);
    std::cerr << "taskgrid worker: no leading master yet (" << s.message()
              << "); retrying\n";
    if (WaitForSignal(signals, 1000)) return kExitInterrupted;
  }
  std::cerr << fmt::format(
      "taskgrid worker {}: {} slot(s), masters {}, data service on {}\n", wo.id,
      wo.slots, o.remote.masters, wo.data_address);
  while (!worker.done()) {
    if (WaitForSignal(signals, 200)) {
      std::cerr << "taskgrid worker " << wo.id
                << ": stopping after the current tasks\n";
      break;
    }
  }
  worker.Stop();
  worker.Join();
  (*data)->Shutdown(1000);
  return kExitOk;
}

namespace {

// --wait: follows job `job_id` until it ends and prints a summary;
// *next_job: the job of a chain's next stage once this one succeeded.
int FollowJob(ControlService* control, int64_t job_id,
              const SubmitCmdOptions& o, const sigset_t& signals,
              int64_t* next_job) {
  *next_job = 0;
  const bool tty = o.progress && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  int64_t done_at_start = -1;
  int64_t poll_ms = 5;
  StatusOr<JobStatus> st = control->GetJob(job_id);
  while (st.ok() && !IsTerminal(st->job.state)) {
    if (WaitForSignal(signals, poll_ms)) {
      if (tty) std::cerr << "\r\033[K";
      std::cerr << fmt::format(
          "taskgrid: stopped waiting; job {} goes on in the cluster (taskgrid "
          "status {}, taskgrid cancel {})\n",
          job_id, job_id, job_id);
      return kExitInterrupted;
    }
    poll_ms = std::min<int64_t>(poll_ms * 2, 250);
    st = control->GetJob(job_id);
    if (!st.ok() || !tty) continue;
    int64_t total = 0;
    for (int64_t n : st->counts) total += n;
    if (done_at_start < 0) done_at_start = DoneCount(st->counts);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::cerr << "\r\033[K"
              << ProgressLine(job_id, st->counts, total, secs, done_at_start)
              << std::flush;
  }
  if (tty) std::cerr << "\r\033[K" << std::flush;
  if (!st.ok()) {
    PrintError(
        st.status().WithPrefix("lost track of job " + std::to_string(job_id)));
    return kExitJobFailed;
  }
  const JobRecord& job = st->job;
  const auto c = [&](TaskState s) {
    return st->counts[static_cast<size_t>(s)];
  };
  int64_t total = 0;
  for (int64_t n : st->counts) total += n;
  std::cout << fmt::format("job {} {} in {}\n", job_id, JobStateName(job.state),
                           FormatDuration(job.finished_ms > job.created_ms
                                              ? job.finished_ms - job.created_ms
                                              : 0));
  std::cout << fmt::format(
      "  tasks:    {} total: {} succeeded, {} dead, {} cancelled\n", total,
      c(TaskState::kSucceeded), c(TaskState::kDead), c(TaskState::kCancelled));
  if (!job.result.empty()) std::cout << "  result:   " << job.result << "\n";
  if (c(TaskState::kDead) > 0) {
    std::cout << fmt::format(
        "  see: taskgrid tasks {} --status dead; taskgrid rerun {} --failed\n",
        job_id, job_id);
  }
  const auto spec = ParseJobSpec(job.spec_yaml, "job");
  if (job.state == JobState::kSucceeded && spec.ok() && !spec->then.empty()) {
    // A chained stage's successor was made before it succeeded.
    auto next = FindNextStage(control, job_id);
    if (!next.ok()) {
      PrintError(next.status());
      return kExitJobFailed;
    }
    *next_job = *next;
  }
  return ExitCodeFor(job.state);
}

}  // namespace

int CmdSubmit(const SubmitCmdOptions& o, const std::string& spec_path) {
  std::optional<JobSpec> spec = ReadSpecOrPrint(spec_path);
  if (!spec || !ApplyMemoryOrPrint(o.memory, &*spec)) return kExitUsage;
  if (!o.common.remote.enabled()) {
    std::cerr << "taskgrid submit: no master given: use --master "
                 "HOST:PORT[,HOST:PORT] (or set TASKGRID_MASTER); to run on "
                 "this machine, use `taskgrid run`\n";
    return kExitUsage;
  }
  AbsolutizePaths(&*spec);
  auto control = OpenControlOrPrint(o.common);
  if (!control) return kExitUsage;
  auto submitted = control->SubmitJob({JobSpecToYaml(*spec), o.force});
  if (!submitted.ok()) return UsageOrFailure(submitted.status());
  const int64_t job_id = submitted->job_id;
  if (o.common.json && !o.wait) {
    std::cout << fmt::format("{{\"job\": {}, \"existed\": {}}}\n", job_id,
                             submitted->existed);
    return kExitOk;
  }
  if (submitted->existed) {
    std::cout << fmt::format(
        "job {} with key '{}' already exists; not starting another. Use "
        "--force to run it again.\n",
        job_id, spec->key);
  } else {
    std::cout << fmt::format("job {} submitted\n", job_id);
  }
  if (!o.wait) return kExitOk;
  const sigset_t signals = BlockStopSignals();
  int64_t id = job_id;
  while (true) {
    int64_t next = 0;
    const int rc = FollowJob(control.get(), id, o, signals, &next);
    if (next == 0) return rc;
    std::cout << fmt::format("  next:     job {} runs the next stage\n", next);
    id = next;
  }
}

int CmdRerunRemote(const CommonOptions& o, int64_t job_id, bool failed,
                   const std::vector<int64_t>& task_ids) {
  auto control = OpenControlOrPrint(o);
  if (!control) return kExitUsage;
  auto n = control->RerunTasks(job_id, failed, task_ids);
  if (!n.ok()) return UsageOrFailure(n.status());
  std::cout << fmt::format("job {}: {} task(s) set to run again\n", job_id, *n);
  return kExitOk;
}

}  // namespace taskgrid
