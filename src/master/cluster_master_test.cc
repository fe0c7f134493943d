// ClusterMaster in one process: leadership between two masters on one
// SQLite store, jobs run by in-process workers, workers declared dead,
// quarantine of a task that kills its worker, takeover mid-job.
// (The same with real processes, gRPC and PostgreSQL is in
// tests/integration/cluster_test.cc.)
#include "master/cluster_master.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "rpc/inproc/inproc_transport.h"
#include "store/sqlite/sqlite_state_store.h"
#include "worker/worker.h"

namespace taskgrid {
namespace {

using std::chrono::milliseconds;

// Sums the ids of its range (params.ms: sleep first); Reduce totals.
class SumProcessor : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    auto r = IdRange::Parse(ctx.payload());
    if (!r.ok()) return r.status();
    if (!ctx.SleepFor(milliseconds(ctx.params().IntOr("ms", 0)))) {
      return CancelledError("cancelled");
    }
    int64_t sum = 0;
    for (int64_t i = r->start; i < r->end; ++i) sum += i;
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

constexpr char kSumSpec[] = R"(
name: sum
processor: cm-sum
model: mapreduce
input: {range: {start: 0, end: 20000, step: 1000}}
params: {ms: MS}
retry: {max_attempts: 3, backoff: 10ms}
)";

std::string SumSpec(int ms) {
  std::string s = kSumSpec;
  s.replace(s.find("MS"), 2, std::to_string(ms));
  return s;
}

// Specs are checked against the global registry.
const bool kRegistered =
    ProcessorRegistry::Global()
        .Register("cm-sum", [] { return std::make_unique<SumProcessor>(); })
        .ok();

const std::string kSumResult = std::to_string(int64_t{19999} * 20000 / 2);

template <typename Pred>
bool WaitUntil(Pred pred, int64_t timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

class ClusterMasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kRegistered);
    dir_ = std::filesystem::temp_directory_path() /
           ("tg-cm-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    workers_.clear();
    masters_.clear();
    stores_.clear();
    std::filesystem::remove_all(dir_);
  }

  // A master with its own store handle on the shared file.
  ClusterMaster* AddMaster(const std::string& owner) {
    auto s = OpenSqliteStateStore((dir_ / "state.db").string());
    EXPECT_TRUE(s.ok()) << s.status();
    stores_.push_back(*std::move(s));
    ClusterMasterOptions o;
    o.owner = owner;
    o.address = owner + ":7700";
    o.leader_lease_ms = 1000;
    o.leader_renew_ms = 50;
    o.worker_timeout_ms = 300;
    o.writer.heartbeat_interval_ms = 100;
    masters_.push_back(
        std::make_unique<ClusterMaster>(stores_.back().get(), &registry_, o));
    EXPECT_TRUE(masters_.back()->Start().ok());
    return masters_.back().get();
  }

  void AddWorker(ClusterMaster* m, const std::string& id, int slots = 1) {
    transports_.push_back(std::make_unique<InProcTransport>());
    ASSERT_TRUE(transports_.back()->Serve(m).ok());
    auto conn = transports_.back()->Connect();
    ASSERT_TRUE(conn.ok());
    WorkerOptions wo;
    wo.id = id;
    wo.slots = slots;
    wo.heartbeat_ms = 50;
    wo.fetch_wait_ms = 100;
    workers_.push_back(
        std::make_unique<Worker>(wo, *std::move(conn), &registry_));
    ASSERT_TRUE(workers_.back()->Start().ok());
  }

  int64_t Submit(ClusterMaster* m, const std::string& yaml) {
    auto r = m->SubmitJob({yaml, false});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->job_id : 0;
  }

  JobRecord WaitForEnd(ClusterMaster* m, int64_t job, int64_t timeout_ms) {
    JobRecord rec;
    WaitUntil(
        [&] {
          auto st = m->GetJob(job);
          if (st.ok()) rec = st->job;
          return st.ok() && IsTerminal(st->job.state);
        },
        timeout_ms);
    return rec;
  }

