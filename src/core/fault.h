// Fault injection for crash tests: TASKGRID_FAULT="NAME" or "NAME:N" in the
// environment makes the named point in the code end the process
// (_exit(kFaultExitCode)), at its N-th passage (default 1). Points:
//   after-seal          worker: an attempt's outputs sealed, not reported
//   job-commit-move     master: after moving the N-th file at job commit
//   shuffle-reduce-start  worker: a shuffle reduce attempt about to fetch
//   chain-next-made     master: a chained stage made the next stage's job,
//                       but is not yet marked succeeded
// Read once; costs one branch when unset.
#ifndef TASKGRID_CORE_FAULT_H_
#define TASKGRID_CORE_FAULT_H_

#include <string_view>

namespace taskgrid {

inline constexpr int kFaultExitCode = 86;

// Ends the process if TASKGRID_FAULT names `point` and this is its N-th
// passage. Thread-safe.
void MaybeInjectFault(std::string_view point);

}  // namespace taskgrid

#endif  // TASKGRID_CORE_FAULT_H_
