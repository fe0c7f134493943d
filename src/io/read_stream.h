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
// decoding failed: "logs/a.log.gz: gzip data corrupt at byte 1048576 (...)"
// or "... data truncated at byte N (...)", the parenthesis giving the
// library's reason, with code DataLoss for corrupt or truncated data,
// NotFound / PermissionDenied for open failures, Internal for I/O errors.
// Also: FailedPrecondition for a directory (or a byte range of something
// that is not a regular file); ResourceExhausted for a frame that needs
// more memory than a decoder allows (zstd windows > 128 MiB, xz > 256 MiB);
// Unimplemented for a scheme other than file:// and tg://, and for tg://
// when no remote opener is installed. Errors are sticky: once a
// Read fails, every later Read returns the same error.
//
// Empty input: an empty file yields nothing, whatever its extension (an
// empty .gz decodes to nothing rather than failing as `gzip -t` would).
// gzip: members are decoded in turn and their CRC32 and ISIZE checked;
// zero bytes after the last member are ignored (as gzip does), other
// trailing bytes are DataLoss. Set TASKGRID_GZIP=zlib to inflate with zlib
// instead of isa-l (the default; see decoders.cc for the measurements).
//
// Thread-safety: a stream is used by one thread at a time.
#ifndef TASKGRID_IO_READ_STREAM_H_
#define TASKGRID_IO_READ_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "taskgrid/status.h"

namespace taskgrid {

class ReadStream {
 public:
  virtual ~ReadStream() = default;
  // Reads up to `n` bytes into `buf`; returns 0 only at the end of the
  // stream (or when n == 0). A truncated compressed stream is an error, not
  // an early end. After the end, Read keeps returning 0.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Bytes consumed so far from the underlying file (compressed bytes for a
  // decoder): the offset that error messages report. For OpenFileRange,
  // the position in the file (offset + bytes returned).
  virtual uint64_t file_offset() const = 0;
  // The path this stream reads, for messages.
  virtual const std::string& path() const = 0;
};

enum class Codec { kNone, kGzip, kZstd, kBzip2, kXz, kLz4 };

// The codec for a path by its extension: .gz, .zst, .bz2, .xz, .lz4; kNone
// otherwise. ASCII case is ignored ("A.GZ" is gzip).
Codec CodecForPath(std::string_view path);
std::string_view CodecName(Codec c);

// The file's bytes as they are on disk. `path` is a local path,
// "file://" + a local path, or a tg:// URL (through the remote opener).
StatusOr<std::unique_ptr<ReadStream>> OpenFileStream(const std::string& path);
// Bytes [offset, offset + length) of a file (length < 0: to the end),
// clipped at the end of the file; empty if offset is past the end.
StatusOr<std::unique_ptr<ReadStream>> OpenFileRange(const std::string& path,
                                                    uint64_t offset,
                                                    int64_t length);
// The file's decoded content: OpenFileStream wrapped in the decoder that
// CodecForPath picks. Multi-member gzip files decode to the concatenation of
// their members.
StatusOr<std::unique_ptr<ReadStream>> OpenDecoded(const std::string& path);
// Opens bytes [offset, offset + length) (length < 0: to the end) of the file
// a tg:// URL names. Errors name the URL.
using RemoteOpener = std::function<StatusOr<std::unique_ptr<ReadStream>>(
    const std::string& url, uint64_t offset, int64_t length)>;
// Installs the process-wide opener of tg:// URLs, which OpenFileStream,
// OpenFileRange and OpenDecoded use (decoders still apply by extension, so
// tg://w1/data/x.log.gz decodes). io itself has no network client: the
// worker process and the CLI install one (worker/data_client.h). An empty
// function removes it; returns the previous one. Thread-safe; a call in
// progress keeps the opener it started with.
RemoteOpener SetRemoteOpener(RemoteOpener opener);

// Wraps `raw` in a decoder for `codec` (kNone returns `raw` itself).
// InvalidArgument if raw is null or $TASKGRID_GZIP has a bad value.
StatusOr<std::unique_ptr<ReadStream>> WrapDecoder(
    Codec codec, std::unique_ptr<ReadStream> raw);

}  // namespace taskgrid

#endif  // TASKGRID_IO_READ_STREAM_H_
