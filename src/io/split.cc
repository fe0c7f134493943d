#include "io/split.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/status_macros.h"

namespace taskgrid {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// A payload as it may be shown in a message: NUL as "\0", other control and
// non-ASCII bytes as "\xNN", cut after 200 bytes.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      out += "\\0";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// Decimal digits only (no sign, no spaces), at most `max`.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* v) {
  if (s.empty()) return false;
  uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (d > max || r > (max - d) / 10) return false;
    r = r * 10 + d;
  }
  *v = r;
  return true;
}

// ---- tg:// inputs ----

constexpr std::string_view kTgScheme = "tg://";

std::mutex catalog_mu;
std::shared_ptr<const RemoteCatalog>& CatalogSlot() {
  static auto* slot = new std::shared_ptr<const RemoteCatalog>();
  return *slot;
}

std::shared_ptr<const RemoteCatalog> CurrentCatalog() {
  std::lock_guard<std::mutex> lock(catalog_mu);
  return CatalogSlot();
}

bool HasWildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

std::string JoinRemote(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// Matches the components of a remote pattern below a directory, listing
// each directory it needs once (the local Walker of glob.cc, over the
// catalog instead of the file system).
class RemoteWalker {
 public:
  RemoteWalker(const RemoteCatalog& catalog, std::string prefix,
               std::vector<std::string> comps, std::vector<std::string>* out)
      : catalog_(catalog),
        prefix_(std::move(prefix)),
        comps_(std::move(comps)),
        out_(out) {}

  Status Run() { return Expand("/", /*known_dir=*/true, 0); }

 private:
  // The entries of `dir` (empty if it does not exist or is not a
  // directory: no match there). `known_dir`: a listing showed it is one;
  // otherwise it is checked first, as the service lists a file as itself.
  Status List(const std::string& dir, bool known_dir,
              std::vector<RemoteFileInfo>* entries) {
    entries->clear();
    if (!known_dir) {
      StatusOr<RemoteFileInfo> st = catalog_.stat(prefix_ + dir);
      if (!st.ok()) {
        return st.status().code() == StatusCode::kNotFound ? OkStatus()
                                                           : st.status();
      }
      if (!st->is_dir) return OkStatus();
    }
    StatusOr<std::vector<RemoteFileInfo>> listed = catalog_.list(prefix_ + dir);
    if (!listed.ok()) {
      return listed.status().code() == StatusCode::kNotFound ? OkStatus()
                                                             : listed.status();
    }
    *entries = *std::move(listed);
    return OkStatus();
  }

  Status ExpandListed(const std::string& dir,
                      const std::vector<RemoteFileInfo>& entries, size_t i) {
    const std::string& comp = comps_[i];
    const bool last = i + 1 == comps_.size();
    for (const RemoteFileInfo& e : entries) {
      if (last ? !e.is_file : !e.is_dir) continue;
      if (fnmatch(comp.c_str(), e.name.c_str(), FNM_PERIOD | FNM_NOESCAPE) !=
          0) {
        continue;
      }
      if (last) {
        out_->push_back(prefix_ + JoinRemote(dir, e.name));
      } else {
        RETURN_IF_ERROR(Expand(JoinRemote(dir, e.name), true, i + 1));
      }
    }
    return OkStatus();
  }

  Status Expand(const std::string& dir, bool known_dir, size_t i) {
    const std::string& comp = comps_[i];
    if (comp == "**") return ExpandStarStar(dir, known_dir, i, 0);
    const bool last = i + 1 == comps_.size();
    if (!HasWildcard(comp)) {
      const std::string path = JoinRemote(dir, comp);
      if (!last) return Expand(path, false, i + 1);
      StatusOr<RemoteFileInfo> st = catalog_.stat(prefix_ + path);
      if (!st.ok()) {
        return st.status().code() == StatusCode::kNotFound ? OkStatus()
                                                           : st.status();
      }
      if (st->is_file) out_->push_back(prefix_ + path);
      return OkStatus();
    }
    std::vector<RemoteFileInfo> entries;
    RETURN_IF_ERROR(List(dir, known_dir, &entries));
    return ExpandListed(dir, entries, i);
  }

  // comps_[i] is "**", followed by a component that is not.
  Status ExpandStarStar(const std::string& dir, bool known_dir, size_t i,
                        int depth) {
    // Symlinked directories are not followed, so the tree has no cycles;
    // the depth bound is a guard against a pathological one all the same.
    constexpr int kMaxDepth = 256;
    if (depth > kMaxDepth) return OkStatus();
    std::vector<RemoteFileInfo> entries;
    RETURN_IF_ERROR(List(dir, known_dir, &entries));
    if (entries.empty()) return OkStatus();
    if (HasWildcard(comps_[i + 1])) {
      RETURN_IF_ERROR(ExpandListed(dir, entries, i + 1));
    } else {
      RETURN_IF_ERROR(Expand(dir, true, i + 1));
    }
    for (const RemoteFileInfo& e : entries) {
      if (!e.is_dir || e.is_symlink || e.name.empty() || e.name[0] == '.') {
        continue;
      }
      RETURN_IF_ERROR(
          ExpandStarStar(JoinRemote(dir, e.name), true, i, depth + 1));
    }
    return OkStatus();
  }

  const RemoteCatalog& catalog_;
  const std::string prefix_;  // "tg://WORKER"
  const std::vector<std::string> comps_;
  std::vector<std::string>* const out_;
};

}  // namespace

