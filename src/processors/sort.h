// sort: the distributed sort of the shuffle model, in Fourinone's three
// phases. params.format:
//   u64    binary files of little-endian unsigned 64-bit integers (a byte
//          range of a file owns the records that start in it, rounded to
//          8 bytes, so any `split: bytes:N` cuts records exactly once);
//   lines  text files, sorted by line in byte order (each output line ends
//          with '\n'; duplicates kept).
// classify: at submit, values (lines) sampled from the inputs choose R-1
// range split points; exchange: map tasks scatter their records into the R
// ranges (u64: raw values, the input read once, no per-record framing, a
// CRC-32 per range); sort: reduce task p checks each segment's length and
// CRC-32 (a short or corrupt one is reported lost, and its map task runs
// again), sorts range p (u64: in-place radix sort in memory, or external
// runs + merge beyond the job's `memory`) and writes part-NNNNN, so the
// parts concatenated in order are globally sorted.
#ifndef TASKGRID_PROCESSORS_SORT_H_
#define TASKGRID_PROCESSORS_SORT_H_

#include <memory>

#include "taskgrid/processor.h"

namespace taskgrid {
std::unique_ptr<Processor> NewSortProcessor();
}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_SORT_H_
