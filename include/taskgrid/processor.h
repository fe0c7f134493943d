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
};

struct TaskResult {
  int64_t task_id = 0;
  std::string stage;
  std::string result;
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
  virtual StatusOr<std::string> OutputPath(std::string_view name);

  // Task counts at the time of the call.
  virtual int64_t succeeded_tasks() const = 0;
  virtual int64_t dead_tasks() const = 0;

  // Calls `fn` for every succeeded non-reduce task, in task-id order,
  // streaming from the state store (bounded memory whatever the job's size).
  virtual Status ForEachResult(
      const std::function<void(const TaskResult&)>& fn) = 0;
  // Convenience: all results at once.
  StatusOr<std::vector<TaskResult>> Results();

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
    ModelBit(Model::kMap) | ModelBit(Model::kMapReduce);

class Processor {
 public:
  virtual ~Processor() = default;
  // The models this processor may run under; ParseJobSpec rejects others.
  virtual ModelSet models() const { return kAllModels; }
  // Runs one task attempt.
  virtual Status Process(TaskContext& ctx) = 0;
  // mapreduce only: runs once after every map task succeeded.
  virtual Status Reduce(JobContext& ctx);
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
