#include "processors/logstats_fastparse.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "processors/logstats.h"

namespace taskgrid::logstats_internal {
namespace {

// What may follow a line in memory: each would change some result if the
// fast path read past the line's end (a quote closing a field, a space
// ending one, the next line).
const std::string kPaddings[] = {
    std::string(64, '"'),
    std::string(64, ' '),
    std::string(64, '\n'),
    [] {
      std::string s;
      while (s.size() < 64) s += "\" 200 1 \"-\" \"\\]";
      return s.substr(0, 64);
    }(),
};

std::string Escaped(std::string_view line) {
  std::string out;
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// What FastParseLine decided, with copies of the fields (so that results on
// differently padded copies compare).
struct Outcome {
  bool accepted = false;
  std::string addr;
  std::string url;
  int status = 0;
  int64_t bytes = 0;
};

// Runs FastParseLine on `line` followed by each padding; adds a failure
// (naming the line) when the paddings disagree, or when it accepts a line
// that ParseCombinedLine rejects or reads differently.
Outcome Check(std::string_view line) {
  Outcome first;
  for (size_t i = 0; i < std::size(kPaddings); ++i) {
    std::string buf(line);
    buf += kPaddings[i];
    const std::string_view view(buf.data(), line.size());
    FastFields f;
    Outcome o;
    o.accepted = FastParseLine(view, &f);
    if (o.accepted) {
      o.addr = std::string(f.remote_addr);
      o.url = std::string(f.url);
      o.status = f.status;
      o.bytes = f.body_bytes;
      ParsedLine p;
      if (!ParseCombinedLine(view, &p)) {
        ADD_FAILURE() << "accepted a line the scalar parser rejects: \""
                      << Escaped(line) << "\"";
        return o;
      }
      // Same views into the same bytes, not only equal text.
      const bool same = f.remote_addr.data() == p.remote_addr.data() &&
                        f.remote_addr.size() == p.remote_addr.size() &&
                        f.url == p.url &&
                        (f.url.empty() || f.url.data() == p.url.data()) &&
                        f.status == p.status && f.body_bytes == p.body_bytes;
      uint32_t v4 = 0;
      const bool is_v4 = ParseIpv4(p.remote_addr, &v4);
      if (f.is_ipv4 != is_v4 || (is_v4 && f.ipv4 != v4)) {
        ADD_FAILURE() << "the IPv4 address differs on \"" << Escaped(line)
                      << "\": fast " << f.is_ipv4 << " " << f.ipv4
                      << ", ParseIpv4 " << is_v4 << " " << v4;
        return o;
      }
      if (!same) {
        ADD_FAILURE() << "fields differ on \"" << Escaped(line)
                      << "\": fast addr=\"" << Escaped(f.remote_addr)
                      << "\" url=\"" << Escaped(f.url)
                      << "\" status=" << f.status << " bytes=" << f.body_bytes
                      << "; scalar addr=\"" << Escaped(p.remote_addr)
                      << "\" url=\"" << Escaped(p.url)
                      << "\" status=" << p.status << " bytes=" << p.body_bytes;
        return o;
      }
    }
    if (i == 0) {
      first = o;
    } else if (o.accepted != first.accepted || o.addr != first.addr ||
               o.url != first.url || o.status != first.status ||
               o.bytes != first.bytes) {
      ADD_FAILURE() << "the bytes after the line changed the result on \""
                    << Escaped(line) << "\" (padding " << i << ")";
    }
  }
  return first;
}

// ---------------------------------------------------------------------------
// Hand-written lines.

const char kTypical[] =
    R"(156.76.2.45 - - [15/Mar/2024:03:00:00 +0000] "GET /blog/2024/bravo-widget HTTP/1.1" 200 19395 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0")";
const char kHead[] = R"(1.2.3.4 - - [15/Mar/2024:03:00:00 +0000] )";

enum class Expect { kAccept, kDecline, kAny };

struct Case {
  std::string name;
  std::string line;
  Expect expect;
  // Checked when kAccept.
  std::string addr = "";
  std::string url = "";
  int status = 0;
  int64_t bytes = 0;
};

std::string WithRequest(std::string_view request) {
  return std::string(kHead) + "\"" + std::string(request) +
         R"(" 200 5 "-" "ua")";
}

std::string WithBytes(std::string_view bytes) {
  return std::string(kHead) + R"("GET / HTTP/1.1" 200 )" + std::string(bytes) +
         R"( "-" "ua")";
}

TEST(FastParse, HandWrittenLines) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  using std::string_literals::operator""s;
  const Expect kY = Expect::kAccept, kN = Expect::kDecline, kA = Expect::kAny;
  const std::vector<Case> cases = {
      {"typical", kTypical, kY, "156.76.2.45", "/blog/2024/bravo-widget", 200,
       19395},
      {"ipv6 and user",
       R"(2001:db8:5d49:7c57::1676 - svc-deploy [15/Mar/2024:00:00:01 +0000] "GET /index.html HTTP/2.0" 301 31361 "https://api.example.net/images/48085.jpg" "python-requests/2.31.0")",
       kY, "2001:db8:5d49:7c57::1676", "/index.html", 301, 31361},
      {"user with spaces",
       R"(1.2.3.4 - john  doe [t] "GET /a HTTP/1.1" 200 1 "-" "ua")", kY,
       "1.2.3.4", "/a", 200, 1},
      {"user with a bracket",
       R"(1.2.3.4 - a[b] [t] "GET /a HTTP/1.1" 200 1 "-" "ua")", kY, "1.2.3.4",
       "/a", 200, 1},
      {"empty time", R"(1.2.3.4 - - [] "GET /a HTTP/1.1" 200 1 "-" "ua")", kY,
       "1.2.3.4", "/a", 200, 1},
      {"shortest", R"(a - b [] "" 200 0 "" "")", kY, "a", "", 200, 0},
      {"bytes dash", WithBytes("-"), kY, "1.2.3.4", "/", 200, 0},
      {"bytes leading zeros", WithBytes("007"), kY, "1.2.3.4", "/", 200, 7},
      {"bytes 16 digits", WithBytes("1234567890123456"), kY, "1.2.3.4", "/",
       200, 1234567890123456},
      {"bytes 17 digits", WithBytes("12345678901234567"), kY, "1.2.3.4", "/",
       200, 12345678901234567},
      {"bytes int64 max", WithBytes("9223372036854775807"), kY, "1.2.3.4", "/",
       200, INT64_MAX},
      {"bytes int64 max + 1", WithBytes("9223372036854775808"), kN},
      {"bytes 19 nines", WithBytes("9999999999999999999"), kN},
      {"bytes 20 digits", WithBytes("00000000000000000001"), kA},
      {"bytes 20 nines", WithBytes("99999999999999999999"), kN},
      {"bytes negative", WithBytes("-1"), kN},
      {"bytes dash dash", WithBytes("--"), kN},
      {"bytes digit dash", WithBytes("1-"), kN},
      {"bytes empty", WithBytes(""), kN},
      {"request HTTP/2.0", WithRequest("GET /x?a=1&b=2 HTTP/2.0"), kY,
       "1.2.3.4", "/x?a=1&b=2", 200, 5},
      {"request without protocol", WithRequest("GET /x"), kY, "1.2.3.4", "/x",
       200, 5},
      {"request dash", WithRequest("-"), kY, "1.2.3.4", "", 200, 5},
      {"request empty", WithRequest(""), kY, "1.2.3.4", "", 200, 5},
      {"request method and space", WithRequest("GET "), kY, "1.2.3.4", "", 200,
       5},
      {"request url with space", WithRequest("GET /a b HTTP/1.1"), kY,
       "1.2.3.4", "/a b", 200, 5},
      {"request bare HTTP/", WithRequest("GET /a HTTP/"), kY, "1.2.3.4", "/a",
       200, 5},
      {"request HTTPS token", WithRequest("GET /a HTTPS/1.1"), kY, "1.2.3.4",
       "/a HTTPS/1.1", 200, 5},
      {"request lower-case protocol", WithRequest("GET /a http/1.1"), kY,
       "1.2.3.4", "/a http/1.1", 200, 5},
      {"request only a protocol", WithRequest("GET HTTP/1.1"), kY, "1.2.3.4",
       "HTTP/1.1", 200, 5},
      {"request trailing space", WithRequest("GET /a HTTP/1.1 "), kA},
      {"request spaces before protocol", WithRequest("GET /a  HTTP/1.1"), kA},
      {"request spaces after method", WithRequest("GET  /a HTTP/1.1"), kA},
      {"request nginx escapes", WithRequest(R"(GET /q?x=\x22q\x22 HTTP/1.1)"),
       kY, "1.2.3.4", R"(/q?x=\x22q\x22)", 200, 5},
      {"request escaped quote", WithRequest(R"(GET /a\"b HTTP/1.1)"), kA},
      {"request escaped backslash", WithRequest(R"(GET /a\\)"), kA},
      {"request NUL and high bytes", WithRequest("GET /a\0b\x80\xff HTTP/1.1"s),
       kY, "1.2.3.4", "/a\0b\x80\xff"s, 200, 5},
      {"referer escaped quote",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "a\"b" "ua")", kA},
      {"referer ends in backslash",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "a\\" "ua")", kA},
      {"ua escaped quotes inside",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "say \"hi\" now")",
       kY, "1.2.3.4", "/", 200, 5},
      {"ua ends in escaped quote",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "ua\")", kN},
      {"ua ends in escaped backslash",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "ua\\")", kA},
      {"ua quote inside, unescaped",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "a" b")", kY,
       "1.2.3.4", "/", 200, 5},
      {"ua unclosed", std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "ua)",
       kN},
      {"ua single quote",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" ")", kN},
      {"ua missing", std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-")", kN},
      {"referer and ua missing",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 612)", kN},
      {"fields after ua",
       std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" "ua" "x-fwd" 0.003)",
       kY, "1.2.3.4", "/", 200, 5},
      {"fields after ua, NUL and high bytes",
       std::string(kHead) +
           "\"GET / HTTP/1.1\" 200 5 \"-\" \"u\0a\xc3\xa9\" \0"s,
       kY, "1.2.3.4", "/", 200, 5},
      {"status two digits",
       std::string(kHead) + R"("GET / HTTP/1.1" 20 5 "-" "ua")", kN},
      {"status four digits",
       std::string(kHead) + R"("GET / HTTP/1.1" 2000 5 "-" "ua")", kN},
      {"status not digits",
       std::string(kHead) + R"("GET / HTTP/1.1" 2x0 5 "-" "ua")", kN},
      {"status dash", std::string(kHead) + R"("GET / HTTP/1.1" - 0 "-" "-")",
       kN},
      {"runs of spaces",
       R"(1.2.3.4   -   bob   [t]   "GET /s HTTP/1.1"   404   12   "-"   "ua")",
       kA},
      {"two spaces before the request",
       R"(1.2.3.4 - - [t]  "GET /s HTTP/1.1" 404 12 "-" "ua")", kA},
      {"ident not dash",
       R"(1.2.3.4 ident bob [t] "GET /s HTTP/1.1" 404 12 "-" "ua")", kA},
      {"quote in the user",
       R"(1.2.3.4 - "x" [t] "GET /s HTTP/1.1" 404 12 "-" "ua")", kA},
      {"bracket in the time",
       R"(1.2.3.4 - - [a]b] "GET /s HTTP/1.1" 404 12 "-" "ua")", kN},
      {"no time", R"(1.2.3.4 - - "GET /s HTTP/1.1" 404 12 "-" "ua")", kN},
      {"time not closed", R"(1.2.3.4 - - [t "GET /s HTTP/1.1" 404 12 "-" "ua")",
       kN},
      {"address empty", R"( - - [t] "GET /s HTTP/1.1" 404 12 "-" "ua")", kN},
      {"no user", R"(1.2.3.4 - [t] "GET /s HTTP/1.1" 404 12 "-" "ua")", kN},
      {"tls handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, kN},
      {"empty", "", kN},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Outcome o = Check(c.line);
    switch (c.expect) {
      case Expect::kAccept:
        ASSERT_TRUE(o.accepted) << Escaped(c.line);
        EXPECT_EQ(o.addr, c.addr);
        EXPECT_EQ(o.url, c.url);
        EXPECT_EQ(o.status, c.status);
        EXPECT_EQ(o.bytes, c.bytes);
        break;
      case Expect::kDecline:
        EXPECT_FALSE(o.accepted) << Escaped(c.line);
        break;
      case Expect::kAny:
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// Generated lines, shaped like `taskgrid demo`'s (src/cli/demo_data.cc).

class LineGenerator {
 public:
  explicit LineGenerator(uint64_t seed) : rng_(seed) {}

  std::string Line() {
    std::string s;
    if (Below(8) == 0) {
      s = fmt::format("2001:db8:{:x}:{:x}::{:x}", Below(0xffff) + 1,
                      Below(0xffff) + 1, Below(0xffff) + 1);
    } else {
      s = fmt::format("{}.{}.{}.{}", Below(223) + 1, Below(256), Below(256),
                      Below(256));
    }
    static constexpr const char* kUsers[] = {"-", "-",     "-",   "-",
                                             "-", "alice", "bob", "svc-deploy"};
    s += " - ";
    s += Pick(kUsers);
    s += fmt::format(" [15/Mar/2024:{:02}:{:02}:{:02} +0000] \"", Below(24),
                     Below(60), Below(60));
    if (Below(100) == 0) {
      s += "-";
    } else {
      static constexpr const char* kMethods[] = {"GET",  "GET",  "GET",
                                                 "POST", "HEAD", "OPTIONS"};
      static constexpr const char* kProtocols[] = {"HTTP/1.1", "HTTP/2.0",
                                                   "HTTP/1.0"};
      s += Pick(kMethods);
      s += ' ';
      s += Url();
      if (Below(25) == 0) {
        s += fmt::format("&utm_source=newsletter&uid={:x}", rng_() >> 20);
      }
      s += ' ';
      s += Pick(kProtocols);
    }
    static constexpr const char* kStatuses[] = {"200", "200", "200", "200",
                                                "304", "404", "301", "500"};
    s += "\" ";
    s += Pick(kStatuses);
    s += ' ';
    switch (Below(4)) {
      case 0:
        s += "0";
        break;
      case 1:
        s += std::to_string(Below(5000000));
        break;
      default:
        s += std::to_string(Below(60000));
        break;
    }
    s += " \"";
    switch (Below(3)) {
      case 0:
        s += "-";
        break;
      case 1:
        s += "https://www.google.com/";
        break;
      default:
        s += "https://shop.example.com" + Url();
        break;
    }
    static constexpr const char* kAgents[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/122.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) "
        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 "
        "Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 "
        "Firefox/123.0",
        "curl/8.5.0",
        "python-requests/2.31.0",
        R"(Mozilla/5.0 \x22scanner\x22 (probe))",
        ""};
    s += "\" \"";
    s += Pick(kAgents);
    s += "\"";
    return s;
  }

  uint64_t Below(uint64_t n) { return rng_() % n; }
  std::mt19937_64& rng() { return rng_; }

 private:
  template <size_t N>
  const char* Pick(const char* const (&a)[N]) {
    return a[Below(N)];
  }

  std::string Url() {
    static constexpr const char* kWords[] = {"alpha", "bravo",    "canvas",
                                             "delta", "sprocket", "widget"};
    const uint64_t n = Below(100000);
    switch (Below(7)) {
      case 0:
        return "/";
      case 1:
        return fmt::format("/products/{}-{}", Pick(kWords), n);
      case 2:
        return fmt::format("/api/v1/items/{}?fields={}&page={}", n,
                           Pick(kWords), n % 9 + 1);
      case 3:
        return fmt::format("/static/js/{}.{:08x}.js", Pick(kWords),
                           rng_() & 0xffffffffu);
      case 4:
        return fmt::format("/images/{}.jpg", n);
      case 5:
        return R"(/q?x=\x22quoted\x22&y=1,2)";
      default:
        return fmt::format("/blog/2024/{}-{}", Pick(kWords), Pick(kWords));
    }
  }

  std::mt19937_64 rng_;
};

TEST(FastParse, AcceptsRealisticLines) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  LineGenerator gen(7);
  std::vector<std::string> lines = {kTypical};
  while (lines.size() < 50) lines.push_back(gen.Line());
  for (const std::string& line : lines) {
    ParsedLine p;
    ASSERT_TRUE(ParseCombinedLine(line, &p)) << line;
    const Outcome o = Check(line);
    EXPECT_TRUE(o.accepted) << line;
  }
}

TEST(FastParse, Ipv4AddressesAgreeWithParseIpv4) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  // Every octet length pattern, values at and past the limits, leading
  // zeros, and single edits (Check compares is_ipv4 and the value with
  // ParseIpv4 on each accepted line).
  std::mt19937_64 rng(11);
  const auto below = [&](uint64_t n) { return rng() % n; };
  const std::string alphabet = "0123456789.0..x:-";
  int accepted_v4 = 0;
  for (int i = 0; i < 40000; ++i) {
    std::string a;
    for (int o = 0; o < 4; ++o) {
      const uint64_t kind = below(6);
      a += kind == 0   ? std::to_string(below(10))
           : kind == 1 ? std::to_string(below(100))
           : kind == 2 ? std::to_string(below(1000))
           : kind == 3 ? "0" + std::to_string(below(100))
           : kind == 4 ? std::to_string(250 + below(10))
                       : std::to_string(below(256));
      if (o < 3) a += ".";
    }
    if (i % 2 == 1 && !a.empty()) {
      const size_t at = below(a.size());
      switch (below(3)) {
        case 0:
          a[at] = alphabet[below(alphabet.size())];
          break;
        case 1:
          a.erase(at, 1);
          break;
        default:
          a.insert(at, 1, alphabet[below(alphabet.size())]);
      }
    }
    if (a.empty() || a.find(' ') != std::string::npos) continue;
    const std::string line =
        a +
        R"( - - [15/Mar/2024:03:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua")";
    const Outcome o = Check(line);
    uint32_t v = 0;
    accepted_v4 += o.accepted && ParseIpv4(a, &v);
  }
  EXPECT_GT(accepted_v4, 4000);  // the IPv4 path was taken, often
}

