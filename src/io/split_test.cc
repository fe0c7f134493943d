#include "io/split.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- FileSplit payloads -----------------------------------------------------

// A string literal with its embedded NULs.
template <size_t N>
std::string Bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

TEST(FileSplitTest, WholePayloadIsThePathVerbatim) {
  FileSplit s{"logs/a.com/2024010100/x.log.gz", 0, -1};
  EXPECT_TRUE(s.whole());
  EXPECT_EQ(s.ToPayload(), "logs/a.com/2024010100/x.log.gz");
  auto p = FileSplit::Parse(s.ToPayload());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->path, s.path);
  EXPECT_TRUE(p->whole());
  EXPECT_EQ(p->offset, 0u);
}

TEST(FileSplitTest, RangePayloadRoundTrips) {
  FileSplit s{"a b/c.log", 67108864, 1234};
  EXPECT_EQ(s.ToPayload(), Bytes("a b/c.log\0"
                                 "67108864\0"
                                 "1234"));
  auto p = FileSplit::Parse(s.ToPayload());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->path, "a b/c.log");
  EXPECT_EQ(p->offset, 67108864u);
  EXPECT_EQ(p->length, 1234);
  EXPECT_FALSE(p->whole());

  const int64_t kMax = std::numeric_limits<int64_t>::max();
  for (const FileSplit& t :
       {FileSplit{"x", 0, 0}, FileSplit{"x", static_cast<uint64_t>(kMax), 0},
        FileSplit{"x", 0, kMax}, FileSplit{"x", 5, kMax - 5}}) {
    auto q = FileSplit::Parse(t.ToPayload());
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_EQ(q->offset, t.offset);
    EXPECT_EQ(q->length, t.length);
  }
}

TEST(FileSplitTest, ParseRejectsMalformedPayloads) {
  struct Case {
    std::string payload;
    std::string shown;  // how the message prints it
  };
  const std::vector<Case> cases = {
      {"", ""},
      {Bytes("p\0"), "p\\0"},
      {Bytes("p\0"
             "1\0"),
       "p\\01\\0"},
      {Bytes("p\0"
             "1"),
       "p\\01"},
      {Bytes("p\0-1\0"
             "5"),
       "p\\0-1\\05"},
      {Bytes("p\0"
             "1\0-5"),
       "p\\01\\0-5"},
      {Bytes("p\0+1\0"
             "5"),
       "p\\0+1\\05"},
      {Bytes("p\0 1\0"
             "5"),
       "p\\0 1\\05"},
      {Bytes("p\0"
             "1x\0"
             "5"),
       "p\\01x\\05"},
      {Bytes("p\0"
             "1\0"
             "5x"),
       "p\\01\\05x"},
      {Bytes("p\0"
             "1\0"
             "5\0"),
       "p\\01\\05\\0"},
      {Bytes("p\0"
             "1\0"
             "5\0"
             "7"),
       "p\\01\\05\\07"},
      {Bytes("\0"
             "1\0"
             "2"),
       "\\01\\02"},
      {Bytes("p\0\0"
             "5"),
       "p\\0\\05"},
      {Bytes("p\0"
             "0x10\0"
             "5"),
       "p\\00x10\\05"},
      {Bytes("p\0"
             "99999999999999999999\0"
             "1"),
       "p\\099999999999999999999\\01"},
      {Bytes("p\0"
             "9223372036854775807\0"
             "1"),
       "p\\09223372036854775807\\01"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shown);
    auto r = FileSplit::Parse(c.payload);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("'" + c.shown + "'"));
  }
}

// ---- ParseByteSize ----------------------------------------------------------
// (Defined with the spec parser in core; checked here for what splitting
// relies on: the units of `split: bytes:SIZE`.)

TEST(ByteSizeTest, ParsesUnits) {
  struct Case {
    const char* text;
    int64_t want;
  };
  for (const Case& c : std::vector<Case>{
           {"4096", 4096},
           {"1B", 1},
           {"1KiB", 1024},
           {"64MiB", 64ll << 20},
           {"2GiB", 2ll << 30},
           {"1KB", 1000},
           {"5MB", 5000000},
           {"3GB", 3000000000ll},
           {"9223372036854775807", std::numeric_limits<int64_t>::max()},
       }) {
    SCOPED_TRACE(c.text);
    auto r = ParseByteSize(c.text);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, c.want);
  }
}

