#include "processors/logstats.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/status_macros.h"
#include "io/output_committer.h"

namespace taskgrid {
namespace {

using namespace std::string_literals;

const char kLine[] =
    R"x(203.0.113.9 - alice [10/Mar/2024:13:55:36 +0000] "GET /a/b?x=1 HTTP/1.1" 200 5316 "https://example.com/" "Mozilla/5.0 (X11)")x";

// ---------------------------------------------------------------------------
// ParseCombinedLine

TEST(ParseCombinedLine, ReadsEveryField) {
  ParsedLine p;
  ASSERT_TRUE(ParseCombinedLine(kLine, &p));
  EXPECT_EQ(p.remote_addr, "203.0.113.9");
  EXPECT_EQ(p.remote_user, "alice");
  EXPECT_EQ(p.time_local, "10/Mar/2024:13:55:36 +0000");
  EXPECT_EQ(p.request, "GET /a/b?x=1 HTTP/1.1");
  EXPECT_EQ(p.method, "GET");
  EXPECT_EQ(p.url, "/a/b?x=1");
  EXPECT_EQ(p.protocol, "HTTP/1.1");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.body_bytes, 5316);
  EXPECT_EQ(p.referer, "https://example.com/");
  EXPECT_EQ(p.user_agent, "Mozilla/5.0 (X11)");
}

struct ParseCase {
  std::string name;
  std::string line;
  bool ok;
  std::string addr = "";  // checked when ok
  std::string url = "";
  int status = 0;
  int64_t bytes = 0;
  std::string ua = "";
};

TEST(ParseCombinedLine, Table) {
  const std::string long_url = "/" + std::string(1 << 20, 'x') + "?q=1";
  const std::vector<ParseCase> cases = {
      {"ipv6", R"(2001:db8::1 - - [t] "GET / HTTP/2.0" 304 0 "-" "ua")", true,
       "2001:db8::1", "/", 304, 0, "ua"},
      {"ipv4 mapped ipv6",
       R"(::ffff:192.0.2.1 - - [t] "GET / HTTP/1.1" 200 1 "-" "ua")", true,
       "::ffff:192.0.2.1", "/", 200, 1, "ua"},
      {"escaped quote in request",
       R"(1.2.3.4 - - [t] "GET /a\"b HTTP/1.1" 200 1 "-" "ua")", true,
       "1.2.3.4", R"(/a\"b)", 200, 1, "ua"},
      {"escaped quote in user agent",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1 "-" "say \"hi\" now")", true,
       "1.2.3.4", "/", 200, 1, R"(say \"hi\" now)"},
      {"escaped backslash before closing quote",
       R"(1.2.3.4 - - [t] "GET /x\\ HTTP/1.1" 200 1 "-" "ua\\")", true,
       "1.2.3.4", R"(/x\\)", 200, 1, R"(ua\\)"},
      {"nginx hex escapes",
       R"(1.2.3.4 - - [t] "GET /a\x22b HTTP/1.1" 200 1 "-" "\x22ua")", true,
       "1.2.3.4", R"(/a\x22b)", 200, 1, R"(\x22ua)"},
      {"extra spaces between fields",
       R"(1.2.3.4   -   bob   [t]   "GET /s HTTP/1.1"   404   12   "-"   "ua")",
       true, "1.2.3.4", "/s", 404, 12, "ua"},
      {"user name with spaces",
       R"(1.2.3.4 - john doe [t] "GET / HTTP/1.1" 200 1 "-" "ua")", true,
       "1.2.3.4", "/", 200, 1, "ua"},
      {"bytes dash is zero",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 - "-" "ua")", true, "1.2.3.4",
       "/", 200, 0, "ua"},
      {"largest int64 bytes",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 9223372036854775807 "-" "ua")",
       true, "1.2.3.4", "/", 200, 9223372036854775807, "ua"},
      {"trailing extra fields",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1 "-" "ua" "10.0.0.1" 0.003)",
       true, "1.2.3.4", "/", 200, 1, "ua"},
      {"request without target", R"(1.2.3.4 - - [t] "-" 400 0 "-" "-")", true,
       "1.2.3.4", "", 400, 0, "-"},
      {"http/0.9 request", R"(1.2.3.4 - - [t] "GET /old" 200 1 "-" "ua")", true,
       "1.2.3.4", "/old", 200, 1, "ua"},
      {"url with spaces",
       R"(1.2.3.4 - - [t] "GET /a b HTTP/1.1" 200 1 "-" "u")", true, "1.2.3.4",
       "/a b", 200, 1, "u"},
      {"non-ip address", R"(unix: - - [t] "GET / HTTP/1.1" 200 1 "-" "u")",
       true, "unix:", "/", 200, 1, "u"},
      {"very long url",
       "1.2.3.4 - - [t] \"GET " + long_url + " HTTP/1.1\" 200 1 \"-\" \"u\"",
       true, "1.2.3.4", long_url, 200, 1, "u"},
      {"nul bytes",
       "1.2.3.4 - - [t] \"GET /a\0b HTTP/1.1\" 200 1 \"-\" \"u\0v\""s, true,
       "1.2.3.4", "/a\0b"s, 200, 1, "u\0v"s},
      {"invalid utf-8",
       "1.2.3.4 - - [t] \"GET /\xff\xfe\xc3( HTTP/1.1\" 200 1 \"-\" \"\x80\"",
       true, "1.2.3.4", "/\xff\xfe\xc3(", 200, 1, "\x80"},
      {"nginx's 26-byte time",
       R"(1.2.3.4 - - [10/Mar/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "u")",
       true, "1.2.3.4", "/", 200, 1, "u"},
      {"time of another width",
       R"(1.2.3.4 - - [2024-03-10T13:55:36Z] "GET / HTTP/1.1" 200 1 "-" "u")",
       true, "1.2.3.4", "/", 200, 1, "u"},
      {"status 999 still parses",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 999 1 "-" "u")", true, "1.2.3.4",
       "/", 999, 1, "u"},

      {"empty line", "", false},
      {"spaces only", "     ", false},
      {"address only", "1.2.3.4", false},
      {"missing user", R"(1.2.3.4 - [t] "GET / HTTP/1.1" 200 1 "-" "u")",
       false},
      {"missing time", R"(1.2.3.4 - - "GET / HTTP/1.1" 200 1 "-" "u")", false},
      {"unclosed time", R"(1.2.3.4 - - [t "GET / HTTP/1.1" 200 1 "-" "u")",
       false},
      {"the first bracket ends the time, even in 26 bytes",
       R"(1.2.3.4 - - [10/Mar/2024:13:55]36 +0000] "GET / HTTP/1.1" 200 1 "-" "u")",
       false},
      {"unquoted request", R"(1.2.3.4 - - [t] GET / HTTP/1.1 200 1 "-" "u")",
       false},
      {"unclosed request", R"(1.2.3.4 - - [t] "GET / HTTP/1.1 200 1)", false},
      {"missing status", R"(1.2.3.4 - - [t] "GET / HTTP/1.1")", false},
      {"non-numeric status",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 2x0 1 "-" "u")", false},
      {"two-digit status", R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 20 1 "-" "u")",
       false},
      {"four-digit status",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 2000 1 "-" "u")", false},
      {"non-numeric bytes",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 12a "-" "u")", false},
      {"negative bytes", R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 -5 "-" "u")",
       false},
      {"bytes overflow",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 9223372036854775808 "-" "u")",
       false},
      {"bytes overflow that wraps uint64 to 0",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 18446744073709551616 "-" "u")",
       false},
      {"bytes overflow by the last digit",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 92233720368547758070 "-" "u")",
       false},
      {"missing bytes", R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 "-" "u")",
       false},
      {"common format (no referer, agent)",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1)", false},
      {"missing user agent", R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1 "-")",
       false},
      {"unclosed user agent",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1 "-" "ua)", false},
      {"user agent quote escaped to the end",
       R"(1.2.3.4 - - [t] "GET / HTTP/1.1" 200 1 "-" "ua\")", false},
      {"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.name);
    ParsedLine p;
    ASSERT_EQ(ParseCombinedLine(c.line, &p), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(p.remote_addr, c.addr);
    EXPECT_EQ(p.url, c.url);
    EXPECT_EQ(p.status, c.status);
    EXPECT_EQ(p.body_bytes, c.bytes);
    EXPECT_EQ(p.user_agent, c.ua);
  }
}

