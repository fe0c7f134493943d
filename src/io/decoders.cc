// DecodingStream: the part of every decoder that is not the codec — the
// compressed-input buffer, refills, end-of-file and truncation rules, and
// error messages — plus WrapDecoder and the choice of gzip implementation.
// The codecs themselves are in gzip_decoder.cc and codec_decoders.cc.
//
// Gzip default: isa-l, by measurement. decode_bench on the shared 2-core
// build machine (Debian 12: isa-l 2.30, zlib 1.2.13, libdeflate 1.14, zstd
// 1.5.4, lz4 1.9.4), a generated 100 MB nginx access log, MB/s of decoded
// output per CPU second, median of 3 (CPU time because concurrent builds
// kept the load average near 5; wall-clock figures are noisier, not
// different in ranking):
//
//   file made by        isa-l stream   zlib stream   libdeflate whole buffer
//   gzip -6 (16.0 MB)       2020           678            1696
//   igzip (-1, 19.5 MB)     1603           615            1381
//
//   zstd -3 stream 1468, lz4 stream 1041, plain read 16553 (page cache),
//   lines from gzip -6 via isa-l + LineReader 1591.
//
// Streams include reading the file (from the page cache); libdeflate is
// given the whole file in memory and a preallocated output buffer.
// Command:
//   cmake -S /work/main -B /work/build-io -G Ninja -DTASKGRID_BUILD_BENCH=ON
//   ninja -C /work/build-io -j2 decode_bench
//   /work/build-io/bench/decode_bench --benchmark_repetitions=3
// isa-l inflates about 3x as fast as zlib and at least as fast as
// libdeflate, which has no streaming API (it needs a whole member and its
// whole output in memory, so it cannot read files of any size). isa-l 2.30
// was also run on one 4.6 GB member (past its 32-bit total_out counter):
// decoded in full, CRC32 and ISIZE verified, 1137 MB/s wall clock, against
// zlib's 404 MB/s on the same igzip -1 file.
//
// Rules kept here for every codec:
//  - An empty file (zero compressed bytes) decodes to nothing. gzip -t calls
//    an empty .gz an error; a log rotated into an empty file is common
//    enough that an empty task output is the friendlier answer.
//  - Input that ends before the codec reached a clean boundary is DataLoss
//    ("truncated"), never a clean end.
//  - A core that neither consumes input nor produces output for many calls
//    in a row while input is available is treated as corrupt data (some
//    inflaters can spin on hostile input).
//  - Errors are sticky: after one, every Read returns it again.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "io/decoders_internal.h"
#include "io/read_stream.h"

namespace taskgrid {
namespace io_internal {
namespace {

// Consecutive calls without progress before the data is declared corrupt.
constexpr int kMaxStalls = 16;

class DecodingStream final : public ReadStream {
 public:
  DecodingStream(std::string_view codec_name, std::unique_ptr<DecoderCore> core,
                 std::unique_ptr<ReadStream> raw)
      : codec_name_(codec_name),
        core_(std::move(core)),
        raw_(std::move(raw)),
        // Slack past the end: some SIMD decoders load a word at a time.
        in_(new uint8_t[kDecoderInputBuffer + 64]) {}

  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (done_ || n == 0) return size_t{0};
    int stalls = 0;
    for (;;) {
      if (in_pos_ == in_len_ && !in_eof_) {
        StatusOr<size_t> r =
            raw_->Read(reinterpret_cast<char*>(in_.get()), kDecoderInputBuffer);
        if (!r.ok()) {  // already names the file and offset
          error_ = r.status();
          return error_;
        }
        in_pos_ = 0;
        in_len_ = *r;
        if (in_len_ == 0) in_eof_ = true;
        compressed_seen_ += in_len_;
        if (in_eof_ && compressed_seen_ == 0) {  // empty file: no data
          done_ = true;
          return size_t{0};
        }
      }
      DecoderCore::Step step;
      Status s = core_->Decode(in_.get() + in_pos_, in_len_ - in_pos_, in_eof_,
                               buf, n, &step);
      in_pos_ += step.in_used;
      if (!s.ok()) return Fail(s);
      if (step.end) done_ = true;
      if (step.out_made > 0) return step.out_made;
      if (done_) return size_t{0};
      if (step.in_used > 0) {
        stalls = 0;
        continue;
      }
      if (in_eof_ && in_pos_ == in_len_) {
        return Fail(Status(StatusCode::kOutOfRange,
                           "unexpected end of compressed data"));
      }
      if (in_pos_ < in_len_ && ++stalls > kMaxStalls) {
        return Fail(DataLossError("decoder makes no progress"));
      }
    }
  }

