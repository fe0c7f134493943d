#include "io/line_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "io/codec_test_util.h"
#include "io/read_stream.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

using ::taskgrid::io_test::MemoryStream;
using ::testing::HasSubstr;

constexpr size_t kMiB = size_t{1} << 20;

struct Line {
  std::string text;
  bool truncated = false;
  uint64_t consumed = 0;  // bytes_consumed() after this line

  bool operator==(const Line& o) const {
    return text == o.text && truncated == o.truncated && consumed == o.consumed;
  }
};

std::ostream& operator<<(std::ostream& os, const Line& l) {
  return os << "{" << ::testing::PrintToString(l.text.substr(0, 40))
            << (l.text.size() > 40 ? "..." : "") << " len " << l.text.size()
            << (l.truncated ? " truncated" : "") << " @" << l.consumed << "}";
}

// What LineReader must return, computed the obvious way.
std::vector<Line> Oracle(const std::string& data, size_t max_line) {
  std::vector<Line> out;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    const size_t stop = nl == std::string::npos ? data.size() : nl;
    Line l;
    l.text = data.substr(start, std::min(stop - start, max_line));
    l.truncated = stop - start > max_line;
    l.consumed = nl == std::string::npos ? data.size() : nl + 1;
    out.push_back(l);
    start = l.consumed;
  }
  return out;
}

std::vector<Line> ReadLines(ReadStream* s, size_t max_line, size_t buffer,
                            Status* error = nullptr) {
  LineReader r(s, max_line, buffer);
  std::vector<Line> out;
  std::string_view line;
  for (;;) {
    StatusOr<bool> more = r.Next(&line);
    if (!more.ok()) {
      if (error != nullptr) *error = more.status();
      ADD_FAILURE_AT(__FILE__, __LINE__) << more.status();
      return out;
    }
    if (!*more) break;
    EXPECT_EQ(r.line_number(), out.size() + 1);
    out.push_back(Line{std::string(line), r.truncated(), r.bytes_consumed()});
  }
  // The end is sticky.
  StatusOr<bool> again = r.Next(&line);
  EXPECT_TRUE(again.ok() && !*again);
  return out;
}

// As ReadLines, taking lines with NextLines where it gives them (splitting
// them here) and with Next otherwise, choosing between the two at random.
std::vector<Line> ReadLinesInBlocks(ReadStream* s, size_t max_line,
                                    size_t buffer, std::mt19937_64& rng) {
  LineReader r(s, max_line, buffer);
  std::vector<Line> out;
  for (;;) {
    std::string_view lines;
    const uint64_t before = r.bytes_consumed();
    const bool one = rng() % 4 == 0;
    StatusOr<bool> more = one ? r.Next(&lines) : r.NextLines(&lines);
    if (!more.ok()) {
      ADD_FAILURE() << more.status();
      return out;
    }
    if (!*more) break;
    if (one) {
      out.push_back(
          Line{std::string(lines), r.truncated(), r.bytes_consumed()});
      continue;
    }
    if (lines.empty()) {  // for Next
      EXPECT_TRUE(max_line < buffer || r.bytes_consumed() == before);
      continue;
    }
    EXPECT_FALSE(r.truncated());
    // Whole lines, each with its '\n' but for the stream's last.
    size_t at = 0;
    while (at < lines.size()) {
      const size_t nl = lines.find('\n', at);
      const size_t stop = nl == std::string_view::npos ? lines.size() : nl;
      const size_t next = nl == std::string_view::npos ? lines.size() : nl + 1;
      out.push_back(
          Line{std::string(lines.substr(at, stop - at)), false, before + next});
      at = next;
    }
    EXPECT_EQ(r.bytes_consumed(), before + lines.size());
  }
  std::string_view line;
  StatusOr<bool> again = r.NextLines(&line);
  EXPECT_TRUE(again.ok() && !*again);
  return out;
}

