// The processors that ship with taskgrid: noop, sleep, shell.
#ifndef TASKGRID_PROCESSORS_BUILTIN_H_
#define TASKGRID_PROCESSORS_BUILTIN_H_

namespace taskgrid {
class ProcessorRegistry;
// Registers every built-in processor into `registry`.
void RegisterBuiltinProcessors(ProcessorRegistry& registry);
}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_BUILTIN_H_
