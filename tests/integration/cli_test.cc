// End-to-end tests of the taskgrid command line: each test runs
// taskgrid_testbin (taskgrid::Main plus the processors of testbin.cc) as
// real processes against a state file in a fresh temporary directory, and
// checks exit codes, printed output and what `jobs`/`status`/`tasks`/`logs`
// report afterwards.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "integration/testbin_fixture.h"
#include "testing/process.h"

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using taskgrid::testing::CommandResult;
using taskgrid::testing::Process;
using taskgrid::testing::ReadLines;
using taskgrid::testing::RunCommand;
using taskgrid::testing::SpawnOptions;
using taskgrid::testing::TempDir;
using taskgrid::testing::WaitUntil;
using taskgrid::testing::WriteFile;

// Sum of the ids in [0, n).
int64_t SumBelow(int64_t n) { return n * (n - 1) / 2; }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class CliTest : public taskgrid::testing::TestbinTest {
 protected:
  json Status(int64_t job) const {
    return TgJson({"status", std::to_string(job), "--json"});
  }
  // Every task of `job`, in id order.
  json AllTasks(int64_t job) const {
    return TgJson({"tasks", std::to_string(job), "--json", "--limit", "0"});
  }

  // Writes a spec file and returns its path.
  std::string Spec(const std::string& name, const std::string& yaml) const {
    const std::string path = dir_.Path(name);
    WriteFile(path, yaml);
    return path;
  }

  // A "sum" mapreduce spec over [0, end) in pages of `step`.
  std::string SumSpec(const std::string& file, int64_t end, int64_t step,
                      int64_t ms, const std::string& extra = "") const {
    return Spec(file,
                "name: sum-job\n"
                "processor: sum\n"
                "model: mapreduce\n"
                "input:\n"
                "  range: {start: 0, end: " +
                    std::to_string(end) + ", step: " + std::to_string(step) +
                    "}\n"
                    "params: {ms: " +
                    std::to_string(ms) + ", journal: '" + journal_path() +
                    "'}\n"
                    "retry: {max_attempts: 3, backoff: 10ms}\n" +
                    extra);
  }

  size_t JournalLines() const { return ReadLines(journal_path()).size(); }
};

// Counts tasks by state name.
std::map<std::string, int> StatesOf(const json& tasks) {
  std::map<std::string, int> n;
  for (const json& t : tasks) ++n[t.value("state", std::string("?"))];
  return n;
}

TEST_F(CliTest, SucceededJobExitsZeroAndRecordsReduceResult) {
  const std::string spec = SumSpec("sum.yaml", 1000, 100, 0);
  CommandResult r = Tg({"run", spec, "--workers", "2", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, std::to_string(SumBelow(1000)))) << r.out;

  json st = Status(1);
  EXPECT_EQ(st["state"], "succeeded") << st.dump(2);
  EXPECT_EQ(st["result"], std::to_string(SumBelow(1000))) << st.dump(2);

  json tasks = AllTasks(1);
  int map_tasks = 0;
  for (const json& t : tasks) {
    EXPECT_EQ(t["state"], "succeeded") << t.dump();
    if (t["name"] == "map") ++map_tasks;
  }
  EXPECT_EQ(map_tasks, 10);
  // Each map task ran exactly once.
  std::vector<std::string> journal = ReadLines(journal_path());
  EXPECT_EQ(journal.size(), 10u);
  EXPECT_EQ(std::set<std::string>(journal.begin(), journal.end()).size(), 10u);
}

