#include "master/job_tracker.h"

#include <gtest/gtest.h>

#include <map>

namespace taskgrid {
namespace {

// Records what the tracker wrote, as the store would see it.
class RecordingSink : public WriteSink {
 public:
  void AddTask(TaskRecord t) override { added.push_back(std::move(t)); }
  void UpdateTask(TaskUpdate u) override {
    last[u.id] = u;
    updates.push_back(std::move(u));
  }
  void AddLog(LogLine l) override { logs.push_back(std::move(l)); }
  void AddOutput(OutputRecord o) override { outputs.push_back(std::move(o)); }
  void SetNextTaskId(int64_t id) override { next_id = id; }

  std::vector<TaskRecord> added;
  std::vector<TaskUpdate> updates;
  std::map<int64_t, TaskUpdate> last;
  std::vector<LogLine> logs;
  std::vector<OutputRecord> outputs;
  int64_t next_id = 0;
};

TaskRecord Pending(int64_t id, std::string stage = "map") {
  TaskRecord t;
  t.id = id;
  t.stage = std::move(stage);
  t.payload = "p" + std::to_string(id);
  return t;
}

TaskReport Ok(const TaskAssignment& a, std::string result = "") {
  TaskReport r;
  r.ref = a.ref;
  r.ok = true;
  r.result = std::move(result);
  return r;
}

TaskReport Fail(const TaskAssignment& a, std::string error) {
  TaskReport r;
  r.ref = a.ref;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

class JobTrackerTest : public ::testing::Test {
 protected:
  JobTracker Make(Model model = Model::kMap, int max_attempts = 3) {
    RetryPolicy retry;
    retry.max_attempts = max_attempts;
    retry.backoff = std::chrono::milliseconds(100);
    return JobTracker(7, model, retry, &sink_, &clock_);
  }
  RecordingSink sink_;
  FakeClock clock_;
};

TEST_F(JobTrackerTest, DispatchesInOrderWithAttemptOne) {
  JobTracker t = Make();
  for (int i = 1; i <= 3; ++i) t.AddLoadedTask(Pending(i));
  auto a = t.Dispatch("w1", 2);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].ref.task_id, 1);
  EXPECT_EQ(a[0].ref.attempt, 1);
  EXPECT_EQ(a[0].payload, "p1");
  EXPECT_EQ(a[1].ref.task_id, 2);
  EXPECT_EQ(sink_.last[1].state, TaskState::kDispatched);
  EXPECT_EQ(sink_.last[1].expected_attempt, 0);
  EXPECT_EQ(sink_.last[1].worker, "w1");
  EXPECT_EQ(t.counts()[static_cast<size_t>(TaskState::kDispatched)], 2);
  EXPECT_EQ(t.counts()[static_cast<size_t>(TaskState::kPending)], 1);
}

TEST_F(JobTrackerTest, SuccessIsRecordedAndJobCompletes) {
  JobTracker t = Make();
  t.AddLoadedTask(Pending(1));
  auto a = t.Dispatch("w1", 10);
  EXPECT_FALSE(t.AllTerminal());
  EXPECT_TRUE(t.OnReport(Ok(a[0], "r1"), "w1"));
  EXPECT_TRUE(t.AllTerminal());
  EXPECT_TRUE(t.AllSucceeded());
  EXPECT_EQ(sink_.last[1].state, TaskState::kSucceeded);
  EXPECT_EQ(sink_.last[1].result, "r1");
  EXPECT_EQ(sink_.last[1].expected_attempt, 1);
}

TEST_F(JobTrackerTest, OutputsOfTheAcceptedAttemptAreRecorded) {
  JobTracker t = Make();
  t.AddLoadedTask(Pending(1));
  auto first = t.Dispatch("w1", 1);
  ASSERT_TRUE(t.OnReport(Fail(first[0], "oops"), "w1"));
  clock_.Advance(1000);
  auto second = t.Dispatch("w2", 1);
  TaskReport late = Ok(first[0]);
  late.outputs.push_back({"part-00000", 10, 1});
  EXPECT_FALSE(t.OnReport(std::move(late), "w1"));
  EXPECT_TRUE(sink_.outputs.empty());  // a fenced attempt commits nothing
  TaskReport current = Ok(second[0]);
  current.outputs.push_back({"part-00000", 12, 7});
  ASSERT_TRUE(t.OnReport(std::move(current), "w2"));
  ASSERT_EQ(sink_.outputs.size(), 1u);
  EXPECT_EQ(sink_.outputs[0].task_id, 1);
  EXPECT_EQ(sink_.outputs[0].attempt, 2);
  EXPECT_EQ(sink_.outputs[0].file.bytes, 12);
}

TEST_F(JobTrackerTest, StaleAttemptIsFenced) {
  JobTracker t = Make();
  t.AddLoadedTask(Pending(1));
  auto first = t.Dispatch("w1", 1);
  ASSERT_TRUE(t.OnReport(Fail(first[0], "oops"), "w1"));
  clock_.Advance(1000);
  auto second = t.Dispatch("w2", 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].ref.attempt, 2);
  // A late report of attempt 1 is rejected and logged.
  EXPECT_FALSE(t.OnReport(Ok(first[0]), "w1"));
  EXPECT_EQ(t.rejected_reports(), 1);
  ASSERT_FALSE(sink_.logs.empty());
  EXPECT_NE(sink_.logs.back().line.find("rejected"), std::string::npos);
  // The current attempt is still accepted, and only once.
  EXPECT_TRUE(t.OnReport(Ok(second[0]), "w2"));
  EXPECT_FALSE(t.OnReport(Ok(second[0]), "w2"));
}

