// Cluster mode with real processes: `taskgrid master` and `taskgrid worker`
// (taskgrid_testbin) over gRPC on loopback, state in PostgreSQL (a database
// of its own per test, on $TASKGRID_TEST_PG_URL; without it, a SQLite file
// shared by the processes), and real faults: kill -9, SIGSTOP/SIGCONT, a
// PostgreSQL restart, wrong tokens.
//
// Every fault scenario runs a shell job over input files whose exact output
// is known and checks afterwards: the job succeeded, the output equals the
// inputs (one part per input, in order), the manifest names every part
// once, no temporary files remain.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "rpc/grpc/grpc_test_util.h"
#include "testing/pg_test_db.h"
#include "testing/process.h"

namespace taskgrid::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

using ::taskgrid::testing_grpc::FreePort;
using testing::ConcatParts;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.Path("token"), "cluster-secret-1\n");
    if (!PgServerUrl().empty()) {
      db_ = std::make_unique<PgTestDatabase>();
      store_ = db_->url();
    } else {
      store_ = dir_.Path("state.db");
    }
  }

  // Starts a master on `port` (0 = a new port) with the test's store (or
  // `store`); returns its index.
  size_t StartMaster(int port = 0, const std::string& store = "") {
    if (port == 0) port = FreePort();
    if (std::find(ports_.begin(), ports_.end(), port) == ports_.end()) {
      ports_.push_back(port);
    }
    const size_t i = masters_.size();
    SpawnOptions o;
    o.stderr_path = dir_.Path("master-" + std::to_string(i) + ".log");
    o.cwd = dir_.path();
    std::string error;
    masters_.push_back(Process::Start(
        {TASKGRID_TESTBIN, "master", "--store", store.empty() ? store_ : store,
         "--listen", "127.0.0.1:" + std::to_string(port), "--token-file",
         dir_.Path("token"), "--worker-timeout", "1500", "--leader-lease",
         "2000"},
        o, &error));
    EXPECT_NE(masters_.back(), nullptr) << error;
    return i;
  }
  std::string MasterLog(size_t i) const {
    return ReadFile(dir_.Path("master-" + std::to_string(i) + ".log"));
  }
  bool Leads(size_t i) const {
    return MasterLog(i).find("leading the cluster") != std::string::npos;
  }
  std::string MasterList() const {
    std::string s;
    for (int p : ports_) {
      if (!s.empty()) s += ",";
      s += "127.0.0.1:" + std::to_string(p);
    }
    return s;
  }

  Process* StartWorker(const std::string& id, int slots = 2,
                       const std::string& token_file = "",
                       std::vector<std::string> env = {},
                       const std::vector<std::string>& extra_args = {}) {
    SpawnOptions o;
    o.env = std::move(env);
    o.stderr_path = dir_.Path("worker-" + id + ".log");
    o.cwd = dir_.path();
    std::string error;
    std::vector<std::string> args = {
        TASKGRID_TESTBIN, "worker",
        "--master",       MasterList(),
        "--token-file",   token_file.empty() ? dir_.Path("token") : token_file,
        "--slots",        std::to_string(slots),
        "--id",           id};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    workers_[id] = Process::Start(args, o, &error);
    EXPECT_NE(workers_[id], nullptr) << error;
    return workers_[id].get();
  }

  // taskgrid_testbin ARGS --master LIST --token-file TOKEN
  CommandResult Tg(std::vector<std::string> args,
                   milliseconds timeout = seconds(60)) const {
    args.insert(args.begin(), TASKGRID_TESTBIN);
    args.insert(args.end(),
                {"--master", MasterList(), "--token-file", dir_.Path("token")});
    SpawnOptions o;
    o.cwd = dir_.path();
    return RunCommand(args, timeout, o);
  }
  json TgJson(const std::vector<std::string>& args) const {
    CommandResult r = Tg(args);
    if (!r.exited || r.exit_code != 0) return json();
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? json() : j;
  }

  // `n` input files and a shell job over them that takes ~`ms` per file.
  std::string WriteShellJob(int n, int ms) {
    fs::create_directories(dir_.Path("in"));
    for (int i = 0; i < n; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "in/f-%03d.txt", i);
      std::string content;
      for (int k = 0; k <= i % 7; ++k) {
        content += "line " + std::to_string(k) + " of file " +
                   std::to_string(i) + "\n";
      }
      WriteFile(dir_.Path(name), content);
      inputs_.push_back(dir_.Path(name));
    }
    const std::string spec = dir_.Path("job.yaml");
    WriteFile(spec,
              "name: cluster-shell\nprocessor: shell\nmodel: map\n"
              "input: {files: [\"in/*.txt\"]}\noutput: out\n"
              "params: {command: \"sleep " +
                  std::to_string(ms / 1000.0) +
                  "; cat {}\"}\n"
                  "retry: {max_attempts: 6, backoff: 50ms}\n");
    return spec;
  }

  int64_t Submit(const std::string& spec) {
    CommandResult r = Tg({"submit", spec, "--json"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? 0 : j.value("job", int64_t{0});
  }

  int64_t Succeeded(int64_t job) const {
    json j = TgJson({"status", std::to_string(job), "--json"});
    return j.is_object() ? j["counts"].value("succeeded", int64_t{0}) : -1;
  }

  std::string JobState(int64_t job) const {
    json j = TgJson({"status", std::to_string(job), "--json"});
    return j.is_object() ? j.value("state", std::string()) : "";
  }

  bool WaitForSucceeded(int64_t job, int64_t n, seconds timeout = seconds(60)) {
    return WaitUntil([&] { return Succeeded(job) >= n; }, timeout,
                     milliseconds(50));
  }

  std::string WaitForEnd(int64_t job, seconds timeout = seconds(90)) {
    std::string state;
    WaitUntil(
        [&] {
          state = JobState(job);
          return state == "succeeded" || state == "failed" ||
                 state == "cancelled";
        },
        timeout, milliseconds(100));
    return state;
  }

  // id -> (attempt, worker) of the job's succeeded tasks now.
  std::map<int64_t, std::pair<int, std::string>> SucceededTasks(int64_t job) {
    std::map<int64_t, std::pair<int, std::string>> out;
    json j = TgJson({"tasks", std::to_string(job), "--status", "succeeded",
                     "--limit", "0", "--json"});
    EXPECT_TRUE(j.is_array());
    for (const json& t : j) {
      out[t["id"].get<int64_t>()] = {t["attempt"].get<int>(),
                                     t["worker"].get<std::string>()};
    }
    return out;
  }

  // The job's output is exactly the fault-free one.
  void ExpectExactOutput() {
    const std::string out = dir_.Path("out");
    std::map<std::string, std::string> parts;
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("part-", 0) == 0) parts[name] = ReadFile(e.path());
    }
    ASSERT_EQ(parts.size(), inputs_.size());
    size_t i = 0;
    for (const auto& [name, content] : parts) {
      char want[32];
      std::snprintf(want, sizeof(want), "part-%05zu", i);
      EXPECT_EQ(name, want);
      EXPECT_EQ(content, ReadFile(inputs_[i])) << name;
      ++i;
    }
    EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
    EXPECT_FALSE(fs::exists(out + "/_temporary"));
    const auto lines = ReadLines(out + "/_manifest.csv");
    ASSERT_EQ(lines.size(), inputs_.size() + 1);  // + header
    for (size_t k = 0; k < inputs_.size(); ++k) {
      char part[32];
      std::snprintf(part, sizeof(part), "part-%05zu,", k);
      EXPECT_EQ(lines[k + 1].rfind(part, 0), 0u) << lines[k + 1];
    }
  }

  void ExpectNotRerun(
      int64_t job,
      const std::map<int64_t, std::pair<int, std::string>>& before) {
    auto after = SucceededTasks(job);
    for (const auto& [id, aw] : before) {
      ASSERT_TRUE(after.count(id)) << "task " << id;
      EXPECT_EQ(after[id], aw) << "task " << id << " ran again";
    }
  }

  // Generates the demo logs (gzip, zstd and plain) under DIR/demo.
  std::string GenerateDemoLogs(const std::string& size) {
    const std::string demo = dir_.Path("demo");
    CommandResult gen = RunCommand({TASKGRID_TESTBIN, "demo", "--generate-only",
                                    "--dir", demo, "--size", size},
                                   seconds(120));
    EXPECT_TRUE(gen.exited && gen.exit_code == 0) << gen.Describe();
    return demo + "/logs/**";
  }
  // Runs `spec_of("embedded")` on the embedded engine.
  void RunEmbedded(const std::string& spec) {
    CommandResult embedded =
        RunCommand({TASKGRID_TESTBIN, "run", spec, "--workers", "2", "--state",
                    dir_.Path("embedded.db")},
                   seconds(120));
    ASSERT_TRUE(embedded.exited && embedded.exit_code == 0)
        << embedded.Describe();
  }
  // Every file of DIR/embedded and DIR/cluster is the same, the manifest
  // included (same inputs, same task ids).
  void ExpectSameOutputs(size_t min_files) {
    std::set<std::string> names, cluster_names;
    for (const auto& e : fs::directory_iterator(dir_.Path("embedded"))) {
      names.insert(e.path().filename().string());
    }
    for (const auto& e : fs::directory_iterator(dir_.Path("cluster"))) {
      cluster_names.insert(e.path().filename().string());
    }
    EXPECT_EQ(names, cluster_names);
    EXPECT_GE(names.size(), min_files);
    for (const std::string& name : names) {
      EXPECT_EQ(ReadFile(dir_.Path("embedded/" + name)),
                ReadFile(dir_.Path("cluster/" + name)))
          << name;
    }
  }
  // A wordcount job spec over `glob` writing to DIR/OUT.
  std::string WordCountSpec(const std::string& glob, const std::string& out) {
    const std::string path = dir_.Path(out + ".yaml");
    WriteFile(path,
              "name: wordcount\nprocessor: wordcount\nmodel: shuffle\n"
              "input: {files: [\"" +
                  glob +
                  "\"]}\npartitions: 3\nmemory: 256KiB\n"
                  "retry: {max_attempts: 4, backoff: 100ms}\noutput: " +
                  dir_.Path(out) + "\n");
    return path;
  }

  TempDir dir_;
  std::unique_ptr<PgTestDatabase> db_;
  std::string store_;
  std::vector<std::unique_ptr<Process>> masters_;
  std::vector<int> ports_;
  std::map<std::string, std::unique_ptr<Process>> workers_;
  std::vector<std::string> inputs_;
};

