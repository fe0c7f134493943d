// ExpandGlobs: a component-by-component walk. Literal components are joined
// without listing anything, so "logs/example.com/**/*.gz" never lists
// "logs". Wildcard components list the directory once and fnmatch(3) each
// name. "**" lists each directory below it once and applies the rest of the
// pattern there, so "logs/**/*.gz" reads every directory exactly once.
//
// Why not recursive_directory_iterator: the rest of the pattern after "**"
// may itself contain wildcards and literals that have to be matched at every
// depth, hidden directories have to be pruned, and the loop guard needs the
// (dev, inode) of each directory; a hand-written walk over
// directory_iterator does all three directly.
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "core/status_macros.h"
#include "io/split.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;

bool HasWildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// Maps an errno from stat/opendir to our codes, naming `what`.
Status ErrnoStatus(int err, std::string_view what, const std::string& path) {
  std::string msg = std::string(what) + " '" + path +
                    "': " + std::generic_category().message(err);
  switch (err) {
    case EACCES:
    case EPERM:
      return PermissionDeniedError(msg);
    case ENOENT:
    case ENOTDIR:
      return NotFoundError(msg);
    default:
      return InternalError(msg);
  }
}

// For EACCES on `path`: the nearest ancestor that can be stat()ed is the
// directory we may not search; name it, since that is what needs fixing.
Status AccessError(int err, const std::string& path) {
  if (err != EACCES) return ErrnoStatus(err, "cannot access", path);
  fs::path q = fs::path(path).parent_path();
  while (!q.empty()) {
    struct stat st;
    if (::stat(q.c_str(), &st) == 0) {
      return PermissionDeniedError(
          "cannot access '" + path + "': directory '" + q.string() +
          "' is not searchable: " + std::generic_category().message(err));
    }
    if (q == q.parent_path()) break;
    q = q.parent_path();
  }
  return ErrnoStatus(err, "cannot access", path);
}

struct Entry {
  std::string name;
  bool is_dir = false;   // after following symlinks
  bool is_file = false;  // regular file, after following symlinks
};

class Walker {
 public:
  Walker(std::vector<std::string> comps, std::vector<std::string>* out)
      : comps_(std::move(comps)), out_(out) {}

  Status Run(const std::string& root) { return Expand(root, 0); }

 private:
  static std::string Join(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    if (dir.back() == '/') return dir + name;
    return dir + "/" + name;
  }

  // Lists `dir` ("" = the current directory), sorted by name. A directory
  // that does not exist (or is not one) lists as empty: the pattern simply
  // does not match there. Any other failure is an error naming it.
  static Status List(const std::string& dir, std::vector<Entry>* entries) {
    entries->clear();
    const fs::path p = dir.empty() ? fs::path(".") : fs::path(dir);
    std::error_code ec;
    fs::directory_iterator it(p, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory ||
          ec == std::errc::not_a_directory) {
        return OkStatus();
      }
      return ErrnoStatus(ec.value(), "cannot list directory",
                         dir.empty() ? "." : dir);
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      Entry e;
      e.name = it->path().filename().string();
      // These follow symlinks; a dangling or looping symlink is neither.
      std::error_code ignored;
      e.is_dir = it->is_directory(ignored);
      e.is_file = !e.is_dir && it->is_regular_file(ignored);
      entries->push_back(std::move(e));
    }
    if (ec) {
      return ErrnoStatus(ec.value(), "cannot list directory",
                         dir.empty() ? "." : dir);
    }
    std::sort(entries->begin(), entries->end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return OkStatus();
  }

  // Matches comps_[i..] below `dir`, whose entries are already listed.
  Status ExpandListed(const std::string& dir, const std::vector<Entry>& entries,
                      size_t i) {
    const std::string& comp = comps_[i];
    const bool last = i + 1 == comps_.size();
    for (const Entry& e : entries) {
      if (last ? !e.is_file : !e.is_dir) continue;
      // FNM_PERIOD: like a shell, a wildcard does not match a leading dot.
      // FNM_NOESCAPE: a backslash is an ordinary character (use "[*]").
      if (fnmatch(comp.c_str(), e.name.c_str(), FNM_PERIOD | FNM_NOESCAPE) !=
          0) {
        continue;
      }
      if (last) {
        out_->push_back(Join(dir, e.name));
      } else {
        RETURN_IF_ERROR(Expand(Join(dir, e.name), i + 1));
      }
    }
    return OkStatus();
  }

