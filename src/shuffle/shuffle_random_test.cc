// Randomized end-to-end test of the shuffle data layer against an
// in-memory oracle: M map tasks emit random records through
// MapOutputWriter, R reduce tasks merge their partition of every map output
// with ReduceMerger, and the groups must equal a std::map built directly
// from the generated records — across partition counts, memory budgets
// (tiny ones force many spills, merge passes and on-disk segments), hash
// and range partitioning, with and without a combiner.
#include <gtest/gtest.h>

#include <cinttypes>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "shuffle/map_output.h"
#include "shuffle/merge.h"
#include "shuffle/partitioner.h"
#include "testing/process.h"

namespace taskgrid::shuffle {
namespace {

using ::taskgrid::testing::TempDir;

struct Record {
  std::string key;
  std::string value;
};

// Keys drawn from a pool with many repeats: the empty key, short ASCII,
// binary with NULs and high bytes, prefixes of each other, long ones.
std::vector<std::string> KeyPool(std::mt19937_64& rng, int n) {
  std::vector<std::string> pool = {"", std::string(1, '\0'),
                                   std::string(2, '\0'), "a", "a\0"};
  pool[4] = std::string("a\0", 2);
  while (static_cast<int>(pool.size()) < n) {
    const int kind = static_cast<int>(rng() % 4);
    const size_t len = kind == 3 ? 9 + rng() % 120 : rng() % 9;
    std::string k(len, '\0');
    for (char& c : k) {
      c = kind == 0 ? static_cast<char>('a' + rng() % 3)
                    : static_cast<char>(rng() % 256);
    }
    pool.push_back(std::move(k));
  }
  return pool;
}

std::string Sum(std::string_view, const std::vector<std::string_view>& vs) {
  uint64_t total = 0;
  for (std::string_view v : vs) total += std::stoull(std::string(v));
  return std::to_string(total);
}

struct Config {
  int r;
  size_t map_budget;
  size_t reduce_budget;
  bool combine;
  bool range;
};

void RunShuffle(const Config& cfg, uint64_t seed) {
  SCOPED_TRACE("r=" + std::to_string(cfg.r) +
               " map_budget=" + std::to_string(cfg.map_budget) +
               " reduce_budget=" + std::to_string(cfg.reduce_budget) +
               " combine=" + std::to_string(cfg.combine) + " range=" +
               std::to_string(cfg.range) + " seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int maps = 1 + static_cast<int>(rng() % 4);
  const std::vector<std::string> pool =
      KeyPool(rng, 5 + static_cast<int>(rng() % 300));
  std::vector<std::vector<Record>> inputs(static_cast<size_t>(maps));
  for (auto& in : inputs) {
    const int n = static_cast<int>(rng() % 1500);
    for (int i = 0; i < n; ++i) {
      Record rec{pool[rng() % pool.size()], ""};
      // Decimal values (summed by the combiner); without one, also empty
      // and binary values.
      const int kind = static_cast<int>(rng() % 5);
      if (cfg.combine || kind < 3) {
        rec.value = std::to_string(rng() % 1000000);
      } else if (kind == 3) {
        rec.value = std::string(rng() % 40, static_cast<char>(rng() % 256));
      }
      in.push_back(std::move(rec));
    }
  }

  // The partitioner.
  std::unique_ptr<Partitioner> part;
  if (cfg.range) {
    std::vector<std::string> sample;
    for (int i = 0; i < 64; ++i) sample.push_back(pool[rng() % pool.size()]);
    auto splits = ChooseSplitPoints(sample, cfg.r);
    ASSERT_TRUE(splits.ok());
    auto p = MakeRangePartitioner(*splits);
    ASSERT_TRUE(p.ok());
    part = std::move(*p);
  } else {
    auto p = MakeHashPartitioner(cfg.r);
    ASSERT_TRUE(p.ok());
    part = std::move(*p);
  }
  const int r = part->partitions();

  // Map side.
  TempDir dir;
  std::vector<MapOutputInfo> outputs;
  int spills = 0;
  for (int m = 0; m < maps; ++m) {
    MapOutputOptions opts{.dir = dir.path(),
                          .file_stem = "map-" + std::to_string(m),
                          .partitioner = part.get(),
                          .memory_budget_bytes = cfg.map_budget,
                          .combiner = nullptr};
    if (cfg.combine) opts.combiner = Sum;
    auto w = MapOutputWriter::Create(std::move(opts));
    ASSERT_TRUE(w.ok()) << w.status();
    for (const Record& rec : inputs[static_cast<size_t>(m)]) {
      ASSERT_TRUE((*w)->Emit(rec.key, rec.value).ok());
    }
    auto info = (*w)->Finish();
    ASSERT_TRUE(info.ok()) << info.status();
    ASSERT_EQ(info->partitions.size(), static_cast<size_t>(r));
    spills += (*w)->spills();
    // The info travels as a string.
    auto parsed = MapOutputInfo::Parse(info->Serialize());
    ASSERT_TRUE(parsed.ok());
    outputs.push_back(std::move(*parsed));
  }
  if (cfg.map_budget <= 4096) {
    EXPECT_GT(spills, 0);
  }

  // The oracle: per key, the values in map order then emit order; with the
  // combiner, one value per map task that emitted the key (its sum).
  std::map<std::string, std::vector<std::string>> want;
  for (const auto& in : inputs) {
    std::map<std::string, uint64_t> sums;
    for (const Record& rec : in) {
      if (cfg.combine) {
        sums[rec.key] += std::stoull(rec.value);
      } else {
        want[rec.key].push_back(rec.value);
      }
    }
    for (const auto& [k, s] : sums) want[k].push_back(std::to_string(s));
  }

  // Reduce side: every partition, then the partitions' groups together.
  std::map<std::string, std::vector<std::string>> got;
  std::string last_key;
  bool any = false;
  for (int p = 0; p < r; ++p) {
    ReduceMerger merger({.tmp_dir = dir.path(),
                         .memory_budget_bytes = cfg.reduce_budget,
                         .read_buffer_bytes = 4096});
    for (const MapOutputInfo& out : outputs) {
      const SegmentInfo& s = out.partitions[static_cast<size_t>(p)];
      auto src = OpenLocalSegment(out.data_path, s.offset, s.length);
      ASSERT_TRUE(src.ok());
      ASSERT_TRUE(merger.Add(std::move(*src), s.records, s.crc).ok());
    }
    std::string prev;
    bool first = true;
    Status st = merger.Run([&](std::string_view key, ValueIterator& values) {
      EXPECT_EQ(part->Partition(key), p);
      EXPECT_TRUE(first || prev < key) << "keys out of order in partition";
      // Range partitions concatenated are in global order.
      if (cfg.range) {
        EXPECT_TRUE(!any || last_key < key);
      }
      first = false;
      any = true;
      prev.assign(key);
      last_key.assign(key);
      EXPECT_EQ(got.count(std::string(key)), 0u) << "key in two groups";
      std::vector<std::string>& vs = got[std::string(key)];
      std::string_view v;
      while (values.Next(&v)) vs.emplace_back(v);
      return values.status();
    });
    ASSERT_TRUE(st.ok()) << st;
  }
  EXPECT_TRUE(got == want) << "got " << got.size() << " keys, want "
                           << want.size();
}

TEST(ShuffleRandomTest, MatchesOracle) {
  const int rs[] = {1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 17};
  const size_t map_budgets[] = {1024, 4096, 64 << 10, 64 << 20};
  const size_t reduce_budgets[] = {0, 2048, 32 << 10, 1 << 30};
  uint64_t seed = 20240601;
  int i = 0;
  for (int r : rs) {
    for (size_t mb : map_budgets) {
      for (bool combine : {false, true}) {
        const Config cfg{r, mb, reduce_budgets[i % 4], combine, i % 3 == 1};
        ++i;
        RunShuffle(cfg, seed++);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace taskgrid::shuffle