TEST(ParseCombinedLine, EveryPrefixOfAValidLineIsRejectedOrSafe) {
  // Cutting a line anywhere never reads past it (ASan would tell) and never
  // yields a line missing its user agent.
  const std::string line = kLine;
  for (size_t n = 0; n < line.size(); ++n) {
    const std::string cut = line.substr(0, n);  // own buffer per prefix
    ParsedLine p;
    EXPECT_FALSE(ParseCombinedLine(cut, &p)) << cut;
  }
}

TEST(SplitRequest, Table) {
  struct Case {
    std::string request, method, url, protocol;
  };
  const std::vector<Case> cases = {
      {"GET /a?b=1 HTTP/1.1", "GET", "/a?b=1", "HTTP/1.1"},
      {"POST /x HTTP/2.0", "POST", "/x", "HTTP/2.0"},
      {"GET  /two-spaces  HTTP/1.0", "GET", "/two-spaces", "HTTP/1.0"},
      {"GET /no-protocol", "GET", "/no-protocol", ""},
      {"GET /no-protocol ", "GET", "/no-protocol", ""},
      {"GET /a b c HTTP/1.1", "GET", "/a b c", "HTTP/1.1"},
      {"-", "-", "", ""},
      {"", "", "", ""},
      {"GET ", "GET", "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.request);
    std::string_view m, u, p;
    SplitRequest(c.request, &m, &u, &p);
    EXPECT_EQ(m, c.method);
    EXPECT_EQ(u, c.url);
    EXPECT_EQ(p, c.protocol);
  }
}

// ---------------------------------------------------------------------------
// PathKey

TEST(PathKey, TakesTheTwoDirectoriesAboveTheFile) {
  struct Case {
    std::string path, domain, hour;
  };
  const std::vector<Case> cases = {
      {"logs/example.com/2024031513/a.log.gz", "example.com", "2024031513"},
      {"/abs/root/shop.example/2023123123/part-0001.zst", "shop.example",
       "2023123123"},
      {"d/2024010100/f", "d", "2024010100"},
      {"root//d//2024010100//f.log", "d", "2024010100"},
      {"logs/a,b \"c\"/2024010100/f", "a,b \"c\"", "2024010100"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto k = PathKey(c.path);
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_EQ(k->domain, c.domain);
    EXPECT_EQ(k->hour, c.hour);
  }
}

TEST(PathKey, RejectsPathsOutsideTheLayoutNamingThePath) {
  for (const std::string path :
       {"a.log", "2024031513/a.log", "/2024031513/a.log", "logs/d/20240315/a",
        "logs/d/202403151300/a", "logs/d/2024131500/a", "logs/d/2024030024/a",
        "logs/d/2024000100/a", "logs/d/2024010000/a", "logs/d/2024x10100/a",
        "logs/d/a.log", "logs/../2024010100/a", "", "/"}) {
    SCOPED_TRACE(path);
    auto k = PathKey(path);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(k.status().message().find("\"" + path + "\""), std::string::npos)
        << k.status();
  }
}

// ---------------------------------------------------------------------------
// HourStats

std::string Line(std::string_view addr, std::string_view url, int status,
                 std::string_view bytes) {
  return std::string(addr) + " - - [10/Mar/2024:13:00:00 +0000] \"GET " +
         std::string(url) + " HTTP/1.1\" " + std::to_string(status) + " " +
         std::string(bytes) + " \"-\" \"ua\"";
}

TEST(HourStats, CountsLines) {
  HourStats s;
  s.AddLine(Line("1.2.3.4", "/a", 200, "10"));
  s.AddLine(Line("1.2.3.4", "/a", 204, "-") + "\r");
  s.AddLine(Line("1.2.3.04", "/b", 301, "5"));  // not an IPv4 literal
  s.AddLine(Line("0.0.0.0", "/b", 404, "1"));
  s.AddLine(Line("::", "/c", 500, "1"));
  s.AddLine(Line("2001:db8::1", "/c", 503, "1"));
  s.AddLine(Line("2001:DB8:0::1", "/c", 503, "1"));  // same address
  s.AddLine(Line("unix:", "/c", 102, "1"));
  s.AddLine("");
  s.AddLine("\r");
  s.AddLine("garbage");
  s.AddLine(Line("1.2.3.4", "/a", 200, "x"));
  s.AddMalformed(2);
  EXPECT_EQ(s.requests(), 8);
  EXPECT_EQ(s.bytes(), 10 + 0 + 5 + 1 + 1 + 1 + 1 + 1);
  EXPECT_EQ(s.status_class(2), 2);
  EXPECT_EQ(s.status_class(3), 1);
  EXPECT_EQ(s.status_class(4), 1);
  EXPECT_EQ(s.status_class(5), 3);
  EXPECT_EQ(s.status_class(1), 0);
  EXPECT_EQ(s.malformed(), 4);
  // 1.2.3.4, 1.2.3.04, 0.0.0.0, ::, 2001:db8::1, unix:
  EXPECT_EQ(s.unique_ips(), 6);
  EXPECT_EQ(s.distinct_urls(), 3);
}

TEST(HourStats, BytesSaturateInsteadOfOverflowing) {
  HourStats s;
  s.AddLine(Line("1.2.3.4", "/", 200, "9223372036854775807"));
  s.AddLine(Line("1.2.3.4", "/", 200, "9223372036854775807"));
  EXPECT_EQ(s.bytes(), std::numeric_limits<int64_t>::max());
}

TEST(HourStats, TopUrlsBreaksTiesByUrlBytes) {
  HourStats s;
  auto add = [&](std::string_view url, int n) {
    for (int i = 0; i < n; ++i) s.AddLine(Line("1.1.1.1", url, 200, "1"));
  };
  add("/b", 3);
  add("/a", 3);
  add("/\xff", 3);  // high bytes sort last
  add("/B", 3);     // 'B' < 'a'
  add("/z", 5);
  add("/y", 1);
  const auto top = s.TopUrls(4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0], (std::pair<std::string_view, int64_t>("/z", 5)));
  EXPECT_EQ(top[1], (std::pair<std::string_view, int64_t>("/B", 3)));
  EXPECT_EQ(top[2], (std::pair<std::string_view, int64_t>("/a", 3)));
  EXPECT_EQ(top[3], (std::pair<std::string_view, int64_t>("/b", 3)));
  EXPECT_EQ(s.TopUrls(100).size(), 6u);
  EXPECT_EQ(s.TopUrls(100).back().first, "/y");
  EXPECT_TRUE(s.TopUrls(0).empty());
}

// A simple PRNG so the randomized tests are reproducible.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

// One random edit of *s: a byte of `alphabet` inserted, a byte replaced by
// one, or a byte removed.
void EditOnce(Rng& rng, std::string_view alphabet, std::string* s) {
  const size_t at = rng.Below(s->size() + 1);
  const char c = alphabet[rng.Below(alphabet.size())];
  switch (rng.Below(3)) {
    case 0:
      s->insert(s->begin() + static_cast<std::ptrdiff_t>(at), c);
      break;
    case 1:
      if (at < s->size()) (*s)[at] = c;
      break;
    default:
      if (at < s->size()) s->erase(at, 1);
  }
}

// Addresses in runs (a client's page, then its assets), the same IPv6
// address in other spellings, IPv6-like text that is not an address, and
// IPv4 between them: each distinct address counts once, by AddLine and by
// AddLines alike. The oracle: inet_pton's value per family, else the text.
TEST(HourStats, AddressRunsCountEachAddressOnce) {
  const std::vector<std::string> pool = {
      "2001:db8::1",     "2001:DB8::1",    "2001:db8:0:0::1",
      "2001:db8::2",     "::ffff:1.2.3.4", "1.2.3.4",
      "fe80::1%eth0",    "unix:",          "::",
      "0:0:0:0:0:0:0:0", "2001:db8::",     "2001:db8::1:0"};
  Rng rng{53};
  for (int round = 0; round < 200; ++round) {
    std::set<std::string> want;
    HourStats one_by_one;
    std::string block;
    const int runs = 1 + static_cast<int>(rng.Below(12));
    for (int r = 0; r < runs; ++r) {
      const std::string& addr = pool[rng.Below(pool.size())];
      unsigned char v[16];
      if (inet_pton(AF_INET, addr.c_str(), v) == 1) {
        want.insert("4" + std::string(reinterpret_cast<char*>(v), 4));
      } else if (inet_pton(AF_INET6, addr.c_str(), v) == 1) {
        want.insert("6" + std::string(reinterpret_cast<char*>(v), 16));
      } else {
        want.insert("o" + addr);
      }
      for (int k = 0, n = 1 + static_cast<int>(rng.Below(4)); k < n; ++k) {
        const std::string line = Line(addr, "/a", 200, "1");
        one_by_one.AddLine(line);
        block += line + "\n";
      }
    }
    const std::string padded = block + std::string(64, '\n');
    HourStats lines;
    lines.AddLines(std::string_view(padded.data(), block.size()));
    ASSERT_EQ(one_by_one.unique_ips(), static_cast<int64_t>(want.size()))
        << round;
    ASSERT_EQ(lines.unique_ips(), static_cast<int64_t>(want.size())) << round;
  }
}

TEST(HourStats, MatchesASimpleOracleOnManyRandomLines) {
  Rng rng{7};
  HourStats s;
  std::set<std::string> ips;
  std::map<std::string, int64_t> urls;
  for (int i = 0; i < 200000; ++i) {
    std::string ip;
    if (rng.Below(10) == 0) {
      ip = fmt::format("2001:db8::{:x}", rng.Below(5000) + 1);
    } else {
      ip = fmt::format("10.{}.{}.{}", rng.Below(4), rng.Below(256),
                       rng.Below(256));
    }
    const std::string url = fmt::format("/p/{}?v={}", rng.Below(20000),
                                        std::string(rng.Below(40), 'q'));
    s.AddLine(Line(ip, url, 200, "1"));
    ips.insert(ip);
    ++urls[url];
  }
  EXPECT_EQ(s.unique_ips(), static_cast<int64_t>(ips.size()));
  EXPECT_EQ(s.distinct_urls(), static_cast<int64_t>(urls.size()));
  const auto top = s.TopUrls(urls.size());
  ASSERT_EQ(top.size(), urls.size());
  for (const auto& [url, count] : top) {
    ASSERT_EQ(urls.at(std::string(url)), count) << url;
  }
}

// The serialized result of `s` alone (one group): equal results mean equal
// counters, address sets and URL counts.
std::string ResultOf(HourStats& s) {
  Merged m;
  m.emplace(LogKey{"d", "2024010100"}, std::move(s));
  std::string r = SerializeResult(m);
  s = std::move(m.begin()->second);
  return r;
}

// HourStats parses with shortcuts (the time field at its usual width, a
// user agent closed by the line's last quote, not extracted; with slack
// after the line, the vector fast path). On lines mutated around exactly
// those places, it must count what ParseCombinedLine decides: parsed (with
// its status, bytes and URL) or malformed.
TEST(HourStats, CountsExactlyWhatTheParserDecidesOnMutatedLines) {
  Rng rng{11};
  const std::string alphabet = "\"\\[] -0123456789aZ/";
  const std::vector<std::string> bases = {
      kLine, Line("1.2.3.4", "/x?q=\\\"y\\\"", 404, "-"),
      R"x(2001:db8::1 - - [10/Mar/2024:13:00:00 +0000] "GET / HTTP/1.1" 500 0 "-" "ua \"quoted\" end")x",
      R"x(10.0.0.1 - - [10/Mar/2024:13:00:00 +0000] "GET /a HTTP/1.1" 301 7 "r" "u" "extra")x"};
  int parsed_lines = 0;
  for (int i = 0; i < 40000; ++i) {
    std::string line = bases[rng.Below(bases.size())];
    for (int e = 0, edits = 1 + static_cast<int>(rng.Below(3)); e < edits;
         ++e) {
      EditOnce(rng, alphabet, &line);
    }
    // The end of the line and the time field are where the shortcuts look.
    if (rng.Below(4) == 0) line += rng.Below(2) == 0 ? "\\\"" : "\"";
    if (line.empty() || line.back() == '\r') continue;
    ParsedLine p;
    const bool ok = ParseCombinedLine(line, &p);
    HourStats scalar;
    scalar.AddLine(line);
    // The same through the vector fast path: the line followed by 64
    // readable bytes that would change the answer if they were taken in.
    std::string padded = line + std::string(64, '"');
    HourStats fast;
    fast.AddLines(std::string_view(padded.data(), line.size()));
    ASSERT_EQ(ResultOf(fast), ResultOf(scalar)) << line;
    const HourStats& s = scalar;
    ASSERT_EQ(s.requests(), ok ? 1 : 0) << line;
    ASSERT_EQ(s.malformed(), ok ? 0 : 1) << line;
    if (!ok) continue;
    ++parsed_lines;
    ASSERT_EQ(s.bytes(), p.body_bytes) << line;
    ASSERT_EQ(s.distinct_urls(), p.url.empty() ? 0 : 1) << line;
    if (!p.url.empty()) {
      ASSERT_EQ(s.TopUrls(1)[0].first, p.url) << line;
    }
  }
  EXPECT_GT(parsed_lines, 2000);  // the mutations keep many lines valid
}

