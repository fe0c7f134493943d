// LineReader: splits a ReadStream into lines ('\n'-terminated; a final line
// without '\n' counts; a trailing '\r' is kept — callers that care strip
// it). Lines may contain NUL bytes and invalid UTF-8; nothing here cares.
//
// A line longer than `max_line` bytes is returned in full up to max_line
// bytes with truncated() set, and the rest of it is skipped: memory stays
// bounded whatever the input.
//
// Thread-safety: one thread at a time.
#ifndef TASKGRID_IO_LINE_READER_H_
#define TASKGRID_IO_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/read_stream.h"

namespace taskgrid {

inline constexpr size_t kDefaultMaxLine = 16u << 20;  // 16 MiB
// Bytes after a returned line that may be read (their content is
// unspecified): lets a parser load whole vectors near a line's end.
inline constexpr size_t kLineReadSlack = 64;

class LineReader {
 public:
  // `stream` must outlive the reader. buffer_size is the one read buffer
  // (at least 1 byte); lines that fit in it are returned without a copy.
  // Memory: buffer_size + at most max_line for a line longer than the
  // buffer.
  explicit LineReader(ReadStream* stream, size_t max_line = kDefaultMaxLine,
                      size_t buffer_size = 1u << 20);
  ~LineReader();

  // Sets `*line` to the next line (without its '\n'), valid until the next
  // call, with kLineReadSlack readable bytes after it. Returns false at the
  // end; an error from the stream otherwise.
  // Errors are sticky: later calls return the same error.
  StatusOr<bool> Next(std::string_view* line);

  // The next lines at once, for callers that split them themselves: sets
  // *lines to whole lines from the next unread one on, each with its '\n'
  // (the stream's last line may lack it), as many as the buffer holds but
  // only those that start before stream offset `limit`, with
  // kLineReadSlack readable bytes after them; reads more first if no whole
  // line is buffered. Returns false at the end (or when the next line
  // starts at or after `limit`). Sets *lines empty (and returns true) when
  // the next line must be taken with Next() instead: it is longer than the
  // buffer, or max_line is below the buffer size (Next truncates lines);
  // that Next() may then find the end.
  // Views are valid until the next call; line_number() does not count
  // these lines; bytes_consumed() does.
  StatusOr<bool> NextLines(std::string_view* lines,
                           uint64_t limit = UINT64_MAX);

  // 1-based number of the line last returned by Next().
  uint64_t line_number() const { return line_number_; }
  // Whether the line last returned was cut at max_line.
  bool truncated() const { return truncated_; }
  // Decoded bytes consumed through the end of the line last returned.
  uint64_t bytes_consumed() const { return consumed_; }

 private:
  void EndCarry();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t line_number_ = 0;
  uint64_t consumed_ = 0;
  bool truncated_ = false;
};

}  // namespace taskgrid

#endif  // TASKGRID_IO_LINE_READER_H_