TEST(ByteSizeTest, RejectsMalformed) {
  for (const char* text :
       {"", "0", "MiB", "-1", "+1", "1.5GiB", "64XB", "64MiBx", "0x40",
        "9223372036854775808", "99999999999999999999999", "9000000000GiB"}) {
    SCOPED_TRACE(text);
    auto r = ParseByteSize(text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("'" + std::string(text) + "'"));
  }
}

// ---- PlanSplits -------------------------------------------------------------

class SplitPlanTest : public ::testing::Test {
 protected:
  std::string Make(const std::string& name, size_t size) {
    WriteFile(dir_.Path(name), std::string(size, 'x'));
    return dir_.Path(name);
  }
  TempDir dir_;
};

MATCHER_P3(IsSplit, path, offset, length, "") {
  return arg.path == path && arg.offset == static_cast<uint64_t>(offset) &&
         arg.length == length;
}

TEST_F(SplitPlanTest, CutsLargePlainFilesIntoRanges) {
  const std::string big = Make("big.log", 10);
  const std::string exact = Make("exact.log", 4);
  const std::string small = Make("small.log", 3);
  const std::string empty = Make("empty.log", 0);
  const std::string gz = Make("big.log.gz", 100);
  const std::string zst = Make("big.zst", 100);
  auto r = PlanSplits({big, exact, small, empty, gz, zst}, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre(IsSplit(big, 0, 4), IsSplit(big, 4, 4),
                              IsSplit(big, 8, 2), IsSplit(exact, 0, -1),
                              IsSplit(small, 0, -1), IsSplit(empty, 0, -1),
                              IsSplit(gz, 0, -1), IsSplit(zst, 0, -1)));
  // Files in the given order, not sorted.
  r = PlanSplits({small, big}, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre(IsSplit(small, 0, -1), IsSplit(big, 0, 5),
                              IsSplit(big, 5, 5)));
}

TEST_F(SplitPlanTest, NonPositiveSplitSizeNeverSplits) {
  const std::string big = Make("big.log", 10);
  for (int64_t s : {0, -1}) {
    auto r = PlanSplits({big}, s);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_THAT(*r, ElementsAre(IsSplit(big, 0, -1)));
  }
}