// AddLine on each line of `block` as AddLines should see them: split at
// every '\n' (a final '\n' ends the last line).
void AddEachLine(std::string_view block, HourStats* stats) {
  size_t at = 0;
  while (at < block.size()) {
    size_t nl = block.find('\n', at);
    if (nl == std::string::npos) nl = block.size();
    stats->AddLine(block.substr(at, nl - at));
    at = nl + 1;
  }
}

// AddLines (the fast path finding each line's end itself) counts what
// AddLine counts line by line, on blocks of realistic, mutated, empty,
// '\r'-ended and long lines, followed by slack that would change the
// answer if it were taken in.
TEST(HourStats, AddLinesCountsAsAddLineDoesPerLine) {
  Rng rng{17};
  const std::string alphabet = "\"\\[] -0123456789aZ/\r\n";
  for (int round = 0; round < 300; ++round) {
    std::string block;
    HourStats want;
    const int n = static_cast<int>(rng.Below(40));
    for (int i = 0; i < n; ++i) {
      std::string line =
          i % 7 == 3 ? ""
                     : Line(fmt::format("10.0.{}.{}", i, rng.Below(256)),
                            fmt::format("/u{}", rng.Below(50)), 200, "5");
      if (rng.Below(5) == 0)
        line += " \"" + std::string(rng.Below(900), 'x') + "\"";
      if (rng.Below(3) == 0) EditOnce(rng, alphabet, &line);
      if (rng.Below(6) == 0) line += "\r";
      block += line;
      if (i + 1 < n || rng.Below(2) == 0) block += '\n';
    }
    AddEachLine(block, &want);
    // Slack that ends the last line and holds a valid line of its own.
    std::string slack = "\n1.2.3.4 - - [t] \"GET /slack HTTP/1.1\" 200 1\n";
    slack.resize(64, '"');
    const std::string padded = block + slack;
    HourStats got;
    got.AddLines(std::string_view(padded.data(), block.size()));
    ASSERT_EQ(got.malformed(), want.malformed()) << round;
    ASSERT_EQ(ResultOf(got), ResultOf(want)) << round;
  }
}