TEST(FastParse, LengthsAndFieldPositionsAcrossVectorBoundaries) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  // The user agent's length moves the line's end; the URL's moves the
  // request's end, the status, the bytes and the referer past 32- and
  // 64-byte boundaries.
  int checked = 0;
  for (int url_len = 0; url_len <= 200; ++url_len) {
    for (int ua_len = 0; ua_len <= 300; ++ua_len) {
      const std::string line = std::string(kHead) + "\"GET /" +
                               std::string(url_len, 'u') + " HTTP/1.1\" 200 " +
                               std::to_string(url_len * 997) + " \"-\" \"" +
                               std::string(ua_len, 'a') + "\"";
      if (line.size() > 300 && ua_len > 0) break;
      const Outcome o = Check(line);
      ++checked;
      // Every field lies within the 256 bytes the masks cover.
      if (line.size() - ua_len < 256) {
        ASSERT_TRUE(o.accepted) << line;
        EXPECT_EQ(o.url, "/" + std::string(url_len, 'u'));
        EXPECT_EQ(o.bytes, url_len * 997);
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

TEST(FastParse, EveryPrefixAndSuffixOfALine) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  const std::string line = std::string(kTypical) + R"( "extra" 1.5)";
  for (size_t n = 0; n <= line.size(); ++n) {
    Check(std::string_view(line).substr(0, n));
    Check(std::string_view(line).substr(n));
  }
}

TEST(FastParse, LongLinesUseOnlyTheirEndBeyondTheWindow) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  const std::string ua(1000, 'a');
  // Closed by the last byte: accepted whatever the length.
  const std::string closed =
      std::string(kHead) + R"("GET / HTTP/1.1" 200 5 "-" ")" + ua + "\"";
  EXPECT_TRUE(Check(closed).accepted);
  // Closed, then more fields: the closing quote lies past the window.
  Check(closed + " \"x\"");
  // Not closed at all.
  EXPECT_FALSE(Check(closed.substr(0, closed.size() - 1) + "x").accepted);
  // The referer runs past the window.
  Check(std::string(kHead) + R"("GET / HTTP/1.1" 200 5 ")" + ua + R"(" "x")");
}