TEST(LineReaderTest, Table) {
  const std::string kNul("a\0b\n\0\n", 6);
  const std::string kBadUtf8 = "\xff\xfe\xc3\x28\n\xe2\x82\n";
  const struct {
    std::string data;
    size_t max_line;
  } kCases[] = {
      {"", 100},
      {"\n", 100},
      {"\n\n\n", 100},
      {"a", 100},  // a final line without '\n'
      {"a\n", 100},
      {"a\nb", 100},
      {"a\n\nb\n", 100},        // an empty line in the middle
      {"a\r\nb\r\n\r\n", 100},  // '\r' kept
      {"\r", 100},
      {kNul, 100},
      {kBadUtf8, 100},
      {"abcdef\nab\nabc", 3},  // cut at max_line, rest of the line skipped
      {"abcdef", 3},
      {"abc\nabcd\n", 3},
      {"x\n\n", 0},
  };
  for (const auto& c : kCases) {
    const std::vector<Line> want = Oracle(c.data, c.max_line);
    for (size_t buffer : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, kMiB}) {
      for (size_t chunk : {size_t{1}, size_t{2}, SIZE_MAX}) {
        SCOPED_TRACE(::testing::PrintToString(c.data) + " max " +
                     std::to_string(c.max_line) + " buffer " +
                     std::to_string(buffer) + " chunk " +
                     std::to_string(chunk));
        MemoryStream s(c.data, "mem", chunk);
        EXPECT_EQ(ReadLines(&s, c.max_line, buffer), want);
      }
    }
  }
}

TEST(LineReaderTest, RandomInputAgainstOracle) {
  std::mt19937_64 rng(12345);
  const char kAlphabet[] = {'a', 'b', '\r', '\0', '\xff', ' ', 'z'};
  for (int iter = 0; iter < 300; ++iter) {
    std::string data;
    const int lines = static_cast<int>(rng() % 60);
    for (int i = 0; i < lines; ++i) {
      const size_t len = rng() % 4 == 0 ? rng() % 400 : rng() % 20;
      for (size_t j = 0; j < len; ++j) data.push_back(kAlphabet[rng() % 7]);
      if (i + 1 < lines || rng() % 2 == 0) data.push_back('\n');
    }
    const size_t max_line = rng() % 3 == 0 ? rng() % 50 : kDefaultMaxLine;
    const size_t buffer = 1 + rng() % 300;
    const size_t chunk = 1 + rng() % 500;
    SCOPED_TRACE("iter " + std::to_string(iter));
    MemoryStream s(data, "mem", chunk, /*random_chunks=*/true, rng());
    EXPECT_EQ(ReadLines(&s, max_line, buffer), Oracle(data, max_line));
    MemoryStream again(data, "mem", chunk, /*random_chunks=*/true, rng());
    EXPECT_EQ(ReadLinesInBlocks(&again, max_line, buffer, rng),
              Oracle(data, max_line));
  }
}

TEST(LineReaderTest, NextLinesStopsBeforeTheLimit) {
  const std::string data = "aa\nbbb\n\ncc\ndd";
  for (uint64_t limit = 0; limit <= data.size() + 1; ++limit) {
    // The lines that start before `limit`, with their ends.
    std::vector<Line> want;
    for (const Line& l : Oracle(data, kDefaultMaxLine)) {
      const uint64_t start = want.empty() ? 0 : want.back().consumed;
      if (start >= limit) break;
      want.push_back(l);
    }
    for (size_t buffer : {size_t{3}, size_t{4}, size_t{6}, kMiB}) {
      SCOPED_TRACE("limit " + std::to_string(limit) + " buffer " +
                   std::to_string(buffer));
      MemoryStream s(data, "mem", 2);
      LineReader r(&s, kDefaultMaxLine, buffer);
      std::vector<Line> got;
      for (int guard = 0; guard < 100; ++guard) {
        const uint64_t before = r.bytes_consumed();
        std::string_view lines;
        StatusOr<bool> more = r.NextLines(&lines, limit);
        ASSERT_TRUE(more.ok()) << more.status();
        if (!*more) break;
        if (lines.empty()) {  // longer than the buffer: Next, if it is ours
          if (before >= limit) break;
          ASSERT_TRUE(r.Next(&lines).ok());
          got.push_back(Line{std::string(lines), false, r.bytes_consumed()});
          continue;
        }
        for (size_t at = 0; at < lines.size();) {
          const size_t nl = lines.find('\n', at);
          const size_t next =
              nl == std::string_view::npos ? lines.size() : nl + 1;
          got.push_back(Line{
              std::string(lines.substr(
                  at, (nl == std::string_view::npos ? lines.size() : nl) - at)),
              false, before + next});
          at = next;
        }
      }
      EXPECT_EQ(got, want);
    }
  }
}

