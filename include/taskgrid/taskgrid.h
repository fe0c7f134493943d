// The taskgrid public API: include this one header.
//
// A user binary that registers its own processors and calls taskgrid::Main
// is a full taskgrid CLI (run, jobs, status, tasks, logs, rerun, resume,
// cancel) that also knows those processors:
//
//   #include <taskgrid/taskgrid.h>
//   TASKGRID_REGISTER_PROCESSOR("mine", MyProcessor);
//   int main(int argc, char** argv) { return taskgrid::Main(argc, argv); }
#ifndef TASKGRID_TASKGRID_H_
#define TASKGRID_TASKGRID_H_

#include "taskgrid/job_spec.h"
#include "taskgrid/params.h"
#include "taskgrid/processor.h"
#include "taskgrid/status.h"

namespace taskgrid {

// Runs the taskgrid command line. Returns the process exit code:
// 0 every task succeeded, 1 the job finished with dead tasks (or was
// cancelled), 2 usage or job-spec error, 130 interrupted.
int Main(int argc, char** argv);

}  // namespace taskgrid

#endif  // TASKGRID_TASKGRID_H_
