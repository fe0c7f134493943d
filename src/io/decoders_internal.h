// Internals of the decoders behind WrapDecoder (read_stream.h), exposed for
// decoders.cc, its tests and bench/decode_bench.cc only.
//
// A DecoderCore is a codec's streaming state machine over byte spans, with
// no I/O; DecodingStream (decoders.cc) owns the input buffer, refills it
// from the raw stream, and turns a core's errors into messages that name the
// file and the compressed byte offset.
//
// Thread-safety: a core is used by one thread at a time.
#ifndef TASKGRID_IO_DECODERS_INTERNAL_H_
#define TASKGRID_IO_DECODERS_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "io/read_stream.h"
#include "taskgrid/status.h"

namespace taskgrid::io_internal {

class DecoderCore {
 public:
  struct Step {
    size_t in_used = 0;   // bytes of `in` consumed
    size_t out_made = 0;  // bytes written to `out`
    bool end = false;     // the stream ended cleanly; no more output
  };

  virtual ~DecoderCore() = default;

  // Decodes from in[0, in_len) into out[0, out_len) (out_len > 0).
  // `in_eof`: no input follows `in`. Sets `end` only when in_eof and all of
  // `in` was consumed at a clean boundary (end of a member / frame / stream).
  // Errors carry the library's reason as the message, with code:
  //   DataLoss          - the data is corrupt;
  //   OutOfRange        - the data ends early (truncated);
  //   ResourceExhausted - decoding would need more memory than allowed;
  //   Internal          - the library failed in some other way.
  // A core may return with nothing used and nothing made (e.g. after a
  // member ends); the caller calls again.
  virtual Status Decode(const uint8_t* in, size_t in_len, bool in_eof,
                        char* out, size_t out_len, Step* step) = 0;
};

// Which inflate implementation decodes .gz streams.
enum class GzipImpl { kIsal, kZlib };

// The implementation OpenDecoded / WrapDecoder use for gzip: the default
// (see decoders.cc), or $TASKGRID_GZIP ("isal" or "zlib"). InvalidArgument
// for another value of the variable.
StatusOr<GzipImpl> DefaultGzipImpl();

std::unique_ptr<DecoderCore> NewGzipCore(GzipImpl impl);
std::unique_ptr<DecoderCore> NewZstdCore();
std::unique_ptr<DecoderCore> NewBzip2Core();
std::unique_ptr<DecoderCore> NewXzCore();
std::unique_ptr<DecoderCore> NewLz4Core();

// A ReadStream decoding `raw` with `core`; `codec_name` names the codec in
// error messages. The empty input decodes to nothing, for every codec.
std::unique_ptr<ReadStream> NewDecodingStream(std::string_view codec_name,
                                              std::unique_ptr<DecoderCore> core,
                                              std::unique_ptr<ReadStream> raw);

// WrapDecoder for gzip with a chosen implementation (tests, benchmarks).
std::unique_ptr<ReadStream> WrapGzip(GzipImpl impl,
                                     std::unique_ptr<ReadStream> raw);

// Limits on the memory one decoder may use on hostile input. Frames that
// need more fail with ResourceExhausted.
inline constexpr int kZstdWindowLogMax = 27;                  // 128 MiB
inline constexpr uint64_t kXzMemLimit = uint64_t{256} << 20;  // 256 MiB
// Size of a decoder's compressed-input buffer: small enough to leave the
// core's L2 cache to the decoded text and the processor's tables (1 MiB
// took ~1.5% more CPU for logstats over gzip; see SplitLineReader::Open).
inline constexpr size_t kDecoderInputBuffer = size_t{128} << 10;

}  // namespace taskgrid::io_internal

#endif  // TASKGRID_IO_DECODERS_INTERNAL_H_
