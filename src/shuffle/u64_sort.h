// The u64 fast path of the shuffle: sorting fixed-width unsigned 64-bit
// keys (e.g. a distributed sort of little-endian u64 files) without the
// generic record format.
//
//   splits = ChooseU64SplitPoints(sample, r)      // r - 1 quantiles
//   map:    ScatterU64(in, n, splits, &parts)     // parts[p]: range p
//   reduce: RadixSortU64(parts[p].data(), size)   // or ExternalSortU64
//
// Partition p holds the values in [splits[p-1], splits[p]) (as the range
// Partitioner does for byte strings), so the sorted partitions
// concatenated are the sorted input.
//
// Thread-safety: the functions are thread-safe on distinct data; they
// keep no state.
#ifndef TASKGRID_SHUFFLE_U64_SORT_H_
#define TASKGRID_SHUFFLE_U64_SORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid::shuffle {

// n u64 (contents unspecified) in anonymous memory advised for transparent
// huge pages (madvise(MADV_HUGEPAGE)) and faulted in at construction
// (MADV_POPULATE_WRITE), falling back to operator new[] if mmap fails.
// Radix passes scatter into hundreds of places at once: huge pages cut
// their TLB misses, and faults taken inside a pass cost more than taking
// them in bulk up front. Used for RadixSortU64's scratch; reduce tasks can
// use it (and reuse it) for the values they sort. Move-only.
class U64Buffer {
 public:
  U64Buffer() = default;
  explicit U64Buffer(size_t n);
  ~U64Buffer();
  U64Buffer(U64Buffer&& other) noexcept;
  U64Buffer& operator=(U64Buffer&& other) noexcept;
  U64Buffer(const U64Buffer&) = delete;
  U64Buffer& operator=(const U64Buffer&) = delete;

  uint64_t* data() const { return data_; }
  size_t size() const { return size_; }
  uint64_t& operator[](size_t i) const { return data_[i]; }
  // Gives the memory of values [begin, begin + n) back to the system
  // (MADV_DONTNEED; whole pages only, none for the operator new[]
  // fallback): what it held is lost; using it again faults in zeroed
  // pages.
  void Discard(size_t begin, size_t n);

 private:
  void Release();
  uint64_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;  // the mapping, if mmap'ed
  size_t map_bytes_ = 0;
};

// Sorts data[0, n) ascending: LSD radix sort with 8-bit digits (8 passes
// at most, plus one pass that builds every digit's histogram at once); a
// digit that is the same for every value is skipped, so data spanning a
// small range (or a range partition, whose top bits are often shared)
// takes fewer passes. Small inputs use std::sort. The first form is
// RadixSortU64InPlace with a scratch of kRadixSortScratchValues that it
// allocates; the second uses the caller's scratch (n values, not
// overlapping data). 8-bit digits: 256 buckets keep the scatter's write
// streams in L1; on 100M random values they beat 11- and 16-bit digits by
// 2x (bench/shuffle_bench.cc).
void RadixSortU64(uint64_t* data, size_t n);
void RadixSortU64(uint64_t* data, size_t n, uint64_t* scratch);

// Sorts data[0, n) ascending in place but for `scratch` (scratch_n values,
// not overlapping data): MSD radix passes on 8-bit digits (American flag
// sort: each value swapped into its bucket, no second buffer), starting
// below the prefix all values share, down to buckets of at most scratch_n
// values, which the LSD sort above finishes with the scratch. Any
// scratch_n works (0: MSD all the way); kRadixSortScratchValues (2 MiB,
// best of 2^14..2^20 on 50M values in bench/shuffle_bench) is what
// RadixSortU64(data, n) allocates. The sort of a large range without a
// second range-sized buffer: fresh memory costs page faults (~1 s per GB
// on our VMs), and on 50M random values the in-place sort is even faster
// than the LSD one with a preallocated scratch (0.41 s against 0.56 s).
inline constexpr size_t kRadixSortScratchValues = size_t{1} << 18;
void RadixSortU64InPlace(uint64_t* data, size_t n, uint64_t* scratch,
                         size_t scratch_n);

