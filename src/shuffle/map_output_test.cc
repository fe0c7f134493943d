#include "shuffle/map_output.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "shuffle/partitioner.h"
#include "shuffle/shuffle_test_util.h"
#include "testing/process.h"

namespace taskgrid::shuffle {
namespace {

using ::taskgrid::testing::TempDir;
using test::Records;

std::set<std::string> ListDir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  closedir(d);
  return names;
}

std::unique_ptr<Partitioner> Range(std::vector<std::string> splits) {
  auto p = MakeRangePartitioner(std::move(splits));
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

// The records of each partition, decoded from the data file by the test's
// own decoder, after checking the index against the file.
std::vector<Records> ReadOutput(const MapOutputInfo& info) {
  const std::string data = test::FileBytes(info.data_path);
  auto index = ReadMapOutputIndex(info.index_path);
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return {};
  EXPECT_EQ(*index, info.partitions);
  std::vector<Records> out;
  uint64_t expected_offset = 0;
  for (const SegmentInfo& s : info.partitions) {
    EXPECT_EQ(s.offset, expected_offset);
    expected_offset += s.length;
    const std::string seg = data.substr(s.offset, s.length);
    EXPECT_EQ(test::Crc(seg), s.crc);
    bool ok = false;
    out.push_back(test::DecodeRecords(seg, &ok));
    EXPECT_TRUE(ok);
    EXPECT_EQ(out.back().size(), s.records);
  }
  EXPECT_EQ(data.size(), expected_offset);
  return out;
}

const Records kInput = {{"b", "1"}, {"a", "2"}, {"b", "3"}, {"z", "4"},
                        {"m", "5"}, {"a", "6"}, {"y", "7"}};

MapOutputInfo WriteInput(const std::string& dir, size_t budget,
                         Combiner combiner = nullptr, int* spills = nullptr) {
  auto part = Range({"m"});
  auto w = MapOutputWriter::Create({.dir = dir,
                                    .file_stem = "map-1",
                                    .partitioner = part.get(),
                                    .memory_budget_bytes = budget,
                                    .combiner = std::move(combiner)});
  EXPECT_TRUE(w.ok()) << w.status();
  for (const auto& [k, v] : kInput) EXPECT_TRUE((*w)->Emit(k, v).ok());
  auto info = (*w)->Finish();
  EXPECT_TRUE(info.ok()) << info.status();
  if (spills != nullptr) *spills = (*w)->spills();
  return *info;
}

std::string Join(std::string_view, const std::vector<std::string_view>& vs) {
  std::string out;
  for (std::string_view v : vs) {
    if (!out.empty()) out += "+";
    out += v;
  }
  return out;
}

TEST(ShuffleMapOutputTest, SortsByPartitionThenKeyKeepingEmitOrder) {
  TempDir dir;
  int spills = -1;
  const MapOutputInfo info = WriteInput(dir.path(), 1 << 20, nullptr, &spills);
  EXPECT_EQ(spills, 0);
  EXPECT_EQ(info.data_path, dir.Path("map-1.data"));
  EXPECT_EQ(info.index_path, dir.Path("map-1.index"));
  const std::vector<Records> out = ReadOutput(info);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Records{{"a", "2"}, {"a", "6"}, {"b", "1"}, {"b", "3"}}));
  EXPECT_EQ(out[1], (Records{{"m", "5"}, {"y", "7"}, {"z", "4"}}));
  // Nothing else is left in the directory.
  EXPECT_EQ(ListDir(dir.path()),
            (std::set<std::string>{"map-1.data", "map-1.index"}));
}

TEST(ShuffleMapOutputTest, SpillingGivesTheSameOutput) {
  TempDir dir;
  int spills = 0;
  // Every record exceeds a 1-byte budget: one spill per Emit.
  const MapOutputInfo info = WriteInput(dir.path(), 1, nullptr, &spills);
  EXPECT_EQ(spills, static_cast<int>(kInput.size()));
  const std::vector<Records> out = ReadOutput(info);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Records{{"a", "2"}, {"a", "6"}, {"b", "1"}, {"b", "3"}}));
  EXPECT_EQ(out[1], (Records{{"m", "5"}, {"y", "7"}, {"z", "4"}}));
  EXPECT_EQ(ListDir(dir.path()),
            (std::set<std::string>{"map-1.data", "map-1.index"}));
}

TEST(ShuffleMapOutputTest, CombinerMergesEqualKeysInEmitOrder) {
  for (size_t budget : {size_t{1}, size_t{100}, size_t{1} << 20}) {
    TempDir dir;
    const MapOutputInfo info = WriteInput(dir.path(), budget, Join);
    const std::vector<Records> out = ReadOutput(info);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], (Records{{"a", "2+6"}, {"b", "1+3"}})) << budget;
    EXPECT_EQ(out[1], (Records{{"m", "5"}, {"y", "7"}, {"z", "4"}}));
  }
}

TEST(ShuffleMapOutputTest, ExactFileBytes) {
  TempDir dir;
  auto part = Range({});
  auto w = MapOutputWriter::Create(
      {.dir = dir.path(), .file_stem = "m", .partitioner = part.get()});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Emit("k", "v").ok());
  ASSERT_TRUE((*w)->Emit(std::string(200, 'x'), "").ok());
  auto info = (*w)->Finish();
  ASSERT_TRUE(info.ok());
  const std::string want = std::string("\x01\x01kv") +
                           std::string("\xc8\x01\x00", 3) +
                           std::string(200, 'x');
  EXPECT_EQ(test::FileBytes(info->data_path), want);
  ASSERT_EQ(info->partitions.size(), 1u);
  EXPECT_EQ(info->partitions[0],
            (SegmentInfo{0, want.size(), 2, test::Crc(want)}));
  // Index: "TGSI" version R offset length records crc, then its CRC.
  std::string index = "TGSI\x01\x01";
  index += '\0';
  index += static_cast<char>((want.size() & 0x7f) | 0x80);
  index += static_cast<char>(want.size() >> 7);
  index += '\x02';
  const uint32_t crc = test::Crc(want);
  for (int i = 0; i < 4; ++i) index += static_cast<char>(crc >> (8 * i));
  const uint32_t icrc = test::Crc(index);
  for (int i = 0; i < 4; ++i) index += static_cast<char>(icrc >> (8 * i));
  EXPECT_EQ(test::FileBytes(info->index_path), index);
}

