// MapOutputRef: what a shuffle map task reports as its result — which
// worker holds its output, where that worker's data service answers, and
// the output's files and segments. It travels as the task's small result
// through the master (and the state store) to the reduce tasks.
//
//   "TGMR" varint(len) worker varint(len) address  MapOutputInfo::Serialize()
//
// Thread-safety: values.
#ifndef TASKGRID_SHUFFLE_MAP_RESULT_H_
#define TASKGRID_SHUFFLE_MAP_RESULT_H_

#include <string>
#include <string_view>

#include "shuffle/map_output.h"
#include "taskgrid/status.h"

namespace taskgrid::shuffle {

struct MapOutputRef {
  std::string worker;   // the worker id that ran the map task
  std::string address;  // its data service, "" = local disk (embedded)
  MapOutputInfo info;
};

std::string EncodeMapResult(const MapOutputRef& ref);
// DataLoss if `bytes` is not an encoding of a MapOutputRef.
StatusOr<MapOutputRef> DecodeMapResult(std::string_view bytes);

}  // namespace taskgrid::shuffle

#endif  // TASKGRID_SHUFFLE_MAP_RESULT_H_