// Random edits of generated lines, biased towards the bytes that delimit
// fields: every line the fast path accepts must be read as the scalar
// parser reads it.
TEST(FastParse, AgreesWithTheScalarParserOnMutatedLines) {
  if (!FastParseAvailable()) GTEST_SKIP() << "no AVX2/BMI2 on this CPU";
  static constexpr char kAlphabet[] = " \"\"[]\\\\--0123456789Ha/\0\x80\xff";
  constexpr size_t kAlphabetSize = sizeof(kAlphabet) - 1;
  LineGenerator gen(20240315);
  const auto below = [&](size_t n) {
    return static_cast<size_t>(gen.Below(n));
  };
  const auto random_byte = [&] { return kAlphabet[below(kAlphabetSize)]; };
  constexpr int kCases = 250000;
  int accepted = 0;
  int scalar_accepted = 0;
  int originals_accepted = 0;
  for (int i = 0; i < kCases && !::testing::Test::HasFailure(); ++i) {
    std::string line = gen.Line();
    originals_accepted += Check(line).accepted ? 1 : 0;
    const int edits = 1 + static_cast<int>(below(3));
    for (int e = 0; e < edits; ++e) {
      // Half of the edits at or next to a delimiter.
      size_t pos = below(line.size() + 1);
      if (below(2) == 0 && !line.empty()) {
        const size_t d = line.find_first_of(" \"[]", below(line.size()));
        if (d != std::string::npos) pos = d + below(2);
      }
      pos = std::min(pos, line.size());
      switch (below(6)) {
        case 0:  // insert
          line.insert(pos, 1, random_byte());
          break;
        case 1:  // delete
          if (pos < line.size()) line.erase(pos, 1);
          break;
        case 2:  // double a byte (a run of spaces, "\\")
          if (pos < line.size()) line.insert(pos, 1, line[pos]);
          break;
        case 3:  // cut the line
          line.resize(pos);
          break;
        default:  // replace
          if (pos < line.size()) line[pos] = random_byte();
          break;
      }
    }
    ParsedLine p;
    scalar_accepted += ParseCombinedLine(line, &p) ? 1 : 0;
    accepted += Check(line).accepted ? 1 : 0;
  }
  // The lines as generated are all decided; the edits leave many valid,
  // and the fast path must decide most of those, or this test would check
  // little.
  EXPECT_EQ(originals_accepted, kCases);
  EXPECT_GT(accepted, kCases / 5);
  EXPECT_GT(accepted, scalar_accepted * 3 / 4);
  std::printf("mutated lines: %d, scalar accepts %d, fast path accepts %d\n",
              kCases, scalar_accepted, accepted);
}