// ---- tg:// inputs -----------------------------------------------------------

RemoteCatalog SetRemoteCatalog(RemoteCatalog catalog) {
  auto next = catalog.installed()
                  ? std::make_shared<const RemoteCatalog>(std::move(catalog))
                  : nullptr;
  std::shared_ptr<const RemoteCatalog> prev;
  {
    std::lock_guard<std::mutex> lock(catalog_mu);
    prev = std::exchange(CatalogSlot(), std::move(next));
  }
  return prev ? *prev : RemoteCatalog();
}

bool IsRemoteInput(std::string_view path) {
  return path.substr(0, kTgScheme.size()) == kTgScheme;
}

StatusOr<std::vector<std::string>> ExpandRemoteGlob(
    const std::string& pattern) {
  const std::string_view rest =
      std::string_view(pattern).substr(kTgScheme.size());
  const size_t slash = rest.find('/');
  if (!IsRemoteInput(pattern) || slash == 0 ||
      slash == std::string_view::npos) {
    return InvalidArgumentError("input '" + pattern +
                                "' is not a tg://WORKER/ABSOLUTE/PATH URL");
  }
  const std::string prefix =
      std::string(kTgScheme) + std::string(rest.substr(0, slash));
  const std::string path(rest.substr(slash));
  if (HasWildcard(prefix)) {
    return InvalidArgumentError("input glob '" + pattern +
                                "': wildcards may not name the worker, only "
                                "the path on it");
  }
  const std::shared_ptr<const RemoteCatalog> catalog = CurrentCatalog();
  std::vector<std::string> out;
  // A literal URL, or a pattern that is itself a file's name.
  if (catalog != nullptr) {
    StatusOr<RemoteFileInfo> st = catalog->stat(pattern);
    if (st.ok() && st->is_file) return std::vector<std::string>{pattern};
    if (!st.ok() && st.status().code() != StatusCode::kNotFound) {
      return st.status();  // unreachable, refused: listing would be too
    }
    if (!HasWildcard(path)) {
      if (st.ok()) {
        return InvalidArgumentError("input '" + pattern +
                                    "' is not a regular file");
      }
      if (st.status().code() == StatusCode::kNotFound) {
        return NotFoundError("input file '" + pattern + "' does not exist");
      }
      return st.status();
    }
  } else if (!HasWildcard(path)) {
    return std::vector<std::string>{pattern};
  } else {
    return UnimplementedError(
        "input glob '" + pattern +
        "': tg:// globs are expanded through a worker's data service, and "
        "this process has no client for it (give the cluster's token and "
        "masters, or list the files one by one)");
  }
  // As locally: "a//b" is "a/b", a run of "**" is one, a trailing "**" is
  // every file below.
  std::vector<std::string> comps;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string comp = path.substr(pos, next - pos);
    pos = next + 1;
    if (comp.empty()) continue;
    if (comp == "**" && !comps.empty() && comps.back() == "**") continue;
    comps.push_back(std::move(comp));
  }
  if (comps.back() == "**") comps.push_back("*");
  RemoteWalker walker(*catalog, prefix, std::move(comps), &out);
  RETURN_IF_ERROR(walker.Run());
  if (out.empty()) {
    return InvalidArgumentError("input glob '" + pattern + "' matches no file");
  }
  return out;
}

