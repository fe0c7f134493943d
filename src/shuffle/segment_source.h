// SegmentSource: the bytes of one sorted segment of a map output (one
// partition of one map task), read in chunks by the reduce side. A local
// file range today (OpenLocalSegment); the remote fetch from another
// worker's data service implements the same interface.
//
// Thread-safety: a source is used by one thread at a time.
#ifndef TASKGRID_SHUFFLE_SEGMENT_SOURCE_H_
#define TASKGRID_SHUFFLE_SEGMENT_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "taskgrid/status.h"

namespace taskgrid::shuffle {

class SegmentSource {
 public:
  virtual ~SegmentSource() = default;
  // Reads up to `n` bytes into `buf`; returns 0 only at the end of the
  // segment (or when n == 0). A source that knows the segment's length
  // returns DataLoss when the underlying data ends before it; the merger
  // also detects truncation by record count and checksum. Any error ends
  // the segment: the caller does not call Read again.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // What this source reads, for error messages, e.g. "dir/m-3.data@1024+512"
  // or "worker-7:map-3/partition-2".
  virtual const std::string& name() const = 0;
};

// Bytes [offset, offset + length) of a local file, read with pread on a
// file descriptor of its own (the file may be renamed or unlinked after
// this returns). NotFound / PermissionDenied if it cannot be opened;
// Read returns DataLoss if the file is shorter than offset + length,
// Internal on an I/O error. The name is "path@offset+length".
StatusOr<std::unique_ptr<SegmentSource>> OpenLocalSegment(
    const std::string& path, uint64_t offset, uint64_t length);

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_SEGMENT_SOURCE_H_