// --- ParseIpv6 against glibc's inet_pton(AF_INET6) ---

struct Ip6Result {
  bool ok = false;
  uint64_t hi = 0;
  uint64_t lo = 0;
};

// inet_pton(AF_INET6) on s. A NUL byte in s rejects it: inet_pton would
// read only the C string before it, and ParseIpv6 must not accept that.
Ip6Result InetPton6(std::string_view s) {
  Ip6Result r;
  if (s.find('\0') != std::string_view::npos) return r;
  const std::string z(s);
  unsigned char b[16];
  if (inet_pton(AF_INET6, z.c_str(), b) != 1) return r;
  r.ok = true;
  for (int i = 0; i < 8; ++i) r.hi = r.hi << 8 | b[i];
  for (int i = 8; i < 16; ++i) r.lo = r.lo << 8 | b[i];
  return r;
}

// `groups` IPv6 groups, group(i) the text of group i, joined by ':', with
// "::" before group `gap` (after the last if gap == groups; none if -1).
template <typename F>
std::string JoinGroups(int groups, int gap, F group) {
  std::string s;
  for (int i = 0; i < groups; ++i) {
    if (i == gap)
      s += "::";
    else if (i > 0)
      s += ':';
    s += group(i);
  }
  if (gap == groups) s += "::";
  return s;
}

