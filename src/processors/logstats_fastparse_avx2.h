// The vector line parser behind FastParseLine (logstats_fastparse.h), for
// the two places that run it: FastParseLine itself, and HourStats' line
// loop (logstats.cc), which inlines it. Only for x86-64
// (TASKGRID_FASTPARSE_X86 defined), and only to be called after
// FastParseAvailable() said yes, from a function compiled for its target
// (TASKGRID_AVX2, defined here for the includers too).
#ifndef TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_AVX2_H_
#define TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_AVX2_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "processors/logstats_fastparse.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TASKGRID_FASTPARSE_X86 1

// Everything the vector path runs is compiled for AVX2 + BMI (the rest of
// the binary is not): callers reach it only after FastParseAvailable().
#define TASKGRID_AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt")))
#define TASKGRID_INLINE inline __attribute__((always_inline))

namespace taskgrid::logstats_internal::avx2 {

// The bytes of a line that go into the masks. The user agent's opening
// quote lies below ~200 in nginx lines; past it only the line's last bytes
// are looked at, so longer lines need no more.
inline constexpr int kWindow = 256;
inline constexpr int kWords = kWindow / 64;
// "No such bit": larger than any position compared with it.
inline constexpr int kNone = 1 << 20;
// The shortest line ParseFields accepts, `a - b [] "" 200 0 "" ""`; shorter
// ones are declined before any load.
inline constexpr size_t kMinLine = 23;

// One byte class over the window: bit i%64 of word i/64 is byte i, bytes
// past the line's end are 0. A zero word on each side lets the 64-bit
// windows below read one word beyond either end without a check.
// Not initialized: FastParseAvx2 writes every word (zeroing a whole
// Window took as long as the rest of a line's parse).
struct Mask {
  uint64_t pad_lo;
  uint64_t w[kWords];
  uint64_t pad_hi;
  const uint64_t* words() const { return w; }
};
static_assert(sizeof(Mask) == (kWords + 2) * sizeof(uint64_t));

// NextSet when bits [pos, pos + 64) are clear: the rest of word i + 1, then
// the words beyond.
TASKGRID_AVX2 __attribute__((noinline)) inline int NextSetFar(const Mask& m,
                                                              int pos) {
  const uint64_t* const w = m.words();
  const int i = pos >> 6;
  const uint64_t y = w[i + 1] & (~uint64_t{0} << (pos & 63));
  if (y != 0) return 64 * (i + 1) + static_cast<int>(_tzcnt_u64(y));
  for (int k = i + 2; k < kWords; ++k) {
    if (w[k] != 0) return 64 * k + static_cast<int>(_tzcnt_u64(w[k]));
  }
  return kNone;
}

// The first set bit at or after pos, or kNone. The 64 bits from pos are one
// shift pair, so a field shorter than 64 bytes takes no loop.
TASKGRID_AVX2 TASKGRID_INLINE int NextSet(const Mask& m, int pos) {
  if (pos >= kWindow) return kNone;
  const uint64_t* const w = m.words();
  const int i = pos >> 6;
  const int b = pos & 63;
  const uint64_t x = (w[i] >> b) | ((w[i + 1] << 1) << (63 - b));
  if (__builtin_expect(x == 0, 0)) return NextSetFar(m, pos);
  return pos + static_cast<int>(_tzcnt_u64(x));
}

// PrevSet when bits (pos - 64, pos] are clear: the rest of word i - 1, then
// the words below.
TASKGRID_AVX2 __attribute__((noinline)) inline int PrevSetFar(const Mask& m,
                                                              int pos) {
  const uint64_t* const w = m.words();
  const int i = pos >> 6;
  const uint64_t y = w[i - 1] & ((uint64_t{2} << (pos & 63)) - 1);
  if (y != 0) return 64 * (i - 1) + 63 - __builtin_clzll(y);
  for (int k = i - 2; k >= 0; --k) {
    if (w[k] != 0) return 64 * k + 63 - __builtin_clzll(w[k]);
  }
  return -1;
}

// The last set bit at or before pos (0 <= pos < kWindow), or -1.
TASKGRID_AVX2 TASKGRID_INLINE int PrevSet(const Mask& m, int pos) {
  const uint64_t* const w = m.words();
  const int i = pos >> 6;
  const int b = pos & 63;
  const uint64_t x = (w[i] << (63 - b)) | ((w[i - 1] >> b) >> 1);
  if (__builtin_expect(x == 0, 0)) return PrevSetFar(m, pos);
  return pos - __builtin_clzll(x);
}

TASKGRID_AVX2 TASKGRID_INLINE uint64_t Match64(__m256i lo, __m256i hi, char c) {
  const __m256i needle = _mm256_set1_epi8(c);
  const uint32_t a = static_cast<uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, needle)));
  const uint32_t b = static_cast<uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, needle)));
  return a | (uint64_t{b} << 32);
}