  std::vector<TaskRecord> Tasks(int64_t job) {
    TaskFilter f;
    f.limit = 0;
    auto t = stores_.front()->ListTasks(job, f);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : std::vector<TaskRecord>{};
  }

  const ProcessorRegistry& registry_ = ProcessorRegistry::Global();
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<StateStore>> stores_;
  std::vector<std::unique_ptr<ClusterMaster>> masters_;
  std::vector<std::unique_ptr<InProcTransport>> transports_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

TEST_F(ClusterMasterTest, OneLeadsTheStandbyRefersToIt) {
  ClusterMaster* a = AddMaster("master-a");
  ASSERT_TRUE(a->WaitForLeadership(2000));
  ClusterMaster* b = AddMaster("master-b");
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(b->is_leader());
  Status s = b->RegisterWorker({"w", 1, "h", 1});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("master-a:7700"), std::string::npos) << s;
  EXPECT_EQ(b->ListJobs(0).status().code(), StatusCode::kUnavailable);

  // The leader stops (releasing leadership): the standby leads at once.
  const auto t0 = std::chrono::steady_clock::now();
  a->Stop();
  ASSERT_TRUE(b->WaitForLeadership(2000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1000));
  auto cluster = b->GetCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->leader.owner, "master-b");
  EXPECT_EQ(cluster->leader.epoch, 2);
}

TEST_F(ClusterMasterTest, RunsSeveralJobsAtOnce) {
  ClusterMaster* m = AddMaster("m");
  ASSERT_TRUE(m->WaitForLeadership(2000));
  AddWorker(m, "w1", 2);
  AddWorker(m, "w2", 2);
  const int64_t j1 = Submit(m, SumSpec(1));
  const int64_t j2 = Submit(m, SumSpec(1));
  for (int64_t j : {j1, j2}) {
    JobRecord rec = WaitForEnd(m, j, 20'000);
    EXPECT_EQ(rec.state, JobState::kSucceeded) << "job " << j;
    EXPECT_EQ(rec.result, kSumResult);
  }
  auto cluster = m->GetCluster();
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(cluster->workers.size(), 2u);
}

TEST_F(ClusterMasterTest, UnregisteredWorkerMustRegister) {
  ClusterMaster* m = AddMaster("m");
  ASSERT_TRUE(m->WaitForLeadership(2000));
  FetchRequest req;
  req.worker_id = "stranger";
  EXPECT_EQ(m->Fetch(req).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(m->Heartbeat({"stranger", {}}).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m->RegisterWorker({"stranger", 1, "h", 1}).ok());
  EXPECT_TRUE(m->Fetch(req).ok());
}

// A worker that takes tasks and falls silent is declared dead; its tasks
// run elsewhere, and its late report is rejected.
TEST_F(ClusterMasterTest, SilentWorkerIsDeclaredDeadAndFenced) {
  ClusterMaster* m = AddMaster("m");
  ASSERT_TRUE(m->WaitForLeadership(2000));
  const int64_t job = Submit(m, SumSpec(0));
  ASSERT_TRUE(m->RegisterWorker({"ghost", 1, "h", 1}).ok());
  FetchRequest req;
  req.worker_id = "ghost";
  req.max_tasks = 3;
  req.wait_ms = 2000;
  auto got = m->Fetch(req);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->tasks.size(), 3u);
  // The ghost says nothing more; a real worker joins.
  AddWorker(m, "real");
  JobRecord rec = WaitForEnd(m, job, 20'000);
  EXPECT_EQ(rec.state, JobState::kSucceeded);
  EXPECT_EQ(rec.result, kSumResult);
  for (const TaskAssignment& a : got->tasks) {
    auto t = stores_.front()->GetTask(job, a.ref.task_id);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->attempt, 2) << "task " << a.ref.task_id;
    EXPECT_EQ(t->worker, "real");
  }
  // The ghost wakes: it must register again, and its report is stale.
  TaskReport late;
  late.ref = got->tasks[0].ref;
  late.ok = true;
  late.result = "999";
  EXPECT_EQ(m->Report("ghost", {late}).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m->RegisterWorker({"ghost", 1, "h", 1}).ok());
  auto resp = m->Report("ghost", {late});
  ASSERT_TRUE(resp.ok());
  EXPECT_FALSE(resp->accepted[0]);
  EXPECT_EQ(WaitForEnd(m, job, 1000).result, kSumResult);
}

// A task that kills its worker on every attempt ends dead after its
// attempts; it never loops.
TEST_F(ClusterMasterTest, TaskThatKillsItsWorkerIsQuarantined) {
  ClusterMaster* m = AddMaster("m");
  ASSERT_TRUE(m->WaitForLeadership(2000));
  const int64_t job = Submit(m, R"(
name: poison
processor: cm-sum
model: mapreduce
input: {range: {start: 0, end: 1, step: 1}}
retry: {max_attempts: 2, backoff: 10ms}
)");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const std::string id = "victim-" + std::to_string(attempt);
    ASSERT_TRUE(m->RegisterWorker({id, 1, "h", 1}).ok());
    FetchRequest req;
    req.worker_id = id;
    req.wait_ms = 3000;
    auto got = m->Fetch(req);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->tasks.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(got->tasks[0].ref.attempt, attempt);
    // ... and the worker "dies" (falls silent).
  }
  JobRecord rec = WaitForEnd(m, job, 5000);
  EXPECT_EQ(rec.state, JobState::kFailed);
  auto tasks = Tasks(job);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state, TaskState::kDead);
  EXPECT_EQ(tasks[0].attempt, 2);
  EXPECT_NE(tasks[0].error.find("lost"), std::string::npos) << tasks[0].error;
}