TEST_F(JobTrackerTest, RetriesWithExponentialBackoffThenDead) {
  JobTracker t = Make(Model::kMap, 3);
  t.AddLoadedTask(Pending(1));
  auto a1 = t.Dispatch("w", 1);
  ASSERT_TRUE(t.OnReport(Fail(a1[0], "e1"), "w"));
  EXPECT_EQ(t.state_of(1), TaskState::kFailed);
  EXPECT_EQ(t.MsUntilNextRetry(), 100);
  EXPECT_TRUE(t.Dispatch("w", 1).empty());  // still backing off
  clock_.Advance(100);
  auto a2 = t.Dispatch("w", 1);
  ASSERT_EQ(a2.size(), 1u);
  EXPECT_EQ(a2[0].ref.attempt, 2);
  ASSERT_TRUE(t.OnReport(Fail(a2[0], "e2"), "w"));
  EXPECT_EQ(t.MsUntilNextRetry(), 200);  // doubled
  clock_.Advance(200);
  auto a3 = t.Dispatch("w", 1);
  ASSERT_EQ(a3.size(), 1u);
  ASSERT_TRUE(t.OnReport(Fail(a3[0], "e3"), "w"));
  EXPECT_EQ(t.state_of(1), TaskState::kDead);
  EXPECT_EQ(sink_.last[1].error, "e3");
  EXPECT_TRUE(t.AllTerminal());
  EXPECT_FALSE(t.AllSucceeded());
  EXPECT_EQ(t.failed_attempts(), 3);
}

TEST_F(JobTrackerTest, RetryBudgetCountsFromTheLastRerun) {
  JobTracker t = Make(Model::kMap, 2);
  TaskRecord rec = Pending(1);
  rec.attempt = 2;  // dead at attempt 2, then rerun
  rec.attempt_base = 2;
  t.AddLoadedTask(std::move(rec));
  auto a = t.Dispatch("w", 1);
  EXPECT_EQ(a[0].ref.attempt, 3);
  ASSERT_TRUE(t.OnReport(Fail(a[0], "x"), "w"));
  EXPECT_EQ(t.state_of(1), TaskState::kFailed);  // 1 of 2 used
}

TEST_F(JobTrackerTest, InFlightTaskOfADeadMasterRunsAgainAsNextAttempt) {
  JobTracker t = Make();
  TaskRecord running = Pending(1);
  running.state = TaskState::kRunning;
  running.attempt = 1;
  TaskRecord done = Pending(2);
  done.state = TaskState::kSucceeded;
  done.attempt = 1;
  t.AddLoadedTask(std::move(running));
  t.AddLoadedTask(std::move(done));
  EXPECT_EQ(t.state_of(1), TaskState::kPending);
  auto a = t.Dispatch("w", 10);
  ASSERT_EQ(a.size(), 1u);  // the succeeded task is not run again
  EXPECT_EQ(a[0].ref.task_id, 1);
  EXPECT_EQ(a[0].ref.attempt, 2);
}

