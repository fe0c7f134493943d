// Who holds a job's lease: "PID@HOST" of the driving process.
#ifndef TASKGRID_CORE_OWNER_H_
#define TASKGRID_CORE_OWNER_H_

#include <string>

namespace taskgrid {

// This machine's host name ("localhost" if it has none).
std::string HostName();
// "PID@HOST" of this process.
std::string ThisOwnerId();
// False only when `owner` names a process on this host that no longer
// exists; an owner on another host is presumed alive (its lease decides).
bool OwnerIsAlive(const std::string& owner);

}  // namespace taskgrid

#endif  // TASKGRID_CORE_OWNER_H_
