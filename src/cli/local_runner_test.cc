// The embedded engine end to end, in one process: master, in-process
// transport, several workers, and a real SQLite store in a temp dir.
#include "cli/local_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "master/submit.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace {

// How often each (task, attempt) ran, across all test processors.
std::mutex g_mu;
std::map<std::string, int> g_runs;  // guarded by g_mu

void CountRun(const TaskContext& ctx) {
  std::lock_guard<std::mutex> lock(g_mu);
  ++g_runs[std::to_string(ctx.job_id()) + "/" + std::to_string(ctx.task_id())];
}

// Sums the ids of its range; Reduce totals. params.ms: sleep per task.
class SumProcessor : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    auto r = IdRange::Parse(ctx.payload());
    if (!r.ok()) return r.status();
    if (!ctx.SleepFor(std::chrono::milliseconds(ctx.params().IntOr("ms", 0)))) {
      return CancelledError("cancelled");
    }
    int64_t sum = 0;
    for (int64_t i = r->start; i < r->end; ++i) sum += i;
    ctx.Log("summed " + ctx.payload());
    CountRun(ctx);
    ctx.SetResult(std::to_string(sum));
    return OkStatus();
  }
  Status Reduce(JobContext& ctx) override {
    int64_t total = 0;
    Status s = ctx.ForEachResult(
        [&](const TaskResult& r) { total += std::stoll(r.result); });
    if (!s.ok()) return s;
    ctx.SetResult(std::to_string(total));
    return OkStatus();
  }
};

// Root maps params.n tasks to "l1"; each l1 maps 2 to "l2".
class FanoutProcessor : public MapProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    if (ctx.stage() == "root") {
      std::vector<std::string> p;
      for (int64_t i = 0; i < ctx.params().IntOr("n", 3); ++i) {
        p.push_back(std::to_string(i));
      }
      ctx.Map(std::move(p), "l1");
    } else if (ctx.stage() == "l1") {
      ctx.Map({ctx.payload() + ".a", ctx.payload() + ".b"}, "l2");
    } else {
      ctx.SetResult(ctx.payload());
    }
    return OkStatus();
  }
};

// Its Reduce fails the first time it runs in the process, then succeeds.
std::atomic<int> g_reduce_calls{0};
class FlakyReduceProcessor : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    ctx.SetResult("1");
    return OkStatus();
  }
  Status Reduce(JobContext& ctx) override {
    if (g_reduce_calls.fetch_add(1) == 0) {
      return UnavailableError("first reduce fails");
    }
    int64_t n = 0;
    Status s = ctx.ForEachResult([&](const TaskResult&) { ++n; });
    ctx.SetResult(std::to_string(n));
    return s;
  }
};

class ThrowProcessor : public Processor {
 public:
  Status Process(TaskContext& ctx) override {
    throw std::runtime_error("boom in task " + std::to_string(ctx.task_id()));
  }
};

// Reports the worker that ran it.
class WhoProcessor : public BroadcastProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    ctx.SetResult(ctx.worker_id());
    return OkStatus();
  }
};

