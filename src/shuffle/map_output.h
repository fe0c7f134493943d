// Map output: what a map task leaves on its worker's local disk for the
// reduce tasks to fetch — one data file holding R sorted partitions back to
// back, and a small index.
//
//   auto part = MakeHashPartitioner(r);
//   ASSIGN_OR_RETURN(auto w, MapOutputWriter::Create({
//       .dir = attempt_dir, .file_stem = "map-17", .partitioner = part->get(),
//       .memory_budget_bytes = 64 << 20, .combiner = nullptr}));
//   for (...) RETURN_IF_ERROR(w->Emit(key, value));
//   ASSIGN_OR_RETURN(MapOutputInfo info, w->Finish());
//   report(info.Serialize());   // the task's small result, via the master
//
// Data file DIR/STEM.data: for p = 0..R-1, partition p's segment, which is
// a sequence of records sorted by key (bytes compared unsigned; equal keys
// in emit order, or merged into one by the combiner):
//
//   record  := varint32(key length) varint32(value length) key value
//
// (varints as in protobuf: 7 bits a byte, low bits first). Keys and values
// are arbitrary bytes, up to 2^32 - 1 each. A partition with no records is
// an empty segment.
//
// Index file DIR/STEM.index (all integers little-endian or varint):
//
//   "TGSI"  varint(version = 1)  varint(R)
//   R x { varint(offset) varint(length) varint(records) fixed32(crc) }
//   fixed32(CRC-32 of every preceding byte of the index)
//
// where offset/length locate the segment in the data file (offset of
// partition 0 is 0, each next one starts where the previous ends, so the
// data file's size is the sum of the lengths) and crc is the CRC-32 (zlib's
// crc32, the gzip polynomial) of the segment's bytes.
//
// Commit protocol: both files are written under temporary names
// (STEM.data.tmp, STEM.index.tmp), fsynced, then renamed — the data file
// first, the index last — and the directory is fsynced. So a present index
// means a complete output, and a crash never leaves a partial file under a
// final name. Spill files (STEM.spill-N) live in DIR while the writer runs
// and are removed by Finish or by the destructor.
//
// MapOutputInfo::Serialize() travels from the worker to the master and on
// to the reduce tasks:
//
//   "TGMO"  varint(version = 1)  varint(len) data_path  varint(len)
//   index_path  varint(R)  R x { same as in the index }
//   fixed32(CRC-32 of every preceding byte)
//
// Thread-safety: a MapOutputWriter is used by one thread at a time;
// MapOutputInfo is a value.
#ifndef TASKGRID_SHUFFLE_MAP_OUTPUT_H_
#define TASKGRID_SHUFFLE_MAP_OUTPUT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shuffle/partitioner.h"
#include "taskgrid/status.h"

namespace taskgrid::shuffle {

// Where one partition's segment lies in a map output data file.
struct SegmentInfo {
  uint64_t offset = 0;   // in the data file
  uint64_t length = 0;   // bytes
  uint64_t records = 0;  // records in the segment
  uint32_t crc = 0;      // CRC-32 of the segment's bytes
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

// The result of a map task's output: its files and one SegmentInfo per
// partition (partitions.size() == R).
struct MapOutputInfo {
  std::string data_path;
  std::string index_path;
  std::vector<SegmentInfo> partitions;

  // The compact binary encoding described above (tens of bytes for a
  // handful of partitions).
  std::string Serialize() const;
  // DataLoss if `bytes` is not a valid encoding (bad magic, unknown
  // version, truncated, checksum mismatch, segments not back to back).
  static StatusOr<MapOutputInfo> Parse(std::string_view bytes);