TEST_F(JobTrackerTest, MapChildrenAreCreatedWithTheParentsSuccess) {
  JobTracker t = Make(Model::kMap);
  t.AddLoadedTask(Pending(1, "root"));
  t.SetNextTaskId(2);
  auto a = t.Dispatch("w", 1);
  TaskReport r = Ok(a[0]);
  r.children.push_back({"page", {"a", "b", "c"}});
  ASSERT_TRUE(t.OnReport(std::move(r), "w"));
  ASSERT_EQ(sink_.added.size(), 3u);
  EXPECT_EQ(sink_.added[0].id, 2);
  EXPECT_EQ(sink_.added[0].parent_id, 1);
  EXPECT_EQ(sink_.added[2].payload, "c");
  EXPECT_EQ(sink_.next_id, 5);
  EXPECT_FALSE(t.AllTerminal());
  auto kids = t.Dispatch("w", 10);
  ASSERT_EQ(kids.size(), 3u);
  EXPECT_EQ(kids[0].stage, "page");
  EXPECT_EQ(kids[1].payload, "b");
  // Counts by stage follow every change; the totals are their sum.
  ASSERT_TRUE(t.OnReport(Ok(kids[0]), "w"));
  const std::vector<StageCounts> st = t.stage_counts();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].stage, "root");
  EXPECT_EQ(st[0].counts[static_cast<size_t>(TaskState::kSucceeded)], 1);
  EXPECT_EQ(st[1].stage, "page");
  EXPECT_EQ(st[1].counts[static_cast<size_t>(TaskState::kSucceeded)], 1);
  EXPECT_EQ(st[1].counts[static_cast<size_t>(TaskState::kDispatched)], 2);
  EXPECT_EQ(TotalCounts(st), t.counts());
}

TEST_F(JobTrackerTest, TerminalCountsOfALoadedJobKeepTheirStages) {
  JobTracker t = Make(Model::kMap);
  StageCounts root{"root", {}};
  root.counts[static_cast<size_t>(TaskState::kSucceeded)] = 1;
  StageCounts page{"page", {}};
  page.counts[static_cast<size_t>(TaskState::kSucceeded)] = 5;
  page.counts[static_cast<size_t>(TaskState::kDead)] = 2;
  page.counts[static_cast<size_t>(TaskState::kPending)] = 9;  // loaded below
  t.AddTerminalCounts({root, page});
  t.AddLoadedTask(Pending(9, "page"));
  t.SetNextTaskId(10);
  const std::vector<StageCounts> st = t.stage_counts();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[1].stage, "page");
  EXPECT_EQ(st[1].counts[static_cast<size_t>(TaskState::kSucceeded)], 5);
  EXPECT_EQ(st[1].counts[static_cast<size_t>(TaskState::kDead)], 2);
  EXPECT_EQ(st[1].counts[static_cast<size_t>(TaskState::kPending)], 1);
  EXPECT_EQ(t.total_tasks(), 9);
}

TEST_F(JobTrackerTest, MapOutsideMapModelsFailsTheAttempt) {
  JobTracker t = Make(Model::kStandalone, 1);
  t.AddLoadedTask(Pending(1, "root"));
  auto a = t.Dispatch("w", 1);
  TaskReport r = Ok(a[0]);
  r.children.push_back({"x", {"1"}});
  ASSERT_TRUE(t.OnReport(std::move(r), "w"));
  EXPECT_EQ(t.state_of(1), TaskState::kDead);
  EXPECT_TRUE(sink_.added.empty());
}

TEST_F(JobTrackerTest, BroadcastTasksGoToTheirWorker) {
  // The payload of a broadcast task names its worker.
  JobTracker t2 = Make(Model::kBroadcast);
  t2.SetKnownWorkers({"w0", "w1"});
  TaskRecord b0 = Pending(1, kBroadcastStage);
  b0.payload = "w0";
  TaskRecord b1 = Pending(2, kBroadcastStage);
  b1.payload = "w1";
  t2.AddLoadedTask(std::move(b0));
  t2.AddLoadedTask(std::move(b1));
  auto for_w1 = t2.Dispatch("w1", 10);
  ASSERT_EQ(for_w1.size(), 1u);
  EXPECT_EQ(for_w1[0].ref.task_id, 2);
  auto for_w0 = t2.Dispatch("w0", 10);
  ASSERT_EQ(for_w0.size(), 1u);
  EXPECT_EQ(for_w0[0].ref.task_id, 1);
}

TEST_F(JobTrackerTest, BroadcastTaskOfAForgottenWorkerGoesToAnother) {
  JobTracker t2 = Make(Model::kBroadcast);
  t2.SetKnownWorkers({"w0", "w1"});
  TaskRecord b0 = Pending(1, kBroadcastStage);
  b0.payload = "w0";
  t2.AddLoadedTask(std::move(b0));
  EXPECT_TRUE(t2.Dispatch("w1", 10).empty());  // pinned to w0
  t2.ForgetWorker("w0");                       // w0 died before fetching
  auto for_w1 = t2.Dispatch("w1", 10);
  ASSERT_EQ(for_w1.size(), 1u);
  EXPECT_EQ(for_w1[0].ref.task_id, 1);
}