  Status Expand(const std::string& dir, size_t i) {
    if (comps_[i] == "**") return ExpandStarStar(dir, i);
    const std::string& comp = comps_[i];
    const bool last = i + 1 == comps_.size();
    if (!HasWildcard(comp)) {
      std::string path = Join(dir, comp);
      if (!last) return Expand(path, i + 1);
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM) return AccessError(err, path);
        return OkStatus();  // no such file: no match here
      }
      if (S_ISREG(st.st_mode)) out_->push_back(std::move(path));
      return OkStatus();
    }
    std::vector<Entry> entries;
    RETURN_IF_ERROR(List(dir, &entries));
    return ExpandListed(dir, entries, i);
  }

  // comps_[i] is "**" and comps_[i + 1] exists and is not "**" (the pattern
  // is normalized so). Matches the rest at `dir` and at every non-hidden
  // directory below it.
  Status ExpandStarStar(const std::string& dir, size_t i) {
    const std::string shown = dir.empty() ? "." : dir;
    struct stat st;
    if (::stat(shown.c_str(), &st) != 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM) return AccessError(err, shown);
      return OkStatus();
    }
    if (!S_ISDIR(st.st_mode)) return OkStatus();
    // Symlinks are followed, so the tree may have cycles, and a directory
    // may be reachable by several paths. Each directory is expanded at most
    // once per pattern position: that ends cycles, and keeps the walk linear
    // in the size of the tree. Entries are visited in sorted order, so which
    // path wins is deterministic.
    if (!visited_.emplace(st.st_dev, st.st_ino, i).second) return OkStatus();

    std::vector<Entry> entries;
    RETURN_IF_ERROR(List(dir, &entries));
    // Zero directories: the rest of the pattern, here.
    if (HasWildcard(comps_[i + 1])) {
      RETURN_IF_ERROR(ExpandListed(dir, entries, i + 1));
    } else {
      RETURN_IF_ERROR(Expand(dir, i + 1));
    }
    // One or more: recurse into each subdirectory, skipping hidden ones as a
    // shell's globstar does.
    for (const Entry& e : entries) {
      if (!e.is_dir || e.name.empty() || e.name[0] == '.') continue;
      RETURN_IF_ERROR(ExpandStarStar(Join(dir, e.name), i));
    }
    return OkStatus();
  }

  const std::vector<std::string> comps_;
  std::vector<std::string>* const out_;
  std::set<std::tuple<dev_t, ino_t, size_t>> visited_;
};

// A pattern without wildcards: the file must exist and be a regular file.
Status AddLiteral(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return NotFoundError("input file '" + path + "' does not exist");
    }
    return AccessError(err, path);
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgumentError("input '" + path + "' is not a regular file");
  }
  out->push_back(path);
  return OkStatus();
}

Status ExpandOne(const std::string& pattern, std::vector<std::string>* out) {
  if (pattern.empty()) return InvalidArgumentError("empty input glob");
  if (!HasWildcard(pattern)) return AddLiteral(pattern, out);

  // Split into components; "a//b" is "a/b". A run of "**" is one "**", and
  // a trailing "**" means every file below: "logs/**" is "logs/**/*".
  std::string root = pattern[0] == '/' ? "/" : "";
  std::vector<std::string> comps;
  size_t pos = 0;
  while (pos <= pattern.size()) {
    size_t slash = pattern.find('/', pos);
    if (slash == std::string::npos) slash = pattern.size();
    std::string comp = pattern.substr(pos, slash - pos);
    pos = slash + 1;
    if (comp.empty()) continue;
    if (comp == "**" && !comps.empty() && comps.back() == "**") continue;
    comps.push_back(std::move(comp));
  }
  if (comps.back() == "**") comps.push_back("*");

  const size_t before = out->size();
  Walker walker(std::move(comps), out);
  RETURN_IF_ERROR(walker.Run(root));
  if (out->size() == before) {
    return InvalidArgumentError("input glob '" + pattern + "' matches no file");
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<std::string>> ExpandGlobs(
    const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const std::string& p : patterns) {
    if (IsRemoteInput(p)) {  // tg://WORKER/PATH: through the data service
      ASSIGN_OR_RETURN(std::vector<std::string> remote, ExpandRemoteGlob(p));
      out.insert(out.end(), remote.begin(), remote.end());
      continue;
    }
    // A name that exists as a regular file is taken literally, wildcard
    // characters and all: a file called "a[1].log" that a shell already
    // expanded must not turn into a pattern matching "a1.log".
    std::error_code ec;
    if (!p.empty() && std::filesystem::is_regular_file(p, ec)) {
      out.push_back(p);
      continue;
    }
    RETURN_IF_ERROR(ExpandOne(p, &out));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace taskgrid
