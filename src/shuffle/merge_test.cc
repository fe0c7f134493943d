#include "shuffle/merge.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shuffle/record_io.h"
#include "shuffle/shuffle_test_util.h"
#include "testing/process.h"

namespace taskgrid::shuffle {
namespace {

using namespace std::string_literals;
using ::taskgrid::testing::TempDir;
using test::Records;

using Groups = std::vector<std::pair<std::string, std::vector<std::string>>>;

// A segment source over a string, returning at most `chunk` bytes a Read,
// failing with `fail` once `fail_at` bytes were returned.
class StringSource : public SegmentSource {
 public:
  StringSource(std::string data, std::string name, size_t chunk = 1,
               size_t fail_at = SIZE_MAX, Status fail = OkStatus())
      : data_(std::move(data)),
        name_(std::move(name)),
        chunk_(chunk),
        fail_at_(fail_at),
        fail_(std::move(fail)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (pos_ >= fail_at_) return fail_;
    n = std::min({n, chunk_, data_.size() - pos_, fail_at_ - pos_});
    std::copy_n(data_.data() + pos_, n, buf);
    pos_ += n;
    return n;
  }
  const std::string& name() const override { return name_; }

 private:
  const std::string data_;
  const std::string name_;
  const size_t chunk_;
  const size_t fail_at_;
  const Status fail_;
  size_t pos_ = 0;
};

Status AddString(ReduceMerger& m, const Records& records,
                 const std::string& name, size_t chunk = 7) {
  const std::string bytes = test::EncodeRecords(records);
  return m.Add(std::make_unique<StringSource>(bytes, name, chunk),
               records.size(), test::Crc(bytes));
}

StatusOr<Groups> Collect(ReduceMerger& m) {
  Groups groups;
  Status s = m.Run([&](std::string_view key, ValueIterator& values) {
    groups.emplace_back(std::string(key), std::vector<std::string>());
    std::string_view v;
    while (values.Next(&v)) groups.back().second.emplace_back(v);
    return values.status();
  });
  if (!s.ok()) return s;
  return groups;
}

const Records kSeg0 = {{"", "e0"}, {"a", "1"}, {"a", "2"}, {"c", "3"}};
const Records kSeg1 = {{"a", "4"}, {"b", "5"}, {"c\0"s, "nul"}};
const Records kSeg2 = {{"a", "6"}, {"c", "7"}, {"d", ""}};
const Groups kWant = {{"", {"e0"}},      {"a", {"1", "2", "4", "6"}},
                      {"b", {"5"}},      {"c", {"3", "7"}},
                      {"c\0"s, {"nul"}}, {"d", {""}}};

TEST(ShuffleMergeTest, MergesInKeyOrderValuesInSegmentOrder) {
  for (size_t budget : {size_t{0}, size_t{20}, size_t{1} << 20}) {
    TempDir dir;
    ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = budget});
    ASSERT_TRUE(AddString(m, kSeg0, "s0").ok());
    ASSERT_TRUE(AddString(m, kSeg1, "s1").ok());
    ASSERT_TRUE(AddString(m, kSeg2, "s2").ok());
    EXPECT_EQ(m.segments_in_memory() + m.segments_on_disk(), 3);
    if (budget == 0) {
      EXPECT_EQ(m.segments_on_disk(), 3);
    }
    if (budget > 1000) {
      EXPECT_EQ(m.segments_in_memory(), 3);
    }
    auto groups = Collect(m);
    ASSERT_TRUE(groups.ok()) << groups.status();
    EXPECT_EQ(*groups, kWant) << "budget " << budget;
  }
}

