#include "shuffle/u64_sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "testing/process.h"

namespace taskgrid::shuffle {
namespace {

using ::taskgrid::testing::TempDir;

std::vector<uint64_t> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = rng();
  return v;
}

struct Input {
  const char* name;
  std::vector<uint64_t> values;
};

std::vector<Input> Inputs() {
  std::vector<Input> in;
  in.push_back({"random", Random(200000, 1)});
  in.push_back(
      {"all equal", std::vector<uint64_t>(50000, 0x0123456789abcdefULL)});
  std::vector<uint64_t> sorted = Random(50000, 2);
  std::sort(sorted.begin(), sorted.end());
  in.push_back({"sorted", sorted});
  in.push_back(
      {"reversed", std::vector<uint64_t>(sorted.rbegin(), sorted.rend())});
  std::vector<uint64_t> small = Random(100000, 3);
  for (auto& x : small) x = 1000 + x % 100;
  in.push_back({"small range", small});
  std::vector<uint64_t> top = Random(100000, 4);
  for (auto& x : top) x = (0xabcdULL << 48) | (x & 0xffffffffULL);
  in.push_back({"shared top bits", top});
  std::vector<uint64_t> extremes = Random(5000, 5);
  for (size_t i = 0; i < extremes.size(); i += 3) {
    extremes[i] = i % 2 ? UINT64_MAX : 0;
  }
  in.push_back({"extremes", extremes});
  for (size_t n : {0, 1, 2, 1023, 1024, 1025, 4097}) {
    in.push_back({"sizes", Random(n, 100 + n)});
  }
  return in;
}

TEST(U64SortTest, RadixMatchesStdSort) {
  for (const Input& in : Inputs()) {
    std::vector<uint64_t> want = in.values;
    std::sort(want.begin(), want.end());
    std::vector<uint64_t> got = in.values;
    RadixSortU64(got.data(), got.size());
    EXPECT_TRUE(got == want) << in.name << " n=" << in.values.size();
    for (int bits : {8, 11, 16}) {
      std::vector<uint64_t> v = in.values;
      std::vector<uint64_t> scratch(v.size());
      RadixSortU64WithDigits(v.data(), v.size(), scratch.data(), bits);
      EXPECT_TRUE(v == want) << in.name << " bits=" << bits;
    }
    // In place down to buckets of every size: MSD all the way (0), buckets
    // that std::sort finishes, and buckets the LSD sort finishes.
    for (size_t scratch_n : {0, 1000, 1024, 5000, 65536}) {
      std::vector<uint64_t> v = in.values;
      std::vector<uint64_t> scratch(scratch_n);
      RadixSortU64InPlace(v.data(), v.size(), scratch.data(), scratch_n);
      EXPECT_TRUE(v == want) << in.name << " scratch=" << scratch_n;
    }
  }
}

TEST(U64SortTest, InPlaceOnSkewedBuckets) {
  // One bucket of the first MSD pass holds almost everything; buckets
  // below it share more bits; values differ only in the lowest bits.
  std::vector<uint64_t> v = Random(300000, 21);
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 100 != 0) v[i] = (0x7fULL << 56) | (v[i] & 0xfff);
  }
  std::vector<uint64_t> want = v;
  std::sort(want.begin(), want.end());
  std::vector<uint64_t> scratch(2000);
  RadixSortU64InPlace(v.data(), v.size(), scratch.data(), scratch.size());
  EXPECT_TRUE(v == want);
}

