// Cores for zstd, bzip2, xz and lz4 (frame format). Each decodes a file of
// concatenated frames / streams to the concatenation of their contents, as
// the command-line tools do, and reports a file that ends inside a frame as
// truncated. Trailing bytes after the last frame must form another frame
// (xz alone also allows its standard stream padding).
#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "io/decoders_internal.h"

namespace taskgrid::io_internal {
namespace {

// --- zstd -------------------------------------------------------------------

class ZstdCore final : public DecoderCore {
 public:
  ZstdCore() : dctx_(ZSTD_createDCtx()) {
    if (dctx_ != nullptr) {
      ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
    }
  }
  ~ZstdCore() override { ZSTD_freeDCtx(dctx_); }

  Status Decode(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                size_t out_len, Step* step) override {
    if (dctx_ == nullptr) return ResourceExhaustedError("zstd: no context");
    if (in_len == 0 && in_eof && at_boundary_) {
      step->end = true;
      return OkStatus();
    }
    ZSTD_inBuffer ib{in, in_len, 0};
    ZSTD_outBuffer ob{out, out_len, 0};
    const size_t ret = ZSTD_decompressStream(dctx_, &ob, &ib);
    step->in_used = ib.pos;
    step->out_made = ob.pos;
    if (ZSTD_isError(ret)) {
      const std::string reason = std::string("zstd: ") + ZSTD_getErrorName(ret);
      switch (ZSTD_getErrorCode(ret)) {
        case ZSTD_error_frameParameter_windowTooLarge:
        case ZSTD_error_memory_allocation:
          return ResourceExhaustedError(reason);
        default:
          return DataLossError(reason);
      }
    }
    // 0: a frame is complete and fully flushed. The context then starts the
    // next frame on its own.
    if (ret == 0) {
      at_boundary_ = true;
    } else if (ib.pos > 0 || ob.pos > 0) {
      at_boundary_ = false;
    }
    if (in_eof && ib.pos == in_len && at_boundary_) step->end = true;
    if (in_eof && in_len == 0 && ob.pos == 0 && !at_boundary_) {
      return Status(StatusCode::kOutOfRange, "zstd: file ends inside a frame");
    }
    return OkStatus();
  }

 private:
  ZSTD_DCtx* const dctx_;
  bool at_boundary_ = true;  // no frame begun, or the last one complete
};

// --- bzip2 ------------------------------------------------------------------

const char* Bzip2Reason(int ret) {
  switch (ret) {
    case BZ_DATA_ERROR:
      return "bzip2: data integrity error";
    case BZ_DATA_ERROR_MAGIC:
      return "bzip2: bad magic number (not bzip2 data)";
    case BZ_MEM_ERROR:
      return "bzip2: out of memory";
    case BZ_PARAM_ERROR:
      return "bzip2: parameter error";
    default:
      return "bzip2: unknown error";
  }
}

class Bzip2Core final : public DecoderCore {
 public:
  Bzip2Core() { std::memset(&bz_, 0, sizeof(bz_)); }
  ~Bzip2Core() override {
    if (in_stream_) BZ2_bzDecompressEnd(&bz_);
  }

  Status Decode(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                size_t out_len, Step* step) override {
    if (!in_stream_) {
      if (in_len == 0) {
        if (in_eof) step->end = true;  // after a complete stream
        return OkStatus();
      }
      std::memset(&bz_, 0, sizeof(bz_));
      const int ret = BZ2_bzDecompressInit(&bz_, /*verbosity=*/0, /*small=*/0);
      if (ret == BZ_MEM_ERROR) return ResourceExhaustedError(Bzip2Reason(ret));
      if (ret != BZ_OK) return InternalError(Bzip2Reason(ret));
      in_stream_ = true;
    }
    static char empty = 0;
    const unsigned avail_in = ClampUnsigned(in_len);
    const unsigned avail_out = ClampUnsigned(out_len);
    bz_.next_in = avail_in > 0
                      ? const_cast<char*>(reinterpret_cast<const char*>(in))
                      : &empty;
    bz_.avail_in = avail_in;
    bz_.next_out = out;
    bz_.avail_out = avail_out;
    const int ret = BZ2_bzDecompress(&bz_);
    step->in_used = avail_in - bz_.avail_in;
    step->out_made = avail_out - bz_.avail_out;
    if (ret == BZ_STREAM_END) {
      // A bzip2 file may hold several streams (pbzip2 writes them, and
      // `cat a.bz2 b.bz2` is what bzip2 itself accepts).
      BZ2_bzDecompressEnd(&bz_);
      in_stream_ = false;
      if (in_eof && step->in_used == in_len) step->end = true;
      return OkStatus();
    }
    if (ret == BZ_OK) {
      if (in_eof && in_len == 0 && step->out_made == 0) {
        return Status(StatusCode::kOutOfRange, "bzip2: unexpected end of file");
      }
      return OkStatus();
    }
    if (ret == BZ_MEM_ERROR) return ResourceExhaustedError(Bzip2Reason(ret));
    return DataLossError(Bzip2Reason(ret));
  }