TEST(ShuffleMergeTest, ReadsLocalSegments) {
  TempDir dir;
  // Two segments back to back in one file, as in a map output.
  const std::string a = test::EncodeRecords(kSeg0);
  const std::string b = test::EncodeRecords(kSeg1);
  test::WriteBytes(dir.Path("m.data"), a + b);
  ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  auto sa = OpenLocalSegment(dir.Path("m.data"), 0, a.size());
  auto sb = OpenLocalSegment(dir.Path("m.data"), a.size(), b.size());
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ((*sb)->name(), dir.Path("m.data") + "@" + std::to_string(a.size()) +
                               "+" + std::to_string(b.size()));
  ASSERT_TRUE(m.Add(std::move(*sa), kSeg0.size(), test::Crc(a)).ok());
  ASSERT_TRUE(m.Add(std::move(*sb), kSeg1.size(), test::Crc(b)).ok());
  auto groups = Collect(m);
  ASSERT_TRUE(groups.ok()) << groups.status();
  EXPECT_EQ(*groups, (Groups{{"", {"e0"}},
                             {"a", {"1", "2", "4"}},
                             {"b", {"5"}},
                             {"c", {"3"}},
                             {"c\0"s, {"nul"}}}));
  EXPECT_EQ(OpenLocalSegment(dir.Path("nope"), 0, 1).status().code(),
            StatusCode::kNotFound);
}

TEST(ShuffleMergeTest, CorruptSegmentIsDataLossAndNotAdded) {
  for (size_t budget : {size_t{0}, size_t{1} << 20}) {
    TempDir dir;
    ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = budget});
    ASSERT_TRUE(AddString(m, kSeg0, "good").ok());
    std::string bytes = test::EncodeRecords(kSeg1);
    const uint32_t crc = test::Crc(bytes);
    bytes[bytes.size() - 2] ^= 0x01;  // a value byte: structure still fine
    Status s = m.Add(std::make_unique<StringSource>(bytes, "map-9/p3", 5),
                     kSeg1.size(), crc);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find("map-9/p3"), std::string::npos) << s;
    // The merger goes on as if the bad segment was never offered.
    ASSERT_TRUE(AddString(m, kSeg2, "again").ok());
    auto groups = Collect(m);
    ASSERT_TRUE(groups.ok()) << groups.status();
    EXPECT_EQ(*groups, (Groups{{"", {"e0"}},
                               {"a", {"1", "2", "6"}},
                               {"c", {"3", "7"}},
                               {"d", {""}}}));
  }
}

TEST(ShuffleMergeTest, TruncationIsDataLoss) {
  TempDir dir;
  ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  const std::string bytes = test::EncodeRecords(kSeg1);
  // Cut inside a record.
  Status cut = m.Add(std::make_unique<StringSource>(
                         bytes.substr(0, bytes.size() - 1), "cut", 3),
                     kSeg1.size(), test::Crc(bytes));
  EXPECT_EQ(cut.code(), StatusCode::kDataLoss);
  EXPECT_NE(cut.message().find("cut"), std::string::npos);
  // Cut at a record boundary: the record count tells.
  const std::string two = test::EncodeRecords({kSeg1[0], kSeg1[1]});
  Status short_count = m.Add(std::make_unique<StringSource>(two, "short"),
                             kSeg1.size(), test::Crc(two));
  EXPECT_EQ(short_count.code(), StatusCode::kDataLoss);
  EXPECT_NE(short_count.message().find("short"), std::string::npos);
  // A local file shorter than the index says.
  test::WriteBytes(dir.Path("m.data"), bytes.substr(0, 4));
  auto src = OpenLocalSegment(dir.Path("m.data"), 0, bytes.size());
  ASSERT_TRUE(src.ok());
  Status file_cut = m.Add(std::move(*src), kSeg1.size(), test::Crc(bytes));
  EXPECT_EQ(file_cut.code(), StatusCode::kDataLoss);
  EXPECT_NE(file_cut.message().find(dir.Path("m.data")), std::string::npos);
  // A garbage length does not make it allocate gigabytes: just DataLoss.
  std::string garbage = "\xff\xff\xff\xff\x0f\x01" + std::string(100, 'x');
  EXPECT_EQ(
      m.Add(std::make_unique<StringSource>(garbage, "g", 64), 1, 0).code(),
      StatusCode::kDataLoss);
  EXPECT_EQ(m.segments_on_disk() + m.segments_in_memory(), 0);
  auto groups = Collect(m);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->empty());
}

TEST(ShuffleMergeTest, SourceErrorsAreReturnedWithTheName) {
  TempDir dir;
  ReduceMerger m({.tmp_dir = dir.path()});
  const std::string bytes = test::EncodeRecords(kSeg0);
  Status s = m.Add(
      std::make_unique<StringSource>(bytes, "worker-2:map-4", 4, 6,
                                     UnavailableError("connection reset")),
      kSeg0.size(), test::Crc(bytes));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("worker-2:map-4"), std::string::npos);
  EXPECT_NE(s.message().find("connection reset"), std::string::npos);
}

