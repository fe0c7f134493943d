// Remote file access with real processes: a `taskgrid master` (PostgreSQL
// from $TASKGRID_TEST_PG_URL, else a SQLite file), a `taskgrid worker` with
// a --data-dir, and `taskgrid cat|ls tg://WORKER/PATH` against its data
// service: exact bytes, listings, a job's output served once the worker ran
// a task of it, and refusals (a path outside, "..", a wrong token, an
// unknown worker) with a clear error and a non-zero exit.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/codec_test_util.h"
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

}  // namespace
}  // namespace taskgrid::testing