// Reduces early (Processor::reduces_early). Map tasks: "last" waits (up
// to 10 s) until the reduce has taken a result, "fail" fails while
// g_early_fail is set, "slow" sleeps params.ms; each sets its payload as
// its result. Reduce records what it took, fails its first call if
// params.reduce_fails, writes the payloads to ids.txt when the job has an
// output, and sets "N succeeded: payloads in task order".
std::atomic<int> g_early_taken{0};
std::atomic<bool> g_early_fail{false};
std::atomic<int> g_early_reduce_calls{0};
std::vector<std::vector<int64_t>> g_early_orders;  // per Reduce call; g_mu
std::vector<Status> g_early_statuses;              // per Reduce call; g_mu
std::vector<std::string> g_early_listed;  // ForEachTask: "id:stage:payload"
class EarlyReduceProcessor : public MapReduceProcessor {
 public:
  bool reduces_early() const override { return true; }
  Status Process(TaskContext& ctx) override {
    if (ctx.payload() == "fail" && g_early_fail) {
      return UnavailableError("told to fail");
    }
    if (ctx.payload() == "last") {
      for (int i = 0; i < 10'000 && g_early_taken == 0; ++i) {
        ctx.SleepFor(std::chrono::milliseconds(1));
      }
      ctx.SetResult(g_early_taken > 0 ? "last" : "last-before-any-taken");
      return OkStatus();
    }
    if (ctx.payload() == "slow" &&
        !ctx.SleepFor(std::chrono::milliseconds(ctx.params().IntOr("ms", 0)))) {
      return CancelledError("cancelled");
    }
    ctx.SetResult(ctx.payload());
    return OkStatus();
  }
  Status Reduce(JobContext& ctx) override {
    const int call = g_early_reduce_calls.fetch_add(1);
    std::vector<std::string> listed;
    if (Status s = ctx.ForEachTask([&](const TaskInput& t) {
          listed.push_back(std::to_string(t.task_id) + ":" + t.stage + ":" +
                           t.payload);
        });
        !s.ok()) {
      return s;
    }
    std::map<int64_t, std::string> taken;
    std::vector<int64_t> order;
    Status s = ctx.ForEachResult([&](const TaskResult& r) {
      EXPECT_TRUE(taken.emplace(r.task_id, r.result).second)
          << "task " << r.task_id << " taken twice";
      order.push_back(r.task_id);
      ++g_early_taken;
    });
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_early_orders.push_back(order);
      g_early_statuses.push_back(s);
      g_early_listed = listed;
    }
    if (!s.ok()) return s;
    if (call == 0 && ctx.params().IntOr("reduce_fails", 0) != 0) {
      return UnavailableError("first reduce fails");
    }
    std::string all;
    for (const auto& [id, result] : taken) all += result + " ";
    if (!ctx.output_dir().empty()) {
      auto path = ctx.OutputPath("ids.txt");
      if (!path.ok()) return path.status();
      std::ofstream(*path) << all;
    }
    ctx.SetResult(std::to_string(ctx.succeeded_tasks()) + " succeeded: " + all);
    return OkStatus();
  }
};

const bool kRegistered = [] {
  auto& r = ProcessorRegistry::Global();
  r.Register("lr-sum", [] {
     return std::make_unique<SumProcessor>();
   }).IgnoreError();
  r.Register("lr-fanout", [] {
     return std::make_unique<FanoutProcessor>();
   }).IgnoreError();
  r.Register("lr-throw", [] {
     return std::make_unique<ThrowProcessor>();
   }).IgnoreError();
  r.Register("lr-flaky-reduce", [] {
     return std::make_unique<FlakyReduceProcessor>();
   }).IgnoreError();
  r.Register("lr-who", [] {
     return std::make_unique<WhoProcessor>();
   }).IgnoreError();
  r.Register("lr-early", [] {
     return std::make_unique<EarlyReduceProcessor>();
   }).IgnoreError();
  return true;
}();

class LocalRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kRegistered);
    {
      // Job ids restart at 1 in every test's fresh store.
      std::lock_guard<std::mutex> lock(g_mu);
      g_runs.clear();
      g_early_orders.clear();
      g_early_statuses.clear();
      g_early_listed.clear();
    }
    g_early_taken = 0;
    g_early_fail = false;
    g_early_reduce_calls = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("tg-lr-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = OpenSqliteStateStore((dir_ / "state.db").string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t Submit(const std::string& yaml, int workers) {
    auto spec = ParseJobSpec(yaml, "test.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    std::vector<std::string> ids;
    for (int i = 0; i < workers; ++i)
      ids.push_back("local-" + std::to_string(i));
    auto r = SubmitJob(store_.get(), *spec, ids, false, Clock::Real());
    EXPECT_TRUE(r.ok()) << r.status();
    return r->job_id;
  }

  JobOutcome Run(int64_t job, int workers) {
    LocalRunnerOptions o;
    o.workers = workers;
    LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
    auto out = runner.Run(job);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : JobOutcome{};
  }

  std::vector<TaskRecord> Tasks(int64_t job) {
    TaskFilter f;
    f.limit = 0;
    auto t = store_->ListTasks(job, f);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : std::vector<TaskRecord>{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(LocalRunnerTest, MapReduceOverManyWorkersIsExact) {
  for (int workers : {1, 2, 4}) {
    const int64_t job = Submit(R"(
name: sum
processor: lr-sum
model: mapreduce
input: {range: {start: 0, end: 100000, step: 997}}
)",
                               workers);
    JobOutcome out = Run(job, workers);
    EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
    EXPECT_EQ(out.result, std::to_string(int64_t{99999} * 100000 / 2));
    auto job_rec = store_->GetJob(job);
    ASSERT_TRUE(job_rec.ok());
    EXPECT_EQ(job_rec->state, JobState::kSucceeded);
    EXPECT_EQ(job_rec->result, out.result);
    auto tasks = Tasks(job);
    ASSERT_EQ(tasks.size(), 101u + 1u);  // 101 pages + reduce
    for (const auto& t : tasks) {
      EXPECT_EQ(t.state, TaskState::kSucceeded) << t.id;
      EXPECT_EQ(t.attempt, 1) << t.id;
      std::lock_guard<std::mutex> lock(g_mu);
      if (t.stage == "map") {
        EXPECT_EQ((g_runs[std::to_string(job) + "/" + std::to_string(t.id)]),
                  1);
      }
    }
    EXPECT_EQ(tasks.back().stage, "reduce");
  }
}

TEST_F(LocalRunnerTest, MultiLevelFanOut) {
  const int64_t job = Submit(R"(
name: fan
processor: lr-fanout
model: map
params: {n: 25}
)",
                             3);
  JobOutcome out = Run(job, 3);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  auto tasks = Tasks(job);
  std::map<std::string, int> by_stage;
  std::set<std::string> results;
  for (const auto& t : tasks) {
    ++by_stage[t.stage];
    EXPECT_EQ(t.state, TaskState::kSucceeded);
    if (t.stage == "l2") results.insert(t.result);
  }
  EXPECT_EQ(by_stage["root"], 1);
  EXPECT_EQ(by_stage["l1"], 25);
  EXPECT_EQ(by_stage["l2"], 50);
  EXPECT_EQ(results.size(), 50u);
  EXPECT_TRUE(results.count("24.b"));
}

TEST_F(LocalRunnerTest, ExhaustedRetriesMakeDeadTasksAndSkipReduce) {
  const int64_t job = Submit(R"(
name: flaky
processor: sleep
model: map
input: {list: [a, b, c]}
params: {ms: 0, fail_attempts: 3}
retry: {max_attempts: 2, backoff: 10ms}
)",
                             2);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kFailed);
  EXPECT_EQ(out.counts[static_cast<size_t>(TaskState::kDead)], 3);
  EXPECT_EQ(out.failed_attempts, 6);
  for (const auto& t : Tasks(job)) {
    EXPECT_EQ(t.state, TaskState::kDead);
    EXPECT_EQ(t.attempt, 2);
    EXPECT_NE(t.error.find("fail_attempts"), std::string::npos) << t.error;
  }
  // Rerun the dead tasks with a fresh budget of 2: attempt 3 still fails
  // (fail_attempts is 3), attempt 4 succeeds.
  auto n = store_->RerunTasks(job, true, {}, kReduceStage);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  for (const auto& t : Tasks(job)) {
    EXPECT_EQ(t.state, TaskState::kSucceeded);
    EXPECT_EQ(t.attempt, 4);
  }
}