// The value of the n (1..16) decimal digits ending at end, or -1 if one of
// them is not a digit. The 16 bytes before end must be readable.
TASKGRID_AVX2 TASKGRID_INLINE int64_t Digits16(const char* end, int n) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
  const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
  const uint32_t is_digit = static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)));
  const uint32_t need = (0xFFFF0000u >> n) & 0xFFFFu;  // the last n bytes
  if ((is_digit & need) != need) return -1;
  const __m128i iota =
      _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i keep =
      _mm_cmpgt_epi8(iota, _mm_set1_epi8(static_cast<char>(15 - n)));
  const __m128i digits = _mm_and_si128(d, keep);
  // Pairs, then groups of 4 and of 8 digits.
  const __m128i p2 = _mm_maddubs_epi16(digits, _mm_set1_epi16(0x010A));
  const __m128i p4 = _mm_madd_epi16(p2, _mm_set1_epi32(0x00010064));
  const __m128i p4x16 = _mm_packus_epi32(p4, p4);
  const __m128i p8 = _mm_madd_epi16(p4x16, _mm_set1_epi32(0x00012710));
  const uint64_t hi = static_cast<uint32_t>(_mm_cvtsi128_si32(p8));
  const uint64_t lo = static_cast<uint32_t>(_mm_extract_epi32(p8, 1));
  return static_cast<int64_t>(hi * 100000000u + lo);
}

// A dotted IPv4 address's octet lengths (1-3 each, 81 patterns), as
// (L1-1)*27 + (L2-1)*9 + (L3-1)*3 + (L4-1): where each octet's digits go
// (hundreds, tens, ones, nothing: 4 bytes an octet, 0x80 for a zero) and
// which bytes are the first digit of an octet of two or three digits (a
// leading zero there is refused, as ParseIpv4 refuses it).
struct Ipv4Pattern {
  alignas(16) uint8_t shuffle[16];
  uint32_t leading;  // bit i: byte i
};

constexpr std::array<Ipv4Pattern, 81> MakeIpv4Patterns() {
  std::array<Ipv4Pattern, 81> table{};
  for (int idx = 0; idx < 81; ++idx) {
    const int len[4] = {idx / 27 + 1, idx / 9 % 3 + 1, idx / 3 % 3 + 1,
                        idx % 3 + 1};
    Ipv4Pattern& t = table[static_cast<size_t>(idx)];
    int begin = 0;
    for (int k = 0; k < 4; ++k) {
      const int end = begin + len[k];
      for (int j = 0; j < 3; ++j) {  // hundreds, tens, ones
        const int at = end - 3 + j;
        t.shuffle[4 * k + j] =
            at >= begin ? static_cast<uint8_t>(at) : uint8_t{0x80};
      }
      t.shuffle[4 * k + 3] = 0x80;
      if (len[k] > 1) t.leading |= 1u << begin;
      begin = end + 1;
    }
  }
  return table;
}

inline constexpr std::array<Ipv4Pattern, 81> kIpv4Patterns = MakeIpv4Patterns();

