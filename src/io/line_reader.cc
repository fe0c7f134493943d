// LineReader keeps one buffer of buffer_size bytes. A line that lies in the
// buffer is returned as a view into it (no copy). When the buffer ends in
// the middle of a line, that partial line is moved to the front and the
// rest of the buffer refilled, so lines crossing a refill are still
// returned in place. Only a line longer than the whole buffer is assembled
// in `carry`, and only up to max_line bytes of it; the rest is counted and
// dropped. memchr does the scanning, and each byte is scanned once.
#include "io/line_reader.h"

#include <string.h>  // memrchr

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "core/status_macros.h"

namespace taskgrid {

struct LineReader::Impl {
  Impl(ReadStream* s, size_t max, size_t size)
      : stream(s),
        max_line(max),
        buffer_size(std::max<size_t>(size, 1)),
        buf(new char[buffer_size + kLineReadSlack]) {
    // What lies after the data is never part of a line, but may be read.
    std::memset(buf.get() + buffer_size, 0, kLineReadSlack);
  }

  // Moves the unread bytes [begin, end) to the front of the buffer.
  void Compact() {
    if (begin == 0) return;
    std::memmove(buf.get(), buf.get() + begin, end - begin);
    buf_pos += begin;
    end -= begin;
    begin = 0;
  }
  // Reads more after `end` (there must be room); sets eof at the stream's
  // end. An error is kept: errors are sticky.
  Status Refill() {
    StatusOr<size_t> n = stream->Read(buf.get() + end, buffer_size - end);
    if (!n.ok()) {
      error = n.status();
      return error;
    }
    if (*n == 0) {
      eof = true;
    } else {
      end += *n;
    }
    return OkStatus();
  }

  // Appends data to carry, up to max_line bytes in all.
  void Carry(const char* data, size_t n) {
    const size_t room = max_line - std::min(max_line, carry.size());
    const size_t k = std::min(n, room);
    carry.append(data, k);
    if (k < n) carry_dropped = true;
  }

  // Constant after construction.
  ReadStream* const stream;
  const size_t max_line;
  const size_t buffer_size;
  const std::unique_ptr<char[]> buf;

  size_t begin = 0;      // start of the unread data in buf
  size_t end = 0;        // end of valid data in buf
  uint64_t buf_pos = 0;  // stream offset of buf[0]
  bool eof = false;
  Status error;

  bool carrying = false;  // the current line started before buf[0]
  bool carry_dropped = false;
  std::string carry;
};

LineReader::LineReader(ReadStream* stream, size_t max_line, size_t buffer_size)
    : impl_(std::make_unique<Impl>(stream, max_line, buffer_size)) {}

LineReader::~LineReader() = default;

// The view last returned may point into carry: drop it.
void LineReader::EndCarry() {
  Impl& m = *impl_;
  if (m.carrying) {
    m.carrying = false;
    m.carry_dropped = false;
    m.carry.clear();
  }
}

StatusOr<bool> LineReader::NextLines(std::string_view* lines, uint64_t limit) {
  Impl& m = *impl_;
  truncated_ = false;
  if (!m.error.ok()) return m.error;
  EndCarry();
  *lines = std::string_view();
  if (m.max_line < m.buffer_size) {  // Next() truncates
    return !(m.eof && m.begin == m.end);
  }
  char* const buf = m.buf.get();
  size_t scan = m.begin;  // bytes before `scan` hold no '\n'
  for (;;) {
    if (m.buf_pos + m.begin >= limit) return false;
    const void* last =
        scan < m.end ? memrchr(buf + scan, '\n', m.end - scan) : nullptr;
    size_t stop;  // the end of the lines returned
    if (last != nullptr) {
      stop = static_cast<size_t>(static_cast<const char*>(last) - buf) + 1;
    } else if (m.eof) {
      if (m.begin == m.end) return false;
      stop = m.end;  // the last line, without '\n'
    } else if (m.begin == 0 && m.end == m.buffer_size) {
      return true;  // longer than the buffer: for Next()
    } else {
      // No whole line buffered: make room, then read more.
      m.Compact();
      scan = m.end;
      RETURN_IF_ERROR(m.Refill());
      continue;
    }
    if (m.buf_pos + stop > limit) {
      // Only the lines that start before limit: through the '\n' of the
      // line holding byte limit - 1.
      const size_t in = static_cast<size_t>(limit - m.buf_pos) - 1;
      const void* nl = std::memchr(buf + in, '\n', stop - in);
      if (nl != nullptr) {
        stop = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
      }
    }
    *lines = std::string_view(buf + m.begin, stop - m.begin);
    m.begin = stop;
    consumed_ = m.buf_pos + m.begin;
    return true;
  }
}

StatusOr<bool> LineReader::Next(std::string_view* line) {
  Impl& m = *impl_;
  truncated_ = false;
  if (!m.error.ok()) return m.error;
  EndCarry();
  char* const buf = m.buf.get();
  size_t scan = m.begin;  // bytes before `scan` hold no '\n'
  for (;;) {
    const void* nl =
        scan < m.end ? std::memchr(buf + scan, '\n', m.end - scan) : nullptr;
    if (nl != nullptr || (m.eof && (m.begin < m.end || m.carrying))) {
      const size_t stop =
          nl != nullptr
              ? static_cast<size_t>(static_cast<const char*>(nl) - buf)
              : m.end;
      const size_t len = stop - m.begin;
      if (m.carrying) {
        m.Carry(buf + m.begin, len);
        const size_t n = m.carry.size();
        m.carry.append(kLineReadSlack, '\0');  // cleared by the next call
        *line = std::string_view(m.carry.data(), n);
        truncated_ = m.carry_dropped;
      } else if (len > m.max_line) {
        *line = std::string_view(buf + m.begin, m.max_line);
        truncated_ = true;
      } else {
        *line = std::string_view(buf + m.begin, len);
      }
      m.begin = nl != nullptr ? stop + 1 : stop;
      consumed_ = m.buf_pos + m.begin;
      ++line_number_;
      return true;
    }
    if (m.eof) return false;

    // No '\n' in [begin, end): make room, then read more.
    if (m.carrying || (m.begin == 0 && m.end == m.buffer_size)) {
      // The line is longer than the buffer: keep (up to max_line of) it
      // aside and reuse the whole buffer.
      m.Carry(buf + m.begin, m.end - m.begin);
      m.carrying = true;
      m.buf_pos += m.end;
      m.begin = m.end = 0;
    } else {
      m.Compact();
    }
    scan = m.end;
    RETURN_IF_ERROR(m.Refill());
  }
}

}  // namespace taskgrid
