// The worker's side of a shuffle job (model shuffle, DESIGN.md §2).
//
// A map attempt's records (TaskContext::Emit) go through a MapOutputWriter
// into DATA_DIR/shuffle/job-J/map-T-aA/; on success the output is finished
// (fsynced, renamed) and the attempt reports a MapOutputRef as its result;
// on failure the directory is removed. A reduce attempt gets its partition's
// segments in its TaskAssignment (shuffle_inputs) and opens each from the
// local disk or, as tg://ADDRESS/PATH, from the producing worker's data
// service (through the process's remote opener, io/read_stream.h).
//
// ShuffleTaskContext is what a shuffle task's TaskContext offers beyond the
// public interface: the built-in sort writes and reads its partitions in
// its own format through it (AsShuffleContext).
//
// Thread-safety: one attempt is used by its slot thread only.
#ifndef TASKGRID_WORKER_SHUFFLE_TASK_H_
#define TASKGRID_WORKER_SHUFFLE_TASK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/read_stream.h"
#include "rpc/messages.h"
#include "shuffle/map_output.h"
#include "shuffle/partitioner.h"
#include "shuffle/segment_source.h"
#include "taskgrid/processor.h"

namespace taskgrid {

class ShuffleTaskContext {
 public:
  virtual ~ShuffleTaskContext() = default;
  // False for a task of another model (the worker's one context class
  // implements both interfaces).
  virtual bool is_shuffle() const = 0;
  virtual const JobDefinition& definition() const = 0;

  // Map: this attempt's own directory for map output files, and how the
  // attempt records an output it wrote itself (instead of Emit).
  virtual StatusOr<std::string> MapOutputDir() = 0;
  virtual void SetMapOutput(shuffle::MapOutputInfo info) = 0;

  // Reduce: the partition number (the task's payload), its segment of
  // every map output, and a scratch directory removed after the attempt.
  virtual int partition() const = 0;
  virtual const std::vector<ShuffleInput>& inputs() const = 0;
  virtual StatusOr<std::unique_ptr<shuffle::SegmentSource>> OpenInput(
      const ShuffleInput& in) = 0;
  virtual StatusOr<std::string> ScratchDir() = 0;
  // The attempt fails because map task `map_task_id`'s output cannot be
  // read (its worker is gone, the file is missing or corrupt): the master
  // makes it again before the reduce retries.
  virtual void ReportLostInput(int64_t map_task_id) = 0;
};

// The shuffle side of `ctx`, or nullptr if it is not a shuffle task.
ShuffleTaskContext* AsShuffleContext(TaskContext& ctx);

// Whether a failure to open or read a map output means the output is lost
// (its worker gone, the file missing or corrupt) rather than a problem of
// the reading attempt itself (cancelled, out of disk or memory).
bool IsLostInput(const Status& s);

struct ShuffleEnv {
  std::string data_dir;      // map outputs go under DATA_DIR/shuffle
  std::string worker_id;     // recorded in each map output
  std::string data_address;  // this worker's data service ("" = none)
};

// One shuffle attempt's state; the worker's TaskContext forwards to it.
class ShuffleAttempt {
 public:
  ShuffleAttempt(const TaskAssignment& a, const JobDefinition& def,
                 const ShuffleEnv& env,
                 std::shared_ptr<const shuffle::Partitioner> partitioner,
                 ShuffleProcessor* processor);
  ~ShuffleAttempt();  // removes the scratch directory

  bool is_reduce() const { return reduce_; }
  Status Emit(std::string_view key, std::string_view value);
  StatusOr<std::string> MapOutputDir();
  void SetMapOutput(shuffle::MapOutputInfo info);
  // A map attempt that succeeded: finishes its output (an empty one if it
  // emitted nothing) and returns the result to report.
  StatusOr<std::string> FinishMap();
  // A failed attempt: removes what it wrote.
  void Discard();
  int partition() const { return partition_; }
  StatusOr<std::unique_ptr<shuffle::SegmentSource>> OpenInput(
      const ShuffleInput& in);
  StatusOr<std::string> ScratchDir();
  void ReportLostInput(int64_t map_task_id) { lost_.push_back(map_task_id); }
  std::vector<int64_t>& lost_inputs() { return lost_; }

 private:
  Status EnsureWriter();

  const TaskAssignment& a_;
  const JobDefinition& def_;
  const ShuffleEnv& env_;
  const std::shared_ptr<const shuffle::Partitioner> partitioner_;
  ShuffleProcessor* const processor_;  // for its combiner; may be null
  const bool reduce_;
  int partition_ = -1;
  std::string dir_;      // the map output directory, once created
  std::string scratch_;  // the reduce scratch directory, once created
  std::unique_ptr<shuffle::MapOutputWriter> writer_;
  std::optional<shuffle::MapOutputInfo> output_;  // set by SetMapOutput
  std::vector<int64_t> lost_;                     // ReportLostInput
};

// DATA_DIR/shuffle/job-J: every map output and reduce scratch directory of
// job J on this worker.
std::string ShuffleJobDir(const std::string& data_dir, int64_t job_id);
// The jobs with a directory DATA_DIR/shuffle/job-J (a real directory, not a
// symlink), in increasing order. Also removes what DetachShuffleJob left
// behind (a crash between its rename and removal).
std::vector<int64_t> ShuffleJobsOnDisk(const std::string& data_dir);
// Moves job J's directory aside (one rename, so no new attempt of the job
// can find or write into it from then on) and returns the new name, to be
// removed with RemoveShuffleTree outside any lock; "" if there is none.
std::string DetachShuffleJob(const std::string& data_dir, int64_t job_id);
// Removes a tree recursively without following symlinks (a link is
// removed, never what it points to). Errors are ignored: what is left is
// retried by the next ShuffleJobsOnDisk.
void RemoveShuffleTree(const std::string& path);

// The partitioner of a shuffle job (range if it has split points, else
// hash), InvalidArgument for a bad definition.
StatusOr<std::shared_ptr<const shuffle::Partitioner>> MakeJobPartitioner(
    const JobDefinition& def);

}  // namespace taskgrid

#endif  // TASKGRID_WORKER_SHUFFLE_TASK_H_
