#include "worker/data_service_roots.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace taskgrid {
namespace {

// realpath(3) into a std::string; errno is kept on failure.
bool RealPath(const std::string& path, std::string* out) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return false;
  *out = buf;
  return true;
}

// The canonical form of absolute path `path`: realpath(3) if it exists
// (*exists set); else realpath of its longest existing prefix plus the rest,
// as it would be once created. False, with errno set, when even that fails
// (a loop, no access).
bool Project(const std::string& path, std::string* out, bool* exists) {
  *exists = RealPath(path, out);
  if (*exists) return true;
  if (errno != ENOENT && errno != ENOTDIR) return false;
  std::string prefix = path;
  std::string tail;
  while (true) {
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    const size_t slash = prefix.rfind('/');
    if (slash == std::string::npos || prefix == "/") return false;
    const std::string last = prefix.substr(slash + 1);
    tail = tail.empty() ? last : last + "/" + tail;
    prefix = slash == 0 ? "/" : prefix.substr(0, slash);
    std::string base;
    if (RealPath(prefix, &base)) {
      *out = base == "/" ? "/" + tail : base + "/" + tail;
      return true;
    }
    if (errno != ENOENT && errno != ENOTDIR) return false;
  }
}

Status Refuse(std::string_view path, std::string_view why) {
  return PermissionDeniedError("data service: refusing " + std::string(path) +
                               ": " + std::string(why));
}

constexpr std::string_view kOutside =
    "outside the directories this worker serves (its --data-dir and its "
    "jobs' output directories)";

}  // namespace

bool PathInside(std::string_view path, std::string_view root) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() < root.size() || path.substr(0, root.size()) != root) {
    return false;
  }
  return path.size() == root.size() || path[root.size()] == '/';
}

Status DataRoots::Add(const std::string& dir) {
  if (dir.empty()) return InvalidArgumentError("data service: empty root");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(dir, ec);
  if (ec) {
    return InvalidArgumentError("data service: root " + dir + ": " +
                                ec.message());
  }
  std::string root = abs.lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root == "/") {
    return InvalidArgumentError("data service: refusing to serve " + dir +
                                ": it is the whole file system");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(roots_.begin(), roots_.end(), root) == roots_.end()) {
    roots_.push_back(std::move(root));
  }
  return OkStatus();
}

std::vector<std::string> DataRoots::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return roots_;
}

std::vector<std::string> DataRoots::CanonicalRoots() const {
  std::vector<std::string> out;
  for (const std::string& r : List()) {
    std::string c;
    bool exists = false;
    if (!Project(r, &c, &exists)) continue;
    struct stat st;
    if (exists && (::stat(c.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
      continue;  // a root that is not a directory serves nothing
    }
    if (c != "/") out.push_back(std::move(c));
  }
  return out;
}

bool DataRoots::Contains(const std::string& canonical) const {
  for (const std::string& r : CanonicalRoots()) {
    if (PathInside(canonical, r)) return true;
  }
  return false;
}

StatusOr<std::string> DataRoots::Resolve(std::string_view path) const {
  if (path.empty()) return Refuse("\"\"", "empty path");
  if (path.find('\0') != std::string_view::npos) {
    return Refuse(std::string(path.substr(0, path.find('\0'))) + "\\0...",
                  "the path contains a NUL byte");
  }
  if (path[0] != '/') {
    return Refuse(path, "not an absolute path");
  }
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") {
      return Refuse(path, "the path has a '..' component");
    }
    start = end + 1;
  }
  const std::string p(path);
  std::string canonical;
  bool exists = false;
  if (!Project(p, &canonical, &exists)) {
    const int err = errno;
    if (err == EACCES) {
      return PermissionDeniedError("data service: " + p + ": " +
                                   std::strerror(err));
    }
    return Refuse(path, std::strerror(err));
  }
  if (!Contains(canonical)) return Refuse(path, kOutside);
  if (!exists) {
    return NotFoundError("data service: " + p + ": no such file or directory");
  }
  return canonical;
}

}  // namespace taskgrid