TEST_F(JobTrackerTest, CancelAllStopsEverythingAndFencesReports) {
  JobTracker t = Make();
  t.AddLoadedTask(Pending(1));
  t.AddLoadedTask(Pending(2));
  auto a = t.Dispatch("w", 1);
  t.CancelAll();
  EXPECT_TRUE(t.AllTerminal());
  EXPECT_EQ(t.counts()[static_cast<size_t>(TaskState::kCancelled)], 2);
  EXPECT_FALSE(t.OnReport(Ok(a[0]), "w"));
  EXPECT_TRUE(t.Dispatch("w", 10).empty());
}

TEST_F(JobTrackerTest, ReduceTaskRunsOnTheMasterAfterTheMaps) {
  JobTracker t = Make(Model::kMapReduce);
  t.AddLoadedTask(Pending(1));
  t.SetNextTaskId(2);
  auto a = t.Dispatch("w", 1);
  ASSERT_TRUE(t.OnReport(Ok(a[0], "5"), "w"));
  ASSERT_TRUE(t.AllTerminal());
  const int64_t rid = t.EnsureReduceTask();
  EXPECT_EQ(rid, 2);
  EXPECT_EQ(t.EnsureReduceTask(), 2);        // idempotent
  EXPECT_TRUE(t.Dispatch("w", 10).empty());  // never sent to a worker
  TaskRef ref = t.StartReduce();
  EXPECT_EQ(ref.attempt, 1);
  TaskReport r;
  r.ref = ref;
  r.ok = true;
  r.result = "total";
  ASSERT_TRUE(t.OnReport(std::move(r), kMasterWorkerId));
  EXPECT_EQ(t.state_of(rid), TaskState::kSucceeded);
  EXPECT_EQ(sink_.last[rid].worker, kMasterWorkerId);
}

// A rerun (or a crash during the reduce) leaves the reduce task unfinished
// in the store: it must not hold back the maps' completion, which is what
// starts it.
TEST_F(JobTrackerTest, UnfinishedLoadedReduceWaitsForTheMapsNotTheReverse) {
  for (TaskState st :
       {TaskState::kPending, TaskState::kRunning, TaskState::kFailed}) {
    SCOPED_TRACE(TaskStateName(st));
    RecordingSink sink;
    JobTracker t(7, Model::kMapReduce, RetryPolicy{}, &sink, &clock_);
    t.AddLoadedTask(Pending(1));
    TaskRecord reduce = Pending(2, "reduce");
    reduce.state = st;
    reduce.attempt = 1;
    t.AddLoadedTask(std::move(reduce));
    t.SetNextTaskId(3);
    EXPECT_FALSE(t.AllTerminal());
    auto a = t.Dispatch("w", 10);
    ASSERT_EQ(a.size(), 1u);  // the map only
    EXPECT_EQ(a[0].ref.task_id, 1);
    ASSERT_TRUE(t.OnReport(Ok(a[0]), "w"));
    EXPECT_TRUE(t.AllTerminal());
    EXPECT_TRUE(t.AllSucceeded());
    EXPECT_EQ(t.EnsureReduceTask(), 2);  // the loaded one, not a new one
    EXPECT_EQ(t.StartReduce().attempt, 2);
    EXPECT_EQ(t.total_tasks(), 2);
  }
}

TEST_F(JobTrackerTest, TerminalReduceIsKnownAndCountedOnce) {
  JobTracker t = Make(Model::kMapReduce);
  StageCounts maps{"map", {}};
  maps.counts[static_cast<size_t>(TaskState::kSucceeded)] = 4;
  StageCounts reduce{"reduce", {}};
  reduce.counts[static_cast<size_t>(TaskState::kSucceeded)] = 1;
  t.AddTerminalCounts({maps, reduce});
  TaskRecord r = Pending(5, "reduce");
  r.state = TaskState::kSucceeded;
  r.attempt = 1;
  t.AddTerminalReduce(std::move(r));
  t.SetNextTaskId(6);
  EXPECT_TRUE(t.AllSucceeded());
  EXPECT_EQ(t.EnsureReduceTask(), 5);
  EXPECT_EQ(t.state_of(5), TaskState::kSucceeded);
  EXPECT_EQ(t.total_tasks(), 5);
  EXPECT_TRUE(sink_.added.empty());  // no second reduce task
}

}  // namespace
}  // namespace taskgrid
