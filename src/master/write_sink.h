// WriteSink: where the master's scheduling logic sends the state changes it
// makes, to be made durable in batches (StoreWriter) or inspected (tests).
#ifndef TASKGRID_MASTER_WRITE_SINK_H_
#define TASKGRID_MASTER_WRITE_SINK_H_

#include "store/state_store.h"

namespace taskgrid {

class WriteSink {
 public:
  virtual ~WriteSink() = default;
  virtual void AddTask(TaskRecord task) = 0;
  // A later update of the same task supersedes an earlier unwritten one.
  virtual void UpdateTask(TaskUpdate update) = 0;
  virtual void AddLog(LogLine line) = 0;
  // The sealed output files of a task's succeeded attempt.
  virtual void AddOutput(OutputRecord output) = 0;
  virtual void SetNextTaskId(int64_t next_id) = 0;
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_WRITE_SINK_H_
