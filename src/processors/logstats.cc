#include "processors/logstats.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <lz4.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <new>
#include <stdexcept>
#include <thread>

#include "core/status_macros.h"
#include "io/line_reader.h"  // kLineReadSlack
#include "io/split.h"
#include "processors/logstats_fastparse.h"
#include "processors/logstats_fastparse_avx2.h"

namespace taskgrid {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------
// Parsing.

inline const char* SkipSpaces(const char* p, const char* end) {
  while (p < end && *p == ' ') ++p;
  return p;
}

// The first `c` at or after p, or end.
inline const char* ScanTo(const char* p, const char* end, char c) {
  while (p < end && *p != c) ++p;
  return p;
}

// A field separator: one or more spaces. nullptr if there is none at p.
inline const char* Separator(const char* p, const char* end) {
  if (p >= end || *p != ' ') return nullptr;
  return SkipSpaces(p + 1, end);
}

// The closing quote of a field whose text starts at `begin`: the first '"'
// preceded by an even number of backslashes.
inline const char* FindClosingQuote(const char* begin, const char* end) {
  const char* p = begin;
  for (;;) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
    if (q == nullptr) return nullptr;
    const char* b = q;
    while (b > begin && b[-1] == '\\') --b;
    if (((q - b) & 1) == 0) return q;
    p = q + 1;
  }
}

// A quoted field at p; returns the position after its closing quote.
inline const char* QuotedField(const char* p, const char* end,
                               std::string_view* field) {
  if (p >= end || *p != '"') return nullptr;
  const char* q = FindClosingQuote(p + 1, end);
  if (q == nullptr) return nullptr;
  *field = std::string_view(p + 1, q - p - 1);
  return q + 1;
}

// ---------------------------------------------------------------------------
// Hashing and flat tables.

__extension__ typedef unsigned __int128 U128;

inline uint64_t Mix(uint64_t a, uint64_t b) {
  const U128 r = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t kK0 = 0xa0761d6478bd642full;
constexpr uint64_t kK1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kK2 = 0x8ebc6af09c88c6e3ull;

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// wyhash-style: 16 bytes per multiply, overlapping loads for the tail.
uint64_t HashBytes(const char* p, size_t n) {
  uint64_t seed = kK0 ^ Mix(n ^ kK1, kK2);
  uint64_t a, b;
  if (n <= 16) {
    if (n >= 4) {
      const size_t d = (n >> 3) << 2;
      a = (Load32(p) << 32) | Load32(p + d);
      b = (Load32(p + n - 4) << 32) | Load32(p + n - 4 - d);
    } else if (n > 0) {
      a = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
          (uint64_t{static_cast<unsigned char>(p[n >> 1])} << 8) |
          static_cast<unsigned char>(p[n - 1]);
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = n;
    const char* q = p;
    while (i > 16) {
      seed = Mix(Load64(q) ^ kK1, Load64(q + 8) ^ seed);
      q += 16;
      i -= 16;
    }
    a = Load64(p + n - 16);
    b = Load64(p + n - 8);
  }
  return Mix(kK1 ^ n, Mix(a ^ kK1, b ^ seed));
}

// Asks for the cache line holding p (a hint: never faults, changes
// nothing). Not __builtin_prefetch: GCC 12 deletes that as dead code where
// a branch guards it (`if (!slots_.empty())`, a probe loop's match) at -O2,
// and at -O3 in some inlining contexts; the table prefetches below had
// vanished from whole builds (docs/benchmarks.md).
inline void PrefetchLine(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

struct Ip6 {
  uint64_t hi = 0;  // bytes 0..7, big endian: (hi, lo) order is byte order
  uint64_t lo = 0;
  friend auto operator<=>(const Ip6&, const Ip6&) = default;
};

inline uint64_t HashKey(uint32_t k) { return Mix(k ^ kK0, kK1); }
inline uint64_t HashKey(const Ip6& k) { return Mix(k.hi ^ kK0, k.lo ^ kK1); }

// Ascending order. IPv4 sets run to tens of thousands per file: three
// 11-bit counting passes beat comparison sorting by several times there.
void SortKeys(std::vector<uint32_t>* v) {
  if (v->size() < 256) {
    std::sort(v->begin(), v->end());
    return;
  }
  std::vector<uint32_t> tmp(v->size());
  for (const int shift : {0, 11, 22}) {
    size_t start[2049] = {};
    for (uint32_t k : *v) ++start[((k >> shift) & 0x7ff) + 1];
    for (size_t i = 1; i < 2049; ++i) start[i] += start[i - 1];
    for (uint32_t k : *v) tmp[start[(k >> shift) & 0x7ff]++] = k;
    v->swap(tmp);
  }
}
template <typename K>
void SortKeys(std::vector<K>* v) {
  std::sort(v->begin(), v->end());
}

// The slots a table (FlatSet, StringCounter: a power of two, at most 3/4
// full) needs for n keys, at least `now`.
size_t SlotsFor(size_t n, size_t now) {
  size_t slots = std::max<size_t>(now, 16);
  while ((n + 1) * 4 > slots * 3) slots *= 2;
  return slots;
}

// An open-addressing set (linear probing, load <= 3/4) of trivially
// copyable keys; K{} marks an empty slot, and is itself kept in a flag.
template <typename K>
class FlatSet {
 public:
  void Insert(const K& k) {
    if (k == K{}) {
      has_empty_key_ = true;
      return;
    }
    if ((used_ + 1) * 4 > slots_.size() * 3) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = HashKey(k) & mask;; i = (i + 1) & mask) {
      K& s = slots_[i];
      if (s == K{}) {
        s = k;
        ++used_;
        return;
      }
      if (s == k) return;
    }
  }
  size_t size() const { return used_ + (has_empty_key_ ? 1 : 0); }
  // Room for n keys without growing.
  void Reserve(size_t n) {
    if (const size_t slots = SlotsFor(n, slots_.size());
        slots > slots_.size()) {
      Grow(slots);
    }
  }
  // Brings the slot k probes first into the cache (a hint).
  void Prefetch(const K& k) const {
    if (!slots_.empty()) {
      PrefetchLine(&slots_[HashKey(k) & (slots_.size() - 1)]);
    }
  }
  template <typename F>
  void ForEach(F&& f) const {
    if (has_empty_key_) f(K{});
    for (const K& s : slots_) {
      if (!(s == K{})) f(s);
    }
  }
  // The keys in ascending order.
  std::vector<K> Sorted() const {
    std::vector<K> v;
    v.reserve(size());
    ForEach([&](const K& k) { v.push_back(k); });
    SortKeys(&v);
    return v;
  }

 private:
  void Grow() { Grow(slots_.empty() ? 16 : slots_.size() * 2); }
  void Grow(size_t slots) {
    std::vector<K> old = std::move(slots_);
    slots_.assign(slots, K{});
    used_ = 0;
    for (const K& s : old) {
      if (!(s == K{})) Insert(s);
    }
  }

  std::vector<K> slots_;
  size_t used_ = 0;
  bool has_empty_key_ = false;
};

// Equality of two byte ranges of length n, inlined: the keys compared here
// are short (URLs, addresses), where a call to memcmp costs more than the
// comparison.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 < n; i += 8) {
      if (Load64(a + i) != Load64(b + i)) return false;
    }
    return Load64(a + n - 8) == Load64(b + n - 8);  // the tail, overlapping
  }
  if (n >= 4) {
    return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// String -> count, open addressing (linear probing, load <= 3/4). A slot is
// 8 bytes (a 32-bit hash tag and the arena word where its record starts);
// the record, in one arena, is the count, the key's length (32 bits) and
// the key bytes, so a hit touches the slot and one record. The arena is an
// append-only buffer addressed by word, so its growth moves nothing slots
// point to (2^32 words: 32 GiB, beyond any task's memory).
// Load 3/4 rather than 1/2: the smaller table stays in the core's L2 cache
// more often, and most lookups are hits, which probe ~2.5 slots there
// (4% of the logstats job: bench/logstats_alternate.sh).
class StringCounter {
 public:
  static uint64_t Hash(std::string_view key) {
    return HashBytes(key.data(), key.size());
  }
  // Brings the slot `hash` probes first into the cache (a hint; no effect
  // on the content).
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) PrefetchLine(&slots_[Home(hash >> 32)]);
  }
  // Brings the record of the key of `hash` and `size` bytes, if the table
  // holds it, into the cache (a hint, as Prefetch; best after Prefetch's
  // line has arrived). Returns the slot that record is in, for AddAt, or
  // kNoSlot.
  static constexpr uint32_t kNoSlot = ~uint32_t{0};
  uint32_t PrefetchRecord(uint64_t hash, size_t size) const {
    if (slots_.empty()) return kNoSlot;
    const auto tag = static_cast<uint32_t>(hash >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = Home(tag);; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.record == kEmpty) return kNoSlot;
      if (s.tag == tag) {
        const char* const p = reinterpret_cast<const char*>(&arena_[s.record]);
        PrefetchLine(p);
        PrefetchLine(p + 11 + size);  // the key's last byte
        return static_cast<uint32_t>(i);
      }
    }
  }
  // Add, for a key that may be in `slot` (PrefetchRecord's answer, since
  // when other keys may have come or the table grown): that slot checked
  // first, the probe only if it does not hold the key.
  void AddAt(uint32_t slot, std::string_view key, uint64_t hash, int64_t n) {
    if (slot < slots_.size()) {
      const Slot& s = slots_[slot];
      if (s.record != kEmpty &&
          Holds(s, static_cast<uint32_t>(hash >> 32), key)) {
        *CountOf(s) += static_cast<uint64_t>(n);
        return;
      }
    }
    Add(key, hash, n);
  }
  void Add(std::string_view key, int64_t n) { Add(key, Hash(key), n); }
  // `hash` must be Hash(key).
  void Add(std::string_view key, uint64_t hash, int64_t n) {
    if ((used_ + 1) * 4 > slots_.size() * 3) Grow();
    const auto tag = static_cast<uint32_t>(hash >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = Home(tag);; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.record == kEmpty) {
        s.tag = tag;
        s.record = NewRecord(key, n);
        ++used_;
        return;
      }
      if (Holds(s, tag, key)) {
        *CountOf(s) += static_cast<uint64_t>(n);
        return;
      }
    }
  }
  size_t size() const { return used_; }
  // Room for `keys` keys of `key_bytes` bytes in all without growing.
  void Reserve(size_t keys, size_t key_bytes) {
    if (const size_t slots = SlotsFor(keys, slots_.size());
        slots > slots_.size()) {
      Grow(slots);
    }
    // A record: a count word, a length and the key's bytes padded to words.
    arena_.reserve(keys * 2 + (key_bytes + 7 * keys) / 8);
  }
  // The keys' bytes, all together.
  size_t key_bytes() const { return key_bytes_; }
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.record != kEmpty) f(Key(s), Count(s));
    }
  }
  std::vector<std::pair<std::string_view, int64_t>> Entries() const {
    std::vector<std::pair<std::string_view, int64_t>> v;
    v.reserve(used_);
    ForEach([&](std::string_view k, int64_t c) { v.emplace_back(k, c); });
    return v;
  }

 private:
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  struct Slot {
    uint32_t tag = 0;          // the hash's upper half
    uint32_t record = kEmpty;  // index of the record's first arena word
  };

  // The first slot a key probes: the top bits of its tag, so that Grow
  // needs no rehashing (a table of 2^32 slots is out of reach) and the
  // slots hold the keys in the order of their hashes, but for the few that
  // probing moved past a neighbour (ForEach's order; Serialize relies on
  // it being nearly sorted).
  size_t Home(uint32_t tag) const { return tag >> home_shift_; }

  uint32_t NewRecord(std::string_view key, int64_t n) {
    const size_t at = arena_.size();
    const size_t words = 1 + (4 + key.size() + 7) / 8;
    if (at + words > kEmpty || key.size() > ~uint32_t{0}) {
      throw std::length_error("logstats: string table over 32 GiB");
    }
    arena_.resize(at + words);
    key_bytes_ += key.size();
    arena_[at] = static_cast<uint64_t>(n);
    const auto length = static_cast<uint32_t>(key.size());
    char* p = reinterpret_cast<char*>(arena_.data() + at + 1);
    std::memcpy(p, &length, 4);
    std::memcpy(p + 4, key.data(), key.size());
    return static_cast<uint32_t>(at);
  }
  // Whether the filled slot `s` holds `key` (of hash tag `tag`).
  bool Holds(const Slot& s, uint32_t tag, std::string_view key) const {
    return s.tag == tag && Length(s) == key.size() &&
           SameBytes(KeyBytes(s), key.data(), key.size());
  }
  uint32_t Length(const Slot& s) const {
    uint32_t length;
    std::memcpy(&length, arena_.data() + s.record + 1, 4);
    return length;
  }
  const char* KeyBytes(const Slot& s) const {
    return reinterpret_cast<const char*>(arena_.data() + s.record + 1) + 4;
  }
  uint64_t* CountOf(const Slot& s) { return &arena_[s.record]; }
  int64_t Count(const Slot& s) const {
    return static_cast<int64_t>(arena_[s.record]);
  }
  std::string_view Key(const Slot& s) const {
    return std::string_view(KeyBytes(s), Length(s));
  }
  void Grow() { Grow(slots_.empty() ? 16 : slots_.size() * 2); }
  void Grow(size_t slots) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(slots, Slot{});
    home_shift_ = 32 - std::countr_zero(slots_.size());
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.record == kEmpty) continue;
      size_t i = Home(s.tag);
      while (slots_[i].record != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  int home_shift_ = 32;  // 32 - log2(slots_.size())
  size_t used_ = 0;
  size_t key_bytes_ = 0;
  // Records: a count word, then the key bytes padded to whole words.
  std::vector<uint64_t> arena_;
};