// Adds a failure naming s when ParseIpv6 and inet_pton disagree on it (or
// ParseIpv6 wrote its outputs while rejecting s). Returns whether
// ParseIpv6 accepted s.
bool CheckIpv6(std::string_view s) {
  const Ip6Result want = InetPton6(s);
  constexpr uint64_t kUntouched = 0x5a5a5a5a5a5a5a5a;
  uint64_t hi = kUntouched;
  uint64_t lo = kUntouched;
  const bool ok = ParseIpv6(s, &hi, &lo);
  if (ok != want.ok) {
    ADD_FAILURE() << "\"" << Escaped(s) << "\": ParseIpv6 "
                  << (ok ? "accepts" : "rejects") << ", inet_pton "
                  << (want.ok ? "accepts" : "rejects");
  } else if (ok && (hi != want.hi || lo != want.lo)) {
    ADD_FAILURE() << "\"" << Escaped(s) << "\": ParseIpv6 gives "
                  << fmt::format("{:016x} {:016x}", hi, lo) << ", inet_pton "
                  << fmt::format("{:016x} {:016x}", want.hi, want.lo);
  } else if (!ok && (hi != kUntouched || lo != kUntouched)) {
    ADD_FAILURE() << "\"" << Escaped(s) << "\": rejected but written";
  }
  return ok;
}

