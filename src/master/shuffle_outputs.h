// ShuffleOutputs: the master's map of a shuffle job's map outputs — which
// worker holds each succeeded map task's output, and where — from which it
// hands each reduce task its partition's segments at dispatch, and finds
// the outputs lost with a dead worker.
//
// Thread-safety: not thread-safe; the Master serializes calls.
#ifndef TASKGRID_MASTER_SHUFFLE_OUTPUTS_H_
#define TASKGRID_MASTER_SHUFFLE_OUTPUTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rpc/messages.h"
#include "shuffle/map_result.h"
#include "store/state_store.h"

namespace taskgrid {

class ShuffleOutputs {
 public:
  explicit ShuffleOutputs(int partitions) : partitions_(partitions) {}

  // Reads the outputs of the job's succeeded map tasks (a resumed job).
  Status Load(StateStore* store, int64_t job_id);
  // Decodes a map task's result; DataLoss (naming the task) if it is not
  // a map output of this job's partition count.
  StatusOr<shuffle::MapOutputRef> Decode(int64_t task_id,
                                         const std::string& result) const;
  void Set(int64_t task_id, shuffle::MapOutputRef ref);
  void Erase(int64_t task_id) { outputs_.erase(task_id); }
  // Partition `p`'s segment of every map output, in map task id order.
  std::vector<ShuffleInput> InputsFor(int p) const;
  // The worker holding map task `task_id`'s output, or nullptr.
  const std::string* WorkerOf(int64_t task_id) const;
  // The map tasks whose outputs `worker` holds.
  std::vector<int64_t> HeldBy(const std::string& worker) const;

 private:
  const int partitions_;
  std::map<int64_t, shuffle::MapOutputRef> outputs_;
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_SHUFFLE_OUTPUTS_H_