 private:
  static unsigned ClampUnsigned(size_t n) {
    return static_cast<unsigned>(
        std::min<size_t>(n, std::numeric_limits<unsigned>::max()));
  }

  bz_stream bz_;
  bool in_stream_ = false;
};

// --- xz ---------------------------------------------------------------------

const char* XzReason(lzma_ret ret) {
  switch (ret) {
    case LZMA_FORMAT_ERROR:
      return "xz: file format not recognized";
    case LZMA_OPTIONS_ERROR:
      return "xz: unsupported compression options";
    case LZMA_DATA_ERROR:
      return "xz: compressed data is corrupt";
    case LZMA_BUF_ERROR:
      return "xz: unexpected end of input";
    case LZMA_MEM_ERROR:
      return "xz: out of memory";
    case LZMA_MEMLIMIT_ERROR:
      return "xz: memory usage limit reached";
    case LZMA_UNSUPPORTED_CHECK:
      return "xz: unsupported integrity check";
    default:
      return "xz: unknown error";
  }
}

class XzCore final : public DecoderCore {
 public:
  XzCore() {
    // LZMA_CONCATENATED: decode concatenated .xz streams (and the stream
    // padding between them), as xz does.
    init_ = lzma_stream_decoder(&strm_, kXzMemLimit, LZMA_CONCATENATED);
  }
  ~XzCore() override { lzma_end(&strm_); }

  Status Decode(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                size_t out_len, Step* step) override {
    if (init_ != LZMA_OK) {
      return init_ == LZMA_MEM_ERROR ? ResourceExhaustedError(XzReason(init_))
                                     : InternalError(XzReason(init_));
    }
    if (finished_) {  // cannot happen: the caller stops at `end`
      step->end = in_eof && in_len == 0;
      return OkStatus();
    }
    strm_.next_in = in;
    strm_.avail_in = in_len;
    strm_.next_out = reinterpret_cast<uint8_t*>(out);
    strm_.avail_out = out_len;
    // With LZMA_CONCATENATED only LZMA_FINISH tells the decoder that no
    // further stream follows.
    const lzma_ret ret = lzma_code(&strm_, in_eof ? LZMA_FINISH : LZMA_RUN);
    step->in_used = in_len - strm_.avail_in;
    step->out_made = out_len - strm_.avail_out;
    switch (ret) {
      case LZMA_OK:
        return OkStatus();
      case LZMA_STREAM_END:
        finished_ = true;
        step->end = true;
        return OkStatus();
      case LZMA_BUF_ERROR:
        if (in_eof) return Status(StatusCode::kOutOfRange, XzReason(ret));
        return OkStatus();  // needs input (we never call it without)
      case LZMA_MEM_ERROR:
      case LZMA_MEMLIMIT_ERROR:
        return ResourceExhaustedError(XzReason(ret));
      default:
        return DataLossError(XzReason(ret));
    }
  }

 private:
  lzma_stream strm_ = LZMA_STREAM_INIT;
  lzma_ret init_ = LZMA_OK;
  bool finished_ = false;
};

// --- lz4 --------------------------------------------------------------------

class Lz4Core final : public DecoderCore {
 public:
  Lz4Core() {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx_, LZ4F_VERSION))) {
      dctx_ = nullptr;
    }
  }
  ~Lz4Core() override {
    if (dctx_ != nullptr) LZ4F_freeDecompressionContext(dctx_);
  }

  Status Decode(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                size_t out_len, Step* step) override {
    if (dctx_ == nullptr) return ResourceExhaustedError("lz4: no context");
    if (in_len == 0 && in_eof && at_boundary_) {
      step->end = true;
      return OkStatus();
    }
    size_t dst_size = out_len;
    size_t src_size = in_len;
    const size_t ret =
        LZ4F_decompress(dctx_, out, &dst_size, in, &src_size, nullptr);
    step->in_used = src_size;
    step->out_made = dst_size;
    if (LZ4F_isError(ret)) {
      // The context is unusable after an error; we stop here anyway.
      return DataLossError(std::string("lz4: ") + LZ4F_getErrorName(ret));
    }
    // 0: the frame is complete and flushed; the context is ready for the
    // next frame.
    if (ret == 0) {
      at_boundary_ = true;
    } else if (src_size > 0 || dst_size > 0) {
      at_boundary_ = false;
    }
    if (in_eof && src_size == in_len && at_boundary_) step->end = true;
    if (in_eof && in_len == 0 && dst_size == 0 && !at_boundary_) {
      return Status(StatusCode::kOutOfRange, "lz4: file ends inside a frame");
    }
    return OkStatus();
  }

 private:
  LZ4F_dctx* dctx_ = nullptr;
  bool at_boundary_ = true;
};

}  // namespace

std::unique_ptr<DecoderCore> NewZstdCore() {
  return std::make_unique<ZstdCore>();
}
std::unique_ptr<DecoderCore> NewBzip2Core() {
  return std::make_unique<Bzip2Core>();
}
std::unique_ptr<DecoderCore> NewXzCore() { return std::make_unique<XzCore>(); }
std::unique_ptr<DecoderCore> NewLz4Core() {
  return std::make_unique<Lz4Core>();
}

}  // namespace taskgrid::io_internal
