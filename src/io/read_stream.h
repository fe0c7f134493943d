// ReadStream: a source of bytes — a plain file, a byte range of one, or a
// decoder (gzip, zstd, bzip2, xz, lz4) wrapped around another stream. Chosen
// by path, Thrill-style: the scheme picks the source (a local path today,
// tg://worker/path later), the extension picks the decoder.
//
// Streams are forward-only: compressed data cannot be seeked, and nothing
// here pretends it can. Memory is bounded by the buffer sizes, never by the
// file's size.
//
// Errors name the file and the byte offset in the file where reading or
// decoding failed: "logs/a.log.gz: corrupt gzip data at byte 1048576 (...)"
// with code DataLoss for corrupt or truncated data, NotFound / Permission-
// Denied for open failures, Internal for I/O errors.
//
// Thread-safety: a stream is used by one thread at a time.
#ifndef TASKGRID_IO_READ_STREAM_H_
#define TASKGRID_IO_READ_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "taskgrid/status.h"

namespace taskgrid {

class ReadStream {
 public:
  virtual ~ReadStream() = default;
  // Reads up to `n` bytes into `buf`; returns 0 only at the end of the
  // stream. A truncated compressed stream is an error, not an early end.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Bytes consumed so far from the underlying file (compressed bytes for a
  // decoder): the offset that error messages report.
  virtual uint64_t file_offset() const = 0;
  // The path this stream reads, for messages.
  virtual const std::string& path() const = 0;
};

enum class Codec { kNone, kGzip, kZstd, kBzip2, kXz, kLz4 };

// The codec for a path by its extension: .gz, .zst, .bz2, .xz, .lz4; kNone
// otherwise.
Codec CodecForPath(std::string_view path);
std::string_view CodecName(Codec c);

// The file's bytes as they are on disk.
StatusOr<std::unique_ptr<ReadStream>> OpenFileStream(const std::string& path);
// Bytes [offset, offset + length) of a file (length < 0: to the end).
StatusOr<std::unique_ptr<ReadStream>> OpenFileRange(const std::string& path,
                                                    uint64_t offset,
                                                    int64_t length);
// The file's decoded content: OpenFileStream wrapped in the decoder that
// CodecForPath picks. Multi-member gzip files decode to the concatenation of
// their members.
StatusOr<std::unique_ptr<ReadStream>> OpenDecoded(const std::string& path);
// Wraps `raw` in a decoder for `codec` (kNone returns `raw` itself).
StatusOr<std::unique_ptr<ReadStream>> WrapDecoder(
    Codec codec, std::unique_ptr<ReadStream> raw);

}  // namespace taskgrid

#endif  // TASKGRID_IO_READ_STREAM_H_