  friend bool operator==(const MapOutputInfo&, const MapOutputInfo&) = default;
};

// Reads an index file (how a worker's data service finds partition p of a
// map output it holds). NotFound if missing; DataLoss naming the file if it
// is not a valid index.
StatusOr<std::vector<SegmentInfo>> ReadMapOutputIndex(
    const std::string& index_path);

// Merges the values of one key into one value. Called with two or more
// values (never one), in emit order; it may be called again on its own
// outputs (on each spill, then while merging spills), so it must be
// associative: f(k, [f(k, [a, b]), c]) == f(k, [a, b, c]). An exception
// thrown by it fails the Emit or Finish that called it with Unknown.
using Combiner = std::function<std::string(
    std::string_view key, const std::vector<std::string_view>& values)>;

struct MapOutputOptions {
  // Directory of the output, spill and temporary files; must exist.
  std::string dir;
  // Files are DIR/STEM.data and DIR/STEM.index. A plain file name.
  std::string file_stem;
  // Borrowed; must outlive the writer.
  const Partitioner* partitioner = nullptr;
  // Bytes of buffered records (key + value + 32 bytes of bookkeeping a
  // record) before the buffer is sorted and spilled. Memory in use stays
  // near this (plus a 1 MiB write buffer; while merging spills, a read
  // buffer of budget / spills, clamped to [4 KiB, 1 MiB], per spill merged,
  // at most 32 spills at a time).
  size_t memory_budget_bytes = 64 << 20;
  // Optional (empty: none).
  Combiner combiner;
};

class MapOutputWriter {
 public:
  // InvalidArgument for a missing partitioner, an empty or non-plain
  // file_stem, or a zero budget; NotFound if dir does not exist.
  static StatusOr<std::unique_ptr<MapOutputWriter>> Create(
      MapOutputOptions options);
  // Removes spill and temporary files (and nothing else: a finished
  // output stays).
  ~MapOutputWriter();
  MapOutputWriter(const MapOutputWriter&) = delete;
  MapOutputWriter& operator=(const MapOutputWriter&) = delete;

  // Buffers one record; when the buffer exceeds the budget, sorts it by
  // (partition, key), combines, and writes it to a spill file.
  // InvalidArgument if the key or value is 2^32 bytes or longer or the
  // partitioner returns a partition out of range (the record is not
  // added). An I/O error names the file (ResourceExhausted for a full
  // disk) and is sticky: every later Emit or Finish returns it again.
  // After Finish, FailedPrecondition.
  Status Emit(std::string_view key, std::string_view value);

  // Writes the output files as described above — the buffer directly if
  // nothing was spilled, else a merge of the spills and the buffer
  // (combining again) — and removes the spill files. Call once.
  StatusOr<MapOutputInfo> Finish();

  // Statistics: records passed to Emit, spill files written so far
  // (including intermediate merges of spills).
  uint64_t records_emitted() const { return records_emitted_; }
  int spills() const { return spill_count_; }

 private:
  struct Entry;
  struct Run;
  class BufferCursor;
  class RunCursor;
  class FinalFiles;

  explicit MapOutputWriter(MapOutputOptions options);

  Status SortBuffer();  // sorts entries_ by (partition, key), stable
  void ClearBuffer();
  Status Spill();
  // Writes the sorted buffer, combined, to `path` as a run.
  StatusOr<std::vector<SegmentInfo>> WriteBuffer(const std::string& path,
                                                 bool sync);
  // Merges runs_[begin, end) (and the sorted buffer, after them, if
  // `with_buffer`) into `path`.
  StatusOr<std::vector<SegmentInfo>> MergeRuns(size_t begin, size_t end,
                                               bool with_buffer,
                                               const std::string& path,
                                               bool sync);
  Status CallCombiner(std::string_view key,
                      const std::vector<std::string_view>& values,
                      std::string* out);
  std::string SpillPath();
  void RemoveSpills();

  // Constant after construction.
  const MapOutputOptions options_;
  const int r_;

  // The buffer: records in emit order, key and value bytes in arena blocks.
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_size_ = 0;
  size_t block_used_ = 0;
  size_t buffered_bytes_ = 0;

  std::vector<Run> runs_;  // spills, oldest first
  int spill_count_ = 0;
  uint64_t records_emitted_ = 0;
  bool finished_ = false;
  Status status_;  // sticky error
};

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_MAP_OUTPUT_H_
