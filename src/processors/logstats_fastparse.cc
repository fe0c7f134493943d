#include "processors/logstats_fastparse.h"

#include <array>
#include <cstddef>
#include <cstring>

#include "processors/logstats_fastparse_avx2.h"

namespace taskgrid::logstats_internal {

#ifdef TASKGRID_FASTPARSE_X86

bool FastParseAvailable() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  }();
  return available;
}

namespace {
// avx2::FastParse is always inlined: here, into one function of its target.
TASKGRID_AVX2 bool FastParseAvx2(std::string_view line, FastFields* out) {
  return avx2::FastParse(line, out);
}
}  // namespace

bool FastParseLine(std::string_view line, FastFields* out) {
  return FastParseAvailable() && FastParseAvx2(line, out);
}

#else  // !TASKGRID_FASTPARSE_X86

bool FastParseAvailable() { return false; }
bool FastParseLine(std::string_view, FastFields*) { return false; }

#endif

namespace {

// An integer of the 8 groups of an IPv6 address, group 0 in the top 16 bits.
__extension__ typedef unsigned __int128 Uint128;

// Each byte's value as a hex digit (0-15), or kNotHex.
constexpr uint8_t kNotHex = 0xFF;
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  for (uint8_t& v : t) v = kNotHex;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

// glibc's inet_pton4 on [p, end): four octets of 1-3 decimal digits joined
// by single dots, each at most 255 and without a leading zero, and nothing
// else. Its value in *out (first octet in the top byte).
inline bool ParseDottedQuad(const unsigned char* p, const unsigned char* end,
                            uint32_t* out) {
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return false;
      ++p;
    }
    if (p == end) return false;
    unsigned v = static_cast<unsigned>(*p - '0');
    if (v > 9) return false;
    ++p;
    // After a '0' the octet has ended: a digit there is a leading zero,
    // which the check of the next byte rejects.
    if (v != 0) {
      for (int k = 0; k < 2 && p != end; ++k, ++p) {
        const unsigned d = static_cast<unsigned>(*p - '0');
        if (d > 9) break;
        v = v * 10 + d;
      }
      if (v > 255) return false;
    }
    r = r << 8 | v;
  }
  *out = r;
  return p == end;
}

// The number of hex digits at p, up to 5 (5: too many for a group), and in
// *value the value of the first 4. Reads only bytes before end. While 5
// bytes are left (every group but the last, mostly) it is unrolled, with no
// end checks: a byte loop took 10-15% longer on nginx logs' addresses.
// (A branch-free version, table lookups of 5 bytes and a count of trailing
// ones, took twice as long: each group's end then waits on the lookups of
// the one before, where predicted branches let the next group's loads
// start early.)
inline int HexRun(const unsigned char* p, const unsigned char* end,
                  unsigned* value) {
  if (end - p < 5) {
    const unsigned char* q = p;
    unsigned v = 0;
    for (; q != end; ++q) {
      const unsigned d = kHexValue[*q];
      if (d == kNotHex) break;
      v = v << 4 | d;
    }
    *value = v;
    return static_cast<int>(q - p);
  }
  unsigned v = kHexValue[p[0]];
  if (v == kNotHex) return 0;
  for (int i = 1; i < 4; ++i) {
    const unsigned d = kHexValue[p[i]];
    if (d == kNotHex) {
      *value = v;
      return i;
    }
    v = v << 4 | d;
  }
  *value = v;
  return kHexValue[p[4]] == kNotHex ? 4 : 5;
}

}  // namespace

// glibc's inet_pton6, token by token (a token is what lies between colons):
// the same checks in the same order, so the same strings fail. Rather than
// storing bytes and moving those after "::" to the end (glibc's memmove),
// the groups collect in one 128-bit integer and those before the gap shift
// up past it at the end.
bool ParseIpv6(std::string_view s, uint64_t* hi, uint64_t* lo) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  if (p == end) return false;
  // A leading ':' must start "::"; its second ':' then marks the gap.
  if (*p == ':') {
    ++p;
    if (p == end || *p != ':') return false;
  }
  Uint128 acc = 0;  // the groups so far, the last one in the low 16 bits
  int n = 0;        // groups in acc (an IPv4 tail is 2)
  int gap = -1;     // groups before "::", or -1 without one
  for (;;) {
    const unsigned char* const token = p;
    unsigned v = 0;
    const int digits = HexRun(p, end, &v);
    if (digits > 4) return false;
    p += digits;
    if (p == end) {
      // An empty last token follows "::" (a lone trailing ':' failed below).
      if (digits != 0) {
        if (n == 8) return false;
        acc = acc << 16 | v;
        ++n;
      }
      break;
    }
    const unsigned char c = *p++;
    if (c == ':') {
      if (digits == 0) {
        if (gap >= 0) return false;
        gap = n;
        continue;
      }
      if (p == end || n == 8) return false;
      acc = acc << 16 | v;
      ++n;
      continue;
    }
    // A '.' makes the token and the rest of s an IPv4 tail, if 32 bits are
    // left for it.
    uint32_t v4;
    if (c != '.' || n > 6 || !ParseDottedQuad(token, end, &v4)) return false;
    acc = acc << 32 | v4;
    n += 2;
    break;
  }
  if (gap < 0) {
    if (n != 8) return false;
  } else {
    // "::" must stand for at least one group.
    if (n == 8) return false;
    const Uint128 after = (Uint128{1} << (16 * (n - gap))) - 1;
    // The groups before the gap move up by its 8 - n zero groups; in two
    // shifts, as "::" alone moves them by all 128 bits.
    acc = (acc & after) | (((acc & ~after) << (16 * (8 - n) - 1)) << 1);
  }
  *hi = static_cast<uint64_t>(acc >> 64);
  *lo = static_cast<uint64_t>(acc);
  return true;
}

}  // namespace taskgrid::logstats_internal