inline void SaturatingAdd(int64_t* sum, int64_t v) {
  if (__builtin_add_overflow(*sum, v, sum)) {
    *sum = std::numeric_limits<int64_t>::max();
  }
}

bool ValidHour(std::string_view h) {
  if (h.size() != 10) return false;
  for (char c : h) {
    if (!IsDigit(c)) return false;
  }
  auto two = [&](size_t i) { return (h[i] - '0') * 10 + (h[i + 1] - '0'); };
  const int month = two(4), day = two(6), hour = two(8);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23;
}

}  // namespace

namespace logstats_internal {

bool ParseIpv4(std::string_view s, uint32_t* out) {
  if (s.size() < 7 || s.size() > 15) return false;
  const char* p = s.data();
  const char* const end = p + s.size();
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    if (p == end || !IsDigit(*p)) return false;
    unsigned octet = *p++ - '0';
    if (p != end && IsDigit(*p)) {
      if (octet == 0) return false;
      octet = octet * 10 + (*p++ - '0');
      if (p != end && IsDigit(*p)) {
        octet = octet * 10 + (*p++ - '0');
        if (octet > 255) return false;
      }
    }
    v = (v << 8) | octet;
    if (i < 3) {
      if (p == end || *p != '.') return false;
      ++p;
    }
  }
  if (p != end) return false;
  *out = v;
  return true;
}

#ifdef __SSE2__
bool ParseIpv4Wide(const char* p, size_t n, uint32_t* out) {
  if (n < 7 || n > 15) return false;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const unsigned in = (1u << n) - 1;
  unsigned dots = static_cast<unsigned>(_mm_movemask_epi8(
                      _mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) &
                  in;
  // Digits: byte - '0' below 10, unsigned (compared signed, both biased).
  const __m128i biased = _mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8('0')),
                                       _mm_set1_epi8(static_cast<char>(0x80)));
  const unsigned digits =
      static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(
          biased, _mm_set1_epi8(static_cast<char>(10 ^ 0x80))))) &
      in;
  // Exactly three dots (without a popcount instruction in the baseline
  // x86-64 ISA, __builtin_popcount is a library call).
  const unsigned two_left = (dots & (dots - 1)) & ((dots & (dots - 1)) - 1);
  if ((digits | dots) != in || two_left == 0 ||
      (two_left & (two_left - 1)) != 0) {
    return false;
  }
  // The bytes with zeros after them: an octet's weights may reach past it.
  alignas(16) unsigned char b[32] = {};
  _mm_store_si128(reinterpret_cast<__m128i*>(b), v);
  static constexpr uint32_t kWeight[4][3] = {
      {0, 0, 0}, {1, 0, 0}, {10, 1, 0}, {100, 10, 1}};
  uint32_t value = 0;
  unsigned begin = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned end = i < 3 ? static_cast<unsigned>(__builtin_ctz(dots))
                               : static_cast<unsigned>(n);
    dots &= dots - 1;
    const unsigned len = end - begin;
    if (len - 1 > 2) return false;  // 0 or more than 3 digits
    const uint32_t c0 = b[begin] - uint32_t{'0'};
    const uint32_t c1 = b[begin + 1] - uint32_t{'0'};
    const uint32_t c2 = b[begin + 2] - uint32_t{'0'};
    const uint32_t octet =
        kWeight[len][0] * c0 + kWeight[len][1] * c1 + kWeight[len][2] * c2;
    // No leading zero; at most 255.
    if ((len > 1 && c0 == 0) || octet > 255) return false;
    value = (value << 8) | octet;
    begin = end + 1;
  }
  *out = value;
  return true;
}
#else
bool ParseIpv4Wide(const char* p, size_t n, uint32_t* out) {
  return ParseIpv4(std::string_view(p, n), out);
}
#endif

}  // namespace logstats_internal

// ---------------------------------------------------------------------------
// ParseCombinedLine.

void SplitRequest(std::string_view request, std::string_view* method,
                  std::string_view* url, std::string_view* protocol) {
  *url = *protocol = std::string_view();
  const char* const begin = request.data();
  const char* end = begin + request.size();
  const char* p = ScanTo(begin, end, ' ');
  *method = std::string_view(begin, p - begin);
  p = SkipSpaces(p, end);
  if (p == end) return;
  // The protocol is the last token if it starts with "HTTP/"; it is short,
  // so look for its space from the end.
  const char* sp = end;
  while (sp > p && sp[-1] != ' ') --sp;
  if (sp > p && end - sp >= 5 && std::memcmp(sp, "HTTP/", 5) == 0) {
    *protocol = std::string_view(sp, end - sp);
    end = sp;
  }
  while (end > p && end[-1] == ' ') --end;
  *url = std::string_view(p, end - p);
}

namespace {

// No `c` in the 26 bytes at p (two overlapping 16-byte compares; the
// bytes p[0..26) must be readable).
inline bool NoByteIn26(const char* p, char c) {
#ifdef __SSE2__
  const __m128i needle = _mm_set1_epi8(c);
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 10));
  return _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, needle),
                                        _mm_cmpeq_epi8(b, needle))) == 0;
#else
  return std::memchr(p, c, 26) == nullptr;
#endif
}

