// Small helpers shared by the CLI commands.
#ifndef TASKGRID_CLI_CLI_UTIL_H_
#define TASKGRID_CLI_CLI_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "store/state_store.h"

namespace taskgrid {

// Opens the SQLite state file; prints the error and returns nullptr.
std::unique_ptr<StateStore> OpenStoreOrPrint(const std::string& path);
// "2026-11-21T10:40:00.123Z"; "" for 0.
std::string FormatTime(int64_t ms);
// "1.25 s", "3m05s", "850 ms".
std::string FormatDuration(int64_t ms);
// Prints `s` as "taskgrid: <message>" to stderr.
void PrintError(const Status& s);

}  // namespace taskgrid

#endif  // TASKGRID_CLI_CLI_UTIL_H_
