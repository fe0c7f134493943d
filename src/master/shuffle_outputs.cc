#include "master/shuffle_outputs.h"

#include <utility>

#include "core/status_macros.h"
#include "master/job_tracker.h"

namespace taskgrid {

Status ShuffleOutputs::Load(StateStore* store, int64_t job_id) {
  Status bad;
  RETURN_IF_ERROR(store->ForEachResult(
      job_id, kReduceStage,
      [&](int64_t id, const std::string&, const std::string& result) {
        auto ref = Decode(id, result);
        if (ref.ok()) {
          outputs_[id] = *std::move(ref);
        } else if (bad.ok()) {
          bad = ref.status();
        }
      }));
  return bad;
}

StatusOr<shuffle::MapOutputRef> ShuffleOutputs::Decode(
    int64_t task_id, const std::string& result) const {
  auto ref = shuffle::DecodeMapResult(result);
  if (!ref.ok()) {
    return ref.status().WithPrefix("map task " + std::to_string(task_id));
  }
  if (static_cast<int>(ref->info.partitions.size()) != partitions_) {
    return DataLossError("map task " + std::to_string(task_id) +
                         ": its output has " +
                         std::to_string(ref->info.partitions.size()) +
                         " partitions, the job " + std::to_string(partitions_));
  }
  return ref;
}

void ShuffleOutputs::Set(int64_t task_id, shuffle::MapOutputRef ref) {
  outputs_[task_id] = std::move(ref);
}

std::vector<ShuffleInput> ShuffleOutputs::InputsFor(int p) const {
  std::vector<ShuffleInput> out;
  if (p < 0 || p >= partitions_) return out;
  out.reserve(outputs_.size());
  for (const auto& [id, ref] : outputs_) {
    const shuffle::SegmentInfo& s = ref.info.partitions[p];
    if (s.length == 0) continue;  // nothing to fetch
    out.push_back(ShuffleInput{id, ref.address, ref.info.data_path, s.offset,
                               s.length, s.records, s.crc});
  }
  return out;
}

const std::string* ShuffleOutputs::WorkerOf(int64_t task_id) const {
  auto it = outputs_.find(task_id);
  return it == outputs_.end() ? nullptr : &it->second.worker;
}

std::vector<int64_t> ShuffleOutputs::HeldBy(const std::string& worker) const {
  std::vector<int64_t> out;
  for (const auto& [id, ref] : outputs_) {
    if (ref.worker == worker) out.push_back(id);
  }
  return out;
}

}  // namespace taskgrid