TEST_F(ClusterTest, SubmitWaitRunsAJobAndInspectWorksRemotely) {
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartWorker("w1");
  StartWorker("w2");
  const std::string spec = WriteShellJob(12, 0);
  CommandResult r = Tg({"submit", spec, "--wait"}, seconds(60));
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
  EXPECT_NE(r.out.find("succeeded"), std::string::npos) << r.out;
  ExpectExactOutput();
  json jobs = TgJson({"jobs", "--json"});
  ASSERT_TRUE(jobs.is_array());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["state"], "succeeded");
  EXPECT_EQ(jobs[0]["tasks"], 12);
  CommandResult logs = Tg({"logs", "1", "1"});
  EXPECT_TRUE(logs.exited && logs.exit_code == 0) << logs.Describe();
  // Both workers took part.
  std::set<std::string> who;
  for (const auto& [id, aw] : SucceededTasks(1)) who.insert(aw.second);
  EXPECT_EQ(who.size(), 2u);
}

// A job gives the same bytes embedded and in a cluster: logstats, its
// reduce writing the output files on the master.
TEST_F(ClusterTest, LogstatsOutputIsIdenticalToEmbedded) {
  const std::string logs = GenerateDemoLogs("3MiB");
  auto spec = [&](const std::string& out) {
    const std::string path = dir_.Path(out + ".yaml");
    WriteFile(path,
              "name: logstats\nprocessor: logstats\nmodel: mapreduce\n"
              "input: {files: [\"" +
                  logs + "\"]}\nparams: {top: 5}\noutput: " + dir_.Path(out) +
                  "\n");
    return path;
  };
  RunEmbedded(spec("embedded"));
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartWorker("w1", 1);
  StartWorker("w2", 1);
  CommandResult cluster = Tg({"submit", spec("cluster"), "--wait"});
  ASSERT_TRUE(cluster.exited && cluster.exit_code == 0) << cluster.Describe();
  ExpectSameOutputs(3);  // results, _manifest.csv, _SUCCESS
}

