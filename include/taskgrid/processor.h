// Processors: the user code a job runs, registered by name.
//
//   class PageScan : public taskgrid::MapReduceProcessor {
//    public:
//     taskgrid::Status Process(taskgrid::TaskContext& ctx) override {
//       if (ctx.stage() == "root") { ctx.Map({"0,100", "100,200"}, "page"); }
//       else { ctx.SetResult("42"); }
//       return taskgrid::OkStatus();
//     }
//     taskgrid::Status Reduce(taskgrid::JobContext& ctx) override { ... }
//   };
//   TASKGRID_REGISTER_PROCESSOR("pagescan", PageScan);
//
// Lifecycle and threading: a worker slot creates one instance per job and
// calls Process() on it sequentially (never concurrently on one instance);
// distinct slots have distinct instances. Reduce() and PostProcess() run
// once per job in the master, on an instance of their own. A processor may
// fail an attempt by returning a non-OK Status or by throwing; either way the
// message lands in the task's log and error, and the process carries on.
#ifndef TASKGRID_PROCESSOR_H_
#define TASKGRID_PROCESSOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/job_spec.h"
#include "taskgrid/params.h"
#include "taskgrid/status.h"

namespace taskgrid {

enum class LogLevel { kInfo, kWarn, kError };

// What a running task sees. Implemented by the worker; valid only during the
// Process() call it is passed to. Thread-safety: Log(), cancelled() and
// SleepFor() may be called from threads the processor starts; the rest only
// from the calling thread.
class TaskContext {
 public:
  virtual ~TaskContext() = default;

  virtual int64_t job_id() const = 0;
  virtual int64_t task_id() const = 0;
  // Stage name: "root", "map" (first-level input tasks), "broadcast", or the
  // name given to Map().
  virtual const std::string& stage() const = 0;
  virtual const std::string& payload() const = 0;
  virtual int attempt() const = 0;  // 1 for the first attempt
  virtual const Params& params() const = 0;
  virtual const std::string& worker_id() const = 0;
  virtual const std::string& output_dir() const = 0;  // spec.output

  // Where to write output file `name` (a plain file name, e.g. "part-00003"):
  // a path in this attempt's private directory. The files there become
  // visible in the job's output directory only if this attempt succeeds and
  // is the one recorded, and only when the whole job succeeds (exactly
  // once, each by an atomic rename). FailedPrecondition if the job has no
  // `output`; InvalidArgument for a name with '/' or starting with '_'/'.'.
  virtual StatusOr<std::string> OutputPath(std::string_view name);

  // Appends a line to this attempt's log.
  virtual void Log(LogLevel level, std::string_view line) = 0;
  void Log(std::string_view line) { Log(LogLevel::kInfo, line); }

  // True once the attempt is cancelled (timeout, job cancel, shutdown).
  // Long-running processors should poll it and return early.
  virtual bool cancelled() const = 0;
  // Sleeps up to `d`; returns false early if the attempt is cancelled.
  virtual bool SleepFor(std::chrono::milliseconds d) = 0;

  // Sets this task's small result (replaces any earlier one). Results are
  // kept in the state store and handed to Reduce().
  virtual void SetResult(std::string result) = 0;

  // Fans out one subtask per payload, in stage `stage`. May be called several
  // times and from any level. The subtasks are created atomically with this
  // task's success: if the attempt fails, they are discarded. Only
  // processors running under the map or mapreduce model may call it;
  // elsewhere it throws std::logic_error.
  virtual void Map(std::vector<std::string> payloads,
                   std::string_view stage) = 0;

  // Shuffle map tasks only: adds a keyed record to the shuffle. Records are
  // partitioned (by hash of the key, or by the job's range split points),
  // sorted and spilled to the worker's data directory within the job's
  // memory budget; they reach the reduce tasks only if this attempt
  // succeeds. Elsewhere throws std::logic_error. Keys and values are bytes.
  virtual void Emit(std::string_view key, std::string_view value);
};

// The values of one key in a shuffle reduce, in the order the map tasks
// emitted them (map task by map task). Valid during the ReduceKey call.
class ValueReader {
 public:
  virtual ~ValueReader() = default;
  // False once the key's values are exhausted.
  virtual bool Next(std::string_view* value) = 0;
};

struct TaskResult {
  int64_t task_id = 0;
  std::string stage;
  std::string result;
};

struct TaskInput {
  int64_t task_id = 0;
  std::string stage;
  std::string payload;
};

// What Reduce() and PostProcess() see, in the master. Valid only during the
// call it is passed to; used from the calling thread only.
class JobContext {
 public:
  virtual ~JobContext() = default;