// AddLines on blocks much longer than the line loop's 8 KiB steps, with
// runs of empty lines (windows of 64 bytes holding many newlines, or
// nothing else) and lines across the steps' edges: the same counts as
// AddLine line by line.
TEST(HourStats, AddLinesAcrossStepsAndRunsOfNewlines) {
  Rng rng{41};
  for (int round = 0; round < 40; ++round) {
    std::string block;
    if (round == 0) block.assign(20'000, '\n');  // nothing but newlines
    while (block.size() < 30'000 + 2'000 * static_cast<size_t>(round)) {
      if (rng.Below(3) == 0) {
        block.append(1 + rng.Below(round % 2 == 0 ? 300 : 9), '\n');
      } else {
        block += Line(fmt::format("10.1.{}.{}", rng.Below(4), rng.Below(256)),
                      fmt::format("/p{}", rng.Below(300)), 200, "7");
        block += '\n';
      }
    }
    if (round % 3 == 1) block.pop_back();  // a last line without '\n'
    HourStats want;
    AddEachLine(block, &want);
    const std::string padded = block + std::string(64, '\n');
    HourStats got;
    got.AddLines(std::string_view(padded.data(), block.size()));
    ASSERT_EQ(got.requests(), want.requests()) << round;
    ASSERT_EQ(ResultOf(got), ResultOf(want)) << round;
    if (round > 0) {
      ASSERT_GT(want.requests(), 50) << round;
    }
  }
}

// The same on tables that outgrow the caches, where AddLines' deferral of
// each line's URL count and IPv4 insert by a few lines (HourStats::Later)
// matters most: 70k distinct URLs (over 3 MB of records) and 40k addresses,
// repeated, with IPv6, other addresses, URL-less and malformed lines among
// them, in blocks of a few hundred KiB as the map task reads them.
TEST(HourStats, AddLinesCountsAsAddLineDoesPerLineOnLargeTables) {
  Rng rng{29};
  std::vector<std::string> lines;
  for (int i = 0; i < 240'000; ++i) {
    const uint64_t u = rng.Below(70'000);
    const uint64_t a = rng.Below(40'000);
    std::string addr =
        fmt::format("10.{}.{}.{}", a >> 16, (a >> 8) & 255, a & 255);
    if (i % 101 == 0) addr = fmt::format("2001:db8::{:x}", a);
    if (i % 211 == 0) addr = fmt::format("host-{}", a % 50);
    std::string line =
        Line(addr, fmt::format("/products/item-{}?ref=campaign-{}", u, u % 7),
             200 + static_cast<int>(rng.Below(4)) * 100, "512");
    if (i % 97 == 0) line = addr + " - - [t] \"GET\" 200 1 \"-\" \"ua\"";
    if (i % 89 == 0) line.resize(rng.Below(line.size()));
    lines.push_back(std::move(line));
  }
  HourStats want;
  for (const std::string& line : lines) want.AddLine(line);

  HourStats got;
  std::string block;
  for (size_t i = 0; i < lines.size(); ++i) {
    block += lines[i];
    block += '\n';
    if (block.size() >= (256 << 10) || i + 1 == lines.size()) {
      block.append(64, '"');  // slack
      got.AddLines(std::string_view(block.data(), block.size() - 64));
      block.clear();
    }
  }
  // A block of fewer lines than the queue holds, the tables large.
  const std::string tail[] = {Line("10.9.9.9", "/tail-1", 200, "1"),
                              Line("10.9.9.9", "/tail-2", 200, "1"),
                              Line("10.9.9.8", "/tail-1", 200, "1")};
  for (const std::string& line : tail) {
    want.AddLine(line);
    block += line + "\n";
  }
  block.append(64, '"');
  got.AddLines(std::string_view(block.data(), block.size() - 64));
  ASSERT_GT(want.distinct_urls(), 60'000);
  ASSERT_GT(want.malformed(), 0);
  EXPECT_EQ(got.requests(), want.requests());
  EXPECT_EQ(got.unique_ips(), want.unique_ips());
  EXPECT_EQ(got.distinct_urls(), want.distinct_urls());
  EXPECT_EQ(got.TopUrls(10), want.TopUrls(10));
  // Not EXPECT_EQ: a failure would print megabytes.
  EXPECT_TRUE(ResultOf(got) == ResultOf(want)) << "the results differ";
}

TEST(HourStats, ReservedTablesCountAndSerializeAsGrownOnes) {
  Rng rng{31};
  std::vector<std::string> lines;
  for (int i = 0; i < 20'000; ++i) {
    const uint64_t a = rng.Below(5'000);
    lines.push_back(Line(fmt::format("10.0.{}.{}", a >> 8, a & 255),
                         fmt::format("/p/{}", rng.Below(7'000)), 200, "1"));
  }
  HourStats grown;
  for (const std::string& line : lines) grown.AddLine(line);
  const HourStats::TableSizes sizes = grown.table_sizes();
  EXPECT_EQ(sizes.ipv4, static_cast<size_t>(grown.unique_ips()));
  EXPECT_EQ(sizes.urls, static_cast<size_t>(grown.distinct_urls()));
  EXPECT_GT(sizes.url_bytes, 4 * sizes.urls);
  // Room for nothing, half of what the lines need (the tables still grow),
  // exactly that, and four times as much.
  for (const size_t scale : {0, 1, 2, 8}) {
    SCOPED_TRACE(scale);
    HourStats reserved;
    reserved.Reserve({sizes.ipv4 * scale / 2, sizes.urls * scale / 2,
                      sizes.url_bytes * scale / 2});
    for (const std::string& line : lines) reserved.AddLine(line);
    EXPECT_EQ(reserved.unique_ips(), grown.unique_ips());
    EXPECT_EQ(reserved.TopUrls(20), grown.TopUrls(20));
    EXPECT_TRUE(ResultOf(reserved) == ResultOf(grown)) << "results differ";
  }
}

// The 16-bytes-at-once IPv4 parser agrees with the byte loop, value
// included, on dotted quads of every shape and on noise around them.
TEST(Ipv4, WideParserAgreesWithTheByteLoop) {
  Rng rng{9};
  const std::string alphabet = "0123456789.0123456789..x: -";
  const auto check = [](const std::string& s) {
    // The address sits at the start of a longer line, as in a log.
    const std::string line = s + " - - [t] \"GET / HTTP/1.1\" 200 1";
    uint32_t a = 0, b = 0;
    const bool ok = logstats_internal::ParseIpv4(s, &a);
    ASSERT_EQ(logstats_internal::ParseIpv4Wide(line.data(), s.size(), &b), ok)
        << s;
    if (ok) {
      ASSERT_EQ(a, b) << s;
    }
  };
  for (int i = 0; i < 50000; ++i) {
    std::string s;
    for (int o = 0; o < 4; ++o) {
      // Octets of 1-3 digits, some with leading zeros, some above 255.
      s += std::to_string(rng.Below(3) == 0   ? rng.Below(10)
                          : rng.Below(2) == 0 ? rng.Below(100)
                                              : rng.Below(300));
      if (rng.Below(20) == 0) s = s + "0";
      if (o < 3) s += ".";
    }
    if (rng.Below(10) == 0) s = "0" + s;
    check(s);
    std::string t = s;
    EditOnce(rng, alphabet, &t);
    check(t);
  }
  for (const std::string s :
       {"0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5",
        "01.2.3.4", "1..2.3", ".1.2.3", "1.2.3.", "123.123.123.123",
        "1234.1.1.1", "1.2.3.04", "0.0.0.00", ""}) {
    check(s);
  }
}

// ---------------------------------------------------------------------------
// Results

Merged Sample() {
  Merged m;
  HourStats& a = m[{"a.com", "2024010100"}];
  a.AddLine(Line("1.2.3.4", "/x", 200, "7"));
  a.AddLine(Line("2001:db8::7", "/y?q=\\\"1\\\"", 302, "0"));
  a.AddLine(Line("unix:", "/x", 404, "3"));
  a.AddLine("bad");
  HourStats& b = m[{"b.com", "2024010101"}];
  b.AddLine(Line("0.0.0.0", "/\0\xff"s, 503, "1"));
  m[{"c.com", "2024010102"}];  // empty file: zeros
  return m;
}

TEST(Results, RoundTripIsExact) {
  const Merged m = Sample();
  const std::string bytes = SerializeResult(m);
  Merged back;
  ASSERT_TRUE(MergeResult(bytes, &back).ok());
  EXPECT_EQ(SerializeResult(back), bytes);
  EXPECT_EQ(SummaryCsv(back), SummaryCsv(m));
  EXPECT_EQ(TopUrlsCsv(back, 10), TopUrlsCsv(m, 10));
  Merged empty;
  const std::string none = SerializeResult(empty);
  EXPECT_EQ(none.size(), 3u);
  ASSERT_TRUE(MergeResult(none, &empty).ok());
  EXPECT_TRUE(empty.empty());
}

TEST(Results, BytesDependOnContentNotOnInsertionOrder) {
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    lines.push_back(Line(fmt::format("10.0.{}.{}", i % 7, i % 251),
                         fmt::format("/u{}", i % 97), 200, "1"));
  }
  Merged fwd, rev;
  for (const auto& l : lines) fwd[{"d", "2024010100"}].AddLine(l);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    rev[{"d", "2024010100"}].AddLine(*it);
  }
  EXPECT_EQ(SerializeResult(fwd), SerializeResult(rev));
}

// The IPv4 addresses of a one-group result, in the order written.
std::vector<uint32_t> Ipv4Section(const std::string& result) {
  const auto plain = logstats_internal::UncompressedResult(result);
  EXPECT_TRUE(plain.ok()) << plain.status();
  const std::string& r = *plain;
  size_t pos = 2;  // "L" version
  const auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; pos < r.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(r[pos++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  };
  EXPECT_EQ(varint(), 1u);                      // groups
  for (int i = 0; i < 2; ++i) pos += varint();  // domain, hour
  for (int i = 0; i < 7; ++i) varint();         // counters
  std::vector<uint32_t> ips(varint());
  for (uint32_t& ip : ips) {
    for (int j = 0; j < 4; ++j) {
      ip = (ip << 8) | static_cast<unsigned char>(r[pos++]);
    }
  }
  return ips;
}

TEST(Results, AddressesAreWrittenAscendingSmallAndLargeSets) {
  Rng rng{3};
  for (const int n : {5, 300, 20000}) {
    Merged m;
    std::set<uint32_t> want;
    for (int i = 0; i < n; ++i) {
      const uint32_t ip = static_cast<uint32_t>(rng.Next());
      want.insert(ip);
      m[{"d", "2024010100"}].AddLine(
          Line(fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255,
                           (ip >> 8) & 255, ip & 255),
               "/", 200, "1"));
    }
    const std::vector<uint32_t> got = Ipv4Section(SerializeResult(m));
    EXPECT_EQ(got, std::vector<uint32_t>(want.begin(), want.end())) << n;
  }
}

TEST(Results, MergingAddsCountsAndUnitesSets) {
  Merged m1, m2;
  m1[{"d", "2024010100"}].AddLine(Line("1.1.1.1", "/a", 200, "1"));
  m1[{"d", "2024010100"}].AddLine(Line("2.2.2.2", "/b", 404, "2"));
  m2[{"d", "2024010100"}].AddLine(Line("2.2.2.2", "/a", 500, "4"));
  m2[{"d", "2024010100"}].AddLine("x");
  m2[{"e", "2024010100"}].AddLine(Line("3.3.3.3", "/c", 301, "8"));

  Merged merged;
  ASSERT_TRUE(MergeResult(SerializeResult(m1), &merged).ok());
  ASSERT_TRUE(MergeResult(SerializeResult(m2), &merged).ok());
  ASSERT_EQ(merged.size(), 2u);
  const HourStats& d = merged.at({"d", "2024010100"});
  EXPECT_EQ(d.requests(), 3);
  EXPECT_EQ(d.bytes(), 7);
  EXPECT_EQ(d.malformed(), 1);
  EXPECT_EQ(d.unique_ips(), 2);
  EXPECT_EQ(d.status_class(2), 1);
  EXPECT_EQ(d.status_class(4), 1);
  EXPECT_EQ(d.status_class(5), 1);
  const auto top = d.TopUrls(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0], (std::pair<std::string_view, int64_t>("/a", 2)));

  // HourStats::Merge agrees with merging serialized results.
  HourStats direct;
  direct.Merge(m1.at({"d", "2024010100"}));
  direct.Merge(m2.at({"d", "2024010100"}));
  Merged via_merge;
  via_merge.emplace(LogKey{"d", "2024010100"}, std::move(direct));
  via_merge.emplace(LogKey{"e", "2024010100"}, HourStats());
  via_merge.at({"e", "2024010100"}).Merge(m2.at({"e", "2024010100"}));
  EXPECT_EQ(SerializeResult(via_merge), SerializeResult(merged));
}

TEST(Results, CorruptResultsAreDataLossNeverACrash) {
  const std::string bytes = SerializeResult(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Merged m;
    const std::string cut = bytes.substr(0, n);
    Status s = MergeResult(cut, &m);
    ASSERT_FALSE(s.ok()) << n;
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  }
  Merged m;
  EXPECT_EQ(MergeResult("X\x01\x00"s, &m).code(), StatusCode::kDataLoss);
  EXPECT_EQ(MergeResult("L\x02\x00"s, &m).code(), StatusCode::kDataLoss);
  EXPECT_EQ(MergeResult(bytes + "x", &m).code(), StatusCode::kDataLoss);
  // A huge count of addresses in a tiny result.
  EXPECT_EQ(MergeResult("L\x01\x01\x01"
                        "d\x01h\0\0\0\0\0\0\0\xff\xff\xff\x0f"s,
                        &m)
                .code(),
            StatusCode::kDataLoss);
}

// A result large enough to be compressed: many distinct URLs and
// addresses.
Merged LargeSample() {
  Merged m;
  HourStats& s = m[{"big.com", "2024010100"}];
  for (int i = 0; i < 3000; ++i) {
    s.AddLine(Line(
        fmt::format("10.1.{}.{}", i % 256, i / 256),
        fmt::format("/products/item-{}?utm_source=x&uid={}", i % 900, i % 1700),
        200, "5"));
  }
  m[{"small.com", "2024010101"}].AddLine(Line("1.1.1.1", "/", 404, "1"));
  return m;
}

TEST(Results, LargeResultsAreCompressedAndReadBack) {
  const Merged m = LargeSample();
  const std::string bytes = SerializeResult(m);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[1], '\x02');  // compressed
  const auto plain = logstats_internal::UncompressedResult(bytes);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)[1], '\x01');
  EXPECT_LT(bytes.size() * 3 / 2, plain->size());
  // Both forms read back to the same content.
  Merged a, b;
  ASSERT_TRUE(MergeResult(bytes, &a).ok());
  ASSERT_TRUE(MergeResult(*plain, &b).ok());
  EXPECT_EQ(SummaryCsv(a), SummaryCsv(m));
  EXPECT_EQ(TopUrlsCsv(a, 50), TopUrlsCsv(m, 50));
  EXPECT_EQ(SummaryCsv(b), SummaryCsv(m));
  // Small results stay uncompressed.
  EXPECT_EQ(SerializeResult(Sample())[1], '\x01');
}

TEST(Results, CorruptCompressedResultsAreDataLossNeverACrash) {
  const std::string bytes = SerializeResult(LargeSample());
  ASSERT_EQ(bytes[1], '\x02');
  Rng rng{5};
  for (int i = 0; i < 400; ++i) {
    std::string bad = bytes;
    if (i % 2 == 0) {
      bad.resize(rng.Below(bad.size()));  // truncated
    } else {
      for (int k = 0; k < 1 + i % 3; ++k) {  // a few bytes changed
        bad[rng.Below(bad.size())] ^= static_cast<char>(1 + rng.Below(255));
      }
    }
    Merged m;
    const Status s = MergeResult(bad, &m);
    // A changed byte may still decompress (LZ4 has no checksum: the state
    // store's integrity is the database's); what it gives is then checked
    // as any result is, and nothing crashes.
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
    }
    // The reducer rejects at least what MergeResult rejects (and may find
    // runs out of order besides), always as DataLoss naming the task.
    ResultReducer r;
    r.Add(3, "map", bad);
    const auto out = r.Finish(2);
    if (!s.ok()) {
      EXPECT_FALSE(out.ok()) << s;
    }
    if (!out.ok()) {
      EXPECT_EQ(out.status().code(), StatusCode::kDataLoss) << out.status();
      EXPECT_NE(out.status().message().find("result of task 3 (map)"),
                std::string::npos)
          << out.status();
    }
  }
  // A stated size far beyond what the block could hold is not allocated.
  Merged m;
  EXPECT_EQ(MergeResult("L\x02\xff\xff\xff\xff\x0f\x00"s, &m).code(),
            StatusCode::kDataLoss);
}

// ---------------------------------------------------------------------------
// ResultReducer

// Announces each group of `result` to `r` (as LogStatsProcessor does from
// the map tasks' paths).
void ExpectGroupsOf(std::string_view result, ResultReducer* r) {
  Merged m;
  ASSERT_TRUE(MergeResult(result, &m).ok());
  for (const auto& [key, stats] : m) r->Expect(key);
}

// The reducer's outputs over `results` (task ids 1, 2, ...), added in
// task order or (as a reduce started early takes them) the reverse; with
// `announce`, their groups announced first (so merged as they complete).
StatusOr<ResultReducer::Output> Reduce(const std::vector<std::string>& results,
                                       size_t top, int threads,
                                       bool reversed = false,
                                       bool announce = false) {
  ResultReducer r(top);
  if (announce) {
    for (const std::string& result : results) ExpectGroupsOf(result, &r);
  }
  for (size_t k = 0; k < results.size(); ++k) {
    const size_t i = reversed ? results.size() - 1 - k : k;
    r.Add(static_cast<int64_t>(i + 1), "map", results[i]);
  }
  return r.Finish(threads);
}

TEST(ResultReducer, EqualsMergingIntoHashTablesOnRandomResults) {
  Rng rng{21};
  for (int round = 0; round < 12; ++round) {
    // 1..40 results over 1..5 groups, some results holding several groups;
    // addresses and URLs drawn from small pools so that runs overlap.
    const int nresults = 1 + static_cast<int>(rng.Below(40));
    const int ngroups = 1 + static_cast<int>(rng.Below(5));
    std::vector<std::string> results;
    Merged oracle;
    for (int r = 0; r < nresults; ++r) {
      Merged m;
      const int lines = static_cast<int>(rng.Below(400));
      for (int i = 0; i < lines; ++i) {
        const LogKey key{fmt::format("d{}.com", rng.Below(ngroups)),
                         "2024010100"};
        std::string ip;
        switch (rng.Below(8)) {
          case 0:
            ip = fmt::format("2001:db8::{:x}", rng.Below(300));
            break;
          case 1:
            ip = fmt::format("unix:{}", rng.Below(5));
            break;
          default:
            ip = fmt::format("10.0.{}.{}", rng.Below(3), rng.Below(256));
        }
        // Counts tie often; some URLs hold bytes that need quoting.
        const std::string url = rng.Below(20) == 0
                                    ? fmt::format("/q,\"{}", rng.Below(4))
                                    : fmt::format("/u{}", rng.Below(300));
        m[key].AddLine(rng.Below(50) == 0 ? "bad" : Line(ip, url, 200, "3"));
      }
      if (rng.Below(6) == 0) m[{"empty.com", "2024010101"}];
      results.push_back(SerializeResult(m));
      ASSERT_TRUE(MergeResult(results.back(), &oracle).ok());
    }
    for (const size_t top : {0, 1, 3, 10, 100000}) {
      for (const int threads : {1, 3}) {
        // Announced or not (merged as each group completes, or all by
        // Finish), in task order or the reverse.
        const auto out = Reduce(results, top, threads, /*reversed=*/top == 3,
                                /*announce=*/threads == 1);
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->summary_csv, SummaryCsv(oracle)) << round;
        EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(oracle, top))
            << round << " top " << top;
        EXPECT_EQ(out->groups, oracle.size());
        int64_t requests = 0, malformed = 0;
        for (const auto& [key, s] : oracle) {
          requests += s.requests();
          malformed += s.malformed();
        }
        EXPECT_EQ(out->requests, requests);
        EXPECT_EQ(out->malformed, malformed);
      }
    }
  }
}

