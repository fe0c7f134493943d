#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/net.h"
#include "taskgrid/taskgrid.h"

namespace taskgrid {

namespace {

// Tasks allocate and free tables of tens of MiB each (a logstats map task's
// URL and address tables, a shuffle's buffers). glibc's defaults hand such
// blocks back to the kernel on free and fault them in again, zeroed, for
// the next task: about a tenth of the CPU time of the logstats job, in
// system time (docs/benchmarks.md). Keep blocks up to 32 MiB in the heap and
// trim it only above 64 MiB of free top space. A user's GLIBC_TUNABLES wins.
void TuneAllocator() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

int Main(int argc, char** argv) {
  SetCommandLine(argc, argv);
  TuneAllocator();
  // Log lines go to stderr: stdout is for results (tables, JSON).
  spdlog::set_default_logger(spdlog::stderr_color_mt("taskgrid"));
  CLI::App app{
      "taskgrid: durable batch computation.\n"
      "Exit codes: 0 all tasks succeeded, 1 job failed (dead tasks) or "
      "cancelled, 2 usage or job-spec error, 130 interrupted."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "taskgrid 0.1.0");

  CommonOptions common;
  if (const char* env = std::getenv("TASKGRID_STATE")) {
    common.state_path = env;
  }
  auto add_state = [&](CLI::App* c) {
    c->add_option("--state", common.state_path,
                  "state file (default .taskgrid/state.db, or "
                  "$TASKGRID_STATE)");
  };
  auto add_json = [&](CLI::App* c) {
    c->add_flag("--json", common.json, "print JSON");
  };
  // Cluster access: --master/--token-file (or TASKGRID_MASTER,
  // TASKGRID_TOKEN_FILE) and TLS.
  if (const char* env = std::getenv("TASKGRID_MASTER")) {
    common.remote.masters = env;
  }
  if (const char* env = std::getenv("TASKGRID_TOKEN_FILE")) {
    common.remote.token_file = env;
  }
  auto add_remote = [](CLI::App* c, RemoteOptions& r) {
    c->add_option("--master", r.masters,
                  "the cluster's masters, HOST:PORT[,HOST:PORT...] (or "
                  "$TASKGRID_MASTER); without it, the local --state file");
    c->add_option("--token-file", r.token_file,
                  "file holding the cluster token (or $TASKGRID_TOKEN_FILE)");
    c->add_option("--tls-ca", r.tls_ca,
                  "PEM CA to verify the master (enables TLS)");
    c->add_option("--tls-cert", r.tls_cert, "PEM client certificate");
    c->add_option("--tls-key", r.tls_key, "PEM client key");
  };
  auto add_inspect = [&](CLI::App* c) {
    add_state(c);
    add_remote(c, common.remote);
  };
  RunOptions run;
  // `tg_options`: false where add_remote gives --token-file and --tls-ca.
  auto add_run = [&](CLI::App* c, bool tg_options = true) {
    add_state(c);
    c->add_option("--workers", run.workers,
                  "worker threads (default: number of cores)")
        ->check(CLI::Range(1, 4096));
    c->add_flag("!--no-progress", run.progress, "never show progress");
    if (!tg_options) return;
    c->add_option("--token-file", common.remote.token_file,
                  "the cluster token (or $TASKGRID_TOKEN_FILE): lets the "
                  "job read tg://HOST:PORT/PATH inputs from workers' data "
                  "services");
    c->add_option("--tls-ca", common.remote.tls_ca,
                  "PEM CA to verify those data services (enables TLS)");
  };

  std::vector<std::string> run_args;
  ShellOptions shell;
  auto* c_run = app.add_subcommand(
      "run",
      "run a job on this machine: `run JOB.yaml`, or `run --shell 'CMD {}' "
      "--output DIR FILE|GLOB...` for one shell command per file");
  c_run
      ->add_option("spec", run_args,
                   "job spec (YAML); with --shell, the input files or globs")
      ->required();
  c_run->add_option("--shell", shell.command,
                    "run CMD once per input file; {} is the file (passed "
                    "safely, never pasted into the command)");
  c_run->add_option("--output", shell.output,
                    "with --shell: directory for each file's stdout "
                    "(part-NNNNN, in input order)");
  c_run
      ->add_option("--max-attempts", shell.max_attempts,
                   "with --shell: attempts per file (default 3)")
      ->check(CLI::Range(1, 1000));
  c_run->add_option("--memory", run.memory,
                    "memory budget of each shuffle task, e.g. 256MiB "
                    "(overrides the spec's `memory`; beyond it, data "
                    "spills to disk)");
  c_run->add_flag("--force", run.force,
                  "run even if a job with the spec's key exists");
  add_run(c_run);
  // --http on the commands that drive a job (not demo: it prints a report).
  auto add_http = [&](CLI::App* c) {
    c->add_option("--http", run.http,
                  "serve the dashboard and JSON API on HOST:PORT while the "
                  "job runs (e.g. 127.0.0.1:7780)");
  };
  add_http(c_run);

  int64_t job_id = 0;
  auto* c_resume = app.add_subcommand("resume", "finish an interrupted job");
  c_resume->add_option("job", job_id, "job id")->required();
  add_run(c_resume);
  add_http(c_resume);

  bool failed = false;
  std::vector<int64_t> task_ids;
  auto* c_rerun = app.add_subcommand(
      "rerun", "run failed (dead) or chosen tasks again, then finish the job");
  c_rerun->add_option("job", job_id, "job id")->required();
  auto* o_failed = c_rerun->add_flag("--failed", failed, "every dead task");
  auto* o_task = c_rerun->add_option("--task", task_ids, "task ids");
  o_failed->excludes(o_task);
  add_run(c_rerun, /*tg_options=*/false);
  add_http(c_rerun);
  add_remote(c_rerun, common.remote);

  DemoOptions demo;
  auto* c_demo = app.add_subcommand(
      "demo", "generate sample nginx logs and run the logstats job over them");
  c_demo->add_option("--dir", demo.dir,
                     "where to put the logs and the output (default "
                     "demo-data)");
  c_demo->add_option("--size", demo.size,
                     "decoded size of the generated logs (default 32MiB)");
  c_demo->add_option("--codecs", demo.codecs,
                     "encodings used in turn: gz, zst, plain");
  c_demo->add_flag("--generate-only", demo.generate_only,
                   "only write the logs");
  add_run(c_demo);

  int64_t limit = 0;
  auto* c_jobs = app.add_subcommand("jobs", "list jobs");
  c_jobs->add_option("--limit", limit, "at most this many (newest first)");
  add_inspect(c_jobs);
  add_json(c_jobs);

  auto* c_status = app.add_subcommand("status", "show one job");
  c_status->add_option("job", job_id, "job id")->required();
  add_inspect(c_status);
  add_json(c_status);

  std::optional<std::string> state_filter, stage_filter;
  int64_t after = 0;
  int64_t task_limit = 100;
  auto* c_tasks = app.add_subcommand("tasks", "list a job's tasks");
  c_tasks->add_option("job", job_id, "job id")->required();
  c_tasks->add_option("--status", state_filter,
                      "only tasks in this state (pending, dispatched, "
                      "running, succeeded, failed, dead, cancelled)");
  c_tasks->add_option("--stage", stage_filter, "only tasks of this stage");
  c_tasks->add_option("--after", after, "only tasks with id > this (paging)");
  c_tasks->add_option("--limit", task_limit, "at most this many (0 = all)");
  std::string task_sort = "id";
  int64_t task_offset = 0;
  c_tasks->add_option("--sort", task_sort,
                      "id (default), duration (longest first) or attempts "
                      "(most first); sorted lists scan the job's tasks");
  c_tasks->add_option("--offset", task_offset,
                      "skip this many tasks of a sorted list (paging)");
  add_inspect(c_tasks);
  add_json(c_tasks);

  int64_t task_id = 0;
  auto* c_logs = app.add_subcommand("logs", "print a task's log");
  c_logs->add_option("job", job_id, "job id")->required();
  c_logs->add_option("task", task_id, "task id")->required();
  add_inspect(c_logs);
  add_json(c_logs);

  auto* c_cancel = app.add_subcommand("cancel", "cancel a job");
  c_cancel->add_option("job", job_id, "job id")->required();
  add_inspect(c_cancel);

  std::string dashboard_http;
  auto* c_dashboard = app.add_subcommand(
      "dashboard",
      "serve the dashboard and JSON API over the state file until Ctrl-C");
  add_state(c_dashboard);
  c_dashboard->add_option(
      "--http", dashboard_http,
      std::string("address to serve on (default ") + kDefaultHttpAddress + ")");

  MasterCmdOptions master;
  if (const char* env = std::getenv("TASKGRID_STORE")) master.store = env;
  master.token_file = common.remote.token_file;
  auto* c_master = app.add_subcommand(
      "master",
      "serve a cluster: workers and clients connect here; run two on one "
      "store for a standby");
  c_master
      ->add_option("--store", master.store,
                   "state store: postgresql://USER@HOST/DB or a SQLite "
                   "file (or $TASKGRID_STORE)")
      ->required(std::getenv("TASKGRID_STORE") == nullptr);
  c_master->add_option("--listen", master.listen,
                       "address to serve on (default 0.0.0.0:7700)");
  c_master->add_option("--advertise", master.advertise,
                       "address clients should use (default HOST:PORT)");
  c_master->add_option("--token-file", master.token_file,
                       "file holding the cluster token (or "
                       "$TASKGRID_TOKEN_FILE)");
  c_master->add_option("--tls-cert", master.tls_cert, "PEM certificate");
  c_master->add_option("--tls-key", master.tls_key, "PEM private key");
  c_master
      ->add_option("--worker-timeout", master.worker_timeout_ms,
                   "ms of silence after which a worker is dead (default "
                   "10000)")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  c_master
      ->add_option("--leader-lease", master.leader_lease_ms,
                   "ms a silent leader keeps leadership (default 4000)")
      ->check(CLI::Range(int64_t{200}, int64_t{600'000}));
  c_master->add_option("--http", master.http,
                       "also serve the dashboard and JSON API on HOST:PORT "
                       "(POSTs need the cluster token)");

  WorkerCmdOptions worker;
  worker.remote = common.remote;
  auto* c_worker =
      app.add_subcommand("worker", "run tasks for a cluster's master");
  add_remote(c_worker, worker.remote);
  c_worker
      ->add_option("--slots", worker.slots,
                   "tasks run at once (default: number of cores)")
      ->check(CLI::Range(1, 4096));
  c_worker->add_option("--id", worker.id, "worker id (default HOST-PID)");
  c_worker->add_option("--data-dir", worker.data_dir,
                       "directory for the worker's local data, served "
                       "(read-only, with the token) by its data service");
  c_worker->add_option("--data-listen", worker.data_listen,
                       "address of the data service (default 127.0.0.1:0: "
                       "a free port on loopback; a cluster spanning "
                       "machines must give one the others reach)");
  c_worker->add_option("--data-advertise", worker.data_advertise,
                       "HOST:PORT registered for tg:// URLs (default: the "
                       "bound address)");
  c_worker->add_option("--data-tls-cert", worker.data_tls_cert,
                       "PEM certificate of the data service (enables TLS)");
  c_worker->add_option("--data-tls-key", worker.data_tls_key,
                       "PEM private key of the data service");

  // Remote file access: tg://WORKER/PATH through the workers' data services.
  std::string data_url;
  CatCmdOptions cat;
  auto* c_cat = app.add_subcommand(
      "cat",
      "print a file: tg://WORKER/PATH (WORKER an id or the HOST:PORT of its "
      "data service) or a local path");
  c_cat->add_option("url", data_url, "tg://WORKER/ABSOLUTE/PATH")->required();
  c_cat->add_option("--offset", cat.offset, "start at this byte");
  c_cat->add_option("--length", cat.length, "at most this many bytes");
  c_cat->add_flag("--decode", cat.decode,
                  "decode by extension (.gz, .zst, .bz2, .xz, .lz4)");
  add_remote(c_cat, common.remote);
  auto* c_ls = app.add_subcommand(
      "ls", "list a directory of a worker: tg://WORKER/PATH");
  c_ls->add_option("url", data_url, "tg://WORKER/ABSOLUTE/PATH")->required();
  add_remote(c_ls, common.remote);
  add_json(c_ls);

  SubmitCmdOptions submit;
  std::string submit_spec;
  auto* c_submit = app.add_subcommand("submit", "submit a job to a cluster");
  c_submit->add_option("spec", submit_spec, "job spec (YAML)")->required();
  c_submit->add_option("--memory", submit.memory,
                       "memory budget of each shuffle task (overrides the "
                       "spec's `memory`)");
  c_submit->add_flag("--wait", submit.wait,
                     "follow the job until it ends; exit codes as `run`");
  c_submit->add_flag("--force", submit.force,
                     "submit even if a job with the spec's key exists");
  c_submit->add_flag("!--no-progress", submit.progress, "never show progress");
  add_remote(c_submit, common.remote);
  add_json(c_submit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  // Commands that need gRPC, libpq or the web server run as taskgrid-net
  // (net.h): decided here, before any of them touches anything.
  const bool needs_net = c_master->parsed() || c_worker->parsed() ||
                         c_submit->parsed() || c_dashboard->parsed() ||
                         c_cat->parsed() || c_ls->parsed() ||
                         common.remote.enabled() || !run.http.empty() ||
                         IsPostgresUrl(common.state_path) ||
                         (!common.remote.token_file.empty() &&
                          (c_run->parsed() || c_resume->parsed() ||
                           c_rerun->parsed() || c_demo->parsed()));
  if (needs_net && !NetLinked()) return ExecNetBinary();
  if (c_rerun->parsed() && !failed && task_ids.empty()) {
    std::cerr << "taskgrid rerun: give --failed or --task ID...\n";
    return kExitUsage;
  }
  run.common = common;
  if (c_run->parsed()) {
    if (!shell.command.empty()) return CmdRunShell(run, shell, run_args);
    if (!shell.output.empty()) {
      std::cerr << "taskgrid run: --output goes with --shell (a spec names "
                   "its own output)\n";
      return kExitUsage;
    }
    if (run_args.size() != 1) {
      std::cerr << "taskgrid run: give one job spec (or --shell CMD FILES)\n";
      return kExitUsage;
    }
    return CmdRun(run, run_args[0]);
  }
  if (c_master->parsed()) return CmdMaster(master);
  if (c_dashboard->parsed()) return CmdDashboard(common, dashboard_http);
  if (c_worker->parsed()) return CmdWorker(worker);
  if (c_cat->parsed()) return CmdCat(common, cat, data_url);
  if (c_ls->parsed()) return CmdLs(common, data_url);
  if (c_submit->parsed()) {
    submit.common = common;
    return CmdSubmit(submit, submit_spec);
  }
  if (c_resume->parsed()) return CmdResume(run, job_id);
  if (c_rerun->parsed()) {
    if (common.remote.enabled()) {
      if (!run.http.empty()) {
        std::cerr << "taskgrid rerun: --http serves a job run here; a "
                     "cluster's master serves its own (taskgrid master "
                     "--http)\n";
        return kExitUsage;
      }
      return CmdRerunRemote(common, job_id, failed, task_ids);
    }
    return CmdRerun(run, job_id, failed, task_ids);
  }
  if (c_demo->parsed()) return CmdDemo(run, demo);
  if (c_jobs->parsed()) return CmdJobs(common, limit);
  if (c_status->parsed()) return CmdStatus(common, job_id);
  if (c_tasks->parsed()) {
    return CmdTasks(common, job_id, state_filter, stage_filter, after,
                    task_limit, task_sort, task_offset);
  }
  if (c_logs->parsed()) return CmdLogs(common, job_id, task_id);
  if (c_cancel->parsed()) return CmdCancel(common, job_id);
  return kExitUsage;
}

}  // namespace taskgrid
