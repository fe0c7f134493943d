#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "taskgrid/taskgrid.h"

namespace taskgrid {

int Main(int argc, char** argv) {
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
  RunOptions run;
  auto add_run = [&](CLI::App* c) {
    add_state(c);
    c->add_option("--workers", run.workers,
                  "worker threads (default: number of cores)")
        ->check(CLI::Range(1, 4096));
    c->add_flag("!--no-progress", run.progress, "never show progress");
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
  c_run->add_flag("--force", run.force,
                  "run even if a job with the spec's key exists");
  add_run(c_run);

  int64_t job_id = 0;
  auto* c_resume = app.add_subcommand("resume", "finish an interrupted job");
  c_resume->add_option("job", job_id, "job id")->required();
  add_run(c_resume);

  bool failed = false;
  std::vector<int64_t> task_ids;
  auto* c_rerun = app.add_subcommand(
      "rerun", "run failed (dead) or chosen tasks again, then finish the job");
  c_rerun->add_option("job", job_id, "job id")->required();
  auto* o_failed = c_rerun->add_flag("--failed", failed, "every dead task");
  auto* o_task = c_rerun->add_option("--task", task_ids, "task ids");
  o_failed->excludes(o_task);
  add_run(c_rerun);

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
  add_state(c_jobs);
  add_json(c_jobs);

  auto* c_status = app.add_subcommand("status", "show one job");
  c_status->add_option("job", job_id, "job id")->required();
  add_state(c_status);
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
  add_state(c_tasks);
  add_json(c_tasks);

  int64_t task_id = 0;
  auto* c_logs = app.add_subcommand("logs", "print a task's log");
  c_logs->add_option("job", job_id, "job id")->required();
  c_logs->add_option("task", task_id, "task id")->required();
  add_state(c_logs);
  add_json(c_logs);

  auto* c_cancel = app.add_subcommand("cancel", "cancel a job");
  c_cancel->add_option("job", job_id, "job id")->required();
  add_state(c_cancel);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
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
  if (c_resume->parsed()) return CmdResume(run, job_id);
  if (c_rerun->parsed()) return CmdRerun(run, job_id, failed, task_ids);
  if (c_demo->parsed()) return CmdDemo(run, demo);
  if (c_jobs->parsed()) return CmdJobs(common, limit);
  if (c_status->parsed()) return CmdStatus(common, job_id);
  if (c_tasks->parsed()) {
    return CmdTasks(common, job_id, state_filter, stage_filter, after,
                    task_limit);
  }
  if (c_logs->parsed()) return CmdLogs(common, job_id, task_id);
  if (c_cancel->parsed()) return CmdCancel(common, job_id);
  return kExitUsage;
}

}  // namespace taskgrid