TEST(LineReaderTest, TwoMiBLineWithOneMiBMaxLine) {
  std::string big(2 * kMiB, 'x');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = 'y';
  const std::string data = "first\n" + big + "\nnext line\nlast";
  for (size_t buffer : {kMiB, size_t{4096}, 3 * kMiB}) {
    SCOPED_TRACE(buffer);
    MemoryStream s(data, "mem", 300000, /*random_chunks=*/true);
    const std::vector<Line> got = ReadLines(&s, kMiB, buffer);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], (Line{"first", false, 6}));
    EXPECT_TRUE(got[1].truncated);
    EXPECT_EQ(got[1].text.size(), kMiB);
    EXPECT_TRUE(got[1].text == big.substr(0, kMiB));
    EXPECT_EQ(got[1].consumed, 6 + big.size() + 1);
    EXPECT_EQ(got[2], (Line{"next line", false, 6 + big.size() + 11}));
    EXPECT_EQ(got[3], (Line{"last", false, data.size()}));
  }
}

TEST(LineReaderTest, LineLongerThanBufferIsReturnedWhole) {
  std::string big(3 * kMiB + 7, 'q');
  big[12345] = '\r';
  const std::string data = big + "\n" + big;
  MemoryStream s(data, "mem");
  const std::vector<Line> got = ReadLines(&s, kDefaultMaxLine, kMiB);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].truncated);
  EXPECT_TRUE(got[0].text == big);
  EXPECT_FALSE(got[1].truncated);
  EXPECT_TRUE(got[1].text == big);
}

// Lines that lie in the buffer are views into it: consecutive lines are
// adjacent in memory (no copy).
TEST(LineReaderTest, LinesInTheBufferAreNotCopied) {
  MemoryStream s("alpha\nbeta\ngamma\n", "mem");
  LineReader r(&s);
  std::string_view a, b, c;
  ASSERT_TRUE(*r.Next(&a));
  const char* a_data = a.data();
  ASSERT_TRUE(*r.Next(&b));
  EXPECT_EQ(b.data(), a_data + 6);
  ASSERT_TRUE(*r.Next(&c));
  EXPECT_EQ(c, "gamma");
  EXPECT_EQ(c.data(), a_data + 11);
}

TEST(LineReaderTest, StreamErrorsAreReturnedAndSticky) {
  MemoryStream s("one\ntwo\nthree\n", "mem", 4);
  s.FailAt(6, InternalError("mem: read at byte 6: EIO"));
  LineReader r(&s);
  std::string_view line;
  ASSERT_TRUE(*r.Next(&line));
  EXPECT_EQ(line, "one");
  StatusOr<bool> second = r.Next(&line);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInternal);
  StatusOr<bool> third = r.Next(&line);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status(), second.status());
}

TEST(LineReaderTest, ReadsAMultiMemberGzipFile) {
  testing::TempDir dir;
  const std::string a = io_test::NginxText(700000, 1);
  const std::string b = io_test::NginxText(900000, 2);
  const std::string path = dir.Path("access.log.gz");
  testing::WriteFile(path, io_test::Compress(Codec::kGzip, a) +
                               io_test::Compress(Codec::kGzip, b));
  StatusOr<std::unique_ptr<ReadStream>> s = OpenDecoded(path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(ReadLines(s->get(), kDefaultMaxLine, kMiB),
            Oracle(a + b, kDefaultMaxLine));
}

// A truncated .gz must not look like a file that simply ends.
TEST(LineReaderTest, TruncatedGzipIsDataLossNotEnd) {
  testing::TempDir dir;
  const std::string content = io_test::NginxText(500000, 3);
  const std::string gz = io_test::Compress(Codec::kGzip, content);
  const std::string path = dir.Path("cut.log.gz");
  testing::WriteFile(path, gz.substr(0, gz.size() * 2 / 3));
  StatusOr<std::unique_ptr<ReadStream>> s = OpenDecoded(path);
  ASSERT_TRUE(s.ok()) << s.status();
  LineReader r(s->get());
  std::string_view line;
  uint64_t lines = 0;
  StatusOr<bool> more = true;
  while (more.ok() && *more) {
    more = r.Next(&line);
    if (more.ok() && *more) ++lines;
  }
  ASSERT_FALSE(more.ok());
  EXPECT_GT(lines, 0u);
  EXPECT_EQ(more.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(more.status().message(), HasSubstr(path));
  EXPECT_THAT(more.status().message(), HasSubstr("truncated at byte"));
}

}  // namespace
}  // namespace taskgrid