// ---- FileSplit --------------------------------------------------------------

std::string FileSplit::ToPayload() const {
  if (whole()) return path;
  std::string p = path;
  p += '\0';
  p += std::to_string(offset);
  p += '\0';
  p += std::to_string(length);
  return p;
}

StatusOr<FileSplit> FileSplit::Parse(std::string_view payload) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("malformed file split payload '" +
                                Printable(payload) + "': " + std::string(why));
  };
  FileSplit s;
  const size_t nul1 = payload.find('\0');
  if (nul1 == std::string_view::npos) {
    if (payload.empty()) return bad("empty path");
    s.path = std::string(payload);
    return s;
  }
  const size_t nul2 = payload.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos)
    return bad("expected path\\0offset\\0length");
  if (payload.find('\0', nul2 + 1) != std::string_view::npos) {
    return bad("trailing data after the length");
  }
  if (nul1 == 0) return bad("empty path");
  uint64_t offset = 0, length = 0;
  if (!ParseDecimal(payload.substr(nul1 + 1, nul2 - nul1 - 1),
                    static_cast<uint64_t>(kInt64Max), &offset)) {
    return bad("offset is not a non-negative decimal integer");
  }
  if (!ParseDecimal(payload.substr(nul2 + 1),
                    static_cast<uint64_t>(kInt64Max) - offset, &length)) {
    return bad("length is not a non-negative decimal integer (or overflows)");
  }
  s.path = std::string(payload.substr(0, nul1));
  s.offset = offset;
  s.length = static_cast<int64_t>(length);
  return s;
}

// ---- PlanSplits -------------------------------------------------------------

StatusOr<std::vector<FileSplit>> PlanSplits(
    const std::vector<std::string>& files, int64_t split_bytes) {
  std::vector<FileSplit> out;
  // Ranges of about split_bytes, or the whole file.
  const auto cut = [&](const std::string& f, uint64_t size) {
    if (split_bytes <= 0 || CodecForPath(f) != Codec::kNone ||
        size <= static_cast<uint64_t>(split_bytes)) {
      out.push_back(FileSplit{f, 0, -1});
      return;
    }
    const uint64_t step = static_cast<uint64_t>(split_bytes);
    for (uint64_t off = 0; off < size; off += step) {
      out.push_back(
          FileSplit{f, off, static_cast<int64_t>(std::min(step, size - off))});
    }
  };
  const std::shared_ptr<const RemoteCatalog> catalog = CurrentCatalog();
  for (const std::string& f : files) {
    if (IsRemoteInput(f)) {
      if (catalog == nullptr || split_bytes <= 0 ||
          CodecForPath(f) != Codec::kNone) {
        out.push_back(FileSplit{f, 0, -1});
        continue;
      }
      ASSIGN_OR_RETURN(RemoteFileInfo info, catalog->stat(f));
      if (!info.is_file) {
        return InvalidArgumentError("input '" + f + "' is not a regular file");
      }
      cut(f, info.size);
      continue;
    }
    struct stat st;
    if (::stat(f.c_str(), &st) != 0) {
      const int err = errno;
      const std::string msg = "cannot stat input file '" + f +
                              "': " + std::generic_category().message(err);
      if (err == ENOENT || err == ENOTDIR) return NotFoundError(msg);
      if (err == EACCES || err == EPERM) return PermissionDeniedError(msg);
      return InternalError(msg);
    }
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("input '" + f + "' is not a regular file");
    }
    cut(f, static_cast<uint64_t>(st.st_size));
  }
  return out;
}

// ---- SplitLineReader --------------------------------------------------------

