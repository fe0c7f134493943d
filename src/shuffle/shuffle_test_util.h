// Test helpers for src/shuffle: encode and decode records in the documented
// format independently of the library, file bytes, CRC-32 via zlib.
//
// Thread-safety: thread-compatible free functions.
#ifndef TASKGRID_SHUFFLE_SHUFFLE_TEST_UTIL_H_
#define TASKGRID_SHUFFLE_SHUFFLE_TEST_UTIL_H_

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace taskgrid::shuffle::test {

using Records = std::vector<std::pair<std::string, std::string>>;

inline void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline std::string EncodeRecords(const Records& records) {
  std::string out;
  for (const auto& [k, v] : records) {
    PutVarint32(&out, static_cast<uint32_t>(k.size()));
    PutVarint32(&out, static_cast<uint32_t>(v.size()));
    out += k;
    out += v;
  }
  return out;
}

// Decodes a whole segment; sets *ok = false on malformed input.
inline Records DecodeRecords(const std::string& bytes, bool* ok) {
  Records out;
  size_t p = 0;
  *ok = true;
  auto varint = [&](uint32_t* v) {
    uint32_t r = 0;
    for (int shift = 0; shift < 35 && p < bytes.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(bytes[p++]);
      r |= static_cast<uint32_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;
  };
  while (p < bytes.size()) {
    uint32_t kl = 0, vl = 0;
    if (!varint(&kl) || !varint(&vl) || bytes.size() - p < size_t{kl} + vl) {
      *ok = false;
      return out;
    }
    out.emplace_back(bytes.substr(p, kl), bytes.substr(p + kl, vl));
    p += size_t{kl} + vl;
  }
  return out;
}

inline uint32_t Crc(const std::string& s) {
  return static_cast<uint32_t>(crc32(0,
                                     reinterpret_cast<const Bytef*>(s.data()),
                                     static_cast<uInt>(s.size())));
}

inline std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace taskgrid::shuffle::test

#endif  // TASKGRID_SHUFFLE_SHUFFLE_TEST_UTIL_H_