// The leader goes away mid-job; the standby continues it from the store.
// Tasks that had succeeded do not run again.
TEST_F(ClusterMasterTest, StandbyContinuesTheJob) {
  ClusterMaster* a = AddMaster("master-a");
  ASSERT_TRUE(a->WaitForLeadership(2000));
  ClusterMaster* b = AddMaster("master-b");
  AddWorker(a, "wa");
  const int64_t job = Submit(a, SumSpec(30));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto st = a->GetJob(job);
        return st.ok() &&
               st->counts[static_cast<size_t>(TaskState::kSucceeded)] >= 5;
      },
      10'000));
  a->Stop();
  workers_.clear();  // its workers go with it
  std::map<int64_t, int32_t> before;
  for (const TaskRecord& t : Tasks(job)) {
    if (t.state == TaskState::kSucceeded) before[t.id] = t.attempt;
  }
  ASSERT_GE(before.size(), 5u);
  ASSERT_TRUE(b->WaitForLeadership(3000));
  AddWorker(b, "wb");
  JobRecord rec = WaitForEnd(b, job, 20'000);
  EXPECT_EQ(rec.state, JobState::kSucceeded);
  EXPECT_EQ(rec.result, kSumResult);
  for (const TaskRecord& t : Tasks(job)) {
    auto it = before.find(t.id);
    if (it == before.end()) continue;
    EXPECT_EQ(t.attempt, it->second) << "task " << t.id << " ran again";
    EXPECT_EQ(t.worker, "wa");
  }
}

TEST_F(ClusterMasterTest, CancelStopsARunningJob) {
  ClusterMaster* m = AddMaster("m");
  ASSERT_TRUE(m->WaitForLeadership(2000));
  AddWorker(m, "w");
  const int64_t job = Submit(m, SumSpec(200));
  std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE(m->CancelJob(job).ok());
  JobRecord rec = WaitForEnd(m, job, 5000);
  EXPECT_EQ(rec.state, JobState::kCancelled);
  // The master lets go of it.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto c = m->GetCluster();
        return c.ok() && c->active_jobs.empty();
      },
      5000));
}

}  // namespace
}  // namespace taskgrid
