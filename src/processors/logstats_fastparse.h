// A vectorized fast path for the logstats map task's line parser: the fields
// logstats counts (address, URL, status, body bytes) of a line of the usual
// nginx "combined" shape, found with bit masks of the line's bytes (AVX2 +
// BMI1/BMI2, chosen at run time). It decides only lines it is sure about and
// declines the rest, for the scalar parser (ParseCombinedLine) to decide.
//
//   line ──► masks of ' ' '"' (first 192-256 bytes, 32 at a time)
//            and '[' ']' (the header's 64-128 bytes)
//        ──► each field's end: the next set bit (shift pair + tzcnt),
//            the bytes between fields checked in place
//        ──► true: fields as the scalar parser gives them
//            false: not decided here
#ifndef TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_H_
#define TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_H_

#include <cstdint>
#include <string_view>

namespace taskgrid::logstats_internal {

// The fields of one line that HourStats counts, as views into the line.
struct FastFields {
  std::string_view remote_addr;
  std::string_view url;  // as SplitRequest gives it; may be empty
  int status = 0;
  int64_t body_bytes = 0;
  // remote_addr is a dotted IPv4 address as ParseIpv4 (logstats.h)
  // accepts it, of value ipv4. False says nothing: the caller parses it.
  bool is_ipv4 = false;
  uint32_t ipv4 = 0;
};

// Parses one line (without its '\n'; a trailing '\r' already stripped by the
// caller).
//
// true: the line was parsed, and the scalar parser accepts it too: *out holds
// remote_addr, url (of SplitRequest on the request), status and body_bytes
// exactly as ParseCombinedLine gives them, and the address's IPv4 value when
// it has one (16 bytes at a time, one shuffle per address).
// false: not decided here (*out unspecified); the caller runs the scalar
// parser. This says nothing about whether the line is valid.
//
// Lines it declines (the scalar parser decides them), among others:
// - shorter than 23 bytes, or an address of 64 bytes or more;
// - an ident field other than "-", or a run of spaces between fields or
//   after the request's method;
// - a quote before the request's, or a time field not followed by ' "';
// - a request or referer holding \" (nginx's own escape, \x22, is fine),
//   or a user agent not closed by the line's last byte whose next quote a
//   backslash precedes;
// - a request target followed by spaces (which SplitRequest trims);
// - a body size of more than 19 digits;
// - a field past the first 256 bytes, other than the rest of the user
//   agent when the line's last byte closes it.
//
// Requires: the 64 bytes after line.data() + line.size() are readable (their
// content is irrelevant: it never changes the result).
// Thread-safe (its only state is the cached CPU check).
bool FastParseLine(std::string_view line, FastFields* out);

// Whether FastParseLine has a vector implementation on this CPU (AVX2, BMI1,
// BMI2, POPCNT); otherwise it always returns false.
bool FastParseAvailable();

// The IPv6 literal in s as two big-endian halves (bytes 0..7 in *hi, 8..15 in
// *lo): accepts exactly what glibc's inet_pton(AF_INET6, ...) accepts, with
// the same value. No allocation, no copy.
//
// glibc's rules (2.36; the tests check them against its inet_pton):
// - groups of 1-4 hex digits, either case; leading zeros are fine ("0001"),
//   a fifth digit is not;
// - at most one "::", which stands for one or more zero groups
//   ("1:2:3:4:5:6:7::" is accepted, "::1:2:3:4:5:6:7:8" is not); "::"
//   alone is the zero address;
// - a single leading or trailing ':' is rejected ("::1" yes, ":1" no,
//   "1:" no);
// - a dotted IPv4 tail only as the last 32 bits, after at most 6 groups
//   ("::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1::1.2.3.4"); its octets are
//   1-3 decimal digits, at most 255, and without a leading zero ("0" is fine,
//   "01" is not);
// - nothing else: no zone ids ("fe80::1%eth0"), brackets, spaces or signs.
// A NUL byte anywhere rejects s (inet_pton would stop at it).
// On false, *hi and *lo are unchanged. Thread-safe.
bool ParseIpv6(std::string_view s, uint64_t* hi, uint64_t* lo);

}  // namespace taskgrid::logstats_internal

#endif  // TASKGRID_PROCESSORS_LOGSTATS_FASTPARSE_H_
