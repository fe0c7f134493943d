#include "processors/logstats_fastparse.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace taskgrid::logstats_internal
