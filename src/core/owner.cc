#include "core/owner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace taskgrid {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

std::string ThisOwnerId() {
  return std::to_string(getpid()) + "@" + HostName();
}

bool OwnerIsAlive(const std::string& owner) {
  const auto at = owner.find('@');
  if (at == std::string::npos) return true;
  if (owner.substr(at + 1) != HostName()) return true;
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(owner.data(), owner.data() + at, pid);
  if (ec != std::errc() || p != owner.data() + at || pid <= 0) return true;
  if (pid == getpid()) return true;
  return kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace taskgrid