// Shuffle across worker processes: reduce tasks fetch their partitions
// from the other worker's data service; the output is the embedded one.
// Then the workers remove the finished job's map outputs
// (DATA_DIR/shuffle/job-J) within a few heartbeats.
TEST_F(ClusterTest, ShuffleWordCountMatchesEmbedded) {
  const std::string logs = GenerateDemoLogs("2MiB");
  RunEmbedded(WordCountSpec(logs, "embedded"));
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  for (const char* id : {"w1", "w2"}) {
    StartWorker(id, 1, "", {},
                {"--data-dir", dir_.Path(std::string("data-") + id)});
  }
  const int64_t job = Submit(WordCountSpec(logs, "cluster"));
  ASSERT_GT(job, 0);
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(0);
  ExpectSameOutputs(5);  // part-00000..2, _manifest.csv, _SUCCESS
  const auto job_dir = [&](const char* id) {
    return dir_.Path(std::string("data-") + id + "/shuffle/job-" +
                     std::to_string(job));
  };
  // The map outputs were written there (the shuffle dir stays)...
  EXPECT_TRUE(fs::exists(dir_.Path("data-w1/shuffle")) ||
              fs::exists(dir_.Path("data-w2/shuffle")));
  // ...and are gone once the master told the workers the job finished.
  EXPECT_TRUE(WaitUntil(
      [&] { return !fs::exists(job_dir("w1")) && !fs::exists(job_dir("w2")); },
      seconds(10)))
      << "still there: " << (fs::exists(job_dir("w1")) ? job_dir("w1") : "")
      << " " << (fs::exists(job_dir("w2")) ? job_dir("w2") : "");
}

