#include "cli/cli_util.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "cli/net.h"
#include "core/status_macros.h"
#include "master/store_control.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace {

// A StoreControl that owns its store.
class LocalControl : public StoreControl {
 public:
  explicit LocalControl(std::unique_ptr<StateStore> store)
      : StoreControl(store.get(), StoreControlOptions{}),
        store_(std::move(store)) {}

 private:
  std::unique_ptr<StateStore> store_;
};

}  // namespace

std::optional<JobSpec> ReadSpecOrPrint(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "taskgrid: cannot read job spec '" << path
              << "': " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto spec = ParseJobSpec(text.str(), path);
  if (!spec.ok()) {
    std::cerr << "taskgrid: " << spec.status().message() << "\n";
    return std::nullopt;
  }
  return *std::move(spec);
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  if (path.empty()) {
    return InvalidArgumentError(
        "no cluster token: give --token-file FILE (or set "
        "TASKGRID_TOKEN_FILE)");
  }
  std::ifstream in(path);
  if (!in) {
    return InvalidArgumentError("cannot read token file " + path + ": " +
                                std::strerror(errno));
  }
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    return InvalidArgumentError("token file " + path +
                                " is empty (its first line is the token)");
  }
  return line.substr(first, last - first + 1);
}

bool IsPostgresUrl(const std::string& s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

std::unique_ptr<ControlService> OpenControlOrPrint(const CommonOptions& o) {
  if (o.remote.enabled()) return ConnectClusterOrPrint(o);
  auto store = OpenStoreOrPrint(o.state_path);
  if (!store) return nullptr;
  return std::make_unique<LocalControl>(std::move(store));
}

std::unique_ptr<StateStore> OpenStoreOrPrint(const std::string& path) {
  auto store = OpenSqliteStateStore(path);
  if (!store.ok()) {
    PrintError(store.status());
    return nullptr;
  }
  return *std::move(store);
}

std::string FormatTime(int64_t ms) {
  if (ms == 0) return "";
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

std::string FormatDuration(int64_t ms) {
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.2f} s", ms / 1000.0);
  const int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m{:02d}s", s / 3600, (s / 60) % 60, s % 60);
}

namespace {
std::vector<char*> g_command_line;  // SetCommandLine's, null-terminated
}  // namespace

void SetCommandLine(int argc, char** argv) {
  g_command_line.assign(argv, argv + argc);
  g_command_line.push_back(nullptr);
}

int ExecNetBinary() {
  std::error_code ec;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string net = (self.parent_path() / "taskgrid-net").string();
  int err = ec ? ec.value() : EINVAL;  // EINVAL: no SetCommandLine
  if (!ec && !g_command_line.empty()) {
    execv(net.c_str(), g_command_line.data());
    err = errno;
  }
  std::cerr << "taskgrid: this command needs the cluster, PostgreSQL and "
               "HTTP support of "
            << net << ", which cannot run: " << std::strerror(err) << "\n";
  return kExitUsage;
}

void PrintError(const Status& s) {
  std::cerr << "taskgrid: " << s.message() << " [" << StatusCodeName(s.code())
            << "]\n";
}

int64_t DoneCount(const TaskCounts& counts) {
  return counts[static_cast<size_t>(TaskState::kSucceeded)] +
         counts[static_cast<size_t>(TaskState::kDead)] +
         counts[static_cast<size_t>(TaskState::kCancelled)];
}

std::string ProgressLine(int64_t job_id, const TaskCounts& counts,
                         int64_t total, double secs, int64_t done_at_start) {
  const auto c = [&](TaskState s) { return counts[static_cast<size_t>(s)]; };
  const int64_t done = DoneCount(counts);
  const double rate = secs > 0 ? (done - done_at_start) / secs : 0;
  std::string eta = "-";
  if (rate > 0 && total > done) {
    eta = FormatDuration(static_cast<int64_t>((total - done) / rate * 1000));
  }
  return fmt::format(
      "job {}: {}/{} done, {} running, {} failed, {} dead | {:.0f} tasks/s | "
      "ETA {}",
      job_id, done, total, c(TaskState::kRunning) + c(TaskState::kDispatched),
      c(TaskState::kFailed), c(TaskState::kDead), rate, eta);
}

int ExitCodeFor(JobState s) {
  switch (s) {
    case JobState::kSucceeded:
      return kExitOk;
    case JobState::kFailed:
    case JobState::kCancelled:
      return kExitJobFailed;
    case JobState::kPending:
    case JobState::kRunning:
      return kExitInterrupted;
  }
  return kExitJobFailed;
}

StatusOr<int64_t> FindNextStage(ControlService* control, int64_t job_id) {
  constexpr int64_t kNewest = 1000;
  const std::string key = NextStageKey(job_id);
  for (const int64_t limit : {kNewest, int64_t{0}}) {
    ASSIGN_OR_RETURN(std::vector<JobStatus> jobs, control->ListJobs(limit));
    for (const JobStatus& j : jobs) {
      if (j.job.key == key) return j.job.id;
    }
    // Newest first: if the page reaches back to job_id, nothing newer was
    // left out.
    if (static_cast<int64_t>(jobs.size()) < kNewest ||
        jobs.back().job.id <= job_id) {
      break;
    }
  }
  return int64_t{0};
}

bool ApplyMemoryOrPrint(const std::string& memory, JobSpec* spec) {
  if (memory.empty()) return true;
  auto bytes = ParseByteSize(memory);
  if (!bytes.ok()) {
    PrintError(bytes.status().WithPrefix("--memory"));
    return false;
  }
  bool applied = false;
  const auto apply = [&](JobSpec& s) {
    if (s.model != Model::kShuffle) return;
    s.memory_bytes = *bytes;
    applied = true;
  };
  apply(*spec);
  for (JobSpec& stage : spec->then) apply(stage);
  if (!applied) {
    std::cerr << "taskgrid: --memory is the budget of shuffle tasks; job '"
              << spec->name << "' has no shuffle stage\n";
  }
  return applied;
}

}  // namespace taskgrid