using std::string_view_literals::operator""sv;

// Whether glibc accepts each: these document its rules (the differential
// check alone would pass on a libc with other rules).
struct Ipv6Case {
  std::string_view text;
  bool valid;
};
constexpr Ipv6Case kIpv6Cases[] = {
    // The zero address and "::" in every place.
    {"::", true},
    {"::0", true},
    {"::1", true},
    {"1::", true},
    {"1::1", true},
    {"fe80::1", true},
    {"2001:db8::8a2e:370:7334", true},
    {"1:2:3:4:5:6:7:8", true},
    {"0:0:0:0:0:0:0:0", true},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
    {"1:2:3:4:5:6:7::", true},  // "::" for a single zero group
    {"::2:3:4:5:6:7:8", true},
    {"1::3:4:5:6:7:8", true},
    {"1:2:3:4:5:6::8", true},
    {"1:2:3::6:7:8", true},
    {"1:2:3:4:5:6:7:8::", false},  // "::" for no group
    {"::1:2:3:4:5:6:7:8", false},
    {"1:2:3:4::5:6:7:8", false},
    {"1:2:3:4:5:6:7", false},  // 7 groups, no "::"
    {"1:2:3:4:5:6:7:8:9", false},
    {"1::2::3", false},
    {"::1::", false},
    {":::", false},
    {"::::", false},
    {"1:::2", false},
    {"1:2:::3", false},
    // A single ':' at either end.
    {":", false},
    {":1", false},
    {":1::", false},
    {":1:2:3:4:5:6:7:8", false},
    {"1:", false},
    {"::1:", false},
    {"1:2:3:4:5:6:7:8:", false},
    // Digits and case.
    {"ABCD:EF01:2345:6789:abcd:ef01:2345:6789", true},
    {"2001:Db8::aBcD", true},
    {"0001:0002:0003:0004:0005:0006:0007:0008", true},
    {"::0001", true},
    {"0000::0000", true},
    {"00000::", false},  // 5 digits, even if zeros
    {"::00001", false},
    {"12345::", false},
    {"1:2:3:4:5:6:7:12345", false},
    {"g::", false},
    {"::G", false},
    {"0x1::", false},
    {"-1::", false},
    {"+1::", false},
    // No zone ids, brackets, prefixes or spaces.
    {"fe80::1%eth0", false},
    {"fe80::1%1", false},
    {"[::1]", false},
    {"::1/128", false},
    {"::1 ", false},
    {" ::1", false},
    {"::1\t", false},
    {"::1\n", false},
    // IPv4 tails.
    {"::ffff:1.2.3.4", true},
    {"::1.2.3.4", true},
    {"::0.0.0.0", true},
    {"::255.255.255.255", true},
    {"::ffff:192.168.0.1", true},
    {"1:2:3:4:5:6:1.2.3.4", true},
    {"1::1.2.3.4", true},
    {"1:2:3:4:5::1.2.3.4", true},
    {"::1:2.3.4.5", true},
    {"::1.2.3.0", true},
    {"::10.0.100.1", true},
    {"1:2:3:4:5:6:7:1.2.3.4", false},  // past the last 32 bits
    {"1:2:3:4:5:6::1.2.3.4", false},   // "::" for no group
    {"1.2.3.4", false},                // no colon
    {"1.2.3.4::", false},
    {"::1.2.3.4::", false},
    {"::1.2.3.4:1", false},
    {"1:1.2.3.4::", false},
    {"::01.2.3.4", false},  // leading zeros
    {"::1.2.3.04", false},
    {"::1.02.3.4", false},
    {"::ffff:001.2.3.4", false},
    {"::00.0.0.0", false},
    {"::1.2.3.256", false},
    {"::256.1.1.1", false},
    {"::1000.1.1.1", false},
    {"::1.2.3", false},
    {"::1.2.3.4.5", false},
    {"::1.2.3.4.", false},
    {"::.1.2.3", false},
    {"::1..2.3", false},
    {"::1.2.3.a", false},
    {"::1a.2.3.4", false},
    {"::a.2.3.4", false},
    {"::1.2.3.-4", false},
    {"::1.2.3.4/24", false},
    {"1:.1.2.3", false},
    // 45 bytes, the longest valid; one more leading zero is too many.
    {"0000:0000:0000:0000:0000:ffff:255.255.255.255", true},
    {"0000:0000:0000:0000:0000:00ffff:255.255.255.255", false},
    {"0000:0000:0000:0000:0000:0000:0000:0000", true},
    {"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000", false},
    // NUL bytes: inet_pton would stop at them, so would accept "::1".
    {"::1\0"sv, false},
    {"::1\0:2"sv, false},
    {"\0::1"sv, false},
    {"::\0"sv, false},
    {"1::\0\0"sv, false},
    // Bytes outside ASCII.
    {"1::\x80", false},
    {"\xff::", false},
    {"::1\xc3\xa9", false},
    {"\xef\xbc\x91::", false},  // a fullwidth digit
    // Empty.
    {""sv, false},
};