TEST(U64SortTest, ChooseSplitPoints) {
  std::vector<uint64_t> sample(1000);
  for (size_t i = 0; i < sample.size(); ++i) sample[i] = 999 - i;
  auto s = ChooseU64SplitPoints(sample, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<uint64_t>{250, 500, 750}));
  auto dup = ChooseU64SplitPoints({5, 5, 5, 5, 9, 9, 9, 9}, 8);
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, (std::vector<uint64_t>{5, 9}));
  auto zeros = ChooseU64SplitPoints({0, 0, 0, 7}, 2);
  ASSERT_TRUE(zeros.ok());
  EXPECT_TRUE(zeros->empty());
  auto none = ChooseU64SplitPoints({}, 3);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(ChooseU64SplitPoints({1}, 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(U64SortTest, PartitionBoundaries) {
  const std::vector<uint64_t> splits = {10, 20, 30};
  const std::pair<uint64_t, size_t> cases[] = {{0, 0},  {9, 0},         {10, 1},
                                               {19, 1}, {20, 2},        {29, 2},
                                               {30, 3}, {UINT64_MAX, 3}};
  for (auto [x, want] : cases) EXPECT_EQ(U64Partition(x, splits), want) << x;
  EXPECT_EQ(U64Partition(123, {}), 0u);
  const std::vector<uint64_t> one = {100};
  EXPECT_EQ(U64Partition(99, one), 0u);
  EXPECT_EQ(U64Partition(100, one), 1u);
  // Against std::upper_bound on many split counts.
  std::mt19937_64 rng(7);
  for (size_t m = 1; m < 40; ++m) {
    std::vector<uint64_t> sp(m);
    for (auto& x : sp) x = rng() % 1000;
    std::sort(sp.begin(), sp.end());
    sp.erase(std::unique(sp.begin(), sp.end()), sp.end());
    for (int i = 0; i < 200; ++i) {
      const uint64_t x = rng() % 1100;
      EXPECT_EQ(U64Partition(x, sp),
                static_cast<size_t>(std::upper_bound(sp.begin(), sp.end(), x) -
                                    sp.begin()));
    }
  }
}

TEST(U64SortTest, ScatterKeepsInputOrderWithinPartitions) {
  const std::vector<uint64_t> in = Random(20000, 9);
  for (const std::vector<uint64_t>& splits :
       {std::vector<uint64_t>{}, std::vector<uint64_t>{1ULL << 63},
        std::vector<uint64_t>{1ULL << 60, 1ULL << 62, 3ULL << 62,
                              UINT64_MAX - 5}}) {
    std::vector<std::vector<uint64_t>> want(splits.size() + 1);
    for (uint64_t x : in) {
      want[std::upper_bound(splits.begin(), splits.end(), x) - splits.begin()]
          .push_back(x);
    }
    std::vector<std::vector<uint64_t>> got;
    ScatterU64(in.data(), in.size(), splits, &got);
    EXPECT_EQ(got, want) << splits.size() << " splits";
    std::vector<size_t> counts =
        CountU64Partitions(in.data(), in.size(), splits);
    for (size_t p = 0; p < want.size(); ++p)
      EXPECT_EQ(counts[p], want[p].size());

    std::vector<std::vector<uint64_t>> sunk(splits.size() + 1);
    ASSERT_TRUE(ScatterU64(
                    in.data(), in.size(), splits,
                    [&](size_t p, std::span<const uint64_t> v) {
                      sunk[p].insert(sunk[p].end(), v.begin(), v.end());
                      return OkStatus();
                    },
                    100)
                    .ok());
    EXPECT_EQ(sunk, want);
  }
  const std::vector<uint64_t> splits = {5};
  int calls = 0;
  Status s = ScatterU64(
      in.data(), in.size(), splits,
      [&](size_t, std::span<const uint64_t>) {
        ++calls;
        return ResourceExhaustedError("disk full");
      },
      10);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 1);
}

// A source over a vector, `step` values per call.
U64Source VectorSource(const std::vector<uint64_t>& v, size_t step) {
  auto pos = std::make_shared<size_t>(0);
  return [&v, step, pos](uint64_t* buf, size_t max) -> StatusOr<size_t> {
    const size_t n = std::min({max, step, v.size() - *pos});
    std::copy_n(v.data() + *pos, n, buf);
    *pos += n;
    return n;
  };
}

TEST(U64SortTest, ExternalSortWithSmallBudget) {
  TempDir dir;
  std::vector<uint64_t> in = Random(300000, 11);
  for (size_t i = 0; i < in.size(); i += 7) in[i] = in[i] % 50;  // repeats
  std::vector<uint64_t> want = in;
  std::sort(want.begin(), want.end());
  std::vector<uint64_t> got;
  auto stats =
      ExternalSortU64(VectorSource(in, 3001),
                      [&](std::span<const uint64_t> v) {
                        got.insert(got.end(), v.begin(), v.end());
                        return OkStatus();
                      },
                      {.tmp_dir = dir.path(), .memory_budget_bytes = 64 << 10});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->values, in.size());
  // 64 KiB: runs of 8192 values less a scratch of 512.
  EXPECT_EQ(stats->runs, static_cast<int>((in.size() + 7679) / 7680));
  EXPECT_EQ(stats->bytes_written, in.size() * 8);
  EXPECT_TRUE(got == want);
}

TEST(U64SortTest, ExternalSortInMemoryAndEdgeCases) {
  TempDir dir;
  const std::vector<uint64_t> in = Random(10000, 12);
  std::vector<uint64_t> want = in;
  std::sort(want.begin(), want.end());
  std::vector<uint64_t> got;
  auto collect = [&](std::span<const uint64_t> v) {
    got.insert(got.end(), v.begin(), v.end());
    return OkStatus();
  };
  auto stats =
      ExternalSortU64(VectorSource(in, 999), collect, {.tmp_dir = dir.path()});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->runs, 0);
  EXPECT_TRUE(got == want);

  got.clear();
  const std::vector<uint64_t> empty;
  stats = ExternalSortU64(VectorSource(empty, 10), collect,
                          {.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->values, 0u);
  EXPECT_TRUE(got.empty());

  // Exactly one full chunk, then the end.
  const std::vector<uint64_t> chunk = Random(7680, 13);
  stats = ExternalSortU64(VectorSource(chunk, 7680), collect,
                          {.tmp_dir = dir.path(), .memory_budget_bytes = 0});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->runs, 0);
  EXPECT_EQ(got.size(), 7680u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));

  // expected_values caps the chunk; a source that gives more than it said
  // is still sorted, in runs.
  got.clear();
  stats =
      ExternalSortU64(VectorSource(in, 999), collect,
                      {.tmp_dir = dir.path(), .expected_values = in.size()});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->runs, 0);
  EXPECT_TRUE(got == want);
  got.clear();
  stats = ExternalSortU64(VectorSource(in, 999), collect,
                          {.tmp_dir = dir.path(), .expected_values = 3000});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->runs, 4);
  EXPECT_TRUE(got == want);

  // Errors from the source and the sink come back as they are.
  auto failing = [](uint64_t*, size_t) -> StatusOr<size_t> {
    return UnavailableError("input gone");
  };
  EXPECT_EQ(ExternalSortU64(failing, collect, {.tmp_dir = dir.path()}).status(),
            UnavailableError("input gone"));
  EXPECT_EQ(ExternalSortU64(VectorSource(in, 100),
                            [](std::span<const uint64_t>) {
                              return ResourceExhaustedError("out full");
                            },
                            {.tmp_dir = dir.path(), .memory_budget_bytes = 0})
                .status(),
            ResourceExhaustedError("out full"));
  EXPECT_EQ(ExternalSortU64(
                VectorSource(in, 100), collect,
                {.tmp_dir = dir.Path("missing"), .memory_budget_bytes = 0})
                .status()
                .code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace taskgrid::shuffle
