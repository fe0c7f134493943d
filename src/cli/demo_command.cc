// `taskgrid demo`: writes a small job spec and runs it on the embedded
// default, so a new user sees a whole job — fan-out, progress, reduce,
// summary — in one command.
//
// (The log-processing demo of DESIGN.md §1 replaces this job once file
// inputs land; the command stays.)
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "taskgrid/processor.h"

namespace taskgrid {
namespace {

// Counts primes in each id range page; Reduce totals them.
class DemoPrimes : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    auto range = IdRange::Parse(ctx.payload());
    if (!range.ok()) return range.status();
    int64_t count = 0;
    for (int64_t n = range->start; n < range->end; ++n) {
      if (ctx.cancelled()) return CancelledError("cancelled");
      if (IsPrime(n)) ++count;
    }
    ctx.SetResult(std::to_string(count));
    return OkStatus();
  }

  Status Reduce(JobContext& ctx) override {
    int64_t total = 0;
    int64_t pages = 0;
    Status s = ctx.ForEachResult([&](const TaskResult& r) {
      total += std::stoll(r.result);
      ++pages;
    });
    if (!s.ok()) return s;
    ctx.SetResult(fmt::format("{} primes below {} (from {} pages)", total,
                              ctx.params().IntOr("limit", 0), pages));
    return OkStatus();
  }

 private:
  static bool IsPrime(int64_t n) {
    if (n < 2) return false;
    for (int64_t d = 2; d * d <= n; ++d) {
      if (n % d == 0) return false;
    }
    return true;
  }
};

}  // namespace

int CmdDemo(const RunOptions& o, const std::string& dir) {
  auto& registry = ProcessorRegistry::Global();
  if (!registry.Contains("demo-primes")) {
    registry
        .Register("demo-primes", [] { return std::make_unique<DemoPrimes>(); })
        .IgnoreError();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "taskgrid demo: cannot create " << dir << ": " << ec.message()
              << "\n";
    return kExitUsage;
  }
  const std::string spec_path = dir + "/demo-primes.yaml";
  std::ofstream(spec_path) << R"(# Written by `taskgrid demo`.
name: demo-primes
processor: demo-primes
model: mapreduce
input:
  range: {start: 0, end: 2000000, step: 10000}
params: {limit: 2000000}
retry: {max_attempts: 3, backoff: 100ms}
)";
  std::cout << "taskgrid demo: counting primes below 2,000,000 in 200 pages\n"
            << "  spec:  " << spec_path << "\n"
            << "  state: " << o.common.state_path << "\n";
  return CmdRun(o, spec_path);
}

}  // namespace taskgrid
