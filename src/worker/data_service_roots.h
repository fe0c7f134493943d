// DataRoots: the directories a worker's data service may serve, and the
// check every requested path goes through (worker/data_service.h).
//
// A request names an absolute path on the worker's machine. It is refused
// with PermissionDenied, naming the path, when it
//   - is empty, relative, or contains a NUL byte;
//   - has a ".." component (even one that would stay inside a root);
//   - resolves (realpath: symlinks followed, "." and "//" folded) to a path
//     that is not inside the canonical form of some root. Inside means equal
//     to the root or below it: "/data2/x" is not inside "/data".
// A path that does not exist is resolved through its longest existing
// prefix: NotFound when that lands inside a root, PermissionDenied when not
// (so the service says nothing about files outside its roots).
//
// Roots are kept as given (made absolute) and canonicalized at each check,
// so a root may be added before its directory exists (a job's output
// directory): until then, paths under it are NotFound. A root that exists
// but is not a directory serves nothing. "/" is never a root.
//
// Thread-safety: thread-safe (AddRoot and Resolve from any thread).
#ifndef TASKGRID_WORKER_DATA_SERVICE_ROOTS_H_
#define TASKGRID_WORKER_DATA_SERVICE_ROOTS_H_

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid {

class DataRoots {
 public:
  // Adds `dir` (made absolute against the working directory and lexically
  // normalized; a root already present is not added twice).
  // InvalidArgument for an empty path or one that normalizes to "/".
  Status Add(const std::string& dir);
  // The roots, as added.
  std::vector<std::string> List() const;

  // The canonical path of `path` if the service may serve it (see above).
  StatusOr<std::string> Resolve(std::string_view path) const;
  // Whether canonical path `canonical` (from realpath) lies inside a root.
  bool Contains(const std::string& canonical) const;

 private:
  // The roots' canonical forms now (missing ones left out).
  std::vector<std::string> CanonicalRoots() const;

  mutable std::mutex mu_;
  std::vector<std::string> roots_;  // guarded by mu_
};

// "/a/b/c" is inside "/a/b" and "/a/b" itself, not "/a/bc". Both canonical.
bool PathInside(std::string_view path, std::string_view root);

}  // namespace taskgrid

#endif  // TASKGRID_WORKER_DATA_SERVICE_ROOTS_H_
