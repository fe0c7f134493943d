// wordcount: the shuffle model's word count. Words are runs of bytes other
// than ASCII whitespace (space, \t, \n, \v, \f, \r), in input files of any
// supported encoding. Output: `word<TAB>count` lines sorted by word in byte
// order, in part-00000 .. part-R-1 whose concatenation is globally sorted
// (range partitioning on split points sampled from the inputs at submit).
//
// Map tasks count words in memory (an in-mapper combiner) and emit each
// distinct word with its count when the table reaches a quarter of the
// job's memory budget and at the end; the combiner sums counts again
// before spills. Under model mapreduce the same processor sends each map
// task's counts through the master as its result and Reduce merges them
// into part-00000 (for comparing the two models).
#ifndef TASKGRID_PROCESSORS_WORDCOUNT_H_
#define TASKGRID_PROCESSORS_WORDCOUNT_H_

#include <memory>

#include "taskgrid/processor.h"

namespace taskgrid {
std::unique_ptr<Processor> NewWordCountProcessor();
}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_WORDCOUNT_H_