// ParseCombinedLine; with `user_agent` false, out->user_agent is left
// empty and the field is only checked to be closed, which for the usual
// line ending in its closing quote takes no scan.
bool ParseFields(std::string_view line, ParsedLine* out, bool user_agent) {
  const char* p = line.data();
  const char* const end = p + line.size();

  // The first fields are short: plain loops beat memchr's call overhead.
  // $remote_addr and the ident field ("-").
  const char* sp = ScanTo(p, end, ' ');
  if (sp == end || sp == p) return false;
  out->remote_addr = std::string_view(p, sp - p);
  p = SkipSpaces(sp, end);
  sp = ScanTo(p, end, ' ');
  if (sp == end || sp == p) return false;
  p = SkipSpaces(sp, end);

  // $remote_user runs to the first " [" (a user name may hold spaces).
  const char* lb = p;
  for (;;) {
    lb = ScanTo(lb, end, '[');
    if (lb == end) return false;
    if (lb > p && lb[-1] == ' ') break;
    ++lb;
  }
  const char* user_end = lb;
  while (user_end > p && user_end[-1] == ' ') --user_end;
  if (user_end == p) return false;
  out->remote_user = std::string_view(p, user_end - p);

  // [$time_local]: nginx's is 26 bytes ("10/Oct/2000:13:55:36 -0700"),
  // so look there first.
  const char* rb;
  if (end - lb >= 28 && lb[27] == ']' && NoByteIn26(lb + 1, ']')) {
    rb = lb + 27;
  } else {
    rb = static_cast<const char*>(std::memchr(lb + 1, ']', end - lb - 1));
    if (rb == nullptr) return false;
  }
  out->time_local = std::string_view(lb + 1, rb - lb - 1);

  // "$request"
  if ((p = Separator(rb + 1, end)) == nullptr) return false;
  if ((p = QuotedField(p, end, &out->request)) == nullptr) return false;
  if ((p = Separator(p, end)) == nullptr) return false;

  // $status: exactly three digits.
  if (end - p < 4 || !IsDigit(p[0]) || !IsDigit(p[1]) || !IsDigit(p[2]) ||
      p[3] != ' ') {
    return false;
  }
  out->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  p = SkipSpaces(p + 3, end);

  // $body_bytes_sent: an int64, or "-".
  if (p < end && *p == '-') {
    out->body_bytes = 0;
    ++p;
  } else {
    const char* const digits = p;
    uint64_t v = 0;
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    while (p < end && IsDigit(*p)) {
      const unsigned d = static_cast<unsigned>(*p - '0');
      if (v > (kMax - d) / 10) return false;  // v * 10 + d > kMax
      v = v * 10 + d;
      ++p;
    }
    if (p == digits) return false;
    out->body_bytes = static_cast<int64_t>(v);
  }

  // "$http_referer" "$http_user_agent", then anything.
  if ((p = Separator(p, end)) == nullptr) return false;
  if ((p = QuotedField(p, end, &out->referer)) == nullptr) return false;
  if ((p = Separator(p, end)) == nullptr) return false;
  if (!user_agent && p < end && *p == '"' && end - p >= 2 && end[-1] == '"') {
    // The line ends with a quote: if no backslash escapes it, the field
    // is closed (by it, or by an earlier one).
    const char* b = end - 1;
    while (b > p + 1 && b[-1] == '\\') --b;
    if (((end - 1 - b) & 1) == 0) {
      out->user_agent = std::string_view();
      SplitRequest(out->request, &out->method, &out->url, &out->protocol);
      return true;
    }
  }
  if (QuotedField(p, end, &out->user_agent) == nullptr) return false;

  SplitRequest(out->request, &out->method, &out->url, &out->protocol);
  return true;
}

}  // namespace

bool ParseCombinedLine(std::string_view line, ParsedLine* out) {
  return ParseFields(line, out, true);
}

// ---------------------------------------------------------------------------
// PathKey.

StatusOr<LogKey> PathKey(std::string_view path) {
  // The last three non-empty components, right to left.
  std::string_view comps[3];
  size_t end = path.size();
  int found = 0;
  while (found < 3) {
    while (end > 0 && path[end - 1] == '/') --end;
    if (end == 0) break;
    const size_t slash = path.rfind('/', end - 1);
    const size_t begin = slash == std::string_view::npos ? 0 : slash + 1;
    comps[found++] = path.substr(begin, end - begin);
    end = begin;
  }
  const auto fail = [&](std::string_view why) {
    return InvalidArgumentError(fmt::format(
        "logstats: cannot take (domain, hour) from path \"{}\": {}; expected "
        ".../<domain>/<YYYYMMDDHH>/<file>",
        path, why));
  };
  if (found < 3) return fail("too few directory components");
  const std::string_view hour = comps[1];
  const std::string_view domain = comps[2];
  if (!ValidHour(hour)) {
    return fail(fmt::format("\"{}\" is not an hour YYYYMMDDHH", hour));
  }
  if (domain == "." || domain == "..") {
    return fail(fmt::format("\"{}\" is not a domain", domain));
  }
  return LogKey{std::string(domain), std::string(hour)};
}

// ---------------------------------------------------------------------------
// HourStats.

struct HourStats::Tables {
  FlatSet<uint32_t> ipv4;
  FlatSet<Ip6> ipv6;
  StringCounter other_addrs;  // counts unused
  StringCounter urls;
  // The text of the last IPv6 address inserted (size 0: none). A client's
  // lines come in runs (a page, then its assets): a repeat needs neither
  // the parse nor the insert.
  size_t last_v6_size = 0;
  char last_v6[48];
};

HourStats::HourStats() : t_(std::make_unique<Tables>()) {}
HourStats::~HourStats() = default;
HourStats::HourStats(HourStats&&) noexcept = default;
HourStats& HourStats::operator=(HourStats&&) noexcept = default;

HourStats::TableSizes HourStats::table_sizes() const {
  return {t_->ipv4.size(), t_->urls.size(), t_->urls.key_bytes()};
}

void HourStats::Reserve(const TableSizes& sizes) {
  t_->ipv4.Reserve(sizes.ipv4);
  t_->urls.Reserve(sizes.urls, sizes.url_bytes);
}

void HourStats::AddLine(std::string_view line) { AddLine(line, nullptr); }

void HourStats::AddLine(std::string_view line, Later* later) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;
  AddRecord(line, later);
}

void HourStats::AddRecord(std::string_view line, Later* later) {
  ParsedLine parsed;
  if (ParseFields(line, &parsed, /*user_agent=*/false)) {
    Count(parsed.remote_addr, parsed.url, parsed.status, parsed.body_bytes,
          line.data() + line.size(), nullptr, later);
  } else {
    ++malformed_;
  }
}

// A line's URL count and IPv4 insert, made kLag lines after the line: the
// tables outgrow the core's caches (a 30 MB hour file: 18k URLs, 1.2 MB of
// slots and records, beside the decoder's and the reader's buffers; a 220
// MB one: 125k URLs, 9 MB), so each update would wait on a slot and then a
// record from memory; here the lines parsed in between wait for them
// instead. Slots are prefetched as an update is queued (Count asks for the
// URL's), the URL's record kLag / 2 lines later, once its slot is in.
// (Until PrefetchLine, GCC had deleted most of these prefetches, and
// deferring had paid only for tables of 2 MiB and more.)
class HourStats::Later {
 public:
  explicit Later(Tables* t) : t_(t) {}
  Later(const Later&) = delete;
  Later& operator=(const Later&) = delete;

  // Makes the updates of kLag pushes ago, then queues these: `url` (of
  // `hash`, StringCounter::Hash; may be empty), whose bytes must live until
  // Drain, and the address `ipv4` (nullptr: none).
  void Push(std::string_view url, uint64_t hash, const uint32_t* ipv4) {
    Entry& e = ring_[n_ % kLag];
    if (n_ >= kLag) Apply(e);
    e = Entry{url, hash, ipv4 != nullptr ? *ipv4 : 0, StringCounter::kNoSlot,
              ipv4 != nullptr};
    if (ipv4 != nullptr) t_->ipv4.Prefetch(*ipv4);
    ++n_;
    if (n_ > kLag / 2) {
      Entry& r = ring_[(n_ - 1 - kLag / 2) % kLag];
      if (!r.url.empty()) {
        r.slot = t_->urls.PrefetchRecord(r.hash, r.url.size());
      }
    }
  }
  // Makes every update still queued, in the order they came.
  void Drain() {
    for (size_t i = n_ > kLag ? n_ - kLag : 0; i < n_; ++i) {
      Apply(ring_[i % kLag]);
    }
    n_ = 0;
  }

 private:
  // 16: the 16 GiB set 10.60 -> 10.08 s mean over 8 lines (five
  // alternations); 32 no better (docs/benchmarks.md).
  static constexpr size_t kLag = 16;
  struct Entry {
    std::string_view url;
    uint64_t hash = 0;
    uint32_t ipv4 = 0;
    uint32_t slot = StringCounter::kNoSlot;  // the URL's, as last seen
    bool has_ipv4 = false;
  };
  void Apply(const Entry& e) {
    if (e.has_ipv4) t_->ipv4.Insert(e.ipv4);
    if (!e.url.empty()) t_->urls.AddAt(e.slot, e.url, e.hash, 1);
  }

  Tables* const t_;
  Entry ring_[kLag];
  size_t n_ = 0;  // updates pushed
};

namespace {

// Bit i: p[i] == '\n', for the 64 bytes at p.
inline uint64_t NewlineMask64(const char* p) {
#ifdef __SSE2__
  const __m128i nl = _mm_set1_epi8('\n');
  uint64_t m = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i v =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
    m |= uint64_t{static_cast<uint16_t>(
             _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))}
         << (16 * i);
  }
  return m;
#else
  uint64_t m = 0;
  for (int i = 0; i < 64; ++i) m |= uint64_t{p[i] == '\n'} << i;
  return m;
