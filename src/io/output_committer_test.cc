#include "io/output_committer.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace taskgrid {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

uint32_t ZlibCrc(const std::string& s) {
  return static_cast<uint32_t>(crc32(0,
                                     reinterpret_cast<const Bytef*>(s.data()),
                                     static_cast<uInt>(s.size())));
}

class OutputCommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tg-commit-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    out_ = (dir_ / "out").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes and seals task `task`'s attempt `attempt` outputs.
  std::vector<CommittedOutput> Attempt(
      int64_t task, int32_t attempt,
      const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string adir = AttemptOutputDir(out_, 7, task, attempt);
    for (const auto& [name, content] : files)
      Write(fs::path(adir) / name, content);
    auto sealed = SealAttemptOutputs(adir);
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    std::vector<CommittedOutput> out;
    for (auto& f : *sealed) {
      out.push_back({task, attempt, "in-" + std::to_string(task), f});
    }
    return out;
  }

  fs::path dir_;
  std::string out_;
};

TEST(OutputName, OnlyPlainNamesAreAccepted) {
  for (const char* ok : {"part-00000", "summary.csv", "a b", "x=1"}) {
    EXPECT_TRUE(CheckOutputName(ok).ok()) << ok;
  }
  for (const char* bad :
       {"", ".", "..", "a/b", "/abs", "_SUCCESS", "_manifest.csv", ".hidden"}) {
    EXPECT_EQ(CheckOutputName(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CheckOutputName(std::string("a\0b", 3)).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(OutputCommitterTest, SealReportsSizesAndCrcs) {
  EXPECT_TRUE(SealAttemptOutputs(out_ + "/missing")->empty());
  const std::string big(3 << 20, 'x');
  auto outs = Attempt(1, 1, {{"b", big}, {"a", "hello\n"}, {"empty", ""}});
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].file.name, "a");  // sorted
  EXPECT_EQ(outs[0].file.bytes, 6);
  EXPECT_EQ(outs[0].file.crc32, ZlibCrc("hello\n"));
  EXPECT_EQ(outs[1].file.bytes, static_cast<int64_t>(big.size()));
  EXPECT_EQ(outs[1].file.crc32, ZlibCrc(big));
  EXPECT_EQ(outs[2].file.bytes, 0);
}

TEST_F(OutputCommitterTest, SealRejectsDirectories) {
  const std::string adir = AttemptOutputDir(out_, 7, 1, 1);
  fs::create_directories(fs::path(adir) / "sub");
  EXPECT_EQ(SealAttemptOutputs(adir).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(OutputCommitterTest, JobCommitMovesTheRecordedAttemptOnly) {
  auto t1 = Attempt(1, 1, {{"part-00000", "one\n"}});
  Attempt(2, 1, {{"part-00001", "stale attempt\n"}});  // not recorded
  auto t2 = Attempt(2, 2, {{"part-00001", "two\n"}});
  std::vector<CommittedOutput> all = t1;
  all.insert(all.end(), t2.begin(), t2.end());
  ASSERT_TRUE(CommitJobOutputs(out_, 7, all).ok());
  EXPECT_EQ(Read(fs::path(out_) / "part-00000"), "one\n");
  EXPECT_EQ(Read(fs::path(out_) / "part-00001"), "two\n");
  EXPECT_TRUE(fs::exists(fs::path(out_) / "_SUCCESS"));
  EXPECT_FALSE(fs::exists(fs::path(out_) / "_temporary"));
  char crc1[9], crc2[9];
  std::snprintf(crc1, sizeof(crc1), "%08x", ZlibCrc("one\n"));
  std::snprintf(crc2, sizeof(crc2), "%08x", ZlibCrc("two\n"));
  EXPECT_EQ(Read(fs::path(out_) / "_manifest.csv"),
            std::string("file,task,input,bytes,crc32\n") +
                "part-00000,1,in-1,4," + crc1 + "\n" + "part-00001,2,in-2,4," +
                crc2 + "\n");
}

TEST_F(OutputCommitterTest, InterruptedCommitCompletesWhenRunAgain) {
  auto outs = Attempt(1, 1, {{"a", "A"}});
  auto more = Attempt(2, 1, {{"b", "B"}});
  outs.insert(outs.end(), more.begin(), more.end());
  // A crash after the first move: simulate with a fault hook that stops.
  struct Stop {};
  EXPECT_THROW((void)CommitJobOutputs(out_, 7, outs,
                                      [](int n) {
                                        if (n == 1) throw Stop{};
                                      }),
               Stop);
  EXPECT_TRUE(fs::exists(fs::path(out_) / "a"));
  EXPECT_FALSE(fs::exists(fs::path(out_) / "_SUCCESS"));
  ASSERT_TRUE(CommitJobOutputs(out_, 7, outs).ok());
  EXPECT_EQ(Read(fs::path(out_) / "a"), "A");
  EXPECT_EQ(Read(fs::path(out_) / "b"), "B");
  EXPECT_TRUE(fs::exists(fs::path(out_) / "_SUCCESS"));
  // And a third time (a crash after _SUCCESS but before the job's state was
  // recorded) still succeeds.
  ASSERT_TRUE(CommitJobOutputs(out_, 7, outs).ok());
}

TEST_F(OutputCommitterTest, TwoTasksWritingOneNameFail) {
  auto outs = Attempt(1, 1, {{"same", "1"}});
  auto more = Attempt(2, 1, {{"same", "2"}});
  outs.insert(outs.end(), more.begin(), more.end());
  Status s = CommitJobOutputs(out_, 7, outs);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("tasks 1 and 2"), std::string::npos) << s;
  EXPECT_FALSE(fs::exists(fs::path(out_) / "same"));
}

TEST_F(OutputCommitterTest, MissingFileIsDataLoss) {
  auto outs = Attempt(1, 1, {{"gone", "x"}});
  fs::remove(fs::path(AttemptOutputDir(out_, 7, 1, 1)) / "gone");
  EXPECT_EQ(CommitJobOutputs(out_, 7, outs).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace taskgrid
