#include "shuffle/partitioner.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace taskgrid::shuffle {
namespace {

class HashPartitioner final : public Partitioner {
 public:
  explicit HashPartitioner(int r) : r_(static_cast<uint64_t>(r)) {}
  int Partition(std::string_view key) const override {
    return static_cast<int>(StableHash64(key) % r_);
  }
  int partitions() const override { return static_cast<int>(r_); }

 private:
  const uint64_t r_;
};

class RangePartitioner final : public Partitioner {
 public:
  explicit RangePartitioner(std::vector<std::string> splits)
      : splits_(std::move(splits)) {}
  int Partition(std::string_view key) const override {
    // The number of split points <= key.
    auto it = std::upper_bound(
        splits_.begin(), splits_.end(), key,
        [](std::string_view k, const std::string& s) { return k < s; });
    return static_cast<int>(it - splits_.begin());
  }
  int partitions() const override {
    return static_cast<int>(splits_.size()) + 1;
  }

 private:
  const std::vector<std::string> splits_;
};

}  // namespace

uint64_t StableHash64(std::string_view key) {
  // FNV-1a 64 ...
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // ... then murmur3's fmix64, because FNV's low bits (which `mod r` uses)
  // are poorly mixed for short keys that differ only in their last byte.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

StatusOr<std::unique_ptr<Partitioner>> MakeHashPartitioner(int r) {
  if (r < 1) {
    return InvalidArgumentError(
        "hash partitioner: partitions must be >= 1, "
        "got " +
        std::to_string(r));
  }
  return std::unique_ptr<Partitioner>(new HashPartitioner(r));
}

StatusOr<std::unique_ptr<Partitioner>> MakeRangePartitioner(
    std::vector<std::string> split_points) {
  if (split_points.size() >= static_cast<size_t>(INT_MAX)) {
    return InvalidArgumentError("range partitioner: too many split points");
  }
  for (size_t i = 1; i < split_points.size(); ++i) {
    if (!(split_points[i - 1] < split_points[i])) {
      return InvalidArgumentError(
          "range partitioner: split points must be strictly increasing, but "
          "split point " +
          std::to_string(i) + " is not greater than split point " +
          std::to_string(i - 1));
    }
  }
  return std::unique_ptr<Partitioner>(
      new RangePartitioner(std::move(split_points)));
}

StatusOr<std::vector<std::string>> ChooseSplitPoints(
    std::vector<std::string> sample, int r) {
  if (r < 1) {
    return InvalidArgumentError("split points: partitions must be >= 1, got " +
                                std::to_string(r));
  }
  std::sort(sample.begin(), sample.end());
  std::vector<std::string> splits;
  const size_t n = sample.size();
  if (n == 0) return splits;
  for (int i = 1; i < r; ++i) {
    // floor(n * i / r) without overflow.
    const size_t ur = static_cast<size_t>(r);
    const size_t ui = static_cast<size_t>(i);
    const size_t q = (n / ur) * ui + (n % ur) * ui / ur;
    std::string& candidate = sample[std::min(q, n - 1)];
    if (candidate.empty()) continue;
    if (!splits.empty() && !(splits.back() < candidate)) continue;
    splits.push_back(candidate);
  }
  return splits;
}

}  // namespace taskgrid::shuffle