  uint64_t file_offset() const override {
    return raw_->file_offset() - (in_len_ - in_pos_);
  }
  const std::string& path() const override { return raw_->path(); }

 private:
  // Records `s` as the stream's error, in the form the header promises.
  Status Fail(const Status& s) {
    const std::string where = " at byte " + std::to_string(file_offset());
    const std::string head = path() + ": " + std::string(codec_name_);
    switch (s.code()) {
      case StatusCode::kDataLoss:
        error_ = DataLossError(head + " data corrupt" + where + " (" +
                               s.message() + ")");
        break;
      case StatusCode::kOutOfRange:
        error_ = DataLossError(head + " data truncated" + where + " (" +
                               s.message() + ")");
        break;
      case StatusCode::kResourceExhausted:
        error_ = ResourceExhaustedError(head + " data" + where +
                                        " needs too much memory (" +
                                        s.message() + ")");
        break;
      case StatusCode::kInternal:
        error_ = InternalError(head + " decoder failed" + where + " (" +
                               s.message() + ")");
        break;
      default:
        error_ =
            Status(s.code(), head + " decoder" + where + ": " + s.message());
        break;
    }
    return error_;
  }

  // Constant after construction.
  const std::string_view codec_name_;  // a literal
  const std::unique_ptr<DecoderCore> core_;
  const std::unique_ptr<ReadStream> raw_;
  const std::unique_ptr<uint8_t[]> in_;

  size_t in_pos_ = 0;  // next unconsumed byte of in_
  size_t in_len_ = 0;  // valid bytes in in_
  bool in_eof_ = false;
  uint64_t compressed_seen_ = 0;
  bool done_ = false;
  Status error_;
};

}  // namespace

StatusOr<GzipImpl> DefaultGzipImpl() {
  const char* env = std::getenv("TASKGRID_GZIP");
  if (env == nullptr || *env == '\0') return GzipImpl::kIsal;
  const std::string_view v(env);
  if (v == "isal") return GzipImpl::kIsal;
  if (v == "zlib") return GzipImpl::kZlib;
  return InvalidArgumentError("TASKGRID_GZIP=" + std::string(v) +
                              ": expected \"isal\" or \"zlib\"");
}

std::unique_ptr<ReadStream> NewDecodingStream(std::string_view codec_name,
                                              std::unique_ptr<DecoderCore> core,
                                              std::unique_ptr<ReadStream> raw) {
  return std::make_unique<DecodingStream>(codec_name, std::move(core),
                                          std::move(raw));
}

std::unique_ptr<ReadStream> WrapGzip(GzipImpl impl,
                                     std::unique_ptr<ReadStream> raw) {
  return NewDecodingStream(CodecName(Codec::kGzip), NewGzipCore(impl),
                           std::move(raw));
}

}  // namespace io_internal

StatusOr<std::unique_ptr<ReadStream>> WrapDecoder(
    Codec codec, std::unique_ptr<ReadStream> raw) {
  using namespace io_internal;  // NOLINT(build/namespaces)
  if (raw == nullptr) return InvalidArgumentError("WrapDecoder: null stream");
  std::unique_ptr<DecoderCore> core;
  switch (codec) {
    case Codec::kNone:
      return raw;
    case Codec::kGzip: {
      StatusOr<GzipImpl> impl = DefaultGzipImpl();
      if (!impl.ok()) return impl.status();
      core = NewGzipCore(*impl);
      break;
    }
    case Codec::kZstd:
      core = NewZstdCore();
      break;
    case Codec::kBzip2:
      core = NewBzip2Core();
      break;
    case Codec::kXz:
      core = NewXzCore();
      break;
    case Codec::kLz4:
      core = NewLz4Core();
      break;
  }
  if (core == nullptr) {
    return InvalidArgumentError("WrapDecoder: unknown codec " +
                                std::to_string(static_cast<int>(codec)));
  }
  return NewDecodingStream(CodecName(codec), std::move(core), std::move(raw));
}

}  // namespace taskgrid