TEST(ResultReducer, LargeTablesSerializeInOrder) {
  // Tables that grow many times, with keys probing past the table's end:
  // the written URLs must be in the order the reducer checks.
  for (const int n : {1000, 30000, 70000}) {
    Merged m;
    HourStats& s = m[{"d", "2024010100"}];
    for (int i = 0; i < n; ++i) {
      s.AddLine(Line(fmt::format("10.{}.{}.1", i % 256, i / 256),
                     fmt::format("/u{}", i % (n / 2)), 200, "1"));
    }
    const auto out = Reduce({SerializeResult(m), SerializeResult(m)},
                            static_cast<size_t>(n), 2);
    ASSERT_TRUE(out.ok()) << out.status();
    Merged twice;
    ASSERT_TRUE(MergeResult(SerializeResult(m), &twice).ok());
    ASSERT_TRUE(MergeResult(SerializeResult(m), &twice).ok());
    EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(twice, static_cast<size_t>(n)));
    EXPECT_EQ(out->summary_csv, SummaryCsv(twice));
  }
}

TEST(ResultReducer, HoldsLargeResultsBetweenSmallOnes) {
  // 40 MiB of results, one of 33 MiB, in between results of another group;
  // announced or not.
  Merged small;
  small[{"a", "2024010100"}].AddLine(Line("1.1.1.1", "/x", 200, "5"));
  const std::string tiny = SerializeResult(small);
  std::vector<std::string> results;
  Merged expected;
  uint64_t x = 1;
  for (const size_t mib : {6, 33, 1}) {
    // One request for a URL of `mib` MiB of random letters (which LZ4
    // cannot shrink): a result of about that size.
    std::string url = "/";
    for (size_t i = 0; i < (mib << 20); ++i) {
      x = x * 6364136223846793005u + 1442695040888963407u;
      url.push_back(static_cast<char>('a' + (x >> 59)));
    }
    Merged m;
    m[{"b", "2024010100"}].AddLine(Line("2.2.2.2", url, 200, "1"));
    ASSERT_EQ(m.begin()->second.requests(), 1);
    results.push_back(SerializeResult(m));
    results.push_back(tiny);
    ASSERT_TRUE(MergeResult(results.back(), &expected).ok());
    ASSERT_TRUE(MergeResult(results[results.size() - 2], &expected).ok());
  }
  for (const bool announce : {false, true}) {
    const auto out = Reduce(results, 2, 2, /*reversed=*/false, announce);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->summary_csv, SummaryCsv(expected));
    EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(expected, 2));
  }
}

