#include "cli/cli_util.h"

#include <fmt/format.h>

#include <ctime>
#include <iostream>

#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {

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

void PrintError(const Status& s) {
  std::cerr << "taskgrid: " << s.message() << " [" << StatusCodeName(s.code())
            << "]\n";
}

}  // namespace taskgrid