TEST(ParseIpv6, HandWrittenCasesAsGlibcDecidesThem) {
  for (const Ipv6Case& c : kIpv6Cases) {
    EXPECT_EQ(InetPton6(c.text).ok, c.valid) << "\"" << Escaped(c.text) << "\"";
    EXPECT_EQ(CheckIpv6(c.text), c.valid);
  }
  // What inet_pton accepts before the NUL (the reason ParseIpv6 must look
  // at every byte of the view).
  EXPECT_TRUE(InetPton6("::1").ok);
  // Long runs.
  std::string groups;
  for (int i = 0; i < 40; ++i) groups += "1:";
  CheckIpv6(groups);
  CheckIpv6(groups + "1");
  CheckIpv6(std::string(64, '0'));
  CheckIpv6(std::string(1000, ':'));
  CheckIpv6("::" + std::string(1000, '0'));
}

TEST(ParseIpv6, ValuesAreBigEndianHalves) {
  struct Want {
    std::string_view text;
    uint64_t hi;
    uint64_t lo;
  };
  static constexpr Want kWant[] = {
      {"::", 0, 0},
      {"1::", 0x0001'0000'0000'0000, 0},
      {"::1", 0, 1},
      {"1:2:3:4:5:6:7:8", 0x0001'0002'0003'0004, 0x0005'0006'0007'0008},
      {"1:2:3:4:5:6:7::", 0x0001'0002'0003'0004, 0x0005'0006'0007'0000},
      {"::2:3:4:5:6:7:8", 0x0000'0002'0003'0004, 0x0005'0006'0007'0008},
      {"fe80::1:2", 0xfe80'0000'0000'0000, 0x0000'0000'0001'0002},
      {"::ffff:1.2.3.4", 0, 0x0000'ffff'0102'0304},
      {"1::255.254.0.10", 0x0001'0000'0000'0000, 0x0000'0000'fffe'000a},
      {"ABCD:ef01::", 0xabcd'ef01'0000'0000, 0},
  };
  for (const Want& w : kWant) {
    uint64_t hi = 0;
    uint64_t lo = 0;
    ASSERT_TRUE(ParseIpv6(w.text, &hi, &lo)) << w.text;
    EXPECT_EQ(hi, w.hi) << w.text;
    EXPECT_EQ(lo, w.lo) << w.text;
    CheckIpv6(w.text);
  }
}

// Every number of groups before an IPv4 tail, with "::" at every place
// among them or none, and the tail followed by more.
TEST(ParseIpv6, Ipv4TailsInEveryPosition) {
  int accepted = 0;
  for (int groups = 0; groups <= 8; ++groups) {
    for (int gap = -1; gap <= groups; ++gap) {
      const std::string s = JoinGroups(
          groups, gap, [](int i) { return fmt::format("{:x}", i + 1); });
      for (std::string_view v4 : {"1.2.3.4", "0.0.0.0", "01.2.3.4", "1.2.3"}) {
        const std::string sep = s.empty() || s.back() == ':' ? "" : ":";
        accepted += CheckIpv6(s + sep + std::string(v4)) ? 1 : 0;
        CheckIpv6(s + sep + std::string(v4) + ":1");
        CheckIpv6(s + sep + std::string(v4) + "::");
        CheckIpv6(std::string(v4) + ":" + s);
        CheckIpv6(std::string(v4) + "::" + s);
      }
    }
  }
  EXPECT_GT(accepted, 20);
}

// Random addresses, written as people and programs write them, each with
// its value checked, and each also with one random edit.
class Ipv6Generator {
 public:
  explicit Ipv6Generator(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }

  // A random address in *hi, *lo and one way of writing it.
  std::string Valid(uint64_t* hi, uint64_t* lo) {
    std::array<unsigned, 8> g;
    for (unsigned& x : g) {
      switch (Below(5)) {
        case 0:
        case 1:
          x = 0;
          break;
        case 2:
          x = static_cast<unsigned>(Below(0x100));
          break;
        default:
          x = static_cast<unsigned>(Below(0x10000));
          break;
      }
    }
    *hi = *lo = 0;
    for (int i = 0; i < 4; ++i) *hi = *hi << 16 | g[i];
    for (int i = 4; i < 8; ++i) *lo = *lo << 16 | g[i];
    const bool v4 = Below(4) == 0;
    const int hex_groups = v4 ? 6 : 8;
    const bool pad = Below(3) == 0;
    std::vector<std::string> parts;
    for (int i = 0; i < hex_groups; ++i) {
      std::string h = fmt::format("{:x}", g[i]);
      if (pad)
        h.insert(0, std::max<size_t>(h.size(), 1 + Below(4)) - h.size(), '0');
      for (char& c : h) {
        if (c >= 'a' && Below(3) == 0) c = static_cast<char>(c - 'a' + 'A');
      }
      parts.push_back(std::move(h));
    }
    // A run of zero groups for "::" (any run, not only the longest).
    int from = -1;
    int to = -1;
    if (Below(4) != 0) {
      const int start = static_cast<int>(Below(hex_groups));
      for (int i = start; i < hex_groups; ++i) {
        if (g[i] == 0) {
          from = i;
          to = i + 1;
          const int max_to = i + 1 + static_cast<int>(Below(hex_groups - i));
          while (to < max_to && g[to] == 0) ++to;
          break;
        }
      }
    }
    if (v4) {
      parts.push_back(fmt::format("{}.{}.{}.{}", g[6] >> 8, g[6] & 0xff,
                                  g[7] >> 8, g[7] & 0xff));
    }
    const auto join = [&](int a, int b) {
      std::string s;
      for (int i = a; i < b; ++i) {
        if (i > a) s += ':';
        s += parts[i];
      }
      return s;
    };
    const int n = static_cast<int>(parts.size());
    if (from < 0) return join(0, n);
    return join(0, from) + "::" + join(to, n);
  }

  // s with one byte inserted, deleted, replaced or doubled.
  std::string Mutated(std::string s) {
    const size_t pos = static_cast<size_t>(Below(s.size() + 1));
    switch (Below(4)) {
      case 0:
        s.insert(pos, 1, Byte());
        break;
      case 1:
        if (pos < s.size()) s.erase(pos, 1);
        break;
      case 2:
        if (pos < s.size()) s[pos] = Byte();
        break;
      default:
        if (pos < s.size()) s.insert(pos, 1, s[pos]);
        break;
    }
    return s;
  }

  // A random string of the bytes of addresses, mostly.
  std::string Soup(size_t len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s += Byte();
    return s;
  }

  // Groups, colons and a dotted tail in random numbers and sizes, near
  // the limits: many valid, many one step off.
  std::string NearValid() {
    const int groups = static_cast<int>(Below(10));
    const int gap = static_cast<int>(Below(groups + 2)) - 1;
    std::string s = JoinGroups(groups, gap, [&](int) {
      std::string g;
      const int digits = Below(20) == 0 ? 5 : 1 + static_cast<int>(Below(4));
      for (int d = 0; d < digits; ++d) g += kHex[Below(sizeof(kHex) - 1)];
      return g;
    });
    if (Below(3) == 0) {
      if (!s.empty() && s.back() != ':') s += ':';
      const int octets =
          Below(10) == 0 ? 3 + 2 * static_cast<int>(Below(2)) : 4;
      for (int o = 0; o < octets; ++o) {
        if (o > 0) s += '.';
        const unsigned v = static_cast<unsigned>(Below(300));
        s += Below(15) == 0 ? fmt::format("0{}", v) : fmt::format("{}", v);
      }
    }
    return s;
  }

 private:
  static constexpr char kHex[] = "0123456789abcdefABCDEF";

  char Byte() {
    static constexpr char kAlphabet[] =
        "0123456789abcdefABCDEF0123456789abcdef::::::::::::......"
        "00gG% []/\0\x80\xff";
    return kAlphabet[Below(sizeof(kAlphabet) - 1)];
  }

  std::mt19937_64 rng_;
};

TEST(ParseIpv6, AgreesWithInetPtonOnRandomStrings) {
  Ipv6Generator gen(20240315);
  constexpr int kSoup = 200000;
  constexpr int kNearValid = 150000;
  int soup_accepted = 0;
  int near_accepted = 0;
  for (int i = 0; i < kSoup && !::testing::Test::HasFailure(); ++i) {
    soup_accepted += CheckIpv6(gen.Soup(gen.Below(46))) ? 1 : 0;
  }
  for (int i = 0; i < kNearValid && !::testing::Test::HasFailure(); ++i) {
    const std::string s = gen.NearValid();
    near_accepted += CheckIpv6(s) ? 1 : 0;
    CheckIpv6(gen.Mutated(s));
  }
  // Enough of each kind for the check to mean something.
  EXPECT_GT(soup_accepted, 100);
  EXPECT_GT(near_accepted, kNearValid / 10);
  EXPECT_LT(near_accepted, kNearValid * 9 / 10);
  std::printf("random strings: %d soup (%d valid), %d near-valid (%d valid)\n",
              kSoup, soup_accepted, kNearValid, near_accepted);
}

TEST(ParseIpv6, AgreesWithInetPtonOnWrittenAndEditedAddresses) {
  Ipv6Generator gen(7);
  constexpr int kAddresses = 100000;
  int edited_accepted = 0;
  for (int i = 0; i < kAddresses && !::testing::Test::HasFailure(); ++i) {
    uint64_t want_hi;
    uint64_t want_lo;
    const std::string s = gen.Valid(&want_hi, &want_lo);
    uint64_t hi = 0;
    uint64_t lo = 0;
    ASSERT_TRUE(ParseIpv6(s, &hi, &lo)) << s;
    ASSERT_EQ(hi, want_hi) << s;
    ASSERT_EQ(lo, want_lo) << s;
    ASSERT_TRUE(CheckIpv6(s));
    for (int e = 0; e < 2; ++e) {
      edited_accepted += CheckIpv6(gen.Mutated(s)) ? 1 : 0;
    }
  }
  // Most edits of a valid address leave it valid (a digit for a digit).
  EXPECT_GT(edited_accepted, kAddresses / 10);
  EXPECT_LT(edited_accepted, kAddresses * 2 * 9 / 10);
}

}  // namespace
}  // namespace taskgrid::logstats_internal