TEST(ResultReducer, AnnouncedGroupsMergeWhenTheirLastResultComes) {
  Merged a, b;
  a[{"a", "2024010100"}].AddLine(Line("1.1.1.1", "/x", 200, "5"));
  b[{"b", "2024010100"}].AddLine(Line("2.2.2.2", "/y", 404, "7"));
  const std::string ra = SerializeResult(a), rb = SerializeResult(b);
  Merged all;
  for (const std::string* r : {&ra, &ra, &rb}) {
    ASSERT_TRUE(MergeResult(*r, &all).ok());
  }
  {
    // Group a announced twice, b once: each merges on its last Add.
    // Announced again, a group that never comes gives no row.
    ResultReducer r(10);
    r.Expect({"a", "2024010100"});
    r.Expect({"a", "2024010100"});
    r.Expect({"b", "2024010100"});
    r.Expect({"never", "2024010100"});
    r.Add(3, "map", rb);
    r.Add(1, "map", ra);
    r.Add(2, "map", ra);
    const auto out = r.Finish(2);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->summary_csv, SummaryCsv(all));
    EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(all, 10));
    EXPECT_EQ(out->groups, 2u);
  }
  {
    // One result more than announced: group a merged on the first, so the
    // second cannot count any more. An error, naming the task.
    ResultReducer r(10);
    r.Expect({"a", "2024010100"});
    r.Add(1, "map", ra);
    r.Add(2, "map", ra);
    const auto out = r.Finish(2);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInternal) << out.status();
    EXPECT_NE(out.status().message().find("result of task 2 (map)"),
              std::string::npos)
        << out.status();
  }
}

