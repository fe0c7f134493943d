// The logstats job through the real `taskgrid` binary: `taskgrid demo`,
// and the same data read whole or split by bytes giving identical output.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "testing/process.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;
using testing::WriteFile;

constexpr auto kTimeout = std::chrono::seconds(120);

CommandResult Taskgrid(std::vector<std::string> args,
                       std::vector<std::string> env = {}) {
  args.insert(args.begin(), TASKGRID_BINARY);
  testing::SpawnOptions o;
  o.env = std::move(env);
  return RunCommand(args, kTimeout, o);
}

// Sums column `col` of a CSV without quoted fields, skipping the header.
int64_t SumColumn(const std::string& csv, size_t col) {
  std::stringstream in(csv);
  std::string line;
  std::getline(in, line);
  int64_t sum = 0;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string f;
    for (size_t i = 0; i <= col && std::getline(fields, f, ','); ++i) {
    }
    sum += std::stoll(f);
  }
  return sum;
}

TEST(LogstatsRunTest, DemoCountsEveryGeneratedLine) {
  TempDir tmp;
  const std::string dir = tmp.Path("demo");
  CommandResult r = Taskgrid({"demo", "--dir", dir, "--size", "4MiB", "--state",
                              tmp.Path("state.db")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  // "  72 files, 19000 lines (9 malformed), ..." from the generator.
  long long files = 0, lines = 0, malformed = 0;
  const auto at = r.out.find(" files, ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto start = r.out.rfind('\n', at) + 1;
  ASSERT_EQ(std::sscanf(r.out.c_str() + start,
                        "%lld files, %lld lines (%lld malformed)", &files,
                        &lines, &malformed),
            3)
      << r.out;
  const std::string summary = ReadFile(dir + "/out/summary.csv");
  ASSERT_EQ(summary.rfind("domain,hour,requests,bytes,status_2xx,status_3xx,"
                          "status_4xx,status_5xx,unique_ips,malformed\n",
                          0),
            0u);
  EXPECT_EQ(SumColumn(summary, 2), lines - malformed);  // requests
  EXPECT_EQ(SumColumn(summary, 9), malformed);
  EXPECT_TRUE(fs::exists(dir + "/out/top_urls.csv"));
  EXPECT_TRUE(fs::exists(dir + "/out/_SUCCESS"));
  // The table on stdout shows every (domain, hour) row.
  EXPECT_NE(r.out.find("summary.csv:"), std::string::npos);
}

TEST(LogstatsRunTest, SplittingPlainFilesByBytesChangesNothing) {
  TempDir tmp;
  const std::string dir = tmp.Path("data");
  CommandResult r = Taskgrid({"demo", "--dir", dir, "--size", "3MiB",
                              "--codecs", "plain", "--generate-only"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string outputs[2];
  int i = 0;
  for (const char* split : {"file", "bytes:7KiB"}) {
    const std::string out = tmp.Path(std::string("out-") + split[0]);
    const std::string spec = tmp.Path(std::string("spec-") + split[0]);
    WriteFile(spec,
              "name: split-check\nprocessor: logstats\nmodel: "
              "mapreduce\ninput: {files: [\"" +
                  dir + "/logs/**\"], split: \"" + split +
                  "\"}\nparams: {top: 1000}\noutput: \"" + out + "\"\n");
    r = Taskgrid(
        {"run", spec, "--workers", "2", "--state", tmp.Path("state.db")});
    ASSERT_EQ(r.exit_code, 0) << split << ": " << r.Describe();
    outputs[i++] =
        ReadFile(out + "/summary.csv") + ReadFile(out + "/top_urls.csv");
  }
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
  // The split run really had more tasks than files.
  r = Taskgrid({"status", "2", "--json", "--state", tmp.Path("state.db")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const auto tasks_at = r.out.find("\"tasks\":");
  ASSERT_NE(tasks_at, std::string::npos);
  EXPECT_GT(std::stoll(r.out.substr(tasks_at + 8)), 72 + 1);
}

TEST(LogstatsRunTest, CorruptInputFailsOnlyItsTaskNamingFileAndOffset) {
  TempDir tmp;
  const std::string dir = tmp.Path("data");
  CommandResult r = Taskgrid({"demo", "--dir", dir, "--size", "2MiB",
                              "--codecs", "gz", "--generate-only"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  // Truncate one file in the middle.
  std::string victim;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/logs")) {
    if (e.path().extension() == ".gz") {
      victim = e.path().string();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  const std::string content = ReadFile(victim);
  WriteFile(victim, content.substr(0, content.size() / 2));
  const std::string spec = tmp.Path("spec.yaml");
  WriteFile(spec,
            "name: corrupt\nprocessor: logstats\nmodel: mapreduce\n"
            "input: {files: [\"" +
                dir +
                "/logs/**\"]}\nretry: {max_attempts: 1}\n"
                "output: \"" +
                tmp.Path("out") + "\"\n");
  r = Taskgrid({"run", spec, "--state", tmp.Path("state.db")});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  r = Taskgrid({"tasks", "1", "--status", "dead", "--json", "--state",
                tmp.Path("state.db")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find(fs::path(victim).filename().string()), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("truncated at byte"), std::string::npos) << r.out;
  r = Taskgrid({"tasks", "1", "--status", "succeeded", "--limit", "0", "--json",
                "--state", tmp.Path("state.db")});
  // Every other file's task succeeded.
  size_t n = 0;
  for (size_t p = r.out.find("\"succeeded\""); p != std::string::npos;
       p = r.out.find("\"succeeded\"", p + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 72u - 1u) << r.out;
}

// The reduce of a mapreduce job is the master's own task: a crash after it
// (while committing), a rerun of one map task and a rerun of the reduce
// itself each finish the job with the same output, one reduce task, and
// each committed file listed once.
TEST(LogstatsRunTest, ResumeAndRerunsAroundTheReduceKeepTheOutputExact) {
  TempDir tmp;
  const std::string dir = tmp.Path("data");
  const std::string state = tmp.Path("state.db");
  CommandResult r = Taskgrid({"demo", "--dir", dir, "--size", "1MiB",
                              "--codecs", "gz", "--generate-only"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = tmp.Path("out");
  const std::string spec = tmp.Path("spec.yaml");
  WriteFile(spec,
            "name: around-reduce\nprocessor: logstats\nmodel: "
            "mapreduce\ninput: {files: [\"" +
                dir + "/logs/**\"]}\noutput: \"" + out + "\"\n");
  const auto output = [&] {
    return ReadFile(out + "/summary.csv") + ReadFile(out + "/top_urls.csv");
  };
  // The reduce's id, after checking there is exactly one reduce task.
  const auto reduce_id = [&]() -> std::string {
    CommandResult t = Taskgrid(
        {"tasks", "1", "--stage", "reduce", "--json", "--state", state});
    EXPECT_EQ(t.exit_code, 0) << t.Describe();
    const size_t at = t.out.find("\"id\":");
    EXPECT_NE(at, std::string::npos) << t.out;
    if (at == std::string::npos) return "";
    EXPECT_EQ(t.out.find("\"id\":", at + 1), std::string::npos)
        << "more than one reduce task: " << t.out;
    return std::to_string(std::stoll(t.out.substr(at + 5)));
  };
  const auto manifest_lists_each_once = [&] {
    const std::string m = ReadFile(out + "/_manifest.csv");
    for (const char* f : {"\nsummary.csv,", "\ntop_urls.csv,"}) {
      const size_t at = m.find(f);
      EXPECT_NE(at, std::string::npos) << m;
      EXPECT_EQ(m.find(f, at + 1), std::string::npos) << m;
    }
  };

  // Dies after moving the first file of the job commit.
  r = Taskgrid({"run", spec, "--workers", "2", "--state", state},
               {"TASKGRID_FAULT=job-commit-move:1"});
  ASSERT_EQ(r.exit_code, 86) << r.Describe();
  EXPECT_FALSE(fs::exists(out + "/_SUCCESS"));
  r = Taskgrid({"resume", "1", "--state", state});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string first = output();
  EXPECT_NE(first.find("\nwww.example.com,"), std::string::npos) << first;
  manifest_lists_each_once();
  const std::string rid = reduce_id();
  ASSERT_FALSE(rid.empty());

  for (const std::string& task : {std::string("3"), rid}) {
    SCOPED_TRACE("rerun of task " + task);
    r = Taskgrid({"rerun", "1", "--task", task, "--state", state});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(output(), first);
    manifest_lists_each_once();
    EXPECT_EQ(reduce_id(), rid);
  }
}

}  // namespace
}  // namespace taskgrid