struct SplitLineReader::Impl {
  // Declared before `reader`, which borrows it, so it is destroyed after.
  std::unique_ptr<ReadStream> stream;
  std::unique_ptr<LineReader> reader;
  // File offset of the stream's first byte.
  uint64_t base = 0;
  // Whole split: no end. Range: lines starting at or after `end` belong to
  // the next split.
  bool whole = true;
  uint64_t end = 0;
  // A range starting after 0 first discards through the first '\n' at or
  // after base (= offset - 1): that line belongs to the previous split.
  bool skip_first = false;
  bool done = false;
  uint64_t line_offset = 0;
  uint64_t block_offset = 0;
  bool truncated = false;
};

SplitLineReader::SplitLineReader() : impl_(std::make_unique<Impl>()) {}
SplitLineReader::~SplitLineReader() = default;

StatusOr<std::unique_ptr<SplitLineReader>> SplitLineReader::Open(
    const FileSplit& split, size_t max_line) {
  std::unique_ptr<SplitLineReader> r(new SplitLineReader());
  Impl& im = *r->impl_;
  // The line reader reads ahead by its buffer size. 192 KiB: the decoded
  // text is still in the core's L2 cache when the lines are parsed, beside
  // the task's tables (1 MiB was ~3% slower for logstats over gzip,
  // bench/logstats_e2e.sh), and isa-l's inflate, which stages 32 KiB of
  // output through its own buffer and saves 32 KiB of history on every
  // call, is called less often than with 128 KiB (which took 2% more
  // instructions); 256 KiB took 2-4% more CPU than 192 once the tables
  // were sized from the start (they then fill the L2 sooner), 512 KiB more
  // still (docs/benchmarks.md). A small
  // range should not read (or allocate) that much; 64 KiB stays at or above
  // the size from which the file stream reads straight into our buffer
  // instead of through its own.
  size_t buffer = 192u << 10;
  if (split.whole()) {
    ASSIGN_OR_RETURN(im.stream, OpenDecoded(split.path));
  } else {
    if (CodecForPath(split.path) != Codec::kNone) {
      return InvalidArgumentError(
          "cannot read a byte range of compressed file '" + split.path +
          "': compressed inputs are read whole");
    }
    im.whole = false;
    im.base = split.offset > 0 ? split.offset - 1 : 0;
    im.skip_first = split.offset > 0;
    im.end = split.offset + static_cast<uint64_t>(split.length);
    buffer = std::clamp<size_t>(static_cast<size_t>(split.length) + 1,
                                64u << 10, buffer);
    // To the end of the file: the last owned line may run past the range.
    ASSIGN_OR_RETURN(im.stream, OpenFileRange(split.path, im.base, -1));
  }
  im.reader = std::make_unique<LineReader>(im.stream.get(), max_line, buffer);
  return r;
}

Status SplitLineReader::SkipFirst() {
  Impl& im = *impl_;
  if (im.skip_first) {
    im.skip_first = false;
    std::string_view ignored;
    ASSIGN_OR_RETURN(bool more, im.reader->Next(&ignored));
    if (!more) im.done = true;
  }
  return OkStatus();
}

StatusOr<bool> SplitLineReader::NextLines(std::string_view* lines) {
  Impl& im = *impl_;
  if (im.done) return false;
  RETURN_IF_ERROR(SkipFirst());
  if (im.done) return false;
  im.block_offset = im.base + im.reader->bytes_consumed();
  ASSIGN_OR_RETURN(
      bool more,
      im.reader->NextLines(lines, im.whole ? UINT64_MAX : im.end - im.base));
  if (!more) im.done = true;
  return more;
}

uint64_t SplitLineReader::block_offset() const { return impl_->block_offset; }

StatusOr<bool> SplitLineReader::Next(std::string_view* line) {
  Impl& im = *impl_;
  if (im.done) return false;
  RETURN_IF_ERROR(SkipFirst());
  if (im.done) return false;
  const uint64_t start = im.base + im.reader->bytes_consumed();
  if (!im.whole && start >= im.end) {
    im.done = true;
    return false;
  }
  ASSIGN_OR_RETURN(bool more, im.reader->Next(line));
  if (!more) {
    im.done = true;
    return false;
  }
  im.line_offset = start;
  im.truncated = im.reader->truncated();
  return true;
}

uint64_t SplitLineReader::line_offset() const { return impl_->line_offset; }

bool SplitLineReader::truncated() const { return impl_->truncated; }

}  // namespace taskgrid