TEST(ResultReducer, CompressedResultsWhoseHeaderIsLongOrSeveralGroups) {
  // The reducer reads a compressed one-group result's key from the first
  // bytes of its block; a key longer than those, or several groups, take
  // the whole-result path. Both must give what MergeResult gives.
  for (const std::string& domain : {std::string(300, 'd'), std::string("e")}) {
    for (const int groups : {1, 3}) {
      Merged m;
      for (int k = 0; k < groups; ++k) {
        HourStats& s = m[{domain, fmt::format("20240101{:02d}", k)}];
        for (int i = 0; i < 3000; ++i) {
          s.AddLine(Line(fmt::format("10.0.{}.{}", i / 256, i % 256),
                         fmt::format("/page/{}", i), 200, "1"));
        }
      }
      const std::string r = SerializeResult(m);
      ASSERT_EQ(r[1], '\x02');  // compressed
      Merged twice;
      ASSERT_TRUE(MergeResult(r, &twice).ok());
      ASSERT_TRUE(MergeResult(r, &twice).ok());
      const auto out = Reduce({r, r}, 5, 2);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(out->summary_csv, SummaryCsv(twice));
      EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(twice, 5));
    }
  }
}

TEST(ResultReducer, NoResultsGiveHeadersOnly) {
  const auto out = Reduce({}, 10, 2);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->summary_csv, SummaryCsv(Merged()));
  EXPECT_EQ(out->top_urls_csv, TopUrlsCsv(Merged(), 10));
  EXPECT_EQ(out->groups, 0u);
}

TEST(ResultReducer, CorruptResultIsDataLossNamingTheTask) {
  const std::string bytes = SerializeResult(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    ResultReducer r;
    // Announced: a group may merge (and find the corruption) in Add.
    if (n % 2 == 0) {
      ExpectGroupsOf(bytes, &r);
      ExpectGroupsOf(bytes, &r);
    }
    r.Add(8, "map", "X");  // also bad: the first bad one by id is reported
    r.Add(1, "map", bytes);
    r.Add(7, "map", bytes.substr(0, n));
    const auto out = r.Finish(2);
    ASSERT_FALSE(out.ok()) << n;
    EXPECT_EQ(out.status().code(), StatusCode::kDataLoss) << n;
    EXPECT_NE(out.status().message().find("result of task 7 (map)"),
              std::string::npos)
        << out.status();
  }
}