TEST(ShuffleMapOutputTest, EmptyOutputHasEmptySegments) {
  TempDir dir;
  auto part = MakeHashPartitioner(4);
  ASSERT_TRUE(part.ok());
  auto w = MapOutputWriter::Create(
      {.dir = dir.path(), .file_stem = "m", .partitioner = part->get()});
  ASSERT_TRUE(w.ok());
  auto info = (*w)->Finish();
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->partitions.size(), 4u);
  for (const SegmentInfo& s : info->partitions) {
    EXPECT_EQ(s, (SegmentInfo{0, 0, 0, 0}));
  }
  EXPECT_EQ(test::FileBytes(info->data_path), "");
}

TEST(ShuffleMapOutputTest, InfoRoundTripsAndRejectsCorruption) {
  MapOutputInfo info;
  info.data_path = "/w/attempt-3/map-7.data";
  info.index_path = "/w/attempt-3/map-7.index";
  info.partitions = {{0, 10, 2, 0xdeadbeef}, {10, 0, 0, 0}, {10, 300, 9, 7}};
  const std::string bytes = info.Serialize();
  auto back = MapOutputInfo::Parse(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, info);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_EQ(MapOutputInfo::Parse(bad).status().code(), StatusCode::kDataLoss)
        << "byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(MapOutputInfo::Parse(bytes.substr(0, n)).status().code(),
              StatusCode::kDataLoss)
        << "length " << n;
  }
}

TEST(ShuffleMapOutputTest, IndexErrors) {
  TempDir dir;
  EXPECT_EQ(ReadMapOutputIndex(dir.Path("none.index")).status().code(),
            StatusCode::kNotFound);
  const MapOutputInfo info = WriteInput(dir.path(), 1 << 20);
  std::string index = test::FileBytes(info.index_path);
  index[6] ^= 1;
  test::WriteBytes(info.index_path, index);
  auto r = ReadMapOutputIndex(info.index_path);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find(info.index_path), std::string::npos);
}

TEST(ShuffleMapOutputTest, BadOptionsAndMisuse) {
  TempDir dir;
  auto part = MakeHashPartitioner(2);
  ASSERT_TRUE(part.ok());
  const Partitioner* p = part->get();
  EXPECT_EQ(MapOutputWriter::Create({.dir = dir.path(), .file_stem = "m"})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MapOutputWriter::Create(
                {.dir = dir.path(), .file_stem = "a/b", .partitioner = p})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MapOutputWriter::Create({.dir = dir.path(),
                                     .file_stem = "m",
                                     .partitioner = p,
                                     .memory_budget_bytes = 0})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      MapOutputWriter::Create(
          {.dir = dir.Path("missing"), .file_stem = "m", .partitioner = p})
          .status()
          .code(),
      StatusCode::kNotFound);
  auto w = MapOutputWriter::Create(
      {.dir = dir.path(), .file_stem = "m", .partitioner = p});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Emit("a", "b").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ((*w)->Emit("a", "b").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*w)->Finish().status().code(), StatusCode::kFailedPrecondition);
}

class BadPartitioner : public Partitioner {
 public:
  int Partition(std::string_view) const override { return 5; }
  int partitions() const override { return 2; }
};

TEST(ShuffleMapOutputTest, PartitionOutOfRangeIsInvalidArgument) {
  TempDir dir;
  BadPartitioner bad;
  auto w = MapOutputWriter::Create(
      {.dir = dir.path(), .file_stem = "m", .partitioner = &bad});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->Emit("a", "b").code(), StatusCode::kInvalidArgument);
}

TEST(ShuffleMapOutputTest, ThrowingCombinerFailsAndCleansUp) {
  TempDir dir;
  auto part = Range({});
  auto w = MapOutputWriter::Create(
      {.dir = dir.path(),
       .file_stem = "m",
       .partitioner = part.get(),
       .memory_budget_bytes = 1,
       .combiner = [](std::string_view, const std::vector<std::string_view>&)
           -> std::string { throw std::runtime_error("boom"); }});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Emit("k", "1").ok());  // spilled alone: no combining
  ASSERT_TRUE((*w)->Emit("k", "2").ok());
  auto info = (*w)->Finish();
  EXPECT_EQ(info.status().code(), StatusCode::kUnknown);
  EXPECT_NE(info.status().message().find("boom"), std::string::npos);
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(ShuffleMapOutputTest, AbandonedWriterRemovesSpills) {
  TempDir dir;
  auto part = Range({});
  {
    auto w = MapOutputWriter::Create({.dir = dir.path(),
                                      .file_stem = "m",
                                      .partitioner = part.get(),
                                      .memory_budget_bytes = 1});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Emit("a", "1").ok());
    ASSERT_TRUE((*w)->Emit("b", "2").ok());
    EXPECT_EQ(ListDir(dir.path()),
              (std::set<std::string>{"m.spill-0", "m.spill-1"}));
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

}  // namespace
}  // namespace taskgrid::shuffle
