// Remote file access with real processes: a `taskgrid master` (PostgreSQL
// from $TASKGRID_TEST_PG_URL, else a SQLite file), a `taskgrid worker` with
// a --data-dir, and `taskgrid cat|ls tg://WORKER/PATH` against its data
// service: exact bytes, listings, a job's output served once the worker ran
// a task of it, and refusals (a path outside, "..", a wrong token, an
// unknown worker) with a clear error and a non-zero exit; a read from a
// SIGSTOPped worker fails within the idle timeout.
//
// And tg:// URLs as job inputs, in one process: a data service and the
// embedded engine running wordcount over tg:// globs, byte-range splits
// included, with the same result as over the local files.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli/local_runner.h"
#include "io/codec_test_util.h"
#include "master/submit.h"
#include "rpc/grpc/grpc_test_util.h"
#include "store/sqlite/sqlite_state_store.h"
#include "testing/pg_test_db.h"
#include "testing/process.h"
#include "worker/data_client.h"
#include "worker/data_service.h"
#include "worker/shuffle_task.h"

namespace taskgrid::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

using ::taskgrid::testing_grpc::FreePort;

class RemoteFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.Path("token"), "cluster-secret-1\n");
    WriteFile(dir_.Path("bad-token"), "not-the-secret\n");
    std::string store = dir_.Path("state.db");
    if (!PgServerUrl().empty()) {
      db_ = std::make_unique<PgTestDatabase>();
      store = db_->url();
    }
    masters_ = "127.0.0.1:" + std::to_string(FreePort());
    SpawnOptions o;
    o.stderr_path = dir_.Path("master.log");
    o.cwd = dir_.path();
    std::string error;
    master_ = Process::Start(
        {TASKGRID_TESTBIN, "master", "--store", store, "--listen", masters_,
         "--token-file", dir_.Path("token")},
        o, &error);
    ASSERT_NE(master_, nullptr) << error;
    ASSERT_TRUE(WaitUntil(
        [&] {
          return ReadFile(dir_.Path("master.log"))
                     .find("leading the cluster") != std::string::npos;
        },
        seconds(15)))
        << ReadFile(dir_.Path("master.log"));

    data_ = dir_.Path("wdata");
    fs::create_directories(data_ + "/in");
    o.stderr_path = dir_.Path("worker.log");
    worker_ = Process::Start(
        {TASKGRID_TESTBIN, "worker", "--master", masters_, "--token-file",
         dir_.Path("token"), "--slots", "1", "--id", "w1", "--data-dir", data_},
        o, &error);
    ASSERT_NE(worker_, nullptr) << error;
    // Registered (with its data address) once it says so.
    const std::string marker = "data service on ";
    ASSERT_TRUE(WaitUntil(
        [&] {
          return ReadFile(dir_.Path("worker.log")).find(marker) !=
                 std::string::npos;
        },
        seconds(15)))
        << ReadFile(dir_.Path("worker.log"));
    const std::string log = ReadFile(dir_.Path("worker.log"));
    const size_t at = log.find(marker) + marker.size();
    data_address_ = log.substr(at, log.find('\n', at) - at);
  }

  // taskgrid_testbin ARGS --master M --token-file TOKEN
  CommandResult Tg(std::vector<std::string> args,
                   const std::string& token = "") const {
    args.insert(args.begin(), TASKGRID_TESTBIN);
    args.insert(args.end(), {"--master", masters_, "--token-file",
                             token.empty() ? dir_.Path("token") : token});
    SpawnOptions o;
    o.cwd = dir_.path();
    return RunCommand(args, seconds(60), o);
  }

  TempDir dir_;
  std::unique_ptr<PgTestDatabase> db_;
  std::string masters_;
  std::unique_ptr<Process> master_;
  std::unique_ptr<Process> worker_;
  std::string data_;
  std::string data_address_;
};

