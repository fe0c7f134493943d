// Reduce side of the shuffle: collect one partition's sorted segment from
// every map output, then merge them into (key, values) groups in key order.
//
//   ReduceMerger merger({.tmp_dir = attempt_dir, .memory_budget_bytes = 256 <<
//   20}); for (const MapOutputInfo& m : map_outputs) {
//     const SegmentInfo& s = m.partitions[partition];
//     ASSIGN_OR_RETURN(auto src, OpenLocalSegment(m.data_path, s.offset,
//     s.length)); RETURN_IF_ERROR(merger.Add(std::move(src), s.records,
//     s.crc));
//   }
//   RETURN_IF_ERROR(merger.Run([&](std::string_view key, ValueIterator& values)
//   {
//     std::string_view v;
//     while (values.Next(&v)) { ... }
//     return values.status();
//   }));
//
// Memory: Add keeps segments in memory while their total size is within
// memory_budget_bytes; a segment that would exceed it goes to one temporary
// file in tmp_dir (created and unlinked at once, so it never outlives the
// merger, even after a crash), bytes copied as they are. Run then reads each
// on-disk segment through a fixed buffer of read_buffer_bytes: peak memory
// is about budget + (on-disk segments) x read_buffer_bytes, plus the largest
// record.
//
// Integrity: Add verifies every segment as it reads it — record structure,
// record count and CRC-32 against the map side's SegmentInfo — so Run only
// ever sees verified data (the temporary file is checked again as it is
// read back).
//
// Thread-safety: a ReduceMerger is used by one thread at a time.
#ifndef TASKGRID_SHUFFLE_MERGE_H_
#define TASKGRID_SHUFFLE_MERGE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shuffle/segment_source.h"
#include "taskgrid/status.h"

namespace taskgrid::shuffle {

namespace internal {
class GroupMerger;
class FileWriter;
}  // namespace internal

// The values of one key, in order: segment add order, then record order
// within a segment. Streams them: a group may be larger than memory.
class ValueIterator {
 public:
  // True and *value set (valid until the next call) if there is another
  // value; false at the end of the group or on an error (see status()).
  bool Next(std::string_view* value);
  // OK, or the error that ended the iteration early (an I/O error reading
  // a temporary file). Run returns it as well.
  const Status& status() const { return status_; }

 private:
  friend class ReduceMerger;
  explicit ValueIterator(internal::GroupMerger* merger) : merger_(merger) {}
  internal::GroupMerger* merger_;
  Status status_;
};

// Called once per distinct key, in byte order of keys. `key` is valid during
// the call. Values the function does not read are skipped.
using GroupFn =
    std::function<Status(std::string_view key, ValueIterator& values)>;

struct ReduceMergerOptions {
  // Where the temporary file goes; must exist.
  std::string tmp_dir;
  // Total size of the segments kept in memory.
  size_t memory_budget_bytes = 64 << 20;
  // Read buffer of each on-disk segment during Run (>= 4 KiB).
  size_t read_buffer_bytes = 64 << 10;
};

class ReduceMerger {
 public:
  explicit ReduceMerger(ReduceMergerOptions options);
  ~ReduceMerger();
  ReduceMerger(const ReduceMerger&) = delete;
  ReduceMerger& operator=(const ReduceMerger&) = delete;

  // Reads `source` to its end, keeping the segment in memory or in the
  // temporary file (see above). DataLoss naming the source if its data is
  // truncated or malformed or its record count or CRC-32 differ from the
  // expected ones; the source's own errors prefixed with its name; an I/O
  // error on the temporary file (ResourceExhausted for a full disk). On
  // any error the segment is not added and the merger is unchanged, so the
  // caller may fetch the segment again (from another attempt) and retry.
  // FailedPrecondition after Run.
  Status Add(std::unique_ptr<SegmentSource> source, uint64_t expected_records,
             uint32_t expected_crc);

  // Merges all added segments, calling `fn` once per distinct key. Stops at
  // the first error, from `fn` or from reading, and returns it. Call once
  // (FailedPrecondition after).
  Status Run(const GroupFn& fn);

  // Statistics.
  int segments_in_memory() const { return in_memory_; }
  int segments_on_disk() const { return on_disk_; }
  uint64_t bytes_in_memory() const { return bytes_in_memory_; }
  uint64_t bytes_on_disk() const { return bytes_on_disk_; }

 private:
  struct Segment;
  class MemoryCursor;
  class DiskCursor;

  const ReduceMergerOptions options_;
  std::vector<Segment> segments_;              // in add order
  std::unique_ptr<internal::FileWriter> tmp_;  // created on first use
  int in_memory_ = 0;
  int on_disk_ = 0;
  uint64_t bytes_in_memory_ = 0;
  uint64_t bytes_on_disk_ = 0;
  bool ran_ = false;
};

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_MERGE_H_
