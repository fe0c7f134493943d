#include "core/fault.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace taskgrid {
namespace {

struct FaultSpec {
  std::string point;
  long nth = 1;
};

const FaultSpec& Spec() {
  static const FaultSpec spec = [] {
    FaultSpec s;
    const char* env = std::getenv("TASKGRID_FAULT");
    if (env == nullptr) return s;
    std::string v = env;
    const auto colon = v.find(':');
    s.point = v.substr(0, colon);
    if (colon != std::string::npos) s.nth = std::atol(v.c_str() + colon + 1);
    return s;
  }();
  return spec;
}

std::atomic<long> g_passages{0};

}  // namespace

void MaybeInjectFault(std::string_view point) {
  const FaultSpec& s = Spec();
  if (s.point.empty() || s.point != point) return;
  if (g_passages.fetch_add(1) + 1 == s.nth) _exit(kFaultExitCode);
}

}  // namespace taskgrid