TEST(ShuffleMergeTest, FunctionErrorStopsTheMerge) {
  TempDir dir;
  ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  ASSERT_TRUE(AddString(m, kSeg0, "s0").ok());
  ASSERT_TRUE(AddString(m, kSeg1, "s1").ok());
  std::vector<std::string> seen;
  Status s = m.Run([&](std::string_view key, ValueIterator&) {
    seen.emplace_back(key);
    if (key == "a") return AbortedError("stop at a");
    return OkStatus();
  });
  EXPECT_EQ(s, AbortedError("stop at a"));
  EXPECT_EQ(seen, (std::vector<std::string>{"", "a"}));
  EXPECT_EQ(
      m.Run([](std::string_view, ValueIterator&) { return OkStatus(); }).code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(AddString(m, kSeg2, "late").code(),
            StatusCode::kFailedPrecondition);
}

TEST(ShuffleMergeTest, UnreadValuesAreSkipped) {
  TempDir dir;
  ReduceMerger m({.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  ASSERT_TRUE(AddString(m, kSeg0, "s0").ok());
  ASSERT_TRUE(AddString(m, kSeg1, "s1").ok());
  ASSERT_TRUE(AddString(m, kSeg2, "s2").ok());
  Groups firsts;
  ASSERT_TRUE(m.Run([&](std::string_view key, ValueIterator& values) {
                 std::string_view v;
                 firsts.push_back({std::string(key), {}});
                 if (key != "b" && values.Next(&v)) {
                   firsts.back().second.emplace_back(v);
                 }
                 return OkStatus();
               }).ok());
  EXPECT_EQ(firsts, (Groups{{"", {"e0"}},
                            {"a", {"1"}},
                            {"b", {}},
                            {"c", {"3"}},
                            {"c\0"s, {"nul"}},
                            {"d", {""}}}));
}

TEST(ShuffleMergeTest, LargeRecordsThroughSmallBuffers) {
  TempDir dir;
  ReduceMerger m({.tmp_dir = dir.path(),
                  .memory_budget_bytes = 0,
                  .read_buffer_bytes = 4096});
  const Records big = {{std::string(10000, 'k'), std::string(70000, 'v')},
                       {std::string(10001, 'k'), "x"}};
  ASSERT_TRUE(AddString(m, big, "big", 1000).ok());
  ASSERT_TRUE(AddString(m, {{std::string(10000, 'k'), "y"}}, "small").ok());
  auto groups = Collect(m);
  ASSERT_TRUE(groups.ok()) << groups.status();
  EXPECT_EQ(*groups,
            (Groups{{std::string(10000, 'k'), {std::string(70000, 'v'), "y"}},
                    {std::string(10001, 'k'), {"x"}}}));
}

// The file writer: appends smaller than, equal to and larger than its
// buffer land in order, and its CRC-32 is zlib's over every byte since
// ResetCrc.
TEST(FileWriterTest, LargeAppendsGoStraightToTheFileInOrder) {
  TempDir dir;
  const std::string path = dir.Path("f");
  auto w = internal::FileWriter::Create(path, 64);
  ASSERT_TRUE(w.ok()) << w.status();
  std::string all;
  const std::vector<size_t> sizes = {10, 1000, 5, 64, 63, 1, 200000, 7};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string piece(sizes[i], static_cast<char>('a' + i));
    ASSERT_TRUE((*w)->Append(piece).ok());
    all += piece;
    EXPECT_EQ((*w)->offset(), all.size());
  }
  const uint32_t want =
      static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(all.data()),
                                  static_cast<uInt>(all.size())));
  EXPECT_EQ((*w)->crc(), want);
  ASSERT_TRUE((*w)->Sync().ok());
  EXPECT_EQ(::taskgrid::testing::ReadFile(path), all);
  EXPECT_EQ(internal::Crc32(0, all.data(), all.size()), want);
}

}  // namespace
}  // namespace taskgrid::shuffle