TEST_F(LocalRunnerTest, FailedReduceIsRetriedOnTheMaster) {
  g_reduce_calls = 0;
  const int64_t job = Submit(R"(
name: flaky-reduce
processor: lr-flaky-reduce
model: mapreduce
input: {list: [a, b, c]}
retry: {max_attempts: 2, backoff: 10ms}
)",
                             2);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  EXPECT_EQ(out.result, "3");
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks.back().stage, "reduce");
  EXPECT_EQ(tasks.back().attempt, 2);
  EXPECT_EQ(tasks.back().worker, "master");
  auto logs = store_->GetLogs(job, tasks.back().id);
  ASSERT_TRUE(logs.ok());
  ASSERT_FALSE(logs->empty());
  EXPECT_NE((*logs)[0].line.find("first reduce fails"), std::string::npos);
}

TEST_F(LocalRunnerTest, TimeoutCancelsTheAttempt) {
  const int64_t job = Submit(R"(
name: slow
processor: sleep
model: map
input: {list: [a, b]}
params: {ms: 60000}
timeout: 50ms
retry: {max_attempts: 2, backoff: 10ms}
)",
                             2);
  const auto start = std::chrono::steady_clock::now();
  JobOutcome out = Run(job, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(out.state, JobState::kFailed);
  for (const auto& t : Tasks(job)) {
    EXPECT_EQ(t.state, TaskState::kDead);
    EXPECT_NE(t.error.find("timed out"), std::string::npos) << t.error;
  }
}

TEST_F(LocalRunnerTest, ThrowingProcessorFailsOnlyItsAttempt) {
  const int64_t job = Submit(R"(
name: throw
processor: lr-throw
model: map
input: {list: [a]}
retry: {max_attempts: 1, backoff: 10ms}
)",
                             1);
  JobOutcome out = Run(job, 1);
  EXPECT_EQ(out.state, JobState::kFailed);
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_NE(tasks[0].error.find("boom in task 1"), std::string::npos);
  auto logs = store_->GetLogs(job, 1);
  ASSERT_TRUE(logs.ok());
  bool found = false;
  for (const auto& l : *logs) found |= l.line.find("boom") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST_F(LocalRunnerTest, BroadcastRunsOncePerWorker) {
  const int64_t job = Submit(R"(
name: bc
processor: lr-who
model: broadcast
)",
                             3);
  JobOutcome out = Run(job, 3);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) {
    EXPECT_EQ(t.result, t.payload);
    EXPECT_EQ(t.worker, t.payload);
  }
}

TEST_F(LocalRunnerTest, CancelFromAnotherStoreHandleStopsTheJob) {
  const int64_t job = Submit(R"(
name: cancel-me
processor: sleep
model: map
input: {range: {start: 0, end: 40, step: 1}}
params: {ms: 200}
)",
                             2);
  LocalRunnerOptions o;
  o.workers = 2;
  LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
  std::thread canceller([&] {
    auto other = OpenSqliteStateStore((dir_ / "state.db").string());
    ASSERT_TRUE(other.ok());
    // Wait until the job runs, then cancel it as `taskgrid cancel` would.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (
        runner.progress().counts[static_cast<size_t>(TaskState::kSucceeded)] <
            2 &&
        std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE((*other)->CancelJob(job, Clock::Real()->NowMs()).ok());
  });
  auto out = runner.Run(job);
  canceller.join();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->state, JobState::kCancelled);
  auto counts = store_->CountTasks(job);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kPending)], 0);
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kRunning)], 0);
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kDispatched)], 0);
  EXPECT_GT((*counts)[static_cast<size_t>(TaskState::kCancelled)], 0);
}

