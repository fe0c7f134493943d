#include "processors/builtin.h"

#include <memory>
#include <string>

#include "processors/logstats.h"
#include "processors/shell.h"
#include "processors/sort.h"
#include "processors/wordcount.h"
#include "taskgrid/processor.h"

namespace taskgrid {
namespace {

// Does nothing: measures the framework's own per-task cost.
class NoopProcessor : public Processor {
 public:
  Status Process(TaskContext&) override { return OkStatus(); }
};

// Sleeps params.ms milliseconds (default 100), waking early on cancel.
// params.fail_attempts: fail attempts 1..N (for retry tests and demos).
class SleepProcessor : public Processor {
 public:
  Status Process(TaskContext& ctx) override {
    const int64_t ms = ctx.params().IntOr("ms", 100);
    const int64_t fail_attempts = ctx.params().IntOr("fail_attempts", 0);
    if (!ctx.SleepFor(std::chrono::milliseconds(ms))) {
      return CancelledError("sleep cancelled");
    }
    if (ctx.attempt() <= fail_attempts) {
      return UnavailableError("failing attempt " +
                              std::to_string(ctx.attempt()) +
                              " as params.fail_attempts asks");
    }
    ctx.SetResult(ctx.payload());
    return OkStatus();
  }
};

}  // namespace

void RegisterBuiltinProcessors(ProcessorRegistry& registry) {
  // Registering into a fresh registry cannot collide.
  registry.Register("noop", [] { return std::make_unique<NoopProcessor>(); })
      .IgnoreError();
  registry.Register("sleep", [] { return std::make_unique<SleepProcessor>(); })
      .IgnoreError();
  registry.Register("shell", [] { return NewShellProcessor(); }).IgnoreError();
  registry.Register("logstats", NewLogStatsProcessor).IgnoreError();
  registry.Register("wordcount", NewWordCountProcessor).IgnoreError();
  registry.Register("sort", NewSortProcessor).IgnoreError();
}

}  // namespace taskgrid