TEST_F(SplitPlanTest, MissingFileIsNotFoundNamingIt) {
  const std::string big = Make("big.log", 10);
  const std::string gone = dir_.Path("gone.log");
  auto r = PlanSplits({big, gone}, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("'" + gone + "'"));
  r = PlanSplits({dir_.path()}, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// ---- tg:// inputs (through a fake remote catalog)
// ----------------------------

// An in-memory tree on worker "w1" as the data service would describe it:
// directories, files with sizes, symlinks to directories and out of the
// served roots; every call recorded. Paths outside /data are refused.
class FakeCatalog {
 public:
  FakeCatalog() {
    for (const char* d :
         {"/data", "/data/in", "/data/in/sub", "/data/in/sub/deep",
          "/data/in/.hidden", "/data/other"}) {
      nodes_[d] = {true, false, 0};
    }
    for (const auto& [f, size] : std::vector<std::pair<std::string, uint64_t>>{
             {"/data/in/a.log", 10},
             {"/data/in/b.log", 3},
             {"/data/in/c.txt", 1},
             {"/data/in/.x.log", 1},
             {"/data/in/big.log.gz", 100},
             {"/data/in/sub/d.log", 4},
             {"/data/in/sub/deep/e.log", 5},
             {"/data/in/.hidden/f.log", 6},
             {"/data/other/g.log", 7},
             {"/data/in/a[1].log", 2}}) {
      nodes_[f] = {false, false, size};
    }
    nodes_["/data/in/loop"] = {true, true, 0};  // -> /data/in
    nodes_["/data/in/out.log"] = {false, true, 0, /*outside=*/true};
  }
  ~FakeCatalog() { SetRemoteCatalog({}); }

  void Install() {
    RemoteCatalog c;
    c.stat = [this](const std::string& url) { return Stat(url); };
    c.list = [this](const std::string& url) { return List(url); };
    SetRemoteCatalog(std::move(c));
  }
  std::vector<std::string> calls;

 private:
  struct Node {
    bool dir = false;
    bool link = false;
    uint64_t size = 0;
    bool outside = false;  // a symlink out of the roots
  };
  static std::string PathOf(const std::string& url) {
    return url.substr(url.find('/', 5));
  }
  StatusOr<RemoteFileInfo> Stat(const std::string& url) {
    calls.push_back("stat " + url);
    const std::string path = PathOf(url);
    if (path.rfind("/data", 0) != 0) {
      return PermissionDeniedError(url + ": refusing " + path);
    }
    auto it = nodes_.find(path);
    if (it == nodes_.end()) return NotFoundError(url + ": no such file");
    if (it->second.outside) return PermissionDeniedError(url + ": refusing");
    return Info(path.substr(path.rfind('/') + 1), it->second);
  }
  StatusOr<std::vector<RemoteFileInfo>> List(const std::string& url) {
    calls.push_back("list " + url);
    std::string path = PathOf(url);
    if (path.rfind("/data", 0) != 0) {
      return PermissionDeniedError(url + ": refusing " + path);
    }
    if (path == "/data/in/loop") path = "/data/in";
    std::vector<RemoteFileInfo> out;
    for (const auto& [p, n] : nodes_) {
      if (p.size() > path.size() + 1 && p.rfind(path + "/", 0) == 0 &&
          p.find('/', path.size() + 1) == std::string::npos) {
        out.push_back(Info(p.substr(path.size() + 1), n));
      }
    }
    return out;  // std::map: sorted by name within a directory
  }
  static RemoteFileInfo Info(const std::string& name, const Node& n) {
    RemoteFileInfo f;
    f.name = name;
    f.is_dir = n.dir;
    f.is_symlink = n.link;
    f.is_file = !n.dir && !n.outside;
    f.size = n.size;
    return f;
  }
  std::map<std::string, Node> nodes_;
};

TEST(RemoteGlobTest, WithoutACatalogLiteralUrlsPassAndGlobsAreRefused) {
  SetRemoteCatalog({});
  auto r = ExpandGlobs({"tg://w1/data/in/a.log", "tg://h:7701/x/y.gz"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("tg://h:7701/x/y.gz", "tg://w1/data/in/a.log"));
  r = ExpandGlobs({"tg://w1/data/in/*.log"});
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(r.status().message(), HasSubstr("'tg://w1/data/in/*.log'"));
  for (const char* bad : {"tg://w1", "tg:///data/x"}) {
    EXPECT_EQ(ExpandGlobs({bad}).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(RemoteGlobTest, ExpandsWildcardsThroughTheCatalog) {
  FakeCatalog fake;
  fake.Install();
  const std::string w = "tg://w1";
  struct Case {
    std::string pattern;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {"/data/in/*.log",
            {"/data/in/a.log", "/data/in/a[1].log", "/data/in/b.log"}},
           {"/data/in/?.*",
            {"/data/in/a.log", "/data/in/b.log", "/data/in/c.txt"}},
           {"/data/in/[ac].*", {"/data/in/a.log", "/data/in/c.txt"}},
           {"/data/in/.*.log", {"/data/in/.x.log"}},
           {"/data/*/g.log", {"/data/other/g.log"}},
           {"/data/*/sub/*.log", {"/data/in/sub/d.log"}},
           // "**": zero or more directories, hidden ones and symlinked
           // ones (loop -> /data/in) not entered.
           {"/data/in/**/*.log",
            {"/data/in/a.log", "/data/in/a[1].log", "/data/in/b.log",
             "/data/in/sub/d.log", "/data/in/sub/deep/e.log"}},
           {"/data/in/sub/**",
            {"/data/in/sub/d.log", "/data/in/sub/deep/e.log"}},
           {"/data//in/sub/deep/*", {"/data/in/sub/deep/e.log"}},
           // A name that is a file is taken literally.
           {"/data/in/a[1].log", {"/data/in/a[1].log"}},
           {"/data/in/a.log", {"/data/in/a.log"}}}) {
    std::vector<std::string> want;
    for (const std::string& p : c.want) want.push_back(w + p);
    auto r = ExpandGlobs({w + c.pattern});
    ASSERT_TRUE(r.ok()) << c.pattern << ": " << r.status();
    EXPECT_EQ(*r, want) << c.pattern;
  }
  // The symlink out of the roots matches no wildcard.
  auto out = ExpandGlobs({w + "/data/in/out*"});
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  // Mixed with local paths: one sorted list.
  TempDir dir;
  WriteFile(dir.Path("l.log"), "x\n");
  auto mixed = ExpandGlobs({w + "/data/other/*", dir.Path("*.log")});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_THAT(*mixed, ElementsAre(dir.Path("l.log"), w + "/data/other/g.log"));
}

TEST(RemoteGlobTest, ErrorsNameThePattern) {
  FakeCatalog fake;
  fake.Install();
  auto none = ExpandGlobs({"tg://w1/data/in/*.csv"});
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.status().message(),
            "input glob 'tg://w1/data/in/*.csv' matches no file");
  auto no_dir = ExpandGlobs({"tg://w1/data/nope/*.log"});
  EXPECT_EQ(no_dir.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(no_dir.status().message(),
              HasSubstr("'tg://w1/data/nope/*.log'"));
  // A file where a directory is expected lists nothing (the service lists
  // a file as itself).
  EXPECT_EQ(ExpandGlobs({"tg://w1/data/in/a.log/*"}).status().code(),
            StatusCode::kInvalidArgument);
  auto missing = ExpandGlobs({"tg://w1/data/in/zz.log"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "input file 'tg://w1/data/in/zz.log' does not exist");
  auto dir = ExpandGlobs({"tg://w1/data/in"});
  EXPECT_EQ(dir.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dir.status().message(), HasSubstr("not a regular file"));
  auto refused = ExpandGlobs({"tg://w1/etc/*"});
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("tg://w1/etc"));
  auto worker_glob = ExpandGlobs({"tg://w*/data/in/a.log"});
  EXPECT_EQ(worker_glob.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(worker_glob.status().message(), HasSubstr("worker"));
}

TEST(RemoteGlobTest, PlanSplitsCutsRemoteFilesBySizeFromTheCatalog) {
  FakeCatalog fake;
  const std::string a = "tg://w1/data/in/a.log";  // 10 bytes
  const std::string gz = "tg://w1/data/in/big.log.gz";
  // No catalog: whole, unchecked.
  auto r = PlanSplits({a, gz}, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre(IsSplit(a, 0, -1), IsSplit(gz, 0, -1)));
  fake.Install();
  r = PlanSplits({a, gz}, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre(IsSplit(a, 0, 4), IsSplit(a, 4, 4),
                              IsSplit(a, 8, 2), IsSplit(gz, 0, -1)));
  // Compressed files and split_bytes <= 0 cost no call.
  fake.calls.clear();
  r = PlanSplits({a, gz}, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre(IsSplit(a, 0, -1), IsSplit(gz, 0, -1)));
  EXPECT_TRUE(fake.calls.empty());
  auto gone = PlanSplits({"tg://w1/data/in/gone.log"}, 4);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(gone.status().message(), HasSubstr("tg://w1/data/in/gone.log"));
  auto dir = PlanSplits({"tg://w1/data/in"}, 4);
  EXPECT_EQ(dir.status().code(), StatusCode::kInvalidArgument);
}

// ---- SplitLineReader --------------------------------------------------------

struct Line {
  std::string text;
  uint64_t offset;
  bool operator==(const Line& o) const {
    return text == o.text && offset == o.offset;
  }
};

void PrintTo(const Line& l, std::ostream* os) {
  *os << l.offset << ":" << ::testing::PrintToString(l.text);
}

// The oracle: lines split on '\n' ('\r' kept), a final line without '\n'
// counts, each cut to max_line bytes.
std::vector<Line> OracleLines(const std::string& content, size_t max_line) {
  std::vector<Line> out;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    const size_t end = nl == std::string::npos ? content.size() : nl;
    out.push_back(
        {content.substr(start, std::min(end - start, max_line)), start});
    start = end + 1;
  }
  return out;
}

// Appends the split's lines to `out`.
// Reads the split's lines with Next, or (blocks) with NextLines and Next
// where NextLines leaves a line to it.
void ReadSplit(const FileSplit& split, size_t max_line, std::vector<Line>* out,
               bool blocks = false) {
  auto r = SplitLineReader::Open(split, max_line);
  ASSERT_TRUE(r.ok()) << r.status();
  std::string_view line;
  for (;;) {
    if (blocks) {
      std::string_view lines;
      auto more = (*r)->NextLines(&lines);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      const uint64_t at = (*r)->block_offset();
      for (size_t i = 0; i < lines.size();) {
        size_t nl = lines.find('\n', i);
        if (nl == std::string_view::npos) nl = lines.size();
        out->push_back({std::string(lines.substr(i, nl - i)), at + i});
        i = nl + 1;
      }
      if (!lines.empty()) continue;
    }
    auto more = (*r)->Next(&line);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    out->push_back({std::string(line), (*r)->line_offset()});
  }
  // Stays at the end.
  auto more = (*r)->Next(&line);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
}

std::vector<Line> ReadRange(const std::string& path, uint64_t offset,
                            int64_t length) {
  std::vector<Line> out;
  ReadSplit(FileSplit{path, offset, length}, kDefaultMaxLine, &out);
  return out;
}

TEST(SplitReaderTest, RangeOwnsTheLinesThatStartInIt) {
  TempDir dir;
  const std::string path = dir.Path("f.log");
  //                     0123 456 7 8 9
  WriteFile(path, std::string("aaa\nbb\n\nc"));
  EXPECT_THAT(ReadRange(path, 0, 1), ElementsAre(Line{"aaa", 0}));
  EXPECT_THAT(ReadRange(path, 0, 4), ElementsAre(Line{"aaa", 0}));
  EXPECT_THAT(ReadRange(path, 0, 5),
              ElementsAre(Line{"aaa", 0}, Line{"bb", 4}));
  EXPECT_THAT(ReadRange(path, 1, 3), ElementsAre());  // inside "aaa\n"
  // Byte offset-1 is '\n': the range starts exactly at a line.
  EXPECT_THAT(ReadRange(path, 4, 1), ElementsAre(Line{"bb", 4}));
  EXPECT_THAT(ReadRange(path, 4, 4), ElementsAre(Line{"bb", 4}, Line{"", 7}));
  EXPECT_THAT(ReadRange(path, 5, 3), ElementsAre(Line{"", 7}));
  EXPECT_THAT(ReadRange(path, 8, 1), ElementsAre(Line{"c", 8}));
  EXPECT_THAT(ReadRange(path, 7, 0), ElementsAre());
  EXPECT_THAT(ReadRange(path, 9, 5), ElementsAre());  // past the end
  EXPECT_THAT(ReadRange(path, 0, -1), ElementsAre(Line{"aaa", 0}, Line{"bb", 4},
                                                  Line{"", 7}, Line{"c", 8}));
}

TEST(SplitReaderTest, LongLinesAreTruncatedWithExactOffsets) {
  TempDir dir;
  const std::string path = dir.Path("f.log");
  WriteFile(path, "0123456789\nab\n0123456789abcdef\nz");
  for (int64_t length : {-1, 3, 11, 12, 40}) {
    SCOPED_TRACE(length);
    std::vector<Line> got;
    if (length < 0) {
      ReadSplit(FileSplit{path, 0, -1}, 4, &got);
    } else {
      for (uint64_t off = 0; off < 32; off += length) {
        ReadSplit(FileSplit{path, off, length}, 4, &got);
      }
    }
    EXPECT_THAT(got, ElementsAre(Line{"0123", 0}, Line{"ab", 11},
                                 Line{"0123", 14}, Line{"z", 31}));
  }
  auto r = SplitLineReader::Open(FileSplit{path, 0, -1}, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  std::string_view line;
  std::vector<bool> truncated;
  while (true) {
    auto more = (*r)->Next(&line);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    truncated.push_back((*r)->truncated());
  }
  EXPECT_THAT(truncated, ElementsAre(true, false, true, false));
}

TEST(SplitReaderTest, CompressedFilesAreReadWholeAndDecoded) {
  TempDir dir;
  const std::string path = dir.Path("two-members.log.gz");
  // gzip of "hello\nworld\n" followed by gzip of "second member\n".
  WriteFile(path, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb"
                              "\x48\xcd\xc9\xc9\xe7\x2a\xcf\x2f\xca\x49\xe1"
                              "\x02\x00\xff\x5d\xc5\xc4\x0c\x00\x00\x00\x1f"
                              "\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x2b\x4e"
                              "\x4d\xce\xcf\x4b\x51\xc8\x4d\xcd\x4d\x4a\x2d"
                              "\xe2\x02\x00\x36\x18\x4b\x0e\x0e\x00\x00\x00",
                              66));
  std::vector<Line> got;
  ReadSplit(FileSplit{path, 0, -1}, kDefaultMaxLine, &got);
  EXPECT_THAT(got, ElementsAre(Line{"hello", 0}, Line{"world", 6},
                               Line{"second member", 12}));

  auto r = SplitLineReader::Open(FileSplit{path, 0, 10});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(path));
}

TEST(SplitReaderTest, MissingFileIsAnError) {
  TempDir dir;
  for (int64_t length : {-1, 10}) {
    auto r = SplitLineReader::Open(FileSplit{dir.Path("gone.log"), 0, length});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_THAT(r.status().message(), HasSubstr("gone.log"));
  }
}

// ---- The key property, against the oracle ----------------------------------

// Random content: empty, short, medium and long lines (longer than most split
// sizes), random bytes including NUL and '\r', some "\r\n" endings, and
// sometimes no final newline.
std::string RandomContent(std::mt19937_64& rng, size_t target,
                          size_t long_line) {
  std::uniform_int_distribution<int> pct(0, 99);
  auto below = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  std::string s;
  while (s.size() < target) {
    const int kind = pct(rng);
    size_t len = kind < 15   ? 0
                 : kind < 70 ? 1 + below(20)
                 : kind < 92 ? 20 + below(200)
                             : 200 + below(long_line);
    for (size_t i = 0; i < len; ++i) {
      const int c = pct(rng);
      s += c < 3 ? '\0' : c < 6 ? '\r' : static_cast<char>(' ' + below(95));
    }
    s += pct(rng) < 20 ? "\r\n" : "\n";
  }
  s.resize(target);  // often cuts the last line: no final newline
  if (pct(rng) < 30 && !s.empty()) s.back() = '\n';
  return s;
}

// Plans `path` with split size `split_bytes`, checks the plan covers the
// file, reads every split and compares with the oracle.
void CheckSplits(const std::string& path, const std::string& content,
                 int64_t split_bytes, size_t max_line) {
  SCOPED_TRACE("split_bytes=" + std::to_string(split_bytes) +
               " size=" + std::to_string(content.size()) +
               " max_line=" + std::to_string(max_line));
  auto plan = PlanSplits({path}, split_bytes);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const uint64_t size = content.size();
  if (size <= static_cast<uint64_t>(split_bytes)) {
    ASSERT_EQ(plan->size(), 1u);
    ASSERT_TRUE((*plan)[0].whole());
  } else {
    uint64_t next = 0;
    for (const FileSplit& s : *plan) {
      ASSERT_EQ(s.offset, next);
      ASSERT_GT(s.length, 0);
      ASSERT_LE(s.length, split_bytes);
      next += s.length;
    }
    ASSERT_EQ(next, size);
  }
  const std::vector<Line> want = OracleLines(content, max_line);
  for (const bool blocks : {false, true}) {
    SCOPED_TRACE(blocks ? "NextLines" : "Next");
    std::vector<Line> got;
    for (const FileSplit& s : *plan) {
      // Through the payload, as a worker receives it.
      auto parsed = FileSplit::Parse(s.ToPayload());
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      ReadSplit(*parsed, max_line, &got, blocks);
      if (::testing::Test::HasFatalFailure()) return;
    }
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "line " << i;
    }
  }
}

TEST(SplitRandomTest, EveryLineReadExactlyOnceWithExactOffsets) {
  TempDir dir;
  const std::string path = dir.Path("random.log");
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const size_t size =
        seed <= 3  ? seed - 1  // 0, 1, 2 bytes
        : seed % 4 ? std::uniform_int_distribution<size_t>(3, 600)(rng)
                   : std::uniform_int_distribution<size_t>(600, 4096)(rng);
    const std::string content = RandomContent(rng, size, 1500);
    WriteFile(path, content);
    const int64_t n = static_cast<int64_t>(content.size());
    for (int64_t split : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7},
                          int64_t{64}, int64_t{1000}, n - 1, n, n + 1}) {
      if (split <= 0) continue;
      CheckSplits(path, content, split, kDefaultMaxLine);
      if (::testing::Test::HasFatalFailure()) return;
    }
    // Truncated lines keep exact offsets too.
    for (int64_t split : {int64_t{3}, int64_t{64}}) {
      CheckSplits(path, content, split, 5);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(SplitRandomTest, MultiMegabyteFile) {
  TempDir dir;
  const std::string path = dir.Path("big.log");
  std::mt19937_64 rng(42);
  std::string content = RandomContent(rng, 3u << 20, 20000);
  // One line longer than the reader's 1 MiB buffer, mid-file.
  content.insert(content.size() / 2, std::string(1200000, 'L') + "\n");
  WriteFile(path, content);
  const int64_t n = static_cast<int64_t>(content.size());
  for (int64_t split :
       {int64_t{4093}, int64_t{65536}, int64_t{1} << 20, n - 1, n, n + 1}) {
    CheckSplits(path, content, split, kDefaultMaxLine);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace taskgrid
