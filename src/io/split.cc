#include "io/split.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
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

}  // namespace

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
  for (const std::string& f : files) {
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
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (split_bytes <= 0 || CodecForPath(f) != Codec::kNone ||
        size <= static_cast<uint64_t>(split_bytes)) {
      out.push_back(FileSplit{f, 0, -1});
      continue;
    }
    const uint64_t step = static_cast<uint64_t>(split_bytes);
    for (uint64_t off = 0; off < size; off += step) {
      out.push_back(
          FileSplit{f, off, static_cast<int64_t>(std::min(step, size - off))});
    }
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
  bool truncated = false;
};

SplitLineReader::SplitLineReader() : impl_(std::make_unique<Impl>()) {}
SplitLineReader::~SplitLineReader() = default;

StatusOr<std::unique_ptr<SplitLineReader>> SplitLineReader::Open(
    const FileSplit& split, size_t max_line) {
  std::unique_ptr<SplitLineReader> r(new SplitLineReader());
  Impl& im = *r->impl_;
  // The line reader reads ahead by its buffer size; a small range should
  // not read (or allocate) 1 MiB. 64 KiB stays at or above the size from
  // which the file stream reads straight into our buffer instead of through
  // its own.
  size_t buffer = 1u << 20;
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

StatusOr<bool> SplitLineReader::Next(std::string_view* line) {
  Impl& im = *impl_;
  if (im.done) return false;
  if (im.skip_first) {
    im.skip_first = false;
    std::string_view ignored;
    ASSIGN_OR_RETURN(bool more, im.reader->Next(&ignored));
    if (!more) {
      im.done = true;
      return false;
    }
  }
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
