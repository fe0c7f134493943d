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

}  // namespace taskgrid