#endif
}

}  // namespace

// AddLines' loops: the newlines 64 bytes at a time, as bit masks. The last
// window may read up to 63 bytes past the end (kLineReadSlack promises
// them); its bits past the end are cleared. Run() hands each line to
// AddLine, for CPUs without the vector parser (FastParseAvailable());
// RunAvx2() runs that parser inlined: a call per line took 2-4% of the
// logstats job (docs/benchmarks.md).
struct LineLoop {
  static void Run(HourStats* h, std::string_view lines,
                  HourStats::Later* later) {
    const char* const base = lines.data();
    const size_t n = lines.size();
    size_t start = 0;
    for (size_t w = 0; w < n; w += 64) {
      uint64_t m = NewlineMask64(base + w);
      if (n - w < 64) m &= (uint64_t{1} << (n - w)) - 1;
      while (m != 0) {
        const size_t nl = w + static_cast<size_t>(std::countr_zero(m));
        m &= m - 1;
        h->AddLine(std::string_view(base + start, nl - start), later);
        start = nl + 1;
      }
    }
    if (start < n) {
      h->AddLine(std::string_view(base + start, n - start), later);
    }
  }

#ifdef TASKGRID_FASTPARSE_X86
  TASKGRID_AVX2 static void RunAvx2(HourStats* h, std::string_view lines,
                                    HourStats::Later* later) {
    const char* const base = lines.data();
    const size_t n = lines.size();
    const __m256i nl = _mm256_set1_epi8('\n');
    // The newlines' positions a block at a time, then the lines: whether a
    // 64-byte window holds a newline is a coin toss on ~200-byte lines,
    // and a branch on it mispredicted once a line. Two positions are
    // stored per window whether it has them or not (more are rare); a
    // block of nothing but newlines fills `ends`.
    constexpr size_t kBlock = 8192;
    uint32_t ends[kBlock];
    size_t start = 0;
    for (size_t b = 0; b < n; b += kBlock) {
      const size_t stop = std::min(n, b + kBlock);
      size_t count = 0;
      for (size_t w = b; w < stop; w += 64) {
        const __m256i lo =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + w));
        const __m256i hi =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + w + 32));
        uint64_t m = static_cast<uint32_t>(
                         _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, nl))) |
                     uint64_t{static_cast<uint32_t>(
                         _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, nl)))}
                         << 32;
        if (n - w < 64) m = _bzhi_u64(m, static_cast<unsigned>(n - w));
        const auto at = static_cast<uint32_t>(w - b);
        const size_t k = _mm_popcnt_u64(m);
        ends[count] = at + static_cast<uint32_t>(_tzcnt_u64(m));
        m = _blsr_u64(m);
        ends[count + 1] = at + static_cast<uint32_t>(_tzcnt_u64(m));
        if (__builtin_expect(k > 2, 0)) {
          m = _blsr_u64(m);
          for (size_t i = 2; i < k; ++i, m = _blsr_u64(m)) {
            ends[count + i] = at + static_cast<uint32_t>(_tzcnt_u64(m));
          }
        }
        count += k;
      }
      for (size_t i = 0; i < count; ++i) {
        const size_t end = b + ends[i];
        Line(h, std::string_view(base + start, end - start), later);
        start = end + 1;
      }
    }
    if (start < n) Line(h, std::string_view(base + start, n - start), later);
  }

  // AddLine, with the vector parser first: it reads up to 64 bytes past
  // the line.
  static_assert(kLineReadSlack >= 64);
  TASKGRID_AVX2 TASKGRID_INLINE static void Line(HourStats* h,
                                                 std::string_view line,
                                                 HourStats::Later* later) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    logstats_internal::FastFields f;
    if (logstats_internal::avx2::FastParse(line, &f)) {
      h->Count(f.remote_addr, f.url, f.status, f.body_bytes,
               line.data() + line.size() + kLineReadSlack,
               f.is_ipv4 ? &f.ipv4 : nullptr, later);
    } else {
      h->AddRecord(line, later);  // not AddLine: one '\r' only is stripped
    }
  }
#endif
};

void HourStats::AddLines(std::string_view lines) {
  Later later(t_.get());
#ifdef TASKGRID_FASTPARSE_X86
  if (logstats_internal::FastParseAvailable()) {
    LineLoop::RunAvx2(this, lines, &later);
  } else {
    LineLoop::Run(this, lines, &later);
  }
#else
  LineLoop::Run(this, lines, &later);
#endif
  later.Drain();
}

void HourStats::Add(const ParsedLine& line) {
  Count(line.remote_addr, line.url, line.status, line.body_bytes,
        line.remote_addr.data() + line.remote_addr.size());
}

void HourStats::Count(std::string_view addr, std::string_view url, int status,
                      int64_t body_bytes, const char* readable_end,
                      const uint32_t* ipv4, Later* later) {
  // The URL's slot is likely a cache miss: ask for it first, and let the
  // address lookup overlap with the wait.
  uint64_t url_hash = 0;
  if (!url.empty()) {
    url_hash = StringCounter::Hash(url);
    t_->urls.Prefetch(url_hash);
  }
  ++requests_;
  SaturatingAdd(&bytes_, body_bytes);
  const unsigned bucket = static_cast<unsigned>(status / 100) - 2u;
  if (bucket < 4) ++status_[bucket];
  uint32_t v4;
  Ip6 v6;
  if (ipv4 == nullptr &&
      (readable_end - addr.data() >= 16
           ? logstats_internal::ParseIpv4Wide(addr.data(), addr.size(), &v4)
           : logstats_internal::ParseIpv4(addr, &v4))) {
    ipv4 = &v4;
  }
  if (ipv4 == nullptr) {
    Tables& t = *t_;
    if (!addr.empty() && addr.size() == t.last_v6_size &&
        SameBytes(addr.data(), t.last_v6, addr.size())) {
      // In the set already.
    } else if (logstats_internal::ParseIpv6(addr, &v6.hi, &v6.lo)) {
      t.ipv6.Insert(v6);
      if (addr.size() <= sizeof(t.last_v6)) {
        std::memcpy(t.last_v6, addr.data(), addr.size());
        t.last_v6_size = addr.size();
      }
    } else {
      t_->other_addrs.Add(addr, 1);
    }
  }
  if (later != nullptr) {
    if (ipv4 != nullptr || !url.empty()) later->Push(url, url_hash, ipv4);
    return;
  }
  if (ipv4 != nullptr) t_->ipv4.Insert(*ipv4);
  if (!url.empty()) t_->urls.Add(url, url_hash, 1);
}

void HourStats::Merge(const HourStats& other) {
  requests_ += other.requests_;
  SaturatingAdd(&bytes_, other.bytes_);
  for (int i = 0; i < 4; ++i) status_[i] += other.status_[i];
  malformed_ += other.malformed_;
  other.t_->ipv4.ForEach([&](uint32_t ip) { t_->ipv4.Insert(ip); });
  other.t_->ipv6.ForEach([&](const Ip6& ip) { t_->ipv6.Insert(ip); });
  other.t_->other_addrs.ForEach(
      [&](std::string_view a, int64_t c) { t_->other_addrs.Add(a, c); });
  other.t_->urls.ForEach(
      [&](std::string_view u, int64_t c) { t_->urls.Add(u, c); });
}

int64_t HourStats::status_class(int status_class) const {
  return status_class >= 2 && status_class <= 5 ? status_[status_class - 2] : 0;
}

int64_t HourStats::unique_ips() const {
  return static_cast<int64_t>(t_->ipv4.size() + t_->ipv6.size() +
                              t_->other_addrs.size());
}

int64_t HourStats::distinct_urls() const {
  return static_cast<int64_t>(t_->urls.size());
}

