// Job and task states, their names, and the legal task transitions
// (DESIGN.md §2):
//
//   pending → dispatched → running → succeeded | failed | dead | cancelled
//   failed (retryable, waiting out its backoff) → dispatched, attempt+1
//   dead | succeeded | cancelled → pending (rerun)
//
// A dispatched task may also go straight to a terminal state: a worker that
// runs a batch of fast tasks reports them without a separate "started" call.
#ifndef TASKGRID_CORE_STATES_H_
#define TASKGRID_CORE_STATES_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace taskgrid {

enum class TaskState : uint8_t {
  kPending = 0,
  kDispatched = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,
  kDead = 5,
  kCancelled = 6,
};
inline constexpr int kNumTaskStates = 7;

enum class JobState : uint8_t {
  kPending = 0,
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,
  kCancelled = 4,
};

std::string_view TaskStateName(TaskState s);
std::optional<TaskState> ParseTaskState(std::string_view name);
std::string_view JobStateName(JobState s);
std::optional<JobState> ParseJobState(std::string_view name);

// Terminal: the task will not run again unless rerun.
inline bool IsTerminal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kDead ||
         s == TaskState::kCancelled;
}
// In flight: handed to a worker, not yet reported.
inline bool IsInFlight(TaskState s) {
  return s == TaskState::kDispatched || s == TaskState::kRunning;
}
inline bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed ||
         s == JobState::kCancelled;
}

// True when the state machine allows `from` → `to`.
bool IsLegalTransition(TaskState from, TaskState to);

}  // namespace taskgrid

#endif  // TASKGRID_CORE_STATES_H_
