#include "store/state_store.h"

#include <algorithm>

namespace taskgrid {

StatusOr<int64_t> StateStore::CreateJob(const JobRecord& job,
                                        const std::vector<TaskRecord>& tasks) {
  size_t next = 0;
  return CreateJobFrom(job, [&](size_t max, std::vector<TaskRecord>* out) {
    for (; next < tasks.size() && out->size() < max; ++next) {
      out->push_back(tasks[next]);
    }
    return next < tasks.size();
  });
}

Status StateStore::ForEachOutput(
    int64_t,
    const std::function<void(const OutputRecord&, const std::string&)>&) {
  return UnimplementedError("this state store does not record outputs");
}

std::string_view TaskOrderName(TaskOrder order) {
  switch (order) {
    case TaskOrder::kId:
      return "id";
    case TaskOrder::kDurationDesc:
      return "duration";
    case TaskOrder::kAttemptsDesc:
      return "attempts";
  }
  return "?";
}

std::optional<TaskOrder> ParseTaskOrder(std::string_view name) {
  for (TaskOrder o :
       {TaskOrder::kId, TaskOrder::kDurationDesc, TaskOrder::kAttemptsDesc}) {
    if (TaskOrderName(o) == name) return o;
  }
  return std::nullopt;
}

TaskCounts TotalCounts(const std::vector<StageCounts>& stages) {
  TaskCounts total{};
  for (const StageCounts& s : stages) {
    for (size_t i = 0; i < total.size(); ++i) total[i] += s.counts[i];
  }
  return total;
}

void StageCountsBuilder::Add(std::string stage, TaskState state, int64_t count,
                             int64_t min_id) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.counts.stage == stage;
  });
  if (it == entries_.end()) {
    entries_.push_back(Entry{min_id, StageCounts{std::move(stage), {}}});
    it = entries_.end() - 1;
  }
  it->min_id = std::min(it->min_id, min_id);
  it->counts.counts[static_cast<size_t>(state)] += count;
}

std::vector<StageCounts> StageCountsBuilder::Finish() {
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.min_id < b.min_id; });
  std::vector<StageCounts> out;
  out.reserve(entries_.size());
  for (Entry& e : entries_) out.push_back(std::move(e.counts));
  entries_.clear();
  return out;
}

}  // namespace taskgrid