std::vector<std::pair<std::string_view, int64_t>> HourStats::TopUrls(
    size_t n) const {
  auto v = t_->urls.Entries();
  const auto by_rank = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (n < v.size()) {
    std::partial_sort(v.begin(), v.begin() + n, v.end(), by_rank);
    v.resize(n);
  } else {
    std::sort(v.begin(), v.end(), by_rank);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Result serialization.

namespace {

// Insertion sort of a nearly sorted *v; gives up (false, *v permuted) once
// it has moved elements 8 times as many times as there are elements.
template <typename T, typename Less>
bool SortNearlySorted(std::vector<T>* v, Less less) {
  size_t budget = 8 * v->size() + 64;
  for (size_t i = 1; i < v->size(); ++i) {
    if (!less((*v)[i], (*v)[i - 1])) continue;
    T x = std::move((*v)[i]);
    size_t j = i;
    do {
      (*v)[j] = std::move((*v)[j - 1]);
      --j;
      if (--budget == 0) {
        (*v)[j] = std::move(x);
        return false;
      }
    } while (j > 0 && less(x, (*v)[j - 1]));
    (*v)[j] = std::move(x);
  }
  return true;
}

// One group of a result whose structure ResultCodec::Scan has checked: its
// sections, as views into the result's bytes.
struct ResultGroup {
  std::string_view domain;
  std::string_view hour;
  int64_t counts[7];      // requests bytes s2xx s3xx s4xx s5xx malformed
  std::string_view ipv4;  // 4 bytes each, big endian, ascending
  std::string_view ipv6;  // 16 bytes each, big endian, ascending
  uint64_t n_other = 0;   // strings (varint length, bytes), ascending
  std::string_view other;
  uint64_t n_urls = 0;  // (string, varint count), in (hash, bytes) order
  std::string_view urls;
};

// Readers of sections Scan has checked, so they need no bounds checks.
inline uint64_t TakeVarint(const char** p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const unsigned b = static_cast<unsigned char>(*(*p)++);
    v |= uint64_t{b & 0x7f} << shift;
    if ((b & 0x80) == 0) return v;
  }
}
inline std::string_view TakeString(const char** p) {
  const uint64_t n = TakeVarint(p);
  const std::string_view s(*p, n);
  *p += n;
  return s;
}
inline uint32_t LoadBe32(const char* p) {
  return __builtin_bswap32(static_cast<uint32_t>(Load32(p)));
}
inline Ip6 LoadIp6(const char* p) {
  return Ip6{__builtin_bswap64(Load64(p)), __builtin_bswap64(Load64(p + 8))};
}

}  // namespace

class ResultCodec {
 public:
  static std::string Serialize(const Merged& groups) {
    std::string out = "L\x01";
    PutVarint(groups.size(), &out);
    for (const auto& [key, s] : groups) {
      PutString(key.domain, &out);
      PutString(key.hour, &out);
      for (int64_t v : {s.requests_, s.bytes_, s.status_[0], s.status_[1],
                        s.status_[2], s.status_[3], s.malformed_}) {
        PutVarint(static_cast<uint64_t>(v), &out);
      }
      const StringCounter& counts = s.t_->urls;
      const auto v4 = s.t_->ipv4.Sorted();
      const auto v6 = s.t_->ipv6.Sorted();
      // Room for the rest of the group at once: each growth of `out` would
      // copy it into fresh memory.
      out.reserve(out.size() + 64 + 4 * v4.size() + 16 * v6.size() +
                  counts.size() * 12 + counts.key_bytes() +
                  s.t_->other_addrs.size() * 6 + s.t_->other_addrs.key_bytes());
      PutVarint(v4.size(), &out);
      char* p = Extend(&out, 4 * v4.size());
      for (uint32_t ip : v4) p = PutBe32(ip, p);
      PutVarint(v6.size(), &out);
      p = Extend(&out, 16 * v6.size());
      for (const Ip6& ip : v6) {
        p = PutBe64(ip.hi, p);
        p = PutBe64(ip.lo, p);
      }
      auto others = s.t_->other_addrs.Entries();
      std::sort(others.begin(), others.end());
      PutVarint(others.size(), &out);
      for (const auto& [addr, count] : others) PutString(addr, &out);
      // URLs in the order of their hash, ties by bytes: a function of the
      // content only, without comparing strings (a byte-order sort was 5%
      // of a map task).
      struct Url {
        uint64_t hash;
        std::string_view url;
        int64_t count;
      };
      std::vector<Url> urls;
      urls.reserve(counts.size());
      counts.ForEach([&](std::string_view u, int64_t c) {
        urls.push_back({HashBytes(u.data(), u.size()), u, c});
      });
      const auto before = [](const Url& a, const Url& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.url < b.url;
      };
      // The table gives them nearly in order (StringCounter::Home):
      // insertion sort, unless that moves far more than expected.
      if (!SortNearlySorted(&urls, before)) {
        std::sort(urls.begin(), urls.end(), before);
      }
      PutVarint(urls.size(), &out);
      for (const Url& u : urls) {
        PutString(u.url, &out);
        PutVarint(static_cast<uint64_t>(u.count), &out);
      }
    }
    return out;
  }

  // Version 2: "L\x02", the size of the version-1 body (what follows
  // "L\x01") as a varint, then that body as one LZ4 block. Written for
  // results of kCompressFrom bytes or more when it is smaller: the URLs,
  // most of a result, compress ~2x, and each byte a result saves is a byte
  // the state store writes twice (WAL, then the database) and the reduce
  // reads back.
  static std::string Compress(std::string plain) {
    constexpr size_t kCompressFrom = 4096;
    if (plain.size() < kCompressFrom || plain.size() - 2 > LZ4_MAX_INPUT_SIZE) {
      return plain;
    }
    const int body = static_cast<int>(plain.size() - 2);
    std::string out = "L\x02";
    PutVarint(static_cast<uint64_t>(body), &out);
    const size_t header = out.size();
    out.resize(header + static_cast<size_t>(LZ4_compressBound(body)));
    const int n = LZ4_compress_default(plain.data() + 2, out.data() + header,
                                       body, LZ4_compressBound(body));
    if (n <= 0 || header + static_cast<size_t>(n) >= plain.size()) {
      return plain;
    }
    out.resize(header + static_cast<size_t>(n));
    // LZ4's worst case, allocated above, is twice the result: give the rest
    // back now rather than with the result, which waits for the store's
    // writer (bench/logstats_alternate.sh, 22 rounds: wall -1.6% to -3.2%).
    out.shrink_to_fit();
    return out;
  }

  // The version-1 form of a result: `in` itself, or version 2
  // decompressed into *buffer. DataLoss for a version-2 result that does
  // not decompress to exactly its stated size.
  static StatusOr<std::string_view> Expand(std::string_view in,
                                           std::string* buffer) {
    if (!IsCompressed(in)) return in;
    ResultCodec r(in);
    uint64_t body;
    RETURN_IF_ERROR(r.BlockHeader(&body));
    const size_t packed = in.size() - r.pos_;
    buffer->assign("L\x01");
    buffer->resize(2 + body);
    const int n =
        LZ4_decompress_safe(in.data() + r.pos_, buffer->data() + 2,
                            static_cast<int>(packed), static_cast<int>(body));
    if (n < 0 || static_cast<uint64_t>(n) != body) {
      return r.Corrupt("LZ4 block does not decompress to its stated size");
    }
    return std::string_view(*buffer);
  }

  // For a version-2 result of one group, that group's key and counts and
  // the result's version-1 size, read from the first bytes of its LZ4
  // block alone (no whole decompression); false for anything else, or if
  // those bytes do not show them, so that the caller expands and checks
  // the whole result instead.
  static bool PeekOneGroup(std::string_view in, LogKey* key, int64_t* counts,
                           size_t* expanded) {
    if (!IsCompressed(in)) return false;
    ResultCodec r(in);
    uint64_t body;
    if (!r.BlockHeader(&body).ok()) return false;
    const size_t packed = in.size() - r.pos_;
    char head[256] = {'L', '\x01'};
    const int want = static_cast<int>(std::min<uint64_t>(body, 254));
    const int n = LZ4_decompress_safe_partial(
        in.data() + r.pos_, head + 2, static_cast<int>(packed), want,
        static_cast<int>(sizeof(head) - 2));
    if (n < want) return false;
    ResultCodec h(std::string_view(head, 2 + static_cast<size_t>(want)));
    h.pos_ = 2;
    uint64_t ngroups;
    std::string_view domain, hour;
    if (!h.Varint(&ngroups).ok() || ngroups != 1 ||
        !h.StringView(&domain).ok() || !h.StringView(&hour).ok()) {
      return false;
    }
    for (int i = 0; i < 7; ++i) {
      if (!h.Count(&counts[i]).ok()) return false;
    }
    *key = LogKey{std::string(domain), std::string(hour)};
    *expanded = 2 + body;
    return true;
  }

  // Checks the structure of a result (magic, version, every length and
  // varint, no zero URL count) and calls f(const ResultGroup&) for each of
  // its groups, in order. DataLoss naming the byte offset of the first
  // defect; f is called only when the whole result is well formed. The
  // order of the runs inside a group is not checked here (see
  // ResultReducer).
  template <typename F>
  static Status Scan(std::string_view in, F&& f) {
    ResultCodec r(in);
    if (in.size() < 2 || in[0] != 'L') return r.Corrupt("bad magic");
    if (in[1] != '\x01') {
      return r.Corrupt(fmt::format("unknown version {}", int{in[1]}));
    }
    r.pos_ = 2;
    uint64_t ngroups;
    RETURN_IF_ERROR(r.Varint(&ngroups));
    std::vector<ResultGroup> groups;
    for (uint64_t i = 0; i < ngroups; ++i) {
      ResultGroup& g = groups.emplace_back();
      RETURN_IF_ERROR(r.StringView(&g.domain));
      RETURN_IF_ERROR(r.StringView(&g.hour));
      for (int64_t& v : g.counts) RETURN_IF_ERROR(r.Count(&v));
      uint64_t n;
      RETURN_IF_ERROR(r.Varint(&n));
      RETURN_IF_ERROR(r.Bytes(n, 4, &g.ipv4));
      RETURN_IF_ERROR(r.Varint(&n));
      RETURN_IF_ERROR(r.Bytes(n, 16, &g.ipv6));
      RETURN_IF_ERROR(r.Varint(&g.n_other));
      size_t begin = r.pos_;
      for (uint64_t j = 0; j < g.n_other; ++j) {
        std::string_view addr;
        RETURN_IF_ERROR(r.StringView(&addr));
      }
      g.other = in.substr(begin, r.pos_ - begin);
      RETURN_IF_ERROR(r.Varint(&g.n_urls));
      begin = r.pos_;
      for (uint64_t j = 0; j < g.n_urls; ++j) {
        std::string_view url;
        int64_t count;
        RETURN_IF_ERROR(r.StringView(&url));
        RETURN_IF_ERROR(r.Count(&count));
        if (count == 0) return r.Corrupt("zero URL count");
      }
      g.urls = in.substr(begin, r.pos_ - begin);
    }
    if (r.pos_ != in.size()) return r.Corrupt("trailing bytes");
    for (const ResultGroup& g : groups) f(g);
    return OkStatus();
  }

  static Status Merge(std::string_view in, Merged* into) {
    return Scan(in, [&](const ResultGroup& g) {
      HourStats& s =
          (*into)[LogKey{std::string(g.domain), std::string(g.hour)}];
      s.requests_ += g.counts[0];
      SaturatingAdd(&s.bytes_, g.counts[1]);
      for (int i = 0; i < 4; ++i) s.status_[i] += g.counts[2 + i];
      s.malformed_ += g.counts[6];
      for (size_t i = 0; i < g.ipv4.size(); i += 4) {
        s.t_->ipv4.Insert(LoadBe32(g.ipv4.data() + i));
      }
      for (size_t i = 0; i < g.ipv6.size(); i += 16) {
        s.t_->ipv6.Insert(LoadIp6(g.ipv6.data() + i));
      }
      const char* p = g.other.data();
      for (uint64_t i = 0; i < g.n_other; ++i) {
        s.t_->other_addrs.Add(TakeString(&p), 1);
      }
      p = g.urls.data();
      for (uint64_t i = 0; i < g.n_urls; ++i) {
        const std::string_view url = TakeString(&p);
        s.t_->urls.Add(url, static_cast<int64_t>(TakeVarint(&p)));
      }
    });
  }

 private:
  explicit ResultCodec(std::string_view in) : in_(in) {}

  static bool IsCompressed(std::string_view in) {
    return in.size() >= 2 && in[0] == 'L' && in[1] == '\x02';
  }
  // Reads a version-2 result's header: the version-1 body's size, leaving
  // pos_ at the LZ4 block. An LZ4 block expands at most ~255 times: a
  // larger size is corrupt (and must not be allocated).
  Status BlockHeader(uint64_t* body) {
    pos_ = 2;
    RETURN_IF_ERROR(Varint(body));
    const size_t packed = in_.size() - pos_;
    if (*body > std::min<uint64_t>(LZ4_MAX_INPUT_SIZE, 255 * packed + 16)) {
      return Corrupt("compressed size out of range");
    }
    return OkStatus();
  }

  // Appends n bytes to *out; returns where they begin.
  static char* Extend(std::string* out, size_t n) {
    const size_t at = out->size();
    out->resize(at + n);
    return out->data() + at;
  }
  // Write v big-endian at p; return the byte after it.
  static char* PutBe32(uint32_t v, char* p) {
    const uint32_t be = __builtin_bswap32(v);
    std::memcpy(p, &be, 4);
    return p + 4;
  }
  static char* PutBe64(uint64_t v, char* p) {
    const uint64_t be = __builtin_bswap64(v);
    std::memcpy(p, &be, 8);
    return p + 8;
  }
  static void PutVarint(uint64_t v, std::string* out) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  }
  static void PutString(std::string_view s, std::string* out) {
    PutVarint(s.size(), out);
    out->append(s);
  }

  Status Corrupt(std::string_view what) const {
    return DataLossError(
        fmt::format("logstats: corrupt task result ({}) at byte {} of {}", what,
                    pos_, in_.size()));
  }
  Status Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Corrupt("truncated");
      const unsigned b = static_cast<unsigned char>(in_[pos_++]);
      *v |= uint64_t{b & 0x7f} << shift;
      if ((b & 0x80) == 0) return OkStatus();
    }
    return Corrupt("varint too long");
  }
  Status Count(int64_t* v) {
    uint64_t u;
    RETURN_IF_ERROR(Varint(&u));
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Corrupt("count out of range");
    }
    *v = static_cast<int64_t>(u);
    return OkStatus();
  }
  Status Bytes(uint64_t n, uint64_t width, std::string_view* out) {
    if (n > (in_.size() - pos_) / width) return Corrupt("truncated");
    *out = in_.substr(pos_, n * width);
    pos_ += n * width;
    return OkStatus();
  }
  Status StringView(std::string_view* s) {
    uint64_t n;
    RETURN_IF_ERROR(Varint(&n));
    if (n > std::numeric_limits<uint32_t>::max()) {
      return Corrupt("string too long");
    }
    return Bytes(n, 1, s);
  }
  std::string_view in_;
  size_t pos_ = 0;
};