// As RadixSortU64 with digits of `digit_bits` bits: 8 (the default), 11 or
// 16; other values mean 8. For benchmarks.
void RadixSortU64WithDigits(uint64_t* data, size_t n, uint64_t* scratch,
                            int digit_bits);

// Up to r - 1 strictly increasing split points: the values at the
// quantiles i/r of the sorted sample, skipping repeats (and 0, which would
// leave partition 0 empty), so a sample with few distinct values yields
// fewer. InvalidArgument unless r >= 1.
StatusOr<std::vector<uint64_t>> ChooseU64SplitPoints(
    std::vector<uint64_t> sample, int r);

// The partition of `x`: the number of split points <= x (splits sorted).
size_t U64Partition(uint64_t x, std::span<const uint64_t> splits);

// Per-partition counts (splits.size() + 1 of them) of in[0, n).
std::vector<size_t> CountU64Partitions(const uint64_t* in, size_t n,
                                       std::span<const uint64_t> splits);

// Writes each value of in[0, n) to *dst[p]++ where p is its partition;
// dst has splits.size() + 1 cursors into buffers the caller sized (e.g.
// from CountU64Partitions). Threads scattering disjoint parts of an input
// into disjoint ranges of the same buffers need no locking.
void ScatterU64(const uint64_t* in, size_t n, std::span<const uint64_t> splits,
                uint64_t** dst);

// Appends each value of in[0, n) to (*out)[partition], resizing *out to
// splits.size() + 1 vectors (counts first, so each grows once).
void ScatterU64(const uint64_t* in, size_t n, std::span<const uint64_t> splits,
                std::vector<std::vector<uint64_t>>* out);

// Scatter to per-partition writers (e.g. files): values are buffered per
// partition (`buffer_values` each) and handed to `sink` in order; the first
// error from `sink` stops the scatter and is returned.
using U64PartitionSink =
    std::function<Status(size_t partition, std::span<const uint64_t> values)>;
Status ScatterU64(const uint64_t* in, size_t n,
                  std::span<const uint64_t> splits,
                  const U64PartitionSink& sink, size_t buffer_values = 8192);

// Reads up to `max` values into `buf`; returns 0 only at the end.
using U64Source = std::function<StatusOr<size_t>(uint64_t* buf, size_t max)>;
// Receives the sorted output in order, in chunks.
using U64Sink = std::function<Status(std::span<const uint64_t> values)>;

struct ExternalSortOptions {
  // Where the run file goes (created and unlinked at once, so it vanishes
  // with the process); must exist.
  std::string tmp_dir;
  // Peak memory of the sort: a budget-sized chunk of values (sorted in
  // place, less a radix scratch of 1/16 of the budget, at most
  // kRadixSortScratchValues) while forming runs, then one budget-sized set
  // of merge buffers. At least 64 KiB is used.
  size_t memory_budget_bytes = 256 << 20;
  // The number of values `source` will give, if known (0: unknown): the
  // chunk is no larger, so a small input takes only the memory it needs
  // (the chunk is faulted in whole when allocated). More values than this
  // are still sorted, in more runs.
  uint64_t expected_values = 0;
};

struct ExternalSortStats {
  uint64_t values = 0;
  int runs = 0;  // runs written; 0: sorted in memory, no file
  uint64_t bytes_written = 0;
};

// The pieces in which ExternalSortU64 hands an in-memory result to its
// sink (32 MiB).
inline constexpr size_t kSinkPieceValues = size_t{4} << 20;

// Sorts the values of `source` (any number) to `sink`: radix-sorts chunks
// (about memory_budget_bytes / 8 values) in place into runs in one
// temporary file, then k-way merges them in one pass. With more than
// budget / 32 KiB runs the merge buffers are floored at 4 KiB each and
// memory exceeds the budget. An input that fits in one chunk is sorted in
// memory (no file) and handed to the sink in pieces of kSinkPieceValues,
// the memory of each piece released once the sink returns: a sink writing
// to a file gets those pages back for the page cache instead of fresh ones.
// Errors from source and sink are returned as they are; I/O errors on the
// temporary file name it (ResourceExhausted for a full disk).
StatusOr<ExternalSortStats> ExternalSortU64(const U64Source& source,
                                            const U64Sink& sink,
                                            const ExternalSortOptions& options);

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_U64_SORT_H_