  virtual int64_t job_id() const = 0;
  virtual const std::string& job_name() const = 0;
  virtual const Params& params() const = 0;
  virtual const std::string& output_dir() const = 0;
  // As TaskContext::OutputPath; in Reduce() only (the reduce task's files
  // are committed with everyone else's), FailedPrecondition elsewhere.
  // In a Reduce started early (Processor::reduces_early) it waits until
  // every map task is terminal, and returns Aborted if the run is abandoned.
  virtual StatusOr<std::string> OutputPath(std::string_view name);

  // Task counts at the time of the call (in a Reduce started early: once
  // every map task is terminal, which they wait for).
  virtual int64_t succeeded_tasks() const = 0;
  virtual int64_t dead_tasks() const = 0;

  // Calls `fn` for every succeeded non-reduce task, in task-id order,
  // streaming from the state store (bounded memory whatever the job's size).
  // In a Reduce started early (Processor::reduces_early), the first call
  // instead yields each result as its task succeeds, in that order, while
  // the maps run, and returns once every map task is terminal; Aborted
  // (after yielding some results) if the run is abandoned.
  virtual Status ForEachResult(
      const std::function<void(const TaskResult&)>& fn) = 0;
  // Convenience: all results at once.
  StatusOr<std::vector<TaskResult>> Results();
  // Calls `fn` for every non-reduce task of the job that exists at the time
  // of the call, whatever its state, in task-id order, streaming from the
  // state store: where ForEachResult's results will come from, so that a
  // reduce can plan (e.g. merge a key's results once it has them all).
  // Unimplemented in contexts that do not override it.
  virtual Status ForEachTask(const std::function<void(const TaskInput&)>& fn);

  virtual void Log(LogLevel level, std::string_view line) = 0;
  void Log(std::string_view line) { Log(LogLevel::kInfo, line); }
  virtual bool cancelled() const = 0;
  // Sets the job's result (the reduce task's result).
  virtual void SetResult(std::string result) = 0;
};

// Which execution models a processor supports (a bit set of Model).
using ModelSet = unsigned;
constexpr ModelSet ModelBit(Model m) { return 1u << static_cast<unsigned>(m); }
constexpr ModelSet kAllModels =
    ModelBit(Model::kStandalone) | ModelBit(Model::kBroadcast) |
    ModelBit(Model::kMap) | ModelBit(Model::kMapReduce);  // not shuffle

class Processor {
 public:
  virtual ~Processor() = default;
  // The models this processor may run under; ParseJobSpec rejects others.
  virtual ModelSet models() const { return kAllModels; }
  // Runs one task attempt.
  virtual Status Process(TaskContext& ctx) = 0;
  // mapreduce only: runs once after every map task succeeded.
  virtual Status Reduce(JobContext& ctx);
  // mapreduce only, opt-in: true lets the master start Reduce() with the
  // job, on its first run, so that merging the results overlaps the maps
  // (as Hadoop's reduce slow-start). ctx.ForEachResult then streams the
  // results as the map tasks succeed (not in task-id order); the reduce
  // attempt is recorded as beginning once they are all terminal. If they
  // do not all succeed, or the job stops first, the run is abandoned
  // without a record (ForEachResult and OutputPath return Aborted), and
  // Reduce() runs again, from the state store, whenever the maps are
  // complete. Return true only if Reduce() does not depend on the
  // results' order and has no effect outside its JobContext before
  // ForEachResult returns OK. Retries and resumed or rerun jobs read the
  // store in task-id order, as without it.
  virtual bool reduces_early() const { return false; }
  // Runs once after every task (and the reduce) has finished, whatever the
  // outcome; for clean-up and final reporting.
  virtual Status PostProcess(JobContext& ctx);
};

class StandaloneProcessor : public Processor {
 public:
  ModelSet models() const override { return ModelBit(Model::kStandalone); }
};

class BroadcastProcessor : public Processor {
 public:
  ModelSet models() const override { return ModelBit(Model::kBroadcast); }
};

class MapProcessor : public Processor {
 public:
  ModelSet models() const override { return ModelBit(Model::kMap); }
};

class MapReduceProcessor : public Processor {
 public:
  ModelSet models() const override { return ModelBit(Model::kMapReduce); }
  Status Reduce(JobContext& ctx) override = 0;
};

// The shuffle model: map tasks (one per input) call ctx.Emit(key, value);
// then `partitions` reduce tasks (stage "reduce", payload the partition
// number "0".."R-1") each fetch their partition from every map output
// (from disk, or from the producing worker's data service), merge them and
// call ReduceKey once per key, in byte order of keys. A reduce task writes
// its output with ctx.OutputPath("part-NNNNN"), committed exactly once.
//
//   class WordCount : public taskgrid::ShuffleProcessor {
//     Status Process(TaskContext& ctx) override {   // map
//       for (each word) ctx.Emit(word, "1");
//     }
//     Status ReduceKey(TaskContext& ctx, std::string_view word,
//                      ValueReader& counts) override { ... }
//   };
class ShuffleProcessor : public Processor {
 public:
  ModelSet models() const override { return ModelBit(Model::kShuffle); }

