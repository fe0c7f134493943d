// Gzip cores: isa-l (igzip) and zlib, behind one member-framing layer.
//
// A .gz file is one or more members (RFC 1952 §2.2; `cat a.gz b.gz` is a
// valid gzip file) and decodes to the concatenation of their contents. Each
// member's CRC32 and ISIZE are checked by the library (isa-l with
// crc_flag = ISAL_GZIP, zlib with windowBits 15+32).
//
// After a complete member, the next byte must start another member (0x1f),
// or be zero padding: GNU gzip ignores trailing zeros (tape blocking), and
// so do we, provided everything up to the end of the file is zero. Any
// other trailing byte is DataLoss ("trailing garbage"), where gzip would only
// warn: a log file with garbage after its last member was damaged somehow,
// and a task should not silently succeed on it. A file that does not start
// with a member is "not in gzip format".
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "io/decoders_internal.h"

namespace taskgrid::io_internal {
namespace {

constexpr uint8_t kGzipMagic0 = 0x1f;
constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();

uint32_t ClampU32(size_t n) {
  return static_cast<uint32_t>(std::min<size_t>(n, kMaxU32));
}

// Member framing, shared by both inflaters.
class GzipCore : public DecoderCore {
 public:
  Status Decode(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                size_t out_len, Step* step) final {
    switch (phase_) {
      case Phase::kBetween: {
        if (in_len == 0) {
          // members_ == 0 here only for the empty file, which the caller
          // handles before calling us; be safe anyway.
          if (in_eof) step->end = true;
          return OkStatus();
        }
        if (in[0] == kGzipMagic0) {
          Status s = StartMember();
          if (!s.ok()) return s;
          phase_ = Phase::kMember;
          return OkStatus();  // the caller calls again
        }
        if (members_ == 0) return DataLossError("not in gzip format");
        if (in[0] != 0) return TrailingGarbage();
        phase_ = Phase::kPadding;
        return OkStatus();
      }
      case Phase::kPadding: {
        for (size_t i = 0; i < in_len; ++i) {
          if (in[i] != 0) {
            step->in_used = i;
            return TrailingGarbage();
          }
        }
        step->in_used = in_len;
        if (in_eof) step->end = true;
        return OkStatus();
      }
      case Phase::kMember: {
        bool member_done = false;
        Status s =
            Inflate(in, in_len, in_eof, out, out_len, step, &member_done);
        if (!s.ok()) return s;
        if (member_done) {
          ++members_;
          phase_ = Phase::kBetween;
          if (in_eof && step->in_used == in_len) step->end = true;
        }
        return OkStatus();
      }
    }
    return InternalError("gzip: bad phase");
  }

 protected:
  // Prepares the library for a new member.
  virtual Status StartMember() = 0;
  // Inflates within the current member; sets *member_done when its trailer
  // has been read and checked.
  virtual Status Inflate(const uint8_t* in, size_t in_len, bool in_eof,
                         char* out, size_t out_len, Step* step,
                         bool* member_done) = 0;

 private:
  enum class Phase { kBetween, kMember, kPadding };

  Status TrailingGarbage() const {
    return DataLossError("trailing garbage after gzip member " +
                         std::to_string(members_));
  }

  Phase phase_ = Phase::kBetween;
  uint64_t members_ = 0;  // complete members so far
};

const char* IsalReason(int ret) {
  switch (ret) {
    case ISAL_INVALID_BLOCK:
      return "isa-l: invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "isa-l: invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "isa-l: invalid lookback distance";
    case ISAL_INVALID_WRAPPER:
      return "isa-l: invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "isa-l: unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "isa-l: incorrect checksum (CRC32 or ISIZE mismatch)";
    case ISAL_NEED_DICT:
      return "isa-l: stream needs a dictionary";
    default:
      return "isa-l: unknown error";
  }
}

class IsalGzipCore final : public GzipCore {
 public:
  // inflate_state is ~100 KiB: keep it on the heap with the core.
  IsalGzipCore() : state_(std::make_unique<inflate_state>()) {}

 protected:
  Status StartMember() override {
    // A fresh stream for each member; Inflate sets the input and output
    // pointers on every call, so nothing of the previous member is needed.
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;  // parse header; check CRC32 and ISIZE
    return OkStatus();
  }

