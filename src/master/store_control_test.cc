// StoreControl over a real SQLite store: a finished job's counts are kept,
// and never served stale after the job changes.
#include "master/store_control.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "cli/local_runner.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace {

int64_t Count(const JobStatus& st, TaskState s) {
  return st.counts[static_cast<size_t>(s)];
}

TEST(StoreControlTest, FinishedCountsAreNeverStale) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-sc-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto store = OpenSqliteStateStore((dir / "state.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  StoreControl control(store->get(), {});
  auto sub = control.SubmitJob({R"(
name: three
processor: noop
model: map
input: {range: {start: 0, end: 3, step: 1}}
)",
                                false});
  ASSERT_TRUE(sub.ok()) << sub.status();
  const int64_t job = sub->job_id;
  auto run = [&] {
    LocalRunnerOptions o;
    o.workers = 1;
    LocalRunner runner(store->get(), &ProcessorRegistry::Global(), o);
    auto out = runner.Run(job);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->state, JobState::kSucceeded);
  };
  run();
  for (int i = 0; i < 2; ++i) {  // counted, then from the cache
    auto st = control.GetJob(job);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->job.state, JobState::kSucceeded);
    EXPECT_EQ(Count(*st, TaskState::kSucceeded), 3);
  }
  // A rerun changes the job: its counts are read again.
  ASSERT_TRUE(control.RerunTasks(job, false, {2}).ok());
  auto st = control.GetJob(job);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(Count(*st, TaskState::kSucceeded), 2);
  EXPECT_EQ(Count(*st, TaskState::kPending), 1);
  run();
  auto jobs = control.ListJobs(0);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(Count(jobs->front(), TaskState::kSucceeded), 3);
  EXPECT_EQ(Count(jobs->front(), TaskState::kPending), 0);
  // Finished again, differently (cancelled): not the kept counts.
  ASSERT_TRUE(control.RerunTasks(job, false, {1}).ok());
  ASSERT_TRUE(control.CancelJob(job).ok());
  st = control.GetJob(job);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->job.state, JobState::kCancelled);
  EXPECT_EQ(Count(*st, TaskState::kSucceeded), 2);
  EXPECT_EQ(Count(*st, TaskState::kCancelled), 1);
  ASSERT_EQ(st->stages.size(), 1u);
  EXPECT_EQ(st->stages[0].stage, "map");
  EXPECT_EQ(st->stages[0].counts, st->counts);
  std::filesystem::remove_all(dir);
}

TEST(StoreControlTest, ADrivenJobAnswersFromItsMaster) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-sc-live-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto store = OpenSqliteStateStore((dir / "state.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  Progress live;
  live.loaded = true;
  live.counts[static_cast<size_t>(TaskState::kRunning)] = 7;
  live.stages = {StageCounts{"x", live.counts}};
  int calls = 0;
  StoreControl control(store->get(),
                       {.live = [&](int64_t id) -> std::optional<Progress> {
                         ++calls;
                         if (id != 1) return std::nullopt;
                         return live;
                       }});
  auto sub = control.SubmitJob({R"(
name: two
processor: noop
model: map
input: {range: {start: 0, end: 2, step: 1}}
)",
                                false});
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->job_id, 1);
  auto st = control.GetJob(1);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(Count(*st, TaskState::kRunning), 7);  // the master's, not the
  EXPECT_EQ(Count(*st, TaskState::kPending), 0);  // store's 2 pending
  ASSERT_EQ(st->stages.size(), 1u);
  EXPECT_EQ(st->stages[0].stage, "x");
  // A master that has not loaded the job yet: the store counts.
  live.loaded = false;
  st = control.GetJob(1);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(Count(*st, TaskState::kPending), 2);
  EXPECT_EQ(st->stages[0].stage, "map");
  EXPECT_EQ(calls, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace taskgrid
