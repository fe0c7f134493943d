// Chained stages, end to end with the real `taskgrid` binary: each stage
// runs on the files the one before it committed, and a crash between
// making the next stage and marking the last one succeeded is repaired by
// `resume` without a stage running twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "testing/process.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::ConcatParts;
using testing::ReadFile;
using testing::RunCommand;
using testing::SpawnOptions;
using testing::TempDir;
using testing::WriteFile;

constexpr auto kTimeout = std::chrono::seconds(60);

class ChainTest : public ::testing::Test {
 protected:
  CommandResult Taskgrid(std::vector<std::string> args,
                         std::vector<std::string> env = {}) {
    args.insert(args.begin(), TASKGRID_BINARY);
    args.push_back("--state");
    args.push_back(tmp_.Path("state.db"));
    SpawnOptions o;
    o.env = std::move(env);
    o.cwd = tmp_.path();
    return RunCommand(args, kTimeout, o);
  }

  // Text files with a known word count; returns the count.
  std::map<std::string, int> WriteInputs() {
    fs::create_directories(tmp_.Path("in"));
    std::mt19937 rng(7);
    std::map<std::string, int> counts;
    for (int f = 0; f < 4; ++f) {
      std::string text;
      for (int line = 0; line < 200; ++line) {
        const int words = static_cast<int>(rng() % 6);
        for (int w = 0; w < words; ++w) {
          std::string word = "w" + std::to_string(rng() % 97);
          if (rng() % 5 == 0) word += "Z";
          ++counts[word];
          text += (w == 0 ? "" : "  ") + word;
        }
        text += "\n";
      }
      WriteFile(tmp_.Path("in/f" + std::to_string(f) + ".txt"), text);
    }
    return counts;
  }

  void WriteChain() {
    WriteFile(tmp_.Path("chain.yaml"), R"(name: words
input: {files: ["in/*.txt"]}
output: out
stages:
  - processor: wordcount
    model: shuffle
    partitions: 3
  - processor: sort
    model: shuffle
    partitions: 2
    params: {format: lines}
  - processor: shell
    model: map
    params: {command: "tr a-z A-Z < {}"}
)");
  }

  TempDir tmp_;
};

// What the chain above must produce from `counts`: "word<TAB>count" lines
// sorted by line (stage 2 sorts stage 1's lines), upper-cased (stage 3).
std::string Expected(const std::map<std::string, int>& counts) {
  std::vector<std::string> lines;
  for (const auto& [word, n] : counts) {
    lines.push_back(word + "\t" + std::to_string(n) + "\n");
  }
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const std::string& l : lines) all += l;
  std::transform(all.begin(), all.end(), all.begin(), [](unsigned char c) {
    return static_cast<char>(std::toupper(c));
  });
  return all;
}

TEST_F(ChainTest, EachStageRunsOnTheFilesTheOneBeforeCommitted) {
  const auto counts = WriteInputs();
  WriteChain();
  CommandResult r = Taskgrid({"run", "chain.yaml", "--workers", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ConcatParts(tmp_.Path("out")), Expected(counts));
  EXPECT_TRUE(fs::exists(tmp_.Path("out/_SUCCESS")));
  // The stages before the last keep their committed output.
  EXPECT_TRUE(fs::exists(tmp_.Path("out/_stages/1/_SUCCESS")));
  EXPECT_TRUE(fs::exists(tmp_.Path("out/_stages/2/_SUCCESS")));
  std::string words;
  for (const auto& [word, n] : counts) {
    words += word + "\t" + std::to_string(n) + "\n";
  }
  EXPECT_EQ(ConcatParts(tmp_.Path("out/_stages/1")),
            words);  // wordcount: sorted

  r = Taskgrid({"jobs"});
  EXPECT_NE(r.out.find("words [1/3]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("words [3/3]"), std::string::npos) << r.out;
  r = Taskgrid({"status", "2"});
  EXPECT_NE(r.out.find("stage:    2 of 3, after job 1; next: job 3"),
            std::string::npos)
      << r.out;
}

TEST_F(ChainTest, CrashAfterTheNextStageIsMadeIsRepairedByResume) {
  const auto counts = WriteInputs();
  WriteChain();
  CommandResult r = Taskgrid({"run", "chain.yaml", "--workers", "2"},
                             {"TASKGRID_FAULT=chain-next-made"});
  ASSERT_EQ(r.exit_code, 86) << r.Describe();  // the injected crash
  r = Taskgrid({"status", "1"});
  EXPECT_NE(r.out.find("job 1 (words [1/3]): running"), std::string::npos)
      << r.out;

  r = Taskgrid({"resume", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ConcatParts(tmp_.Path("out")), Expected(counts));
  // Stage 2 was found by its key, not made again: three jobs in all, and
  // resuming a finished chain has nothing left to do.
  r = Taskgrid({"jobs"});
  size_t stages = 0;
  for (size_t at = r.out.find("words ["); at != std::string::npos;
       at = r.out.find("words [", at + 1)) {
    ++stages;
  }
  EXPECT_EQ(stages, 3u) << r.out;
  r = Taskgrid({"resume", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("job 3 is already succeeded"), std::string::npos)
      << r.out;
}

TEST_F(ChainTest, AFailedStageStopsTheChainAndRerunGoesOn) {
  WriteInputs();
  WriteFile(tmp_.Path("chain.yaml"), R"(name: fails
input: {files: ["in/*.txt"]}
output: out
retry: {max_attempts: 1}
stages:
  - processor: shell
    model: map
    params: {command: "cat {}"}
  - processor: shell
    model: map
    params: {command: "test -e ok && cat {}"}
)");
  CommandResult r = Taskgrid({"run", "chain.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_FALSE(fs::exists(tmp_.Path("out/_SUCCESS")));
  EXPECT_TRUE(fs::exists(tmp_.Path("out/_stages/1/_SUCCESS")));
  WriteFile(tmp_.Path("ok"), "");
  r = Taskgrid({"rerun", "2", "--failed"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string inputs;
  for (int f = 0; f < 4; ++f) {
    inputs += ReadFile(tmp_.Path("in/f" + std::to_string(f) + ".txt"));
  }
  EXPECT_EQ(ConcatParts(tmp_.Path("out")), inputs);
}

TEST_F(ChainTest, MemoryFlagIsTheBudgetOfEveryShuffleStage) {
  const auto counts = WriteInputs();
  WriteChain();
  CommandResult r = Taskgrid({"run", "chain.yaml", "--memory", "12x"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("--memory: invalid byte size '12x'"), std::string::npos)
      << r.err;
  // A tiny budget: the maps spill and merge on disk; the result is exact.
  r = Taskgrid({"run", "chain.yaml", "--memory", "4KiB", "--workers", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ConcatParts(tmp_.Path("out")), Expected(counts));
  for (const char* job : {"1", "2"}) {
    r = Taskgrid({"status", job, "--json"});
    EXPECT_NE(r.out.find("memory: 4096"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace taskgrid
