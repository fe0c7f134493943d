#include "shuffle/partitioner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace taskgrid::shuffle {
namespace {

using namespace std::string_literals;

TEST(PartitionerTest, StableHashValuesArePinned) {
  // Computed independently (a Python transcription of FNV-1a 64 + fmix64).
  // A change here changes which reduce task gets which key: never do it.
  EXPECT_EQ(StableHash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash64("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableHash64("hello"), 0xe9c562c0fdb23244ULL);
  EXPECT_EQ(StableHash64("taskgrid"), 0x6d9428cf219e0ad6ULL);
  EXPECT_EQ(StableHash64("a\0b"s), 0xab78f5eca36d0e2bULL);
}

TEST(PartitionerTest, HashPartitionIsHashModR) {
  auto p = MakeHashPartitioner(7);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->partitions(), 7);
  EXPECT_EQ((*p)->Partition(""), 1);
  EXPECT_EQ((*p)->Partition("a"), 1);
  EXPECT_EQ((*p)->Partition("hello"), 2);
  EXPECT_EQ((*p)->Partition("taskgrid"), 2);
  EXPECT_EQ((*p)->Partition("a\0b"s), 2);
  auto q = MakeHashPartitioner(16);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->Partition("a"), 11);
  EXPECT_EQ((*q)->Partition("hello"), 4);
}

TEST(PartitionerTest, HashSpreadsSequentialKeys) {
  auto p = MakeHashPartitioner(8);
  ASSERT_TRUE(p.ok());
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 80000; ++i) {
    const int part = (*p)->Partition("key" + std::to_string(i));
    ASSERT_GE(part, 0);
    ASSERT_LT(part, 8);
    ++counts[part];
  }
  for (int c : counts) {
    EXPECT_GT(c, 9000);
    EXPECT_LT(c, 11000);
  }
}

TEST(PartitionerTest, HashRejectsBadPartitionCount) {
  EXPECT_EQ(MakeHashPartitioner(0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeHashPartitioner(-3).status().code(),
            StatusCode::kInvalidArgument);
  auto one = MakeHashPartitioner(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)->Partition("anything"), 0);
}

TEST(PartitionerTest, RangeBoundaries) {
  auto p = MakeRangePartitioner({"b", "d"});
  ASSERT_TRUE(p.ok()) << p.status();
  const Partitioner& r = **p;
  EXPECT_EQ(r.partitions(), 3);
  struct Case {
    std::string key;
    int want;
  };
  const Case cases[] = {
      {"", 0},     {"a", 0},    {"azzz", 0}, {"b", 1},  {"b\0"s, 1},
      {"c", 1},    {"czz", 1},  {"d", 2},    {"da", 2}, {"zz", 2},
      {"\x80", 2}, {"\xff", 2},  // bytes compare unsigned
      {"\0"s, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(r.Partition(c.key), c.want) << "key '" << c.key << "'";
  }
}

TEST(PartitionerTest, RangeWithoutSplitsIsOnePartition) {
  auto p = MakeRangePartitioner({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->partitions(), 1);
  EXPECT_EQ((*p)->Partition("x"), 0);
}

TEST(PartitionerTest, RangeRejectsUnsortedOrRepeatedSplits) {
  EXPECT_EQ(MakeRangePartitioner({"b", "a"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRangePartitioner({"a", "a"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRangePartitioner({"a", "c", "b"}).status().code(),
            StatusCode::kInvalidArgument);
  // Unsigned order: "\x80" sorts after "a".
  EXPECT_EQ(MakeRangePartitioner({"\x80", "a"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(MakeRangePartitioner({"a", "\x80"}).ok());
}

TEST(PartitionerTest, ChooseSplitPointsTakesQuantiles) {
  std::vector<std::string> sample;
  for (int i = 99; i >= 0; --i) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "k%03d", i);
    sample.push_back(buf);
  }
  auto s = ChooseSplitPoints(sample, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<std::string>{"k025", "k050", "k075"}));
  auto one = ChooseSplitPoints(sample, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->empty());
}

TEST(PartitionerTest, ChooseSplitPointsDeduplicates) {
  std::vector<std::string> sample(50, "x");
  sample.insert(sample.end(), 50, "y");
  auto s = ChooseSplitPoints(sample, 8);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<std::string>{"x", "y"}));
  auto all_same = ChooseSplitPoints(std::vector<std::string>(10, "q"), 5);
  ASSERT_TRUE(all_same.ok());
  EXPECT_EQ(*all_same, (std::vector<std::string>{"q"}));
  // The empty key is never a split point.
  auto empties = ChooseSplitPoints({"", "", "", "a"}, 2);
  ASSERT_TRUE(empties.ok());
  EXPECT_TRUE(empties->empty());
  auto none = ChooseSplitPoints({}, 4);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(ChooseSplitPoints({"a"}, 0).status().code(),
            StatusCode::kInvalidArgument);
  // The result always makes a valid range partitioner.
  EXPECT_TRUE(MakeRangePartitioner(*s).ok());
}

}  // namespace
}  // namespace taskgrid::shuffle
