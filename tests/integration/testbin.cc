// taskgrid_testbin: the taskgrid CLI (taskgrid::Main) plus processors that
// the end-to-end tests (cli_test.cc, crash_resume_test.cc) drive:
//
//   sum      mapreduce; payload "START,END"; sleeps params.ms, appends
//            "TASK_ID ATTEMPT\n" to params.journal (fsync'd) for every
//            completed Process call, result = sum of the ids; Reduce adds
//            the results up.
//   flaky    any model; fails (Unavailable) while attempt <=
//            params.fail_attempts.
//   thrower  any model; throws std::runtime_error("boom at task N").
//   fanout   map; root → params.n tasks of stage level1 → 2 tasks each of
//            stage level2, whose result is their payload.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "taskgrid/taskgrid.h"

namespace {

using taskgrid::LogLevel;
using taskgrid::OkStatus;
using taskgrid::Status;

// Appends `line` to `path` and makes it durable before returning, so a line
// seen after a SIGKILL is a Process call that really completed.
Status AppendDurably(const std::string& path, const std::string& line) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return taskgrid::UnavailableError("open " + path + ": " +
                                      std::strerror(errno));
  }
  // One write() of a short line under O_APPEND: concurrent slots never
  // interleave within a line.
  const ssize_t n = write(fd, line.data(), line.size());
  const int write_errno = errno;
  const int sync_rc = fsync(fd);
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return taskgrid::UnavailableError("write " + path + ": " +
                                      std::strerror(write_errno));
  }
  if (sync_rc != 0) {
    return taskgrid::UnavailableError("fsync " + path + ": " +
                                      std::strerror(errno));
  }
  return OkStatus();
}

class Sum : public taskgrid::MapReduceProcessor {
 public:
  Status Process(taskgrid::TaskContext& ctx) override {
    auto range = taskgrid::IdRange::Parse(ctx.payload());
    if (!range.ok()) return range.status();
    const int64_t ms = ctx.params().IntOr("ms", 0);
    if (ms > 0 && !ctx.SleepFor(std::chrono::milliseconds(ms))) {
      return taskgrid::CancelledError("sum: cancelled while sleeping");
    }
    int64_t sum = 0;
    for (int64_t i = range->start; i < range->end; ++i) sum += i;
    ctx.Log("sum of [" + std::to_string(range->start) + "," +
            std::to_string(range->end) + ") = " + std::to_string(sum));
    const std::string journal = ctx.params().StringOr("journal", "");
    if (!journal.empty()) {
      Status s =
          AppendDurably(journal, std::to_string(ctx.task_id()) + " " +
                                     std::to_string(ctx.attempt()) + "\n");
      if (!s.ok()) return s;
    }
    ctx.SetResult(std::to_string(sum));
    return OkStatus();
  }

  Status Reduce(taskgrid::JobContext& ctx) override {
    int64_t total = 0;
    std::string bad;
    Status s = ctx.ForEachResult([&](const taskgrid::TaskResult& r) {
      try {
        total += std::stoll(r.result);
      } catch (const std::exception&) {
        bad = "task " + std::to_string(r.task_id) + " has result '" + r.result +
              "'";
      }
    });
    if (!s.ok()) return s;
    if (!bad.empty()) return taskgrid::DataLossError("sum reduce: " + bad);
    ctx.Log("total " + std::to_string(total));
    ctx.SetResult(std::to_string(total));
    return OkStatus();
  }
};

class Flaky : public taskgrid::Processor {
 public:
  Status Process(taskgrid::TaskContext& ctx) override {
    const int64_t fail_attempts = ctx.params().IntOr("fail_attempts", 1);
    if (ctx.attempt() <= fail_attempts) {
      ctx.Log(LogLevel::kWarn,
              "flaky: failing attempt " + std::to_string(ctx.attempt()));
      return taskgrid::UnavailableError("flaky failure at attempt " +
                                        std::to_string(ctx.attempt()));
    }
    ctx.Log("flaky: attempt " + std::to_string(ctx.attempt()) + " succeeds");
    ctx.SetResult("ok at attempt " + std::to_string(ctx.attempt()));
    return OkStatus();
  }
};

class Thrower : public taskgrid::Processor {
 public:
  Status Process(taskgrid::TaskContext& ctx) override {
    throw std::runtime_error("boom at task " + std::to_string(ctx.task_id()));
  }
};

class Fanout : public taskgrid::MapProcessor {
 public:
  Status Process(taskgrid::TaskContext& ctx) override {
    if (ctx.stage() == "root") {
      std::vector<std::string> payloads;
      const int64_t n = ctx.params().IntOr("n", 10);
      for (int64_t i = 0; i < n; ++i) payloads.push_back(std::to_string(i));
      ctx.Map(std::move(payloads), "level1");
    } else if (ctx.stage() == "level1") {
      ctx.Map({ctx.payload() + ".0", ctx.payload() + ".1"}, "level2");
    } else if (ctx.stage() == "level2") {
      ctx.SetResult(ctx.payload());
    } else {
      return taskgrid::InvalidArgumentError("fanout: unexpected stage '" +
                                            ctx.stage() + "'");
    }
    return OkStatus();
  }
};

TASKGRID_REGISTER_PROCESSOR("sum", Sum);
TASKGRID_REGISTER_PROCESSOR("flaky", Flaky);
TASKGRID_REGISTER_PROCESSOR("thrower", Thrower);
TASKGRID_REGISTER_PROCESSOR("fanout", Fanout);

}  // namespace

int main(int argc, char** argv) { return taskgrid::Main(argc, argv); }