  // Reduce side. BeginPartition and EndPartition bracket the keys of one
  // reduce task (open and close its output file there).
  virtual Status BeginPartition(TaskContext& ctx);
  virtual Status ReduceKey(TaskContext& ctx, std::string_view key,
                           ValueReader& values) = 0;
  virtual Status EndPartition(TaskContext& ctx);

  // Optional map-side combiner: merges two or more values of one key into
  // one, before spilling. Must be associative (it may be applied again to
  // its own outputs). Called only if has_combiner().
  virtual bool has_combiner() const { return false; }
  virtual std::string Combine(std::string_view key,
                              const std::vector<std::string_view>& values);

  // Range partitioning: called once at submit with the job's input files
  // (after glob expansion); returns partitions - 1 strictly increasing
  // split points (partition i gets keys in [split[i-1], split[i])), or an
  // empty vector for hash partitioning (the default).
  virtual StatusOr<std::vector<std::string>> ChooseSplitPoints(
      const std::vector<std::string>& input_files, const Params& params,
      int partitions);

  // Runs one reduce task: merges the partition's segments and calls the
  // three functions above. Processors with their own record format (the
  // built-in sort) replace it; see src/worker/shuffle_task.h.
  virtual Status ReducePartition(TaskContext& ctx);
};

using ProcessorFactory = std::function<std::unique_ptr<Processor>()>;

// Name -> factory. Thread-safety: all methods may be called concurrently.
class ProcessorRegistry {
 public:
  // The process-wide registry, with the built-in processors (noop, sleep,
  // shell) already registered.
  static ProcessorRegistry& Global();

  // AlreadyExists if `name` is taken; InvalidArgument for an empty name.
  Status Register(std::string name, ProcessorFactory factory);
  // nullptr if `name` is not registered.
  std::unique_ptr<Processor> Create(std::string_view name) const;
  bool Contains(std::string_view name) const;
  std::vector<std::string> Names() const;

  ProcessorRegistry();
  ~ProcessorRegistry();
  ProcessorRegistry(const ProcessorRegistry&) = delete;
  ProcessorRegistry& operator=(const ProcessorRegistry&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace internal {
struct ProcessorRegistrar {
  ProcessorRegistrar(const char* name, ProcessorFactory factory);
};
}  // namespace internal

#define TASKGRID_INTERNAL_CONCAT2(a, b) a##b
#define TASKGRID_INTERNAL_CONCAT(a, b) TASKGRID_INTERNAL_CONCAT2(a, b)

// Registers `Class` (default-constructible) under `name` at static
// initialization. Use it in a file linked into your executable (not into a
// static library that nothing else references: the linker would drop it).
#define TASKGRID_REGISTER_PROCESSOR(name, Class)                            \
  static ::taskgrid::internal::ProcessorRegistrar TASKGRID_INTERNAL_CONCAT( \
      tg_processor_registrar_, __COUNTER__)(                                \
      name, [] { return std::unique_ptr<::taskgrid::Processor>(new Class); })

}  // namespace taskgrid

#endif  // TASKGRID_PROCESSOR_H_