// The distributed sort of binary u64 values (byte splits, range exchange
// between worker processes): the same parts as embedded, and sorted.
TEST_F(ClusterTest, SortU64MatchesEmbedded) {
  std::mt19937_64 rng(11);
  std::vector<uint64_t> values(300'000);
  for (uint64_t& v : values) v = rng();
  values[5] = 0;
  values[6] = ~uint64_t{0};
  values[7] = values[8];  // a duplicate
  const std::string input = dir_.Path("values.u64");
  WriteFile(input, std::string(reinterpret_cast<const char*>(values.data()),
                               values.size() * sizeof(uint64_t)));
  for (const char* out : {"embedded", "cluster"}) {
    WriteFile(dir_.Path(std::string(out) + ".yaml"),
              "name: sort\nprocessor: sort\nmodel: shuffle\n"
              "params: {format: u64}\ninput: {files: [\"" +
                  input +
                  "\"], split: \"bytes:300001\"}\npartitions: 3\n"
                  "memory: 512KiB\noutput: " +
                  dir_.Path(out) + "\n");
  }
  RunEmbedded(dir_.Path("embedded.yaml"));
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  for (const char* id : {"w1", "w2"}) {
    StartWorker(id, 1, "", {},
                {"--data-dir", dir_.Path(std::string("data-") + id)});
  }
  CommandResult r = Tg({"submit", dir_.Path("cluster.yaml"), "--wait"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe() << MasterLog(0);
  const std::string sorted = ConcatParts(dir_.Path("cluster"));
  EXPECT_EQ(sorted, ConcatParts(dir_.Path("embedded")));
  std::sort(values.begin(), values.end());
  EXPECT_EQ(sorted, std::string(reinterpret_cast<const char*>(values.data()),
                                values.size() * sizeof(uint64_t)));
  // Both workers ran a share.
  std::set<std::string> who;
  for (const auto& [id, aw] : SucceededTasks(1)) who.insert(aw.second);
  EXPECT_EQ(who.size(), 2u);
}

// A chain of stages submitted to the cluster: the master starts each stage
// when the one before succeeds; `submit --wait` follows the chain.
TEST_F(ClusterTest, ChainedStagesRunInTheCluster) {
  const std::string logs = GenerateDemoLogs("1MiB");
  for (const char* out : {"embedded", "cluster"}) {
    WriteFile(dir_.Path(std::string(out) + ".yaml"),
              "name: chain\ninput: {files: [\"" + logs +
                  "\"]}\noutput: " + dir_.Path(out) +
                  "\nstages:\n"
                  "  - {processor: wordcount, model: shuffle, partitions: 3}\n"
                  "  - {processor: sort, model: shuffle, partitions: 2, "
                  "params: {format: lines}}\n");
  }
  RunEmbedded(dir_.Path("embedded.yaml"));
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartWorker("w1", 2);
  CommandResult r = Tg({"submit", dir_.Path("cluster.yaml"), "--wait"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe() << MasterLog(0);
  EXPECT_NE(r.out.find("next:     job 2 runs the next stage"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("job 2 succeeded"), std::string::npos) << r.out;
  const std::string parts = ConcatParts(dir_.Path("cluster"));
  EXPECT_FALSE(parts.empty());
  EXPECT_EQ(parts, ConcatParts(dir_.Path("embedded")));
  EXPECT_EQ(ConcatParts(dir_.Path("cluster/_stages/1")),
            ConcatParts(dir_.Path("embedded/_stages/1")));
  json jobs = TgJson({"jobs", "--json"});
  ASSERT_TRUE(jobs.is_array());
  EXPECT_EQ(jobs.size(), 2u);
}

// A worker dies after its map tasks succeeded, as it starts the first
// reduce task (before any reduce fetched): the master runs exactly its map
// tasks again elsewhere, then the reduces; the result is exact.
TEST_F(ClusterTest, MapOutputsLostWithTheirWorkerAreMadeAgain) {
  const std::string logs = GenerateDemoLogs("2MiB");
  RunEmbedded(WordCountSpec(logs, "embedded"));
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  Process* w1 =
      StartWorker("w1", 2, "", {"TASKGRID_FAULT=shuffle-reduce-start"});
  const int64_t job = Submit(WordCountSpec(logs, "cluster"));
  ASSERT_GT(job, 0);
  ASSERT_TRUE(w1->WaitFor(seconds(60))) << "w1 never reached a reduce";
  // Every map task succeeded (on w1) before it died: the job's first stage.
  std::map<int64_t, std::pair<int, std::string>> maps_before;
  ASSERT_TRUE(WaitUntil(
      [&] {
        json st = TgJson({"status", std::to_string(job), "--json"});
        if (!st.is_object() || st["stages"].empty()) return false;
        const json& map = st["stages"][0];
        if (map["stage"] != "map" ||
            map["tasks"] != map["counts"]["succeeded"]) {
          return false;
        }
        maps_before = SucceededTasks(job);
        return maps_before.size() == map["tasks"].get<size_t>();
      },
      seconds(10)))
      << ReadFile(dir_.Path("worker-w1.log")) << MasterLog(0);
  for (const auto& [id, aw] : maps_before) {
    EXPECT_EQ(aw.second, "w1") << "task " << id;
  }
  StartWorker("w2", 2);
  EXPECT_EQ(WaitForEnd(job), "succeeded")
      << MasterLog(0)
      << Tg({"tasks", std::to_string(job), "--status", "dead"}).out;
  ExpectSameOutputs(5);
  // Every map ran again, on w2, as a later attempt; then the reduces.
  const auto after = SucceededTasks(job);
  for (const auto& [id, aw] : maps_before) {
    ASSERT_TRUE(after.count(id)) << "task " << id;
    EXPECT_EQ(after.at(id).second, "w2") << "task " << id;
    EXPECT_GT(after.at(id).first, aw.first) << "task " << id;
  }
  EXPECT_EQ(after.size(), maps_before.size() + 3);
  const CommandResult log = Tg({"logs", std::to_string(job),
                                std::to_string(maps_before.begin()->first)});
  EXPECT_NE(log.out.find("map output lost with worker w1"), std::string::npos)
      << log.out;
}

// 1. kill -9 of a worker mid-job, twice, at random points.
TEST_F(ClusterTest, WorkerKilledTwiceMidJob) {
  std::random_device rd;
  std::mt19937 rng(rd());
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartWorker("w1");
  StartWorker("w2");
  const int64_t job = Submit(WriteShellJob(60, 150));
  ASSERT_GT(job, 0);
  const int k1 = std::uniform_int_distribution<int>(5, 20)(rng);
  const int k2 = std::uniform_int_distribution<int>(k1 + 10, 45)(rng);
  SCOPED_TRACE("kills after " + std::to_string(k1) + " and " +
               std::to_string(k2) + " tasks");
  ASSERT_TRUE(WaitForSucceeded(job, k1));
  workers_["w1"]->Kill();
  StartWorker("w3");
  ASSERT_TRUE(WaitForSucceeded(job, k2));
  workers_["w2"]->Kill();
  StartWorker("w4");
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(0);
  ExpectExactOutput();
}

// 2. SIGSTOP of a worker past the heartbeat timeout: its tasks run
// elsewhere; after SIGCONT its late reports are rejected.
TEST_F(ClusterTest, StoppedWorkerIsFencedAfterResuming) {
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  Process* w1 = StartWorker("w1");
  StartWorker("w2");
  const int64_t job = Submit(WriteShellJob(40, 300));
  ASSERT_GT(job, 0);
  ASSERT_TRUE(WaitForSucceeded(job, 4));
  w1->Signal(SIGSTOP);
  ASSERT_TRUE(WaitUntil(
      [&] { return MasterLog(0).find("worker w1 lost") != std::string::npos; },
      seconds(15)));
  // Its tasks ran again elsewhere meanwhile; now it wakes up.
  ASSERT_TRUE(WaitForSucceeded(job, 14));
  w1->Signal(SIGCONT);
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(0);
  ExpectExactOutput();
  // Its late reports were rejected: some task that w1 had in flight says so.
  bool rejected = false;
  json tasks = TgJson({"tasks", std::to_string(job), "--limit", "0", "--json"});
  ASSERT_TRUE(tasks.is_array());
  for (const json& t : tasks) {
    if (t["attempt"].get<int>() < 2) continue;
    CommandResult logs = Tg(
        {"logs", std::to_string(job), std::to_string(t["id"].get<int64_t>())});
    if (logs.out.find("rejected report of attempt 1 from w1") !=
        std::string::npos) {
      rejected = true;
    }
  }
  EXPECT_TRUE(rejected) << "no task logged a rejected report from w1";
}

// 3. kill -9 of the leading master with a standby running.
TEST_F(ClusterTest, StandbyTakesOverWhenTheLeaderIsKilled) {
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartMaster();
  StartWorker("w1");
  StartWorker("w2");
  const int64_t job = Submit(WriteShellJob(50, 150));
  ASSERT_GT(job, 0);
  ASSERT_TRUE(WaitForSucceeded(job, 12));
  auto before = SucceededTasks(job);
  masters_[0]->Kill();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return Leads(1); }, seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - killed, seconds(5));
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(1);
  ExpectNotRerun(job, before);
  ExpectExactOutput();
}

// 4. kill -9 of the only master, then a restart.
TEST_F(ClusterTest, OnlyMasterKilledAndRestarted) {
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  StartWorker("w1");
  StartWorker("w2");
  const int64_t job = Submit(WriteShellJob(50, 150));
  ASSERT_GT(job, 0);
  ASSERT_TRUE(WaitForSucceeded(job, 12));
  auto before = SucceededTasks(job);
  masters_[0]->Kill();
  StartMaster(ports_[0]);  // the same address: workers find it again
  ASSERT_TRUE(WaitUntil([&] { return Leads(1); }, seconds(10)));
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(1);
  ExpectNotRerun(job, before);
  ExpectExactOutput();
}

// 5. PostgreSQL restarted mid-job (a private server of this test's own).
TEST_F(ClusterTest, RidesThroughAPostgresRestart) {
  if (PgServerUrl().empty()) GTEST_SKIP() << "TASKGRID_TEST_PG_URL not set";
  const std::string script =
      std::string(TASKGRID_SOURCE_DIR) + "/scripts/pg-test-server.sh";
  // Not under dir_ (mode 0700): the server runs as user postgres.
  const std::string pg_dir = "/tmp/taskgrid-pg-" + std::to_string(getpid());
  fs::remove_all(pg_dir);
  fs::create_directories(pg_dir);
  CommandResult up =
      RunCommand({"/bin/bash", script, "start", pg_dir}, seconds(120));
  ASSERT_TRUE(up.exited && up.exit_code == 0) << up.Describe();
  std::string url = up.out.substr(0, up.out.find('\n'));
  StartMaster(0, url);
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(20))) << MasterLog(0);
  StartWorker("w1");
  StartWorker("w2");
  const int64_t job = Submit(WriteShellJob(50, 150));
  ASSERT_GT(job, 0);
  ASSERT_TRUE(WaitForSucceeded(job, 10));
  CommandResult restart =
      RunCommand({"/bin/bash", script, "restart", pg_dir, "2"}, seconds(120));
  ASSERT_TRUE(restart.exited && restart.exit_code == 0) << restart.Describe();
  EXPECT_EQ(WaitForEnd(job), "succeeded") << MasterLog(0);
  ExpectExactOutput();
  EXPECT_TRUE(masters_[0]->Running()) << MasterLog(0);
  // The master did see the store go away (and rode through it).
  EXPECT_NE(MasterLog(0).find("leadership claim failed"), std::string::npos)
      << MasterLog(0);
  masters_[0]->Kill();
  RunCommand({"/bin/bash", script, "stop", pg_dir}, seconds(60));
  fs::remove_all(pg_dir);
}

// 6. A wrong or missing token is rejected by each service: the workers'
// (Master) and the clients' (Control).
TEST_F(ClusterTest, WrongOrMissingTokenIsRejected) {
  StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Leads(0); }, seconds(10)));
  WriteFile(dir_.Path("bad-token"), "not-the-secret\n");
  // A worker with a wrong token gives up at once with a clear error.
  SpawnOptions o;
  CommandResult w =
      RunCommand({TASKGRID_TESTBIN, "worker", "--master", MasterList(),
                  "--token-file", dir_.Path("bad-token"), "--id", "intruder"},
                 seconds(30), o);
  EXPECT_TRUE(w.exited && w.exit_code == 2) << w.Describe();
  EXPECT_NE(w.err.find("rejected the cluster token"), std::string::npos)
      << w.err;
  EXPECT_EQ(MasterLog(0).find("intruder"), std::string::npos);
  // A client with a wrong token, or none.
  const std::string spec = WriteShellJob(2, 0);
  for (const std::string& tok : {dir_.Path("bad-token"), std::string()}) {
    std::vector<std::string> args = {TASKGRID_TESTBIN, "submit", spec,
                                     "--master", MasterList()};
    if (!tok.empty()) args.insert(args.end(), {"--token-file", tok});
    CommandResult r = RunCommand(args, seconds(30), o);
    EXPECT_TRUE(r.exited && r.exit_code == 2) << r.Describe();
    EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
    CommandResult j = RunCommand(
        {TASKGRID_TESTBIN, "jobs", "--master", MasterList(), "--token-file",
         tok.empty() ? dir_.Path("missing-token") : tok},
        seconds(30), o);
    EXPECT_TRUE(j.exited && j.exit_code != 0) << j.Describe();
    EXPECT_NE(j.err.find("token"), std::string::npos) << j.err;
  }
  // Nothing was submitted.
  json jobs = TgJson({"jobs", "--json"});
  ASSERT_TRUE(jobs.is_array());
  EXPECT_TRUE(jobs.empty());
}

}  // namespace
}  // namespace taskgrid::testing