TEST_F(LocalRunnerTest, InterruptThenResumeRunsOnlyWhatWasUnfinished) {
  const int64_t job = Submit(R"(
name: resume-me
processor: lr-sum
model: mapreduce
input: {range: {start: 0, end: 3000, step: 100}}
params: {ms: 50}
)",
                             2);
  std::map<int64_t, int32_t> done_before;
  {
    LocalRunnerOptions o;
    o.workers = 2;
    LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
    std::thread interrupter([&] {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (
          runner.progress().counts[static_cast<size_t>(TaskState::kSucceeded)] <
              6 &&
          std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      runner.Interrupt();
    });
    auto out = runner.Run(job);
    interrupter.join();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->state, JobState::kRunning);  // interrupted, resumable
  }
  for (const auto& t : Tasks(job)) {
    if (t.state == TaskState::kSucceeded) done_before[t.id] = t.attempt;
  }
  ASSERT_GE(done_before.size(), 6u);
  ASSERT_LT(done_before.size(), 30u);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  EXPECT_EQ(out.result, std::to_string(int64_t{2999} * 3000 / 2));
  for (const auto& t : Tasks(job)) {
    EXPECT_EQ(t.state, TaskState::kSucceeded);
    auto it = done_before.find(t.id);
    if (it != done_before.end()) {
      EXPECT_EQ(t.attempt, it->second) << "task " << t.id << " ran again";
      std::lock_guard<std::mutex> lock(g_mu);
      EXPECT_EQ((g_runs[std::to_string(job) + "/" + std::to_string(t.id)]), 1);
    }
  }
}

// The reduce's log lines, joined.
std::string ReduceLog(StateStore* store, int64_t job, int64_t task) {
  auto logs = store->GetLogs(job, task);
  EXPECT_TRUE(logs.ok()) << logs.status();
  std::string all;
  if (logs.ok()) {
    for (const auto& l : *logs) all += l.line + "\n";
  }
  return all;
}

TEST_F(LocalRunnerTest, EarlyReduceTakesResultsWhileMapsRun) {
  const std::string out_dir = (dir_ / "out").string();
  const int64_t job = Submit(R"(
name: early
processor: lr-early
model: mapreduce
input: {list: [a, b, last, c]}
output: )" + out_dir + "\n",
                             2);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  // "last" ran until the reduce had taken a result: they overlapped.
  EXPECT_EQ(out.result, "4 succeeded: a b last c ");
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 5u);
  const TaskRecord& reduce = tasks.back();
  EXPECT_EQ(reduce.stage, "reduce");
  EXPECT_EQ(reduce.state, TaskState::kSucceeded);
  EXPECT_EQ(reduce.attempt, 1);
  // The attempt began once the maps were done.
  for (size_t i = 0; i + 1 < tasks.size(); ++i) {
    EXPECT_LE(tasks[i].finished_ms, reduce.started_ms) << tasks[i].id;
  }
  EXPECT_NE(ReduceLog(store_.get(), job, reduce.id)
                .find("started with the job: took 4 result(s)"),
            std::string::npos);
  std::ifstream in(out_dir + "/ids.txt");
  std::string committed((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_EQ(committed, "a b last c ");
  EXPECT_TRUE(std::filesystem::exists(out_dir + "/_SUCCESS"));
  std::lock_guard<std::mutex> lock(g_mu);
  ASSERT_EQ(g_early_orders.size(), 1u);
  EXPECT_EQ(g_early_orders[0].size(), 4u);
  // ForEachTask listed the map tasks (not the reduce), in id order, before
  // their results came.
  std::vector<std::string> maps;
  for (size_t i = 0; i + 1 < tasks.size(); ++i) {
    maps.push_back(std::to_string(tasks[i].id) + ":" + tasks[i].stage + ":" +
                   tasks[i].payload);
  }
  EXPECT_EQ(g_early_listed, maps);
  EXPECT_EQ(maps.size(), 4u);
}

TEST_F(LocalRunnerTest, DeadMapAbandonsTheEarlyReduceAndRerunCompletes) {
  g_early_fail = true;
  const int64_t job = Submit(R"(
name: early-dead
processor: lr-early
model: mapreduce
input: {list: [a, fail, b]}
retry: {max_attempts: 2, backoff: 5ms}
)",
                             2);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kFailed);
  EXPECT_NE(out.error.find("1 task(s) dead"), std::string::npos) << out.error;
  // The reduce ran, was told it was abandoned, and left no record.
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) EXPECT_NE(t.stage, "reduce");
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ASSERT_EQ(g_early_statuses.size(), 1u);
    EXPECT_EQ(g_early_statuses[0].code(), StatusCode::kAborted)
        << g_early_statuses[0];
  }
  // `rerun --failed`: the reduce now reads the store, in task order, once.
  g_early_fail = false;
  auto n = store_->RerunTasks(job, true, {}, kReduceStage);
  ASSERT_TRUE(n.ok()) << n.status();
  out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  EXPECT_EQ(out.result, "3 succeeded: a fail b ");
  tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks.back().stage, "reduce");
  EXPECT_EQ(tasks.back().attempt, 1);
  std::lock_guard<std::mutex> lock(g_mu);
  ASSERT_EQ(g_early_orders.size(), 2u);
  EXPECT_EQ(g_early_orders[1], (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(LocalRunnerTest, InterruptAbandonsTheEarlyReduceAndResumeCompletes) {
  const int64_t job = Submit(R"(
name: early-interrupt
processor: lr-early
model: mapreduce
input: {list: [slow, slow, slow, slow, slow, slow, slow, slow]}
params: {ms: 100}
)",
                             1);
  {
    LocalRunnerOptions o;
    o.workers = 1;
    LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
    std::thread interrupter([&] {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (g_early_taken < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      runner.Interrupt();
    });
    auto out = runner.Run(job);
    interrupter.join();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->state, JobState::kRunning);  // interrupted, resumable
  }
  for (const auto& t : Tasks(job)) EXPECT_NE(t.stage, "reduce");
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ASSERT_EQ(g_early_statuses.size(), 1u);
    EXPECT_EQ(g_early_statuses[0].code(), StatusCode::kAborted);
    EXPECT_GE(g_early_orders[0].size(), 2u);
  }
  JobOutcome out = Run(job, 1);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  EXPECT_EQ(out.result.substr(0, 12), "8 succeeded:");
  std::lock_guard<std::mutex> lock(g_mu);
  ASSERT_EQ(g_early_orders.size(), 2u);
  EXPECT_EQ(g_early_orders[1].size(), 8u);  // from the store, all of them
}