std::string SerializeResult(const Merged& groups) {
  return ResultCodec::Compress(ResultCodec::Serialize(groups));
}

Status MergeResult(std::string_view result, Merged* into) {
  std::string buffer;
  ASSIGN_OR_RETURN(const std::string_view plain,
                   ResultCodec::Expand(result, &buffer));
  return ResultCodec::Merge(plain, into);
}

namespace logstats_internal {
StatusOr<std::string> UncompressedResult(std::string_view result) {
  std::string buffer;
  ASSIGN_OR_RETURN(const std::string_view plain,
                   ResultCodec::Expand(result, &buffer));
  return std::string(plain);
}
}  // namespace logstats_internal

// ---------------------------------------------------------------------------
// CSV.

namespace {

// The figures of one (domain, hour) that the two CSV files show.
struct GroupRow {
  const LogKey* key = nullptr;
  int64_t requests = 0;
  int64_t bytes = 0;
  int64_t status[4] = {0, 0, 0, 0};
  int64_t unique_ips = 0;
  int64_t malformed = 0;
  std::string top_rows;  // its top_urls.csv rows (ResultReducer)
};

constexpr std::string_view kSummaryHeader =
    "domain,hour,requests,bytes,status_2xx,status_3xx,status_4xx,"
    "status_5xx,unique_ips,malformed\n";
constexpr std::string_view kTopUrlsHeader = "domain,hour,rank,url,requests\n";

void AppendKey(const LogKey& key, std::string* out) {
  AppendCsvField(key.domain, out);
  out->push_back(',');
  AppendCsvField(key.hour, out);
}

void AppendSummaryRow(const GroupRow& r, std::string* out) {
  AppendKey(*r.key, out);
  fmt::format_to(std::back_inserter(*out), ",{},{},{},{},{},{},{},{}\n",
                 r.requests, r.bytes, r.status[0], r.status[1], r.status[2],
                 r.status[3], r.unique_ips, r.malformed);
}

void AppendTopUrlRows(
    const LogKey& key,
    const std::vector<std::pair<std::string_view, int64_t>>& ranked,
    std::string* out) {
  size_t rank = 0;
  for (const auto& [url, count] : ranked) {
    AppendKey(key, out);
    fmt::format_to(std::back_inserter(*out), ",{},", ++rank);
    AppendCsvField(url, out);
    fmt::format_to(std::back_inserter(*out), ",{}\n", count);
  }
}

GroupRow RowOf(const LogKey& key, const HourStats& s) {
  GroupRow r;
  r.key = &key;
  r.requests = s.requests();
  r.bytes = s.bytes();
  for (int i = 0; i < 4; ++i) r.status[i] = s.status_class(2 + i);
  r.unique_ips = s.unique_ips();
  r.malformed = s.malformed();
  return r;
}

}  // namespace

std::string SummaryCsv(const Merged& merged) {
  std::string out(kSummaryHeader);
  for (const auto& [key, s] : merged) AppendSummaryRow(RowOf(key, s), &out);
  return out;
}

std::string TopUrlsCsv(const Merged& merged, size_t top) {
  std::string out(kTopUrlsHeader);
  for (const auto& [key, s] : merged) {
    AppendTopUrlRows(key, s.TopUrls(top), &out);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Output.

namespace {

Status ErrnoError(std::string_view what, const std::string& path) {
  return InternalError(
      fmt::format("logstats: {} {}: {}", what, path, std::strerror(errno)));
}

Status WriteFileDurably(const std::string& path, std::string_view content) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = ErrnoError("cannot write", path);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = ErrnoError("cannot fsync", path);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", path);
  return OkStatus();
}

}  // namespace

Status WriteOutput(JobContext& ctx, std::string_view name,
                   std::string_view content) {
  // OutputPath is in this reduce attempt's private directory; the job
  // commit publishes the file (atomically, exactly once) when the job
  // succeeds.
  ASSIGN_OR_RETURN(const std::string path, ctx.OutputPath(name));
  return WriteFileDurably(path, content);
}

// ---------------------------------------------------------------------------
// ResultReducer: the reduce as a merge of sorted runs.

namespace {

// Cursors over the sections of one ResultGroup. Next() loads the next key
// (false at the end of the section); `at` is where the cursor reads.
// Keys of a fixed width, kWidth bytes each, read by kLoad.
template <typename K, size_t kWidth, K (*kLoad)(const char*)>
struct FixedCursor {
  using Key = K;
  const char* at;
  const char* end;
  Key key{};
  bool Next() {
    if (at == end) return false;
    key = kLoad(at);
    at += kWidth;
    return true;
  }
};
using Ipv4Cursor = FixedCursor<uint32_t, 4, LoadBe32>;
using Ipv6Cursor = FixedCursor<Ip6, 16, LoadIp6>;

struct OtherCursor {
  using Key = std::string_view;
  const char* at;
  uint64_t left;
  Key key;
  bool Next() {
    if (left == 0) return false;
    --left;
    key = TakeString(&at);
    return true;
  }
};

// URLs come in the order of their hash, ties by bytes (SerializeResult).
struct UrlCursor {
  struct Key {
    uint64_t hash = 0;
    std::string_view url;
    friend bool operator==(const Key& a, const Key& b) {
      return a.hash == b.hash && a.url == b.url;
    }
    friend bool operator<(const Key& a, const Key& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.url < b.url;
    }
  };
  const char* at;
  uint64_t left;
  Key key;
  int64_t count = 0;
  bool Next() {
    if (left == 0) return false;
    --left;
    key.url = TakeString(&at);
    key.hash = HashBytes(key.url.data(), key.url.size());
    count = static_cast<int64_t>(TakeVarint(&at));
    return true;
  }
};

// Visits the keys of the runs in ascending order, calling f(cursor, same)
// where `same` says the key equals the one visited before it (the same key
// in another run). Returns the index of a run whose keys do not strictly
// ascend (its cursor stops where), or -1.
template <typename Cursor, typename F>
int MergeRuns(std::vector<Cursor>& runs, F&& f) {
  if (runs.size() == 1) {  // the common case: nothing to merge
    Cursor& c = runs[0];
    if (!c.Next()) return -1;
    f(c, false);
    typename Cursor::Key prev = c.key;
    while (c.Next()) {
      if (!(prev < c.key)) return 0;
      f(c, false);
      prev = c.key;
    }
    return -1;
  }
  // A heap of run indices, the smallest key on top.
  const auto after = [&](int a, int b) { return runs[b].key < runs[a].key; };
  std::vector<int> heap;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].Next()) heap.push_back(static_cast<int>(i));
  }
  std::make_heap(heap.begin(), heap.end(), after);
  bool first = true;
  typename Cursor::Key prev{};
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    const int i = heap.back();
    Cursor& c = runs[i];
    f(c, !first && c.key == prev);
    first = false;
    prev = c.key;
    if (!c.Next()) {
      heap.pop_back();
    } else if (!(prev < c.key)) {
      return i;
    } else {
      std::push_heap(heap.begin(), heap.end(), after);
    }
  }
  return -1;
}

