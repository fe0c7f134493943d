// Turning a spec into a job: its record and its first tasks.
#ifndef TASKGRID_MASTER_SUBMIT_H_
#define TASKGRID_MASTER_SUBMIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/state_store.h"
#include "taskgrid/job_spec.h"

namespace taskgrid {

struct SubmitResult {
  int64_t job_id = 0;
  bool existed = false;  // the spec's key already had this job
};

// Creates the job for `spec` with its first tasks:
//   standalone        one task, stage "root"
//   broadcast         one task per worker in `workers`, stage "broadcast",
//                     payload = the worker's id
//   map, mapreduce    one task per input element, stage "map" (files:
//                     one per FileSplit, globs expanded now); with no
//                     input, one task, stage "root"
// If the spec has a key that already has a job, returns that job with
// existed = true, unless `force`, in which case the new job is created
// without a key. InvalidArgument / NotFound when a glob matches nothing or a
// file is missing.
StatusOr<SubmitResult> SubmitJob(StateStore* store, const JobSpec& spec,
                                 const std::vector<std::string>& workers,
                                 bool force, Clock* clock);

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_SUBMIT_H_
