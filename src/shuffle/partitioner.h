// Partitioners: which of R reduce partitions a map output record goes to.
//
//   auto p = MakeHashPartitioner(8);            // hash(key) mod 8
//   auto splits = ChooseSplitPoints(sample, 8); // up to 7 quantiles
//   auto q = MakeRangePartitioner(*splits);     // key ranges, byte order
//
// The hash partitioner uses StableHash64, a fixed function of the key's
// bytes (FNV-1a 64 followed by the murmur3 64-bit finalizer): it gives the
// same partition in every process, build and machine, so map tasks on
// different workers agree. Never change it: map outputs written by one
// version are read by reduce tasks of the same job only, but tests pin its
// values.
//
// The range partitioner compares keys as unsigned bytes (std::string_view
// order). With split points s[0] < s[1] < ... < s[R-2], partition i holds
// the keys in [s[i-1], s[i]) (partition 0 from the smallest key, partition
// R-1 up to the largest): concatenating the reduce outputs of partitions
// 0..R-1 gives a total order.
//
// Thread-safety: a Partitioner is immutable after construction; Partition()
// may be called from any number of threads concurrently.
#ifndef TASKGRID_SHUFFLE_PARTITIONER_H_
#define TASKGRID_SHUFFLE_PARTITIONER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid::shuffle {

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  // The partition of `key`, in [0, partitions()).
  virtual int Partition(std::string_view key) const = 0;
  // R, the number of partitions (>= 1).
  virtual int partitions() const = 0;
};

// The stable 64-bit hash of `key` described above.
uint64_t StableHash64(std::string_view key);

// StableHash64(key) mod r. InvalidArgument unless r >= 1.
StatusOr<std::unique_ptr<Partitioner>> MakeHashPartitioner(int r);

// R = split_points.size() + 1 partitions by key range, as described above.
// InvalidArgument unless the split points are strictly increasing (a
// repeated split point would make an empty partition that no key can reach,
// which is always a mistake) and fewer than 2^31 - 1.
StatusOr<std::unique_ptr<Partitioner>> MakeRangePartitioner(
    std::vector<std::string> split_points);

// Split points for a range partitioner with (up to) r partitions from a
// sample of keys: the keys at the quantiles i/r, i = 1..r-1, of the sorted
// sample. The result is strictly increasing: a quantile equal to the
// previous split point (a key repeated in the sample) is skipped, as is the
// empty key (it would leave partition 0 empty), so a sample with few
// distinct keys yields fewer than r-1 split points — and fewer partitions;
// use MakeRangePartitioner(result)->partitions(). An empty sample yields no
// split points (one partition). InvalidArgument unless r >= 1.
StatusOr<std::vector<std::string>> ChooseSplitPoints(
    std::vector<std::string> sample, int r);

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_PARTITIONER_H_