// f(), or ResourceExhausted for an exception it throws (std::bad_alloc):
// none may leave a reducing thread (which would end the process) or Add.
template <typename F>
Status Guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return ResourceExhaustedError(
        fmt::format("logstats: reduce: {}", e.what()));
  }
}

}  // namespace

struct ResultReducer::Impl {
  // A group's sections, as offsets into its result's version-1 bytes: the
  // bytes are expanded again, into a buffer a merging thread reuses, when
  // the group is merged (holding every result expanded would fault in
  // fresh memory for all of them, which costs more than decompressing
  // twice).
  struct Sections {
    size_t ipv4 = 0, ipv4_size = 0;
    size_t ipv6 = 0, ipv6_size = 0;
    size_t other = 0;
    uint64_t n_other = 0;
    size_t urls = 0;
    uint64_t n_urls = 0;
  };
  struct Source {
    int64_t task_id;
    std::string stage;
    std::string raw;  // as added (maybe compressed); freed once merged
    struct Group {
      LogKey key;
      int64_t counts[7];
      Sections sections;
    };
    std::vector<Group> groups;
    size_t expanded = 0;    // bytes, once indexed
    Status status;          // of indexing it
    bool deferred = false;  // checked, and its sections found, by Reduce
    size_t unmerged = 0;    // its groups not merged yet
  };
  // Notes `src`'s groups: for a compressed result of one group, its key and
  // counts from the block's first bytes (deferred: decompressing and
  // checking it here, on the thread that feeds the reduce while the maps
  // run, then again when its group merges was 1% of the job's CPU);
  // otherwise decompresses and checks it, noting each group's sections.
  // `buffer` is scratch space.
  static void Index(Source* src, std::string* buffer);
  // `s`, prefixed with the task whose result `src` is.
  static Status OfTask(const Source& src, const Status& s) {
    return s.WithPrefix(
        fmt::format("result of task {} ({})", src.task_id, src.stage));
  }
  // Checks the version-1 result `bytes` and appends its groups.
  static Status Groups(std::string_view bytes,
                       std::vector<Source::Group>* groups);
  struct Run {
    Source* source;
    Sections sections;
  };
  struct Group {
    int64_t counts[7] = {0, 0, 0, 0, 0, 0, 0};
    std::vector<Run> runs;
    size_t expected = 0;  // results announced by Expect
    bool merged = false;  // by Add, when the last announced one came
    GroupRow row;         // of that merge
    Status status;
  };

  // A group's figures: the merge of its runs, each expanded into one of
  // *buffers (grown as needed, reused by the caller).
  Status Reduce(const LogKey& key, const Group& g, size_t top,
                std::vector<std::string>* buffers, GroupRow* row) const;

  // Files `src`'s groups (Add); merges those it completes.
  void File(Source* src);
  // Puts g's runs in task order (whatever order the results came in).
  static void SortRuns(Group* g) {
    std::sort(g->runs.begin(), g->runs.end(), [](const Run& a, const Run& b) {
      return a.source->task_id < b.source->task_id;
    });
  }
  // Merges group `key` now, on this thread, and frees the results no
  // other group still needs.
  void MergeEarly(const LogKey& key, Group* g);

  size_t top = 10;
  std::deque<Source> sources;  // a deque: runs point into it
  std::map<LogKey, Group> groups;
  std::string scratch;               // Add's
  std::vector<std::string> buffers;  // MergeEarly's
  Status late;                       // a result for a group merged already
  // The largest source expanded: what Reduce's buffers are reserved to at
  // once, rather than grown (each growth is a fresh block, faulted in page
  // by page in the reduce's tail).
  size_t max_expanded = 0;
};

namespace {

// A run of task `task_id`'s result (expanded in `bytes`) reported corrupt:
// `what` is out of order at the byte its cursor reached.
Status OutOfOrder(int64_t task_id, std::string_view stage,
                  std::string_view bytes, const char* at, std::string_view what,
                  const LogKey& key) {
  return DataLossError(fmt::format(
      "result of task {} ({}): logstats: corrupt task result ({} of {} {} "
      "out of order) at byte {} of {}",
      task_id, stage, what, key.domain, key.hour, at - bytes.data(),
      bytes.size()));
}

}  // namespace

Status ResultReducer::Impl::Reduce(const LogKey& key, const Group& g,
                                   size_t top,
                                   std::vector<std::string>* buffers,
                                   GroupRow* row) const {
  row->key = &key;
  row->requests = g.counts[0];
  row->bytes = g.counts[1];
  for (int i = 0; i < 4; ++i) row->status[i] = g.counts[2 + i];
  row->malformed = g.counts[6];

  // Distinct addresses: the runs' union, counted as it streams by.
  int64_t unique = 0;
  const auto count_new = [&](const auto&, bool same) { unique += !same; };
  std::vector<Ipv4Cursor> v4;
  std::vector<Ipv6Cursor> v6;
  std::vector<OtherCursor> other;
  std::vector<UrlCursor> urls;
  if (buffers->size() < g.runs.size()) buffers->resize(g.runs.size());
  std::vector<std::string_view> plain(g.runs.size());
  for (size_t i = 0; i < g.runs.size(); ++i) {
    const Run& r = g.runs[i];
    const Source& src = *r.source;
    (*buffers)[i].reserve(max_expanded);
    const auto corrupt = [&](const Status& s) { return OfTask(src, s); };
    auto expanded = ResultCodec::Expand(src.raw, &(*buffers)[i]);
    if (!expanded.ok()) return corrupt(expanded.status());
    plain[i] = *expanded;
    Sections s = r.sections;
    if (src.deferred) {  // checked and indexed only now (Index)
      std::vector<Source::Group> groups;
      if (Status st = Groups(plain[i], &groups); !st.ok()) return corrupt(st);
      if (groups.size() != 1 || !(groups[0].key == key) ||
          !std::equal(std::begin(groups[0].counts), std::end(groups[0].counts),
                      std::begin(src.groups[0].counts))) {
        return corrupt(
            DataLossError("logstats: corrupt task result (its group changed)"));
      }
      s = groups[0].sections;
    }
    const char* const b = plain[i].data();
    v4.push_back({b + s.ipv4, b + s.ipv4 + s.ipv4_size});
    v6.push_back({b + s.ipv6, b + s.ipv6 + s.ipv6_size});
    other.push_back({b + s.other, s.n_other, {}});
    urls.push_back({b + s.urls, s.n_urls, {}});
  }
  const auto out_of_order = [&](int run, const char* at,
                                std::string_view what) {
    const Source& src = *g.runs[run].source;
    return OutOfOrder(src.task_id, src.stage, plain[run], at, what, key);
  };
  int bad;
  if ((bad = MergeRuns(v4, count_new)) >= 0) {
    return out_of_order(bad, v4[bad].at, "IPv4 addresses");
  }
  if ((bad = MergeRuns(v6, count_new)) >= 0) {
    return out_of_order(bad, v6[bad].at, "IPv6 addresses");
  }
  if ((bad = MergeRuns(other, count_new)) >= 0) {
    return out_of_order(bad, other[bad].at, "addresses");
  }
  row->unique_ips = unique;

  // URL counts: equal URLs meet as the runs stream by; the `top` best
  // (count descending, then bytes) stay in a heap whose root is the worst.
  using Ranked = std::pair<std::string_view, int64_t>;
  const auto better = [](const Ranked& a, const Ranked& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  std::vector<Ranked> best;
  const auto offer = [&](const Ranked& r) {
    if (best.size() < top) {
      best.push_back(r);
      std::push_heap(best.begin(), best.end(), better);
    } else if (top > 0 && better(r, best.front())) {
      std::pop_heap(best.begin(), best.end(), better);
      best.back() = r;
      std::push_heap(best.begin(), best.end(), better);
    }
  };
  Ranked pending;
  bool have = false;
  bad = MergeRuns(urls, [&](const UrlCursor& c, bool same) {
    if (same) {
      SaturatingAdd(&pending.second, c.count);
      return;
    }
    if (have) offer(pending);
    pending = {c.key.url, c.count};
    have = true;
  });
  if (bad >= 0) return out_of_order(bad, urls[bad].at, "URLs");
  if (have) offer(pending);
  std::sort_heap(best.begin(), best.end(), better);
  // Rendered now: the URLs are views into buffers the next group reuses.
  AppendTopUrlRows(key, best, &row->top_rows);
  return OkStatus();
}

ResultReducer::ResultReducer(size_t top) : impl_(std::make_unique<Impl>()) {
  impl_->top = top;
}
ResultReducer::~ResultReducer() = default;

Status ResultReducer::Impl::Groups(std::string_view bytes,
                                   std::vector<Source::Group>* groups) {
  const auto at = [&](std::string_view v) {
    return static_cast<size_t>(v.data() - bytes.data());
  };
  return ResultCodec::Scan(bytes, [&](const ResultGroup& g) {
    Source::Group& group = groups->emplace_back();
    group.key = LogKey{std::string(g.domain), std::string(g.hour)};
    std::copy(std::begin(g.counts), std::end(g.counts), group.counts);
    group.sections =
        Sections{at(g.ipv4),  g.ipv4.size(), at(g.ipv6), g.ipv6.size(),
                 at(g.other), g.n_other,     at(g.urls), g.n_urls};
  });
}

void ResultReducer::Impl::Index(Source* src, std::string* buffer) {
  Source::Group one;
  if (ResultCodec::PeekOneGroup(src->raw, &one.key, one.counts,
                                &src->expanded)) {
    src->groups.push_back(std::move(one));
    src->deferred = true;
    return;
  }
  src->status = [&]() -> Status {
    ASSIGN_OR_RETURN(const std::string_view bytes,
                     ResultCodec::Expand(src->raw, buffer));
    src->expanded = bytes.size();
    return Groups(bytes, &src->groups);
  }();
}

void ResultReducer::Expect(const LogKey& key) { ++impl_->groups[key].expected; }

void ResultReducer::Add(int64_t task_id, std::string_view stage,
                        std::string_view result) {
  Impl::Source& src = impl_->sources.emplace_back(
      Impl::Source{task_id, std::string(stage), std::string(result), {}});
  Impl::Index(&src, &impl_->scratch);
  impl_->File(&src);
}

void ResultReducer::Impl::File(Source* src) {
  // A result that failed its check files nothing: Finish reports it.
  if (!src->status.ok()) return;
  max_expanded = std::max(max_expanded, src->expanded);
  src->unmerged = src->groups.size();
  for (Source::Group& sg : src->groups) {
    auto [it, added] = groups.try_emplace(std::move(sg.key));
    Group& g = it->second;
    if (g.merged && late.ok()) {
      late = OfTask(*src, InternalError(fmt::format(
                              "logstats: a result for {} {} after its {} "
                              "announced results were merged",
                              it->first.domain, it->first.hour, g.expected)));
    }
    for (int k = 0; k < 7; ++k) SaturatingAdd(&g.counts[k], sg.counts[k]);
    g.runs.push_back({src, sg.sections});
    if (!g.merged && g.runs.size() == g.expected) MergeEarly(it->first, &g);
  }
}

void ResultReducer::Impl::MergeEarly(const LogKey& key, Group* g) {
  SortRuns(g);
  g->status = Guarded([&] { return Reduce(key, *g, top, &buffers, &g->row); });
  g->merged = true;
  for (const Run& r : g->runs) {
    if (--r.source->unmerged == 0) std::string().swap(r.source->raw);
  }
}

namespace {

// (*status)[i] = f(i, worker) for i in [0, n), on up to `threads` threads
// (this one among them), `worker` in [0, threads) telling the threads
// apart. An exception f throws becomes (*status)[i] (Guarded).
template <typename F>
void ParallelFor(size_t n, int threads, std::vector<Status>* status, F&& f) {
  status->assign(n, OkStatus());
  std::atomic<size_t> next{0};
  const auto work = [&](int worker) {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      (*status)[i] = Guarded([&] { return f(i, worker); });
    }
  };
  std::vector<std::thread> helpers;
  const size_t wanted = static_cast<size_t>(std::max(threads, 1));
  const int n_threads =
      static_cast<int>(std::min(wanted, std::max<size_t>(n, 1)));
  for (int i = 1; i < n_threads; ++i) helpers.emplace_back(work, i);
  work(0);
  for (std::thread& t : helpers) t.join();
}

}  // namespace

