#include "core/states.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace taskgrid {
namespace {

constexpr std::array<TaskState, kNumTaskStates> kAllTaskStates = {
    TaskState::kPending,   TaskState::kDispatched, TaskState::kRunning,
    TaskState::kSucceeded, TaskState::kFailed,     TaskState::kDead,
    TaskState::kCancelled};
constexpr std::array<JobState, 5> kAllJobStates = {
    JobState::kPending, JobState::kRunning, JobState::kSucceeded,
    JobState::kFailed, JobState::kCancelled};

TEST(StatesTest, TaskStateNamesRoundTrip) {
  const char* names[] = {"pending", "dispatched", "running",  "succeeded",
                         "failed",  "dead",       "cancelled"};
  for (int i = 0; i < kNumTaskStates; ++i) {
    EXPECT_EQ(TaskStateName(kAllTaskStates[i]), names[i]);
    EXPECT_EQ(ParseTaskState(names[i]), kAllTaskStates[i]);
  }
  EXPECT_EQ(ParseTaskState("Pending"), std::nullopt);
  EXPECT_EQ(ParseTaskState(""), std::nullopt);
  EXPECT_EQ(ParseTaskState("done"), std::nullopt);
}

TEST(StatesTest, JobStateNamesRoundTrip) {
  const char* names[] = {"pending", "running", "succeeded", "failed",
                         "cancelled"};
  for (size_t i = 0; i < kAllJobStates.size(); ++i) {
    EXPECT_EQ(JobStateName(kAllJobStates[i]), names[i]);
    EXPECT_EQ(ParseJobState(names[i]), kAllJobStates[i]);
  }
  EXPECT_EQ(ParseJobState("dead"), std::nullopt);  // a task state only
  EXPECT_EQ(ParseJobState(""), std::nullopt);
}

TEST(StatesTest, TerminalAndInFlight) {
  using S = TaskState;
  // state, terminal, in flight
  const struct {
    S state;
    bool terminal;
    bool in_flight;
  } cases[] = {
      {S::kPending, false, false},  {S::kDispatched, false, true},
      {S::kRunning, false, true},   {S::kSucceeded, true, false},
      {S::kFailed, false, false},   {S::kDead, true, false},
      {S::kCancelled, true, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsTerminal(c.state), c.terminal) << TaskStateName(c.state);
    EXPECT_EQ(IsInFlight(c.state), c.in_flight) << TaskStateName(c.state);
  }
  EXPECT_FALSE(IsTerminal(JobState::kPending));
  EXPECT_FALSE(IsTerminal(JobState::kRunning));
  EXPECT_TRUE(IsTerminal(JobState::kSucceeded));
  EXPECT_TRUE(IsTerminal(JobState::kFailed));
  EXPECT_TRUE(IsTerminal(JobState::kCancelled));
}

// The whole transition table, row = from, column = to, in the order
// pending, dispatched, running, succeeded, failed, dead, cancelled.
TEST(StatesTest, LegalTransitionTable) {
  const std::array<std::string, kNumTaskStates> expected = {
      // P D R S F X C
      "-x----x",  // pending: dispatch, or cancel before it runs
      "x-xxxxx",  // dispatched: any outcome; back to pending if lost
      "x--xxxx",  // running: any outcome; back to pending if lost
      "x------",  // succeeded: rerun
      "xx---xx",  // failed: retry (pending or dispatched), dead, cancel
      "x------",  // dead: rerun
      "x------",  // cancelled: rerun
  };
  for (int from = 0; from < kNumTaskStates; ++from) {
    for (int to = 0; to < kNumTaskStates; ++to) {
      const TaskState f = kAllTaskStates[from];
      const TaskState t = kAllTaskStates[to];
      EXPECT_EQ(IsLegalTransition(f, t), expected[from][to] == 'x')
          << TaskStateName(f) << " -> " << TaskStateName(t);
    }
  }
}

TEST(StatesTest, NoSelfTransitions) {
  for (TaskState s : kAllTaskStates) {
    EXPECT_FALSE(IsLegalTransition(s, s)) << TaskStateName(s);
  }
}

}  // namespace
}  // namespace taskgrid
