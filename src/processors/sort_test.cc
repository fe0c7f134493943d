// The u64 sort's reduce reads its segments itself (not through the shuffle
// merger): it must check each one as the merger does, and report the map
// task whose output is short or corrupt so that the master makes it again.
#include "processors/sort.h"

#include <gtest/gtest.h>
#include <isa-l/crc.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "shuffle/segment_source.h"
#include "worker/shuffle_task.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;

// One u64 reduce attempt over `inputs`, on local files.
class FakeReduce : public TaskContext, public ShuffleTaskContext {
 public:
  FakeReduce(fs::path dir, std::vector<ShuffleInput> inputs)
      : dir_(std::move(dir)),
        out_((dir_ / "out").string()),
        params_(
            std::map<std::string, std::string, std::less<>>{{"format", "u64"}}),
        inputs_(std::move(inputs)) {
    def_.memory_bytes = 64 << 20;
    fs::create_directories(out_);
  }

  // TaskContext
  int64_t job_id() const override { return 1; }
  int64_t task_id() const override { return 9; }
  const std::string& stage() const override { return stage_; }
  const std::string& payload() const override { return payload_; }
  int attempt() const override { return 1; }
  const Params& params() const override { return params_; }
  const std::string& worker_id() const override { return worker_; }
  const std::string& output_dir() const override { return out_; }
  StatusOr<std::string> OutputPath(std::string_view name) override {
    return out_ + "/" + std::string(name);
  }
  void Log(LogLevel, std::string_view) override {}
  bool cancelled() const override { return false; }
  bool SleepFor(std::chrono::milliseconds) override { return true; }
  void SetResult(std::string) override {}
  void Map(std::vector<std::string>, std::string_view) override {}

  // ShuffleTaskContext
  bool is_shuffle() const override { return true; }
  const JobDefinition& definition() const override { return def_; }
  StatusOr<std::string> MapOutputDir() override {
    return FailedPreconditionError("a reduce task");
  }
  void SetMapOutput(shuffle::MapOutputInfo) override {}
  int partition() const override { return 0; }
  const std::vector<ShuffleInput>& inputs() const override { return inputs_; }
  StatusOr<std::unique_ptr<shuffle::SegmentSource>> OpenInput(
      const ShuffleInput& in) override {
    return shuffle::OpenLocalSegment(in.path, in.offset, in.length);
  }
  StatusOr<std::string> ScratchDir() override {
    fs::create_directories(dir_ / "scratch");
    return (dir_ / "scratch").string();
  }
  void ReportLostInput(int64_t map_task_id) override {
    lost.push_back(map_task_id);
  }

  std::vector<int64_t> lost;

 private:
  fs::path dir_;
  std::string out_;
  std::string stage_ = "reduce";
  std::string payload_ = "0";
  std::string worker_ = "w1";
  Params params_;
  JobDefinition def_;
  std::vector<ShuffleInput> inputs_;
};

class SortU64ReduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tg-sort-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A map output segment of `values` from map task `id`, as a map task
  // records it (length, records, CRC-32 of the bytes).
  ShuffleInput Segment(int64_t id, const std::vector<uint64_t>& values) {
    ShuffleInput in;
    in.map_task_id = id;
    in.path = (dir_ / ("map-" + std::to_string(id) + ".data")).string();
    in.length = values.size() * 8;
    in.records = values.size();
    in.crc = crc32_gzip_refl(0, reinterpret_cast<const uint8_t*>(values.data()),
                             in.length);
    std::ofstream(in.path, std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()),
               static_cast<std::streamsize>(in.length));
    return in;
  }

  static std::vector<uint64_t> Random(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> v(n);
    for (uint64_t& x : v) x = rng();
    return v;
  }

  static void FlipByte(const std::string& path, uint64_t at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
  }

  std::string ReadOut() {
    std::ifstream in(dir_ / "out" / "part-00000", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
};

TEST_F(SortU64ReduceTest, SortsItsSegmentsExactly) {
  const auto a = Random(5000, 1), b = Random(7000, 2);
  FakeReduce ctx(dir_, {Segment(1, a), Segment(2, b)});
  auto p = NewSortProcessor();
  auto* sp = dynamic_cast<ShuffleProcessor*>(p.get());
  ASSERT_NE(sp, nullptr);
  ASSERT_TRUE(sp->ReducePartition(ctx).ok());
  std::vector<uint64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  const std::string got = ReadOut();
  ASSERT_EQ(got.size(), all.size() * 8);
  EXPECT_EQ(std::memcmp(got.data(), all.data(), got.size()), 0);
  EXPECT_TRUE(ctx.lost.empty());
}

TEST_F(SortU64ReduceTest, ACorruptSegmentIsDataLossNamingItsMapTask) {
  const auto a = Random(5000, 1), b = Random(7000, 2);
  const ShuffleInput bad = Segment(2, b);
  FakeReduce ctx(dir_, {Segment(1, a), bad});
  FlipByte(bad.path, bad.length / 2);  // same length, other bytes
  auto p = NewSortProcessor();
  auto* sp = dynamic_cast<ShuffleProcessor*>(p.get());
  ASSERT_NE(sp, nullptr);
  const Status s = sp->ReducePartition(ctx);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s;
  EXPECT_NE(s.message().find(bad.path), std::string::npos) << s;
  EXPECT_EQ(ctx.lost, std::vector<int64_t>{2});
}

TEST_F(SortU64ReduceTest, AShortSegmentIsDataLossNamingItsMapTask) {
  const auto a = Random(5000, 1);
  ShuffleInput in = Segment(3, a);
  fs::resize_file(in.path, in.length - 8);
  FakeReduce ctx(dir_, {in});
  auto p = NewSortProcessor();
  auto* sp = dynamic_cast<ShuffleProcessor*>(p.get());
  ASSERT_NE(sp, nullptr);
  const Status s = sp->ReducePartition(ctx);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_EQ(ctx.lost, std::vector<int64_t>{3});
}

}  // namespace
}  // namespace taskgrid
