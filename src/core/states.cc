#include "core/states.h"

#include <array>

namespace taskgrid {
namespace {
constexpr std::array<std::string_view, kNumTaskStates> kTaskNames = {
    "pending", "dispatched", "running",  "succeeded",
    "failed",  "dead",       "cancelled"};
constexpr std::array<std::string_view, 5> kJobNames = {
    "pending", "running", "succeeded", "failed", "cancelled"};
}  // namespace

std::string_view TaskStateName(TaskState s) {
  return kTaskNames[static_cast<size_t>(s)];
}

std::optional<TaskState> ParseTaskState(std::string_view name) {
  for (size_t i = 0; i < kTaskNames.size(); ++i) {
    if (kTaskNames[i] == name) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

std::string_view JobStateName(JobState s) {
  return kJobNames[static_cast<size_t>(s)];
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (size_t i = 0; i < kJobNames.size(); ++i) {
    if (kJobNames[i] == name) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool IsLegalTransition(TaskState from, TaskState to) {
  using S = TaskState;
  switch (from) {
    case S::kPending:
      return to == S::kDispatched || to == S::kCancelled;
    case S::kDispatched:
      // Fast batches report without a separate start; a lost dispatch goes
      // back to pending.
      return to == S::kRunning || to == S::kSucceeded || to == S::kFailed ||
             to == S::kDead || to == S::kCancelled || to == S::kPending;
    case S::kRunning:
      return to == S::kSucceeded || to == S::kFailed || to == S::kDead ||
             to == S::kCancelled || to == S::kPending;
    case S::kFailed:
      // A failed task waits out its backoff, then is dispatched again.
      return to == S::kDispatched || to == S::kPending || to == S::kDead ||
             to == S::kCancelled;
    case S::kSucceeded:
    case S::kDead:
    case S::kCancelled:
      return to == S::kPending;  // rerun
  }
  return false;
}

}  // namespace taskgrid