// ParseIpv4 on the n bytes at p (16 readable), without a loop: the digits'
// values shuffled into place by the dots' pattern, then weighed by
// multiply-adds.
TASKGRID_AVX2 TASKGRID_INLINE bool Ipv4Avx2(const char* p, int n,
                                            uint32_t* out) {
  if (n < 7 || n > 15) return false;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const uint32_t in = (1u << n) - 1;
  uint32_t dots = static_cast<uint32_t>(_mm_movemask_epi8(
                      _mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) &
                  in;
  const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
  const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
  const uint32_t digits =
      static_cast<uint32_t>(_mm_movemask_epi8(is_digit)) & in;
  if ((digits | dots) != in || _mm_popcnt_u32(dots) != 3) return false;
  const int e1 = static_cast<int>(_tzcnt_u32(dots));
  dots = _blsr_u32(dots);
  const int e2 = static_cast<int>(_tzcnt_u32(dots));
  const int e3 = static_cast<int>(_tzcnt_u32(_blsr_u32(dots)));
  const unsigned l1 = static_cast<unsigned>(e1) - 1;  // length - 1
  const unsigned l2 = static_cast<unsigned>(e2 - e1) - 2;
  const unsigned l3 = static_cast<unsigned>(e3 - e2) - 2;
  const unsigned l4 = static_cast<unsigned>(n - e3) - 2;
  // Empty, or 4+ digits. (Not std::max({...}): GCC 12 makes that a loop
  // over a stack array, a tenth of this function's time.)
  if ((l1 > 2) | (l2 > 2) | (l3 > 2) | (l4 > 2)) return false;
  const Ipv4Pattern& t = kIpv4Patterns[l1 * 27 + l2 * 9 + l3 * 3 + l4];
  const uint32_t zeros = static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('0'))));
  if ((zeros & t.leading) != 0) return false;
  const __m128i placed = _mm_shuffle_epi8(
      d, _mm_load_si128(reinterpret_cast<const __m128i*>(t.shuffle)));
  // (100 h + 10 t, o) per octet, then their sums.
  const __m128i pairs =
      _mm_maddubs_epi16(placed, _mm_setr_epi8(100, 10, 1, 0, 100, 10, 1, 0, 100,
                                              10, 1, 0, 100, 10, 1, 0));
  const __m128i octets = _mm_madd_epi16(pairs, _mm_set1_epi16(1));
  if (_mm_movemask_epi8(_mm_cmpgt_epi32(octets, _mm_set1_epi32(255))) != 0) {
    return false;
  }
  // Octet 1 in the top byte.
  const __m128i bytes =
      _mm_shuffle_epi8(octets, _mm_setr_epi8(12, 8, 4, 0, -1, -1, -1, -1, -1,
                                             -1, -1, -1, -1, -1, -1, -1));
  *out = static_cast<uint32_t>(_mm_cvtsi128_si32(bytes));
  return true;
}

// The masks of the window.
struct Window {
  Mask space;  // ' '
  Mask quote;  // '"'
  Mask open;   // '[' after a space (word 0; word 1 when the header reaches it)
  Mask close;  // ']' (likewise)
};

// The bytes [64k, 64k + 64) of a line (win = min(its length, kWindow)
// bytes), and how many of them belong to it.
struct Word {
  __m256i lo, hi;
  unsigned keep;
};

template <int k>
TASKGRID_AVX2 TASKGRID_INLINE Word LoadWord(const char* s, int win) {
  const int rem = win - 64 * k;
  // A word wholly past the end is read from the line's start (readable)
  // and cleared: no branch on the length.
  const size_t offset =
      size_t{64 * k} & (size_t{0} - static_cast<size_t>(rem > 0));
  const char* const p = s + offset;
  return Word{_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)),
              rem <= 0    ? 0u
              : rem >= 64 ? 64u
                          : static_cast<unsigned>(rem)};
}

// Adds word k to the space and quote masks.
template <int k>
TASKGRID_AVX2 TASKGRID_INLINE void AddWord(const Word& b, Window* w) {
  w->space.w[k] = _bzhi_u64(Match64(b.lo, b.hi, ' '), b.keep);
  w->quote.w[k] = _bzhi_u64(Match64(b.lo, b.hi, '"'), b.keep);
}

