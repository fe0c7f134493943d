#include "io/codec_test_util.h"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace taskgrid::io_test {
namespace {

uint64_t NextRandom(uint64_t* state) {  // splitmix64
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "codec_test_util: %s failed\n", what);
  std::abort();
}

std::string Gzip(const std::string& data) {
  z_stream z;
  std::memset(&z, 0, sizeof(z));
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    Die("deflateInit2");
  }
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) Die("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& data) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n =
      ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) Die("ZSTD_compress2");
  out.resize(n);
  return out;
}

std::string Bzip2(const std::string& data) {
  unsigned int len =
      static_cast<unsigned>(data.size() + data.size() / 50 + 1024);
  std::string out(len, '\0');
  if (BZ2_bzBuffToBuffCompress(out.data(), &len, const_cast<char*>(data.data()),
                               static_cast<unsigned>(data.size()), 9, 0,
                               30) != BZ_OK) {
    Die("BZ2_bzBuffToBuffCompress");
  }
  out.resize(len);
  return out;
}

std::string Xz(const std::string& data) {
  std::string out(lzma_stream_buffer_bound(data.size()), '\0');
  size_t pos = 0;
  if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, nullptr,
                              reinterpret_cast<const uint8_t*>(data.data()),
                              data.size(),
                              reinterpret_cast<uint8_t*>(out.data()), &pos,
                              out.size()) != LZMA_OK) {
    Die("lzma_easy_buffer_encode");
  }
  out.resize(pos);
  return out;
}

std::string Lz4(const std::string& data) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  std::string out(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  const size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(),
                                      data.size(), &prefs);
  if (LZ4F_isError(n)) Die("LZ4F_compressFrame");
  out.resize(n);
  return out;
}

}  // namespace

std::string Compress(Codec codec, const std::string& data) {
  switch (codec) {
    case Codec::kNone:
      return data;
    case Codec::kGzip:
      return Gzip(data);
    case Codec::kZstd:
      return Zstd(data);
    case Codec::kBzip2:
      return Bzip2(data);
    case Codec::kXz:
      return Xz(data);
    case Codec::kLz4:
      return Lz4(data);
  }
  Die("Compress: codec");
}

std::string Extension(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "";
    case Codec::kGzip:
      return ".gz";
    case Codec::kZstd:
      return ".zst";
    case Codec::kBzip2:
      return ".bz2";
    case Codec::kXz:
      return ".xz";
    case Codec::kLz4:
      return ".lz4";
  }
  return "";
}

std::string NginxText(size_t size, uint64_t seed) {
  static const char* const kPaths[] = {"/",
                                       "/index.html",
                                       "/api/v1/items",
                                       "/api/v1/users/login",
                                       "/static/app.js",
                                       "/static/style.css",
                                       "/favicon.ico"};
  static const char* const kAgents[] = {
      "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
      "curl/7.88.1", "Go-http-client/1.1",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"};
  static const int kCodes[] = {200, 200, 200, 200, 301, 304, 404, 500};
  uint64_t rng = seed;
  std::string out;
  out.reserve(size + 512);
  char line[512];
  while (out.size() < size) {
    const uint64_t r = NextRandom(&rng);
    const int n = std::snprintf(
        line, sizeof(line),
        "10.%u.%u.%u - - [12/Mar/2024:%02u:%02u:%02u +0000] \"GET %s?id=%u "
        "HTTP/1.1\" %d %u \"-\" \"%s\"\n",
        static_cast<unsigned>(r & 255), static_cast<unsigned>((r >> 8) & 255),
        static_cast<unsigned>((r >> 16) & 255),
        static_cast<unsigned>((r >> 24) % 24),
        static_cast<unsigned>((r >> 29) % 60),
        static_cast<unsigned>((r >> 35) % 60), kPaths[(r >> 41) % 7],
        static_cast<unsigned>((r >> 44) % 100000), kCodes[(r >> 61) % 8],
        static_cast<unsigned>(NextRandom(&rng) % 50000),
        kAgents[(r >> 58) % 4]);
    out.append(line, static_cast<size_t>(n));
  }
  out.resize(size);
  return out;
}

MemoryStream::MemoryStream(std::string data, std::string path, size_t max_chunk,
                           bool random_chunks, uint64_t seed)
    : data_(std::move(data)),
      path_(std::move(path)),
      max_chunk_(std::max<size_t>(max_chunk, 1)),
      random_chunks_(random_chunks),
      rng_(seed) {}

void MemoryStream::FailAt(uint64_t offset, Status status) {
  fail_at_ = offset;
  fail_status_ = std::move(status);
}

StatusOr<size_t> MemoryStream::Read(char* buf, size_t n) {
  if (pos_ >= fail_at_) return fail_status_;
  size_t k = std::min(n, data_.size() - pos_);
  size_t limit = max_chunk_;
  if (random_chunks_) limit = 1 + NextRandom(&rng_) % max_chunk_;
  k = std::min(k, limit);
  if (fail_at_ != UINT64_MAX) {
    k = std::min<uint64_t>(k, fail_at_ - pos_);
  }
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

StatusOr<std::string> ReadAll(ReadStream* stream, size_t chunk) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    StatusOr<size_t> n = stream->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

StatusOr<std::string> ReadDecoded(const std::string& path) {
  StatusOr<std::unique_ptr<ReadStream>> s = OpenDecoded(path);
  if (!s.ok()) return s.status();
  return ReadAll(s->get());
}

std::string FindTool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace taskgrid::io_test