TEST_F(RemoteFilesTest, CatAndLsThroughTheWorkersDataService) {
  std::mt19937 rng(5);
  std::string big((3u << 20) + 99, '\0');
  for (char& c : big) c = static_cast<char>(rng());
  WriteFile(data_ + "/in/big.bin", big);
  WriteFile(data_ + "/in/a.txt", "alpha\nbeta\n");
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "row " + std::to_string(i) + "\n";
  WriteFile(data_ + "/in/c.log.gz", io_test::Compress(Codec::kGzip, text));
  fs::create_directories(data_ + "/in/sub");

  // By worker id (resolved through the master) and by data address.
  for (const std::string& worker : {std::string("w1"), data_address_}) {
    CommandResult r = Tg({"cat", "tg://" + worker + data_ + "/in/big.bin"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
    EXPECT_TRUE(r.out == big) << worker << ": " << r.out.size() << " bytes";
  }
  CommandResult part = Tg({"cat", "tg://w1" + data_ + "/in/a.txt", "--offset",
                           "6", "--length", "4"});
  ASSERT_TRUE(part.exited && part.exit_code == 0) << part.Describe();
  EXPECT_EQ(part.out, "beta");
  CommandResult gz =
      Tg({"cat", "--decode", "tg://w1" + data_ + "/in/c.log.gz"});
  ASSERT_TRUE(gz.exited && gz.exit_code == 0) << gz.Describe();
  EXPECT_TRUE(gz.out == text);

  CommandResult ls = Tg({"ls", "tg://w1" + data_ + "/in"});
  ASSERT_TRUE(ls.exited && ls.exit_code == 0) << ls.Describe();
  for (const char* name : {"a.txt", "big.bin", "c.log.gz", "sub/"}) {
    EXPECT_NE(ls.out.find(name), std::string::npos) << ls.out;
  }
  CommandResult lsj = Tg({"ls", "--json", "tg://w1" + data_ + "/in"});
  ASSERT_TRUE(lsj.exited && lsj.exit_code == 0) << lsj.Describe();
  json j = json::parse(lsj.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << lsj.out;
  ASSERT_EQ(j.size(), 4u) << lsj.out;
  EXPECT_EQ(j[0]["name"], "a.txt");
  EXPECT_EQ(j[0]["type"], "file");
  EXPECT_EQ(j[0]["size"], 11);
  EXPECT_EQ(j[1]["name"], "big.bin");
  EXPECT_EQ(j[1]["size"], big.size());
  EXPECT_EQ(j[3]["name"], "sub");
  EXPECT_EQ(j[3]["type"], "dir");
}

TEST_F(RemoteFilesTest, RefusesPathsOutsideItsDirectoriesAndBadTokens) {
  WriteFile(dir_.Path("secret.txt"), "not served\n");
  WriteFile(data_ + "/in/a.txt", "alpha\n");
  fs::create_symlink(dir_.Path("secret.txt"), data_ + "/in/link-out");
  struct Case {
    std::string url;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"tg://w1/etc/passwd", "outside the directories"},
           {"tg://w1" + dir_.Path("secret.txt"), "outside the directories"},
           {"tg://w1" + data_ + "/in/link-out", "outside the directories"},
           {"tg://w1" + data_ + "/../secret.txt", "'..'"},
           {"tg://w1" + data_ + "x/in/a.txt", "outside the directories"}}) {
    for (const char* cmd : {"cat", "ls"}) {
      CommandResult r = Tg({cmd, c.url});
      EXPECT_TRUE(r.exited && r.exit_code == 2) << cmd << " " << c.url << "\n"
                                                << r.Describe();
      EXPECT_TRUE(r.out.empty()) << r.out;
      EXPECT_NE(r.err.find(c.url), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    }
  }
  CommandResult missing = Tg({"cat", "tg://w1" + data_ + "/in/nope.txt"});
  EXPECT_TRUE(missing.exited && missing.exit_code == 2) << missing.Describe();
  EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
  CommandResult unknown = Tg({"cat", "tg://w9" + data_ + "/in/a.txt"});
  EXPECT_TRUE(unknown.exited && unknown.exit_code == 2) << unknown.Describe();
  EXPECT_NE(unknown.err.find("no worker 'w9'"), std::string::npos)
      << unknown.err;
  // The data service checks the token itself (straight to its address,
  // not through the master).
  CommandResult bad = Tg({"cat", "tg://" + data_address_ + data_ + "/in/a.txt"},
                         dir_.Path("bad-token"));
  EXPECT_TRUE(bad.exited && bad.exit_code == 2) << bad.Describe();
  EXPECT_NE(bad.err.find("wrong cluster token"), std::string::npos) << bad.err;
  CommandResult none = RunCommand(
      {TASKGRID_TESTBIN, "cat", "tg://" + data_address_ + data_ + "/in/a.txt"},
      seconds(30), SpawnOptions{{"TASKGRID_TOKEN_FILE="}, "", "", ""});
  EXPECT_TRUE(none.exited && none.exit_code == 2) << none.Describe();
  EXPECT_NE(none.err.find("token"), std::string::npos) << none.err;
}

TEST_F(RemoteFilesTest, ServesTheOutputOfJobsItRan) {
  WriteFile(data_ + "/in/a.txt", "alpha\nbeta\n");
  const std::string out = dir_.Path("out");
  CommandResult before = Tg({"ls", "tg://w1" + out});
  EXPECT_TRUE(before.exited && before.exit_code == 2) << before.Describe();
  const std::string spec = dir_.Path("job.yaml");
  WriteFile(spec,
            "name: copy\nprocessor: shell\nmodel: map\n"
            "input: {files: [\"" +
                data_ + "/in/a.txt\"]}\noutput: " + out +
                "\nparams: {command: \"cat {}\"}\n");
  CommandResult sub = Tg({"submit", spec, "--wait"});
  ASSERT_TRUE(sub.exited && sub.exit_code == 0) << sub.Describe();
  CommandResult cat = Tg({"cat", "tg://w1" + out + "/part-00000"});
  ASSERT_TRUE(cat.exited && cat.exit_code == 0) << cat.Describe();
  EXPECT_EQ(cat.out, "alpha\nbeta\n");
  CommandResult ls = Tg({"ls", "tg://w1" + out});
  ASSERT_TRUE(ls.exited && ls.exit_code == 0) << ls.Describe();
  EXPECT_NE(ls.out.find("_SUCCESS"), std::string::npos) << ls.out;
}

// A worker frozen mid-read (SIGSTOP: its connections stay open, nothing
// more comes): the reader gets Unavailable naming the URL within the idle
// timeout, after whatever was already in flight.
TEST_F(RemoteFilesTest, AReadFromAStoppedWorkerFailsWithinTheIdleTimeout) {
  std::string big(64u << 20, '\0');
  std::mt19937 rng(9);
  for (char& c : big) c = static_cast<char>(rng());
  WriteFile(data_ + "/in/big.bin", big);
  DataClientOptions o;
  o.token = "cluster-secret-1";
  o.read_idle_timeout_ms = 1000;
  const std::string url = "tg://" + data_address_ + data_ + "/in/big.bin";
  auto stream =
      OpenRemoteFile(data_address_, o, data_ + "/in/big.bin", 0, -1, url);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string buf(1u << 20, '\0');
  auto first = (*stream)->Read(buf.data(), buf.size());
  ASSERT_TRUE(first.ok() && *first > 0) << first.status();
  worker_->Signal(SIGSTOP);
  struct Resume {
    Process* p;
    ~Resume() { p->Signal(SIGCONT); }
  } resume{worker_.get()};
  const auto start = std::chrono::steady_clock::now();
  uint64_t got = *first;
  Status error;
  while (true) {
    auto n = (*stream)->Read(buf.data(), buf.size());
    if (!n.ok()) {
      error = n.status();
      break;
    }
    ASSERT_GT(*n, 0u) << "the stream ended at byte " << got;
    got += *n;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(got, big.size());
  EXPECT_EQ(error.code(), StatusCode::kUnavailable) << error;
  EXPECT_NE(error.message().find(url), std::string::npos) << error;
  EXPECT_TRUE(IsLostInput(error));
  EXPECT_LT(elapsed, seconds(10));
}

// wordcount (shuffle) over tg:// inputs in the embedded engine, against
// the same job over the local files: one data service in this process
// serves the input directory; globs (`*`, `**`) are expanded through it at
// submit, plain files are cut into byte ranges by the size it reports, and
// the map tasks read their splits (ranges, a .gz file whole) through it.
TEST(RemoteInputsTest, WordCountOverTgGlobsMatchesTheLocalFiles) {
  TempDir dir;
  const std::string in = dir.Path("in");
  fs::create_directories(in + "/sub/deeper");
  std::mt19937 rng(3);
  const auto text = [&](int lines) {
    std::string t;
    for (int l = 0; l < lines; ++l) {
      const int words = static_cast<int>(rng() % 8);
      for (int w = 0; w < words; ++w) {
        t += "w" + std::to_string(rng() % 500) + (w + 1 < words ? " " : "");
      }
      t += "\n";
    }
    return t;
  };
  WriteFile(in + "/a.log", text(20000));  // ~200 KB: several splits
  WriteFile(in + "/b.log", text(300));
  WriteFile(in + "/sub/c.log.gz", io_test::Compress(Codec::kGzip, text(5000)));
  WriteFile(in + "/sub/deeper/d.log", text(100));
  WriteFile(in + "/skip.txt", "not an input\n");

  DataServerOptions so;
  so.listen_address = "127.0.0.1:" + std::to_string(FreePort());
  so.token = "cluster-secret-1";
  so.roots = {in};
  auto server = DataServer::Start(so);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  DataClientOptions co;
  co.token = so.token;
  InstallTgOpener(std::make_shared<TgResolver>(nullptr, co));
  struct Uninstall {
    ~Uninstall() { InstallTgOpener(nullptr); }
  } uninstall;

  auto store = OpenSqliteStateStore(dir.Path("state.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  const std::vector<std::string> workers = {"local-0", "local-1"};
  // Runs wordcount over `files`; returns the job's map task count.
  const auto run = [&](const std::vector<std::string>& files,
                       const std::string& out) -> size_t {
    std::string list;
    for (const std::string& f : files) {
      list += (list.empty() ? "\"" : ", \"") + f + "\"";
    }
    auto spec = ParseJobSpec(
        "name: wc\nprocessor: wordcount\nmodel: shuffle\n"
        "input: {files: [" +
            list +
            "], split: \"bytes:64KiB\"}\n"
            "partitions: 3\nmemory: 64KiB\noutput: " +
            out + "\n",
        "wc.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return 0;
    auto sub = SubmitJob(store->get(), *spec, workers, false, Clock::Real());
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return 0;
    LocalRunnerOptions lo;
    lo.workers = 2;
    lo.data_dir = dir.Path("data");
    LocalRunner runner(store->get(), &ProcessorRegistry::Global(), lo);
    auto outcome = runner.Run(sub->job_id);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return 0;
    EXPECT_EQ(outcome->state, JobState::kSucceeded) << outcome->error;
    TaskFilter f;
    f.limit = 0;
    f.stage = "map";
    auto maps = (*store)->ListTasks(sub->job_id, f);
    EXPECT_TRUE(maps.ok()) << maps.status();
    return maps.ok() ? maps->size() : 0;
  };
  const std::string tg = "tg://" + address + in;
  const size_t local_maps =
      run({in + "/*.log", in + "/sub/**"}, dir.Path("out-local"));
  const size_t remote_maps =
      run({tg + "/*.log", tg + "/sub/**"}, dir.Path("out-remote"));
  // a.log in ranges, b.log, c.log.gz whole, d.log.
  EXPECT_GE(local_maps, 6u);
  EXPECT_EQ(remote_maps, local_maps);
  std::map<std::string, std::string> local, remote;
  for (const auto& [out, files] :
       {std::pair{dir.Path("out-local"), &local},
        std::pair{dir.Path("out-remote"), &remote}}) {
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("part-", 0) == 0) (*files)[name] = ReadFile(e.path());
    }
  }
  EXPECT_EQ(local.size(), 3u);
  EXPECT_TRUE(local == remote);
  EXPECT_NE(local["part-00000"].find("\t"), std::string::npos);

  // A remote glob that matches nothing fails the submit, naming it.
  auto spec = ParseJobSpec(
      "name: wc\nprocessor: wordcount\nmodel: shuffle\n"
      "input: {files: [\"" +
          tg + "/*.csv\"]}\noutput: " + dir.Path("out-none") + "\n",
      "wc.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto none = SubmitJob(store->get(), *spec, workers, false, Clock::Real());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("'" + tg + "/*.csv' matches no file"),
            std::string::npos)
      << none.status();
}

}  // namespace
}  // namespace taskgrid::testing
