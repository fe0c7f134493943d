#include "store/state_store.h"

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

}  // namespace taskgrid