  Status Inflate(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                 size_t out_len, Step* step, bool* member_done) override {
    static uint8_t empty = 0;
    inflate_state& st = *state_;
    const uint32_t avail_in = ClampU32(in_len);
    const uint32_t avail_out = ClampU32(out_len);
    st.next_in = avail_in > 0 ? const_cast<uint8_t*>(in) : &empty;
    st.avail_in = avail_in;
    st.next_out = reinterpret_cast<uint8_t*>(out);
    st.avail_out = avail_out;
    const int ret = isal_inflate(&st);
    // At the end of a member isa-l hands back input it had read ahead, so
    // avail_in is exact: the next member starts at in + in_used.
    step->in_used = avail_in - st.avail_in;
    step->out_made = avail_out - st.avail_out;
    if (ret < 0) return DataLossError(IsalReason(ret));
    if (ret == ISAL_NEED_DICT) return DataLossError(IsalReason(ret));
    if (st.block_state == ISAL_BLOCK_FINISH) {
      *member_done = true;
    } else if (in_eof && in_len == 0 && step->out_made == 0) {
      return Status(StatusCode::kOutOfRange,
                    "isa-l: file ends inside a gzip member");
    }
    return OkStatus();
  }

 private:
  const std::unique_ptr<inflate_state> state_;
};

class ZlibGzipCore final : public GzipCore {
 public:
  ZlibGzipCore() { std::memset(&z_, 0, sizeof(z_)); }
  ~ZlibGzipCore() override {
    if (initialized_) inflateEnd(&z_);
  }

 protected:
  Status StartMember() override {
    if (initialized_) {
      if (inflateReset(&z_) != Z_OK) return InternalError("zlib: inflateReset");
      return OkStatus();
    }
    // 15 + 32: a 32 KiB window, gzip (or zlib) header detected; zlib checks
    // the gzip trailer's CRC32 and ISIZE itself.
    const int ret = inflateInit2(&z_, 15 + 32);
    if (ret == Z_MEM_ERROR)
      return ResourceExhaustedError("zlib: out of memory");
    if (ret != Z_OK) return InternalError("zlib: inflateInit2 failed");
    initialized_ = true;
    return OkStatus();
  }

  Status Inflate(const uint8_t* in, size_t in_len, bool in_eof, char* out,
                 size_t out_len, Step* step, bool* member_done) override {
    static uint8_t empty = 0;
    const uInt avail_in = ClampU32(in_len);
    const uInt avail_out = ClampU32(out_len);
    z_.next_in = avail_in > 0 ? const_cast<uint8_t*>(in) : &empty;
    z_.avail_in = avail_in;
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = avail_out;
    const int ret = inflate(&z_, Z_NO_FLUSH);
    step->in_used = avail_in - z_.avail_in;
    step->out_made = avail_out - z_.avail_out;
    switch (ret) {
      case Z_OK:
        return OkStatus();
      case Z_STREAM_END:
        *member_done = true;
        return OkStatus();
      case Z_BUF_ERROR:  // no progress possible: needs input
        if (in_eof && in_len == 0) {
          return Status(StatusCode::kOutOfRange,
                        "zlib: unexpected end of file");
        }
        return OkStatus();
      case Z_NEED_DICT:
        return DataLossError("zlib: stream needs a preset dictionary");
      case Z_DATA_ERROR:
        return DataLossError(std::string("zlib: ") +
                             (z_.msg != nullptr ? z_.msg : "data error"));
      case Z_MEM_ERROR:
        return ResourceExhaustedError("zlib: out of memory");
      default:
        return InternalError("zlib: inflate returned " + std::to_string(ret));
    }
  }

 private:
  z_stream z_;
  bool initialized_ = false;
};

}  // namespace

std::unique_ptr<DecoderCore> NewGzipCore(GzipImpl impl) {
  switch (impl) {
    case GzipImpl::kIsal:
      return std::make_unique<IsalGzipCore>();
    case GzipImpl::kZlib:
      return std::make_unique<ZlibGzipCore>();
  }
  return nullptr;
}

}  // namespace taskgrid::io_internal