TEST_F(LocalRunnerTest, FailedEarlyReduceIsRetriedFromTheStore) {
  const int64_t job = Submit(R"(
name: early-retry
processor: lr-early
model: mapreduce
input: {list: [a, b, c]}
params: {reduce_fails: 1}
retry: {max_attempts: 2, backoff: 5ms}
)",
                             2);
  JobOutcome out = Run(job, 2);
  EXPECT_EQ(out.state, JobState::kSucceeded) << out.error;
  EXPECT_EQ(out.result, "3 succeeded: a b c ");
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks.back().stage, "reduce");
  EXPECT_EQ(tasks.back().attempt, 2);
  EXPECT_NE(
      ReduceLog(store_.get(), job, tasks.back().id).find("first reduce fails"),
      std::string::npos);
  std::lock_guard<std::mutex> lock(g_mu);
  ASSERT_EQ(g_early_orders.size(), 2u);
  EXPECT_EQ(g_early_orders[0].size(), 3u);
  EXPECT_EQ(g_early_orders[1], (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(LocalRunnerTest, EarlyReduceFeedOverflowReadsTheRestFromTheStore) {
  for (const size_t feed_bytes : {size_t{0}, size_t{8}, size_t{30}}) {
    const int64_t job = Submit(R"(
name: early-overflow
processor: lr-early
model: mapreduce
input: {list: [a, b, c, d, e, f, g, h, i, j]}
)",
                               2);
    LocalRunnerOptions o;
    o.workers = 2;
    o.master.reduce_feed_bytes = feed_bytes;  // "map" + "x": 4 bytes each
    LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
    auto out = runner.Run(job);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->state, JobState::kSucceeded) << out->error;
    // Every result exactly once (the reduce also checks for repeats).
    EXPECT_EQ(out->result, "10 succeeded: a b c d e f g h i j ") << feed_bytes;
  }
}

}  // namespace
}  // namespace taskgrid