// A one-group result with the given IPv4 addresses (in this order) and
// URLs with count 1 (in this order).
std::string HandMadeResult(const std::vector<uint32_t>& ips,
                           const std::vector<std::string>& urls) {
  std::string r =
      "L\x01\x01\x01"
      "d\x0a"
      "2024010100"s;
  r += std::string(7, '\0');  // counters
  r.push_back(static_cast<char>(ips.size()));
  for (uint32_t ip : ips) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      r.push_back(static_cast<char>(ip >> shift));
    }
  }
  r += "\x00\x00"s;  // no IPv6, no other addresses
  r.push_back(static_cast<char>(urls.size()));
  for (const std::string& u : urls) {
    r.push_back(static_cast<char>(u.size()));
    r += u;
    r.push_back('\x01');
  }
  return r;
}

TEST(ResultReducer, RunsOutOfOrderAreDataLossNamingTaskAndGroup) {
  // Well formed: the same as MergeResult.
  const std::string good = HandMadeResult({1, 2, 3}, {"/a"});
  Merged m;
  ASSERT_TRUE(MergeResult(good, &m).ok());
  const auto ok = Reduce({good, good}, 10, 1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_NE(ok->summary_csv.find("d,2024010100,0,0,0,0,0,0,3,0"),
            std::string::npos)
      << ok->summary_csv;
  EXPECT_NE(ok->top_urls_csv.find("d,2024010100,1,/a,2"), std::string::npos);

  // Descending or repeated addresses, a repeated URL: each alone, and after
  // a good run of the same group (the merging path), merged by Finish or,
  // announced, by Add.
  for (const std::string& bad :
       {HandMadeResult({2, 1}, {}), HandMadeResult({5, 5}, {}),
        HandMadeResult({}, {"/a", "/a"})}) {
    for (const int variant : {0, 1, 2}) {
      const bool with_good = variant > 0;
      std::vector<std::string> results;
      if (with_good) results.push_back(good);
      results.push_back(bad);
      const auto out = Reduce(results, 10, 2, /*reversed=*/false,
                              /*announce=*/variant == 2);
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
      const std::string task =
          fmt::format("result of task {} (map)", results.size());
      EXPECT_NE(out.status().message().find(task), std::string::npos)
          << out.status();
      EXPECT_NE(out.status().message().find("out of order"), std::string::npos)
          << out.status();
    }
  }
}

// ---------------------------------------------------------------------------
// CSV

TEST(Csv, QuotesOnlyWhenNeeded) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", "plain"},
      {"", ""},
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"cr\r", "\"cr\r\""},
      {"lf\n", "\"lf\n\""},
      {"/a?b=1&c=2;d", "/a?b=1&c=2;d"},
      {"nul\0x"s, "nul\0x"s},
      {"\xff\xfe", "\xff\xfe"},
      {"\xff,", "\"\xff,\""},
  };
  for (const auto& [in, want] : cases) {
    std::string out = "#";
    AppendCsvField(in, &out);
    EXPECT_EQ(out, "#" + want) << in;
  }
}

TEST(Csv, SummaryIsSortedByDomainThenHourInByteOrder) {
  Merged m;
  m[{"b.com", "2024010101"}].AddLine(Line("1.1.1.1", "/", 200, "1"));
  m[{"b.com", "2024010100"}].AddLine(Line("1.1.1.1", "/", 301, "2"));
  m[{"B.com", "2024010100"}];
  m[{"a,com", "2024010100"}].AddLine("x");
  m[{"\xc3\xa9.com", "2024010100"}];
  EXPECT_EQ(SummaryCsv(m),
            "domain,hour,requests,bytes,status_2xx,status_3xx,status_4xx,"
            "status_5xx,unique_ips,malformed\n"
            "B.com,2024010100,0,0,0,0,0,0,0,0\n"
            "\"a,com\",2024010100,0,0,0,0,0,0,0,1\n"
            "b.com,2024010100,1,2,0,1,0,0,1,0\n"
            "b.com,2024010101,1,1,1,0,0,0,1,0\n"
            "\xc3\xa9.com,2024010100,0,0,0,0,0,0,0,0\n");
}

TEST(Csv, TopUrlsRanksPerGroup) {
  Merged m;
  HourStats& s = m[{"d", "2024010100"}];
  // As nginx logs a quote in a URL with escape=json: \".
  for (const char* url : {"/a,b", "/q\\\"", "/q\\\"", "/z", "/z", "/z"}) {
    s.AddLine(Line("1.1.1.1", url, 200, "1"));
  }
  m[{"e", "2024010100"}].AddLine(Line("1.1.1.1", "/e", 200, "1"));
  EXPECT_EQ(TopUrlsCsv(m, 2),
            "domain,hour,rank,url,requests\n"
            "d,2024010100,1,/z,3\n"
            "d,2024010100,2,\"/q\\\"\"\",2\n"
            "e,2024010100,1,/e,1\n");
  EXPECT_EQ(TopUrlsCsv(m, 0), "domain,hour,rank,url,requests\n");
  EXPECT_EQ(TopUrlsCsv(m, 10),
            "domain,hour,rank,url,requests\n"
            "d,2024010100,1,/z,3\n"
            "d,2024010100,2,\"/q\\\"\"\",2\n"
            "d,2024010100,3,\"/a,b\",1\n"
            "e,2024010100,1,/e,1\n");
}

// ---------------------------------------------------------------------------
// WriteOutput

class FakeJobContext : public JobContext {
 public:
  explicit FakeJobContext(std::string out) : out_(std::move(out)) {}
  int64_t job_id() const override { return 1; }
  const std::string& job_name() const override { return out_; }
  const Params& params() const override { return params_; }
  const std::string& output_dir() const override { return out_; }
  StatusOr<std::string> OutputPath(std::string_view name) override {
    if (out_.empty()) return FailedPreconditionError("no output directory");
    Status s = CheckOutputName(name);
    if (!s.ok()) return s;
    std::filesystem::create_directories(out_);
    return out_ + "/" + std::string(name);
  }
  int64_t succeeded_tasks() const override { return 0; }
  int64_t dead_tasks() const override { return 0; }
  Status ForEachResult(const std::function<void(const TaskResult&)>&) override {
    return OkStatus();
  }
  void Log(LogLevel, std::string_view) override {}
  bool cancelled() const override { return false; }
  void SetResult(std::string) override {}

 private:
  std::string out_;
  Params params_;
};

TEST(WriteOutput, ReplacesTheFileAtomicallyAndLeavesNoTemporaries) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-logstats-" + std::to_string(getpid())) / "out";
  FakeJobContext ctx(dir.string());
  ASSERT_TRUE(WriteOutput(ctx, "summary.csv", "one\n").ok());
  ASSERT_TRUE(WriteOutput(ctx, "summary.csv", "two\n").ok());
  std::ifstream in(dir / "summary.csv");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "two\n");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(WriteOutput(ctx, "a/b", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteOutput(ctx, "..", "x").code(), StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir.parent_path());

  FakeJobContext none("");
  EXPECT_EQ(WriteOutput(none, "summary.csv", "x").code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace taskgrid