// Adds word k (0 or 1; after AddWord<k>) to the bracket masks.
template <int k>
TASKGRID_AVX2 TASKGRID_INLINE void AddBrackets(const Word& b, Window* w) {
  uint64_t after_space = w->space.w[k] << 1;
  if constexpr (k > 0) after_space |= w->space.w[k - 1] >> 63;
  w->open.w[k] = _bzhi_u64(Match64(b.lo, b.hi, '['), b.keep) & after_space;
  w->close.w[k] = _bzhi_u64(Match64(b.lo, b.hi, ']'), b.keep);
}

// Whether the line (of at least 2 bytes) ends with a quote that no
// backslash precedes: it closes a user agent opened before it.
TASKGRID_INLINE bool EndsWithQuote(const char* s, size_t len) {
  return s[len - 1] == '"' && s[len - 2] != '\\';
}

// The 5 bytes "HTTP/" as a little-endian integer.
inline constexpr uint64_t kHttp = uint64_t{'H'} | uint64_t{'T'} << 8 |
                                  uint64_t{'T'} << 16 | uint64_t{'P'} << 24 |
                                  uint64_t{'/'} << 32;

// The field order and every rule are ParseFields' (logstats.cc); comments
// name the rule each check stands for. A check that fails declines.
TASKGRID_AVX2 TASKGRID_INLINE bool FastParse(std::string_view line,
                                             FastFields* out) {
  const size_t len = line.size();
  if (len < kMinLine) return false;
  const char* const s = line.data();

  // Words 0-2 always; word 3 only when a quote that decides the line may
  // lie there: when the first 192 bytes hold fewer than five quotes (the
  // user agent's opening one is the fifth), or five and the line's last
  // byte does not close the user agent. nginx lines open their user agent
  // below 192; past it, only their last bytes matter.
  const int win =
      len < static_cast<size_t>(kWindow) ? static_cast<int>(len) : kWindow;
  Window w;
  for (Mask* m : {&w.space, &w.quote, &w.open, &w.close}) {
    m->pad_lo = m->pad_hi = 0;
  }
  for (int k = 1; k < kWords; ++k) w.open.w[k] = w.close.w[k] = 0;
  const Word word0 = LoadWord<0>(s, win);
  AddWord<0>(word0, &w);
  AddBrackets<0>(word0, &w);
  AddWord<1>(LoadWord<1>(s, win), &w);
  AddWord<2>(LoadWord<2>(s, win), &w);
  const uint64_t quotes = _mm_popcnt_u64(w.quote.w[0]) +
                          _mm_popcnt_u64(w.quote.w[1]) +
                          _mm_popcnt_u64(w.quote.w[2]);
  if (win > 192 && (quotes < 5 || (quotes == 5 && !EndsWithQuote(s, len)))) {
    AddWord<3>(LoadWord<3>(s, win), &w);
  } else {
    w.space.w[3] = w.quote.w[3] = 0;
  }
  const Mask& space = w.space;
  const Mask& quote = w.quote;

  // Each field is found from the previous one, and every byte between
  // fields is checked: so each quote found by NextSet is the first after
  // the last one, as ParseFields' scans find it. A position past the line's
  // end (bytes after it may be read) always ends in a failed check.

  // $remote_addr, then the ident field, which must be "-" followed by one
  // space.
  const int addr_end = static_cast<int>(_tzcnt_u64(space.w[0]));
  if (addr_end == 0 || addr_end == 64) return false;
  const int user = addr_end + 3;
  if (s[addr_end + 1] != '-' || s[addr_end + 2] != ' ' || s[user] == ' ') {
    return false;
  }
  // $remote_user runs to the first " [" after its first byte; the time
  // field to the first ']'. That ']' must be followed by ' "', the line's
  // first quote, which opens the request.
  const int req_open = NextSet(quote, 0);
  // The brackets of word 1 only for a header that reaches it (long IPv6
  // addresses and user names): in word 0, NextSet finds the first ones.
  if (req_open >= 64) AddBrackets<1>(LoadWord<1>(s, win), &w);
  const int lb = NextSet(w.open, user + 1);
  const int rb = req_open - 2;
  if (NextSet(w.close, lb + 1) != rb) return false;  // also fails for kNone
  if (s[rb + 1] != ' ') return false;

  // "$request": closed by the next quote unless a backslash precedes it.
  const int req = req_open + 1;
  const int req_end = NextSet(quote, req);
  if (req_end == kNone || s[req_end - 1] == '\\') return false;

  // $status: three digits between single spaces.
  const int st = req_end + 2;
  if (s[req_end + 1] != ' ' || s[st + 3] != ' ' ||
      static_cast<unsigned>(s[st] - '0') > 9 ||
      static_cast<unsigned>(s[st + 1] - '0') > 9 ||
      static_cast<unsigned>(s[st + 2] - '0') > 9) {
    return false;
  }

  // $body_bytes_sent: to the next space, then the referer's quote. The
  // checks so far put bytes_end at 17 or more (address, " - ", user, " [",
  // "] \"", '"', " 200 ", a digit), so Digits16 reads inside the line.
  const int bytes_begin = st + 4;
  const int bytes_end = NextSet(space, bytes_begin);
  const int n = bytes_end - bytes_begin;
  if (n < 1 || n > 19 || s[bytes_end + 1] != '"') return false;
  int64_t body_bytes;
  if (n <= 16) {
    body_bytes = Digits16(s + bytes_end, n);
    if (body_bytes < 0) {
      if (n != 1 || s[bytes_begin] != '-') return false;
      body_bytes = 0;
    }
  } else {
    // 17-19 digits: below 2^64, so the int64 check can come last.
    uint64_t v = 0;
    for (int i = bytes_begin; i < bytes_end; ++i) {
      const unsigned d = static_cast<unsigned>(s[i] - '0');
      if (d > 9) return false;
      v = v * 10 + d;
    }
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    body_bytes = static_cast<int64_t>(v);
  }

  // "$http_referer", one space, and the user agent's opening quote.
  const int ref_end = NextSet(quote, bytes_end + 2);
  if (ref_end == kNone || s[ref_end - 1] == '\\' || s[ref_end + 1] != ' ' ||
      s[ref_end + 2] != '"') {
    return false;
  }
  // The user agent is closed by the line's last byte when no backslash
  // precedes it, else by the next quote if no backslash precedes that.
  const int ua = ref_end + 2;
  if (!(len - 1 > static_cast<size_t>(ua) && EndsWithQuote(s, len))) {
    const int ua_end = NextSet(quote, ua + 1);
    if (ua_end == kNone || s[ua_end - 1] == '\\') return false;
  }

  // SplitRequest: the method runs to the first space; the URL from the next
  // byte to a final " HTTP/..." token or the request's end.
  std::string_view url;
  const int method_end = NextSet(space, req);
  if (method_end < req_end - 1) {
    const int url_begin = method_end + 1;
    if (s[url_begin] == ' ') return false;  // a run of spaces
    const int last_space = PrevSet(space, req_end - 1);
    int url_end = req_end;
    if (last_space > method_end) {
      uint64_t token;
      std::memcpy(&token, s + last_space + 1, sizeof(token));
      const bool protocol =
          req_end - (last_space + 1) >= 5 && (token & 0xFF'FFFF'FFFFu) == kHttp;
      url_end = protocol ? last_space : req_end;
      // Spaces SplitRequest would trim.
      if (s[url_end - 1] == ' ') return false;
    }
    url = std::string_view(s + url_begin, url_end - url_begin);
  }

  out->remote_addr = std::string_view(s, addr_end);
  out->is_ipv4 = Ipv4Avx2(s, addr_end, &out->ipv4);
  out->url = url;
  out->status =
      (s[st] - '0') * 100 + (s[st + 1] - '0') * 10 + (s[st + 2] - '0');
  out->body_bytes = body_bytes;
  return true;
}

}  // namespace taskgrid::logstats_internal::avx2

#endif  // __x86_64__

#endif  // TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_AVX2_H_