TEST_F(CliTest, DeadTaskExitsOneAndRerunFailedFinishesTheJob) {
  const std::string spec = Spec("flaky.yaml",
                                "name: flaky-job\n"
                                "processor: flaky\n"
                                "model: standalone\n"
                                "params: {fail_attempts: 2}\n"
                                "retry: {max_attempts: 2, backoff: 10ms}\n");
  CommandResult r = Tg({"run", spec, "--workers", "1", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(Status(1)["state"], "failed");

  json dead = TgJson({"tasks", "1", "--status", "dead", "--json"});
  ASSERT_EQ(dead.size(), 1u) << dead.dump(2);
  EXPECT_EQ(dead[0]["attempt"], 2) << dead.dump(2);
  ASSERT_TRUE(dead[0]["error"].is_string()) << dead.dump(2);
  EXPECT_TRUE(Contains(dead[0]["error"].get<std::string>(),
                       "flaky failure at attempt 2"))
      << dead.dump(2);

  // rerun restarts the task at attempt 3, which succeeds.
  r = Tg({"rerun", "1", "--failed", "--workers", "1", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Status(1)["state"], "succeeded");
  json tasks = AllTasks(1);
  ASSERT_EQ(tasks.size(), 1u) << tasks.dump(2);
  EXPECT_EQ(tasks[0]["state"], "succeeded");
  EXPECT_EQ(tasks[0]["attempt"], 3);
  EXPECT_TRUE(tasks[0]["error"].is_null()) << tasks.dump(2);

  r = Tg({"logs", "1", std::to_string(tasks[0]["id"].get<int64_t>())});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "flaky: failing attempt 1")) << r.out;
  EXPECT_TRUE(Contains(r.out, "flaky: failing attempt 2")) << r.out;
  EXPECT_TRUE(Contains(r.out, "flaky: attempt 3 succeeds")) << r.out;
}

TEST_F(CliTest, RerunGivesDeadTaskAFreshRetryBudget) {
  // Fails attempts 1..5: dead at 2, rerun → 3, 4 fail, dead at 4; rerun →
  // 5 fails, 6 succeeds.
  const std::string spec = Spec("flaky.yaml",
                                "name: flaky-job\n"
                                "processor: flaky\n"
                                "params: {fail_attempts: 5}\n"
                                "retry: {max_attempts: 2, backoff: 10ms}\n");
  CommandResult r = Tg({"run", spec, "--workers", "1", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  r = Tg({"rerun", "1", "--failed", "--workers", "1", "--no-progress"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  json tasks = AllTasks(1);
  ASSERT_EQ(tasks.size(), 1u) << tasks.dump(2);
  EXPECT_EQ(tasks[0]["state"], "dead");
  EXPECT_EQ(tasks[0]["attempt"], 4);
  r = Tg({"rerun", "1", "--failed", "--workers", "1", "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  tasks = AllTasks(1);
  ASSERT_EQ(tasks.size(), 1u) << tasks.dump(2);
  EXPECT_EQ(tasks[0]["state"], "succeeded");
  EXPECT_EQ(tasks[0]["attempt"], 6);
  EXPECT_EQ(Status(1)["state"], "succeeded");
}

TEST_F(CliTest, BadSpecExitsTwoNamingFileLineColumnAndField) {
  const std::string spec = Spec("bad.yaml",
                                "name: bad\n"
                                "procesor: sum\n"
                                "model: mapreduce\n");
  CommandResult r = Tg({"run", spec, "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(Contains(r.err, spec + ":2:1:")) << r.err;
  EXPECT_TRUE(Contains(r.err, "unknown field 'procesor'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "processor")) << r.err;
  // Nothing was submitted.
  json jobs = TgJson({"jobs", "--json"});
  EXPECT_TRUE(jobs.is_array() && jobs.empty()) << jobs.dump(2);
}

TEST_F(CliTest, MissingSpecFileExitsTwo) {
  const std::string spec = dir_.Path("no-such-spec.yaml");
  CommandResult r = Tg({"run", spec, "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "no-such-spec.yaml")) << r.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"frobnicate"},                       // unknown subcommand
      {"jobs", "--frobnicate"},             // unknown flag
      {"run"},                              // missing spec
      {"run", "x.yaml", "--workers", "0"},  // out of range
      {"status"},                           // missing job id
      {"status", "notanumber"},             // bad job id
      {"tasks", "1", "--status", "bogus"},  // unknown state name
      {"rerun", "1"},                       // neither --failed nor --task
  };
  for (const auto& args : cases) {
    CommandResult r = Tg(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_TRUE(r.exited) << cmd << r.Describe();
    EXPECT_EQ(r.exit_code, 2) << cmd << r.Describe();
    EXPECT_FALSE(r.err.empty()) << cmd << r.Describe();
  }
}

TEST_F(CliTest, SigintStopsRunWith130AndResumeFinishes) {
  // 40 tasks of 100 ms on 4 workers: about 1 s if left alone.
  const std::string spec = SumSpec("sum.yaml", 4000, 100, 100);
  auto p = StartTg({"run", spec, "--workers", "4", "--no-progress"});
  ASSERT_NE(p, nullptr);
  // Tasks complete only once the run is under way (signal handler set).
  ASSERT_TRUE(WaitUntil([&] { return JournalLines() >= 4 || !p->Running(); },
                        seconds(20)));
  ASSERT_TRUE(p->Running()) << p->result().Describe();
  p->Signal(SIGINT);
  ASSERT_TRUE(p->WaitFor(seconds(10))) << "run did not stop after SIGINT";
  CommandResult r = p->result();
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "resume")) << r.Describe();

  json st = Status(1);
  EXPECT_TRUE(st["state"] == "running" || st["state"] == "pending")
      << st.dump(2);
  EXPECT_LT(st["counts"]["succeeded"].get<int64_t>(), 40) << st.dump(2);

  r = Tg({"resume", "1", "--workers", "4", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  st = Status(1);
  EXPECT_EQ(st["state"], "succeeded") << st.dump(2);
  EXPECT_EQ(st["result"], std::to_string(SumBelow(4000))) << st.dump(2);
  auto states = StatesOf(AllTasks(1));
  EXPECT_EQ(states.size(), 1u);
  EXPECT_EQ(states["succeeded"], 41);  // 40 map tasks and the reduce
}

TEST_F(CliTest, ThrowingProcessorFailsTheAttemptNotTheProcess) {
  const std::string spec = Spec("thrower.yaml",
                                "name: thrower-job\n"
                                "processor: thrower\n"
                                "retry: {max_attempts: 2, backoff: 10ms}\n");
  CommandResult r = Tg({"run", spec, "--workers", "1", "--no-progress"});
  ASSERT_TRUE(r.exited) << "died of a signal: " << r.Describe();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();

  json dead = TgJson({"tasks", "1", "--status", "dead", "--json"});
  ASSERT_EQ(dead.size(), 1u) << dead.dump(2);
  EXPECT_EQ(dead[0]["attempt"], 2);
  const int64_t id = dead[0]["id"].get<int64_t>();
  ASSERT_TRUE(dead[0]["error"].is_string()) << dead.dump(2);
  EXPECT_TRUE(Contains(dead[0]["error"].get<std::string>(),
                       "boom at task " + std::to_string(id)))
      << dead.dump(2);

  r = Tg({"logs", "1", std::to_string(id)});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "boom at task " + std::to_string(id))) << r.out;
  EXPECT_TRUE(Contains(r.out, "--- attempt 2 ---")) << r.out;
}

TEST_F(CliTest, JsonOutputHasTheDocumentedFields) {
  const std::string spec =
      SumSpec("sum.yaml", 1000, 100, 0, "key: fields-key\n");
  CommandResult r = Tg({"run", spec, "--workers", "2", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();

  json jobs = TgJson({"jobs", "--json"});
  ASSERT_TRUE(jobs.is_array());
  ASSERT_EQ(jobs.size(), 1u) << jobs.dump(2);
  const json& job = jobs[0];
  EXPECT_EQ(job["id"], 1);
  EXPECT_EQ(job["name"], "sum-job");
  EXPECT_EQ(job["key"], "fields-key");
  EXPECT_EQ(job["state"], "succeeded");
  ASSERT_TRUE(job["counts"].is_object()) << job.dump(2);
  for (const char* s : {"pending", "dispatched", "running", "succeeded",
                        "failed", "dead", "cancelled"}) {
    EXPECT_TRUE(job["counts"].contains(s)) << s << " in " << job.dump(2);
  }
  EXPECT_EQ(job["counts"]["succeeded"], 11);  // 10 map tasks and the reduce
  EXPECT_TRUE(job["created"].is_string()) << job.dump(2);
  EXPECT_TRUE(job["finished"].is_string()) << job.dump(2);

  json tasks = AllTasks(1);
  ASSERT_EQ(tasks.size(), 11u) << tasks.dump(2);
  int64_t prev_id = 0;
  for (const json& t : tasks) {
    for (const char* f : {"id", "name", "state", "attempt", "worker", "started",
                          "finished", "duration_ms", "result_size", "error"}) {
      EXPECT_TRUE(t.contains(f)) << f << " in " << t.dump(2);
    }
    EXPECT_GT(t["id"].get<int64_t>(), prev_id);
    prev_id = t.value("id", int64_t{0});
    EXPECT_EQ(t["state"], "succeeded");
    EXPECT_EQ(t["attempt"], 1);
    EXPECT_TRUE(t["error"].is_null()) << t.dump(2);
    EXPECT_TRUE(t["started"].is_string()) << t.dump(2);
    EXPECT_TRUE(t["finished"].is_string()) << t.dump(2);
    EXPECT_TRUE(t["duration_ms"].is_number_integer()) << t.dump(2);
    EXPECT_GT(t["result_size"].get<int64_t>(), 0) << t.dump(2);
    if (t["name"] == "map") {
      ASSERT_TRUE(t["worker"].is_string()) << t.dump(2);
      EXPECT_EQ(t["worker"].get<std::string>().rfind("local-", 0), 0u)
          << t.dump(2);
    }
  }

  json five =
      TgJson({"tasks", "1", "--status", "succeeded", "--limit", "5", "--json"});
  ASSERT_EQ(five.size(), 5u) << five.dump(2);
  // --after pages on from the last id.
  json next =
      TgJson({"tasks", "1", "--status", "succeeded", "--limit", "5", "--after",
              std::to_string(five[4]["id"].get<int64_t>()), "--json"});
  ASSERT_EQ(next.size(), 5u) << next.dump(2);
  EXPECT_GT(next[0]["id"].get<int64_t>(), five[4]["id"].get<int64_t>());

  // Task 1 is the first page, [0, 100).
  r = Tg({"logs", "1", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "sum of [0,100) = 4950")) << r.out;
  json logs = TgJson({"logs", "1", "1", "--json"});
  ASSERT_TRUE(logs.is_array() && !logs.empty()) << logs.dump(2);
  EXPECT_EQ(logs[0]["attempt"], 1);
  EXPECT_EQ(logs[0]["line"], "sum of [0,100) = 4950");
}

TEST_F(CliTest, SameKeyRunsOnceUnlessForced) {
  const std::string spec = SumSpec("sum.yaml", 1000, 100, 0, "key: k1\n");
  CommandResult r = Tg({"run", spec, "--workers", "2", "--no-progress"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(JournalLines(), 10u);

  r = Tg({"run", spec, "--workers", "2", "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "already exists")) << r.Describe();
  EXPECT_EQ(TgJson({"jobs", "--json"}).size(), 1u);
  EXPECT_EQ(JournalLines(), 10u) << "the second run executed tasks";

  r = Tg({"run", spec, "--force", "--workers", "2", "--no-progress"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  json jobs = TgJson({"jobs", "--json"});
  ASSERT_EQ(jobs.size(), 2u) << jobs.dump(2);
  for (const json& j : jobs) EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(JournalLines(), 20u);
}

TEST_F(CliTest, CancelStopsTheRunningProcess) {
  // 100 tasks of 200 ms on 2 workers: 10 s if not cancelled.
  const std::string spec = SumSpec("sum.yaml", 10000, 100, 200);
  auto p = StartTg({"run", spec, "--workers", "2", "--no-progress"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return JournalLines() >= 2 || !p->Running(); },
                        seconds(20)));
  ASSERT_TRUE(p->Running()) << p->result().Describe();

  CommandResult c = Tg({"cancel", "1"});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_TRUE(Contains(c.out, "cancelled")) << c.Describe();

  ASSERT_TRUE(p->WaitFor(seconds(10))) << "run still going after cancel";
  CommandResult r = p->result();
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();

  json st = Status(1);
  EXPECT_EQ(st["state"], "cancelled") << st.dump(2);
  EXPECT_TRUE(st["finished"].is_string()) << st.dump(2);
  auto states = StatesOf(AllTasks(1));
  for (const char* s : {"pending", "dispatched", "running", "failed"}) {
    EXPECT_EQ(states[s], 0) << s;
  }
  EXPECT_GT(states["cancelled"], 0);
  EXPECT_EQ(states["succeeded"] + states["cancelled"], 100);
  // Cancelling again is refused: the job is already finished.
  c = Tg({"cancel", "1"});
  EXPECT_NE(c.exit_code, 0) << c.Describe();
}

TEST_F(CliTest, MultiLevelFanoutRunsEveryLevel) {
  const std::string spec = Spec("fanout.yaml",
                                "name: fanout-job\n"
                                "processor: fanout\n"
                                "model: map\n"
                                "params: {n: 10}\n");
  CommandResult r = Tg({"run", spec, "--workers", "3", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  json tasks = AllTasks(1);
  std::map<std::string, int> by_stage;
  std::set<std::string> level2_payloads;
  for (const json& t : tasks) {
    ++by_stage[t["name"].get<std::string>()];
    EXPECT_EQ(t["state"], "succeeded") << t.dump(2);
    if (t["name"] == "level2") {
      EXPECT_GT(t["result_size"].get<int64_t>(), 0) << t.dump(2);
      level2_payloads.insert(t.value("payload", std::string()));
    }
  }
  EXPECT_EQ(tasks.size(), 31u);
  EXPECT_EQ(by_stage["root"], 1);
  EXPECT_EQ(by_stage["level1"], 10);
  EXPECT_EQ(by_stage["level2"], 20);
  EXPECT_EQ(level2_payloads.size(), 20u);
  EXPECT_EQ(Status(1)["state"], "succeeded");
}

TEST_F(CliTest, TimeoutFailsSlowAttempts) {
  // Tasks would sleep 5 s; the 100 ms timeout cancels every attempt.
  const std::string spec =
      Spec("slow.yaml",
           "name: slow-job\n"
           "processor: sum\n"
           "model: mapreduce\n"
           "input: {range: {start: 0, end: 200, step: 100}}\n"
           "params: {ms: 5000, journal: '" +
               journal_path() +
               "'}\n"
               "retry: {max_attempts: 2, backoff: 10ms}\n"
               "timeout: 100ms\n");
  const auto start = std::chrono::steady_clock::now();
  CommandResult r = Tg({"run", spec, "--workers", "2", "--no-progress"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_LT(elapsed, seconds(4)) << "attempts were not cut at the timeout";

  json dead = TgJson({"tasks", "1", "--status", "dead", "--json"});
  ASSERT_EQ(dead.size(), 2u) << dead.dump(2);
  for (const json& t : dead) {
    EXPECT_EQ(t["attempt"], 2) << t.dump(2);
    ASSERT_TRUE(t["error"].is_string()) << t.dump(2);
    EXPECT_TRUE(Contains(t["error"].get<std::string>(), "timed out"))
        << t.dump(2);
  }
  EXPECT_EQ(JournalLines(), 0u) << "a timed-out attempt completed";
  EXPECT_EQ(Status(1)["state"], "failed");
}

}  // namespace
