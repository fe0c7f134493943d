// The `shell` processor: runs params.command per task.
//
// `{}` in the command is replaced by "$1", and the task's payload is passed
// to /bin/sh as that positional argument — never pasted into the command
// text — so a payload such as `x; rm -rf ~` or `$(reboot)` is only ever
// data. stdout becomes the task's result (at most kMaxShellResult bytes),
// each stderr line goes to the task log, and a non-zero exit or a signal
// fails the attempt. On cancel (timeout, job cancel) the command's process
// group gets SIGTERM, then SIGKILL after a grace period.
#ifndef TASKGRID_PROCESSORS_SHELL_H_
#define TASKGRID_PROCESSORS_SHELL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace taskgrid {

class Processor;

inline constexpr size_t kMaxShellResult = 16u << 20;

std::unique_ptr<Processor> NewShellProcessor();

// Rewrites `{}` in `command` to "$1" (exposed for tests).
std::string ShellTemplateToScript(std::string_view command);

}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_SHELL_H_