StatusOr<ResultReducer::Output> ResultReducer::Finish(int threads) {
  threads = std::max(threads, 1);
  // What Add found wrong: the lowest task id's (the first added of equals).
  const Impl::Source* bad = nullptr;
  for (const Impl::Source& src : impl_->sources) {
    if (!src.status.ok() && (bad == nullptr || src.task_id < bad->task_id)) {
      bad = &src;
    }
  }
  if (bad != nullptr) return Impl::OfTask(*bad, bad->status);
  RETURN_IF_ERROR(impl_->late);

  // The groups Add did not merge, in parallel.
  std::vector<std::pair<const LogKey*, Impl::Group*>> pending;
  for (auto& [key, g] : impl_->groups) {
    if (g.merged || g.runs.empty()) continue;  // merged, or announced only
    Impl::SortRuns(&g);
    pending.emplace_back(&key, &g);
  }
  std::vector<std::vector<std::string>> buffers(static_cast<size_t>(threads));
  std::vector<Status> status;
  ParallelFor(pending.size(), threads, &status, [&](size_t i, int worker) {
    Impl::Group& g = *pending[i].second;
    return impl_->Reduce(*pending[i].first, g, impl_->top,
                         &buffers[static_cast<size_t>(worker)], &g.row);
  });
  for (size_t i = 0; i < pending.size(); ++i) {
    pending[i].second->status = std::move(status[i]);
  }

  Output out;
  out.summary_csv = kSummaryHeader;
  out.top_urls_csv = kTopUrlsHeader;
  for (const auto& [key, g] : impl_->groups) {
    if (g.runs.empty()) continue;
    RETURN_IF_ERROR(g.status);
    AppendSummaryRow(g.row, &out.summary_csv);
    out.top_urls_csv += g.row.top_rows;
    out.requests += g.row.requests;
    out.malformed += g.row.malformed;
    ++out.groups;
  }
  return out;
}

namespace {

int ReduceThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 8u));
}

}  // namespace

// ---------------------------------------------------------------------------
// The processor.

Status LogStatsProcessor::Process(TaskContext& ctx) {
  if (ctx.payload().empty()) {
    return InvalidArgumentError(
        "logstats: a task needs a file to read (give the job `input: files`)");
  }
  ASSIGN_OR_RETURN(const FileSplit split, FileSplit::Parse(ctx.payload()));
  ASSIGN_OR_RETURN(LogKey key, PathKey(split.path));
  ASSIGN_OR_RETURN(auto reader, SplitLineReader::Open(split));
  HourStats stats;
  stats.Reserve(last_sizes_);
  std::string_view lines;
  for (;;) {
    // Whole buffers of lines at once; a line the reader leaves to Next()
    // (longer than its buffer) alone.
    ASSIGN_OR_RETURN(bool more, reader->NextLines(&lines));
    if (more && lines.empty()) {
      ASSIGN_OR_RETURN(more, reader->Next(&lines));
      if (more && reader->truncated()) {
        stats.AddMalformed();
        continue;
      }
    }
    if (!more) break;
    if (ctx.cancelled()) return CancelledError("logstats: cancelled");
    stats.AddLines(lines);  // the reader leaves kLineReadSlack after them
  }
  // A hint only: bounded, so that one file of millions of distinct URLs
  // does not size every later task's tables.
  constexpr size_t kMaxHint = size_t{1} << 20;
  const HourStats::TableSizes sizes = stats.table_sizes();
  last_sizes_ = {std::min(sizes.ipv4, kMaxHint), std::min(sizes.urls, kMaxHint),
                 std::min(sizes.url_bytes, kMaxHint * 64)};
  Merged result;
  result.emplace(std::move(key), std::move(stats));
  ctx.SetResult(SerializeResult(result));
  return OkStatus();
}

Status LogStatsProcessor::Reduce(JobContext& ctx) {
  int64_t top = 10;
  if (ctx.params().Has("top")) {
    ASSIGN_OR_RETURN(top, ctx.params().Int("top"));
  }
  if (top < 0) {
    return InvalidArgumentError(
        fmt::format("logstats: params.top must be >= 0, got {}", top));
  }
  ResultReducer reducer(static_cast<size_t>(top));
  // Each group is merged as soon as its last map task's result comes (and
  // the results it held freed), rather than all at the end: the groups,
  // from the map tasks' paths. A payload Process would reject announces
  // nothing (its task cannot have succeeded).
  Status listed = ctx.ForEachTask([&](const TaskInput& t) {
    auto split = FileSplit::Parse(t.payload);
    if (!split.ok()) return;
    auto key = PathKey(split->path);
    if (key.ok()) reducer.Expect(*key);
  });
  if (!listed.ok() && listed.code() != StatusCode::kUnimplemented) {
    return listed;
  }
  RETURN_IF_ERROR(ctx.ForEachResult(
      [&](const TaskResult& r) { reducer.Add(r.task_id, r.stage, r.result); }));
  ASSIGN_OR_RETURN(const ResultReducer::Output out,
                   reducer.Finish(ReduceThreads()));
  if (ctx.cancelled()) return CancelledError("logstats: cancelled");

  RETURN_IF_ERROR(WriteOutput(ctx, "summary.csv", out.summary_csv));
  RETURN_IF_ERROR(WriteOutput(ctx, "top_urls.csv", out.top_urls_csv));
  ctx.SetResult(fmt::format("{} lines, {} malformed, {} (domain,hour) groups",
                            out.requests + out.malformed, out.malformed,
                            out.groups));
  return OkStatus();
}

std::unique_ptr<Processor> NewLogStatsProcessor() {
  return std::make_unique<LogStatsProcessor>();
}

}  // namespace taskgrid
