// LocalRunner: the embedded deployment — a Master, an in-process transport
// and `workers` Worker objects of one slot each (worker ids local-0..N-1),
// all in this process, driving one job of `store` to completion.
//
// This is what `taskgrid run` / `resume` / `rerun` use, and what tests use
// as an in-process multi-worker harness.
//
// Thread-safety: Interrupt() and progress() from any thread; Run() once.
#ifndef TASKGRID_CLI_LOCAL_RUNNER_H_
#define TASKGRID_CLI_LOCAL_RUNNER_H_

#include <memory>
#include <string>

#include "master/master.h"
#include "store/state_store.h"
#include "taskgrid/processor.h"

namespace taskgrid {

struct LocalRunnerOptions {
  int workers = 1;
  MasterOptions master;
  // Shuffle map outputs go under DATA_DIR/shuffle/job-J ("" = the
  // workers' default), removed when the job finishes.
  std::string data_dir;
};

class LocalRunner {
 public:
  // `store` and `registry` must outlive the runner.
  LocalRunner(StateStore* store, const ProcessorRegistry* registry,
              LocalRunnerOptions options);
  ~LocalRunner();

  // Drives job `job_id` until it finishes or is interrupted.
  StatusOr<JobOutcome> Run(int64_t job_id);
  void Interrupt();
  Progress progress() const;

 private:
  StateStore* const store_;
  const ProcessorRegistry* const registry_;
  const LocalRunnerOptions options_;
  std::unique_ptr<Master> master_;
};

}  // namespace taskgrid

#endif  // TASKGRID_CLI_LOCAL_RUNNER_H_
