// logstats end to end, against an oracle that never calls the processor's
// parser: the test writes its own log files in the layout (gzip, zstd,
// plain; CRLF endings; an empty file; a truncated .gz; URLs that need CSV
// quoting or hold NUL, CR and invalid UTF-8 bytes), keeping a tally of what
// it wrote, then runs the processor task by task and compares summary.csv
// and top_urls.csv byte for byte with CSVs built from the tally.
//
//   oracle lines ──► files ──► PlanSplits ──► Process (one per split)
//        │                                        │ results
//        ▼                                        ▼
//   expected CSVs  ══════ byte for byte ══════  Reduce → CSVs
//
// Until file inputs land in job specs, the processor is driven directly
// through fake contexts; a `taskgrid run` variant follows with them.
#include "processors/logstats.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/demo_data.h"
#include "io/output_committer.h"
#include "io/split.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

using namespace std::string_literals;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// ---------------------------------------------------------------------------
// Fake contexts.

class FakeTaskContext : public TaskContext {
 public:
  explicit FakeTaskContext(std::string payload)
      : payload_(std::move(payload)) {}
  int64_t job_id() const override { return 1; }
  int64_t task_id() const override { return 1; }
  const std::string& stage() const override { return stage_; }
  const std::string& payload() const override { return payload_; }
  int attempt() const override { return 1; }
  const Params& params() const override { return params_; }
  const std::string& worker_id() const override { return stage_; }
  const std::string& output_dir() const override { return empty_; }
  void Log(LogLevel, std::string_view) override {}
  bool cancelled() const override { return false; }
  bool SleepFor(std::chrono::milliseconds) override { return true; }
  void SetResult(std::string r) override { result = std::move(r); }
  void Map(std::vector<std::string>, std::string_view) override {}

  std::string result;

 private:
  std::string stage_ = "map";
  std::string payload_;
  std::string empty_;
  Params params_;
};

class FakeJobContext : public JobContext {
 public:
  FakeJobContext(std::string output_dir, std::vector<TaskResult> results,
                 Params params)
      : out_(std::move(output_dir)),
        results_(std::move(results)),
        params_(std::move(params)) {}
  int64_t job_id() const override { return 1; }
  const std::string& job_name() const override { return name_; }
  const Params& params() const override { return params_; }
  const std::string& output_dir() const override { return out_; }
  StatusOr<std::string> OutputPath(std::string_view name) override {
    if (out_.empty()) return FailedPreconditionError("no output directory");
    Status s = CheckOutputName(name);
    if (!s.ok()) return s;
    std::filesystem::create_directories(out_);
    return out_ + "/" + std::string(name);
  }
  int64_t succeeded_tasks() const override {
    return static_cast<int64_t>(results_.size());
  }
  int64_t dead_tasks() const override { return 0; }
  Status ForEachResult(
      const std::function<void(const TaskResult&)>& fn) override {
    for (const TaskResult& r : results_) fn(r);
    return OkStatus();
  }
  void Log(LogLevel, std::string_view) override {}
  bool cancelled() const override { return false; }
  void SetResult(std::string r) override { result = std::move(r); }

  std::string result;

 private:
  std::string name_ = "logstats-test";
  std::string out_;
  std::vector<TaskResult> results_;
  Params params_;
};

struct RunOutcome {
  std::vector<TaskResult> results;
  std::map<std::string, Status> failures;  // by path
  Status reduce_status;
  std::string job_result;
  std::string summary;
  std::string top_urls;
};

// Plans splits of `files` (plain files cut every `split_bytes`), runs one
// Process per split, then Reduce over the successful results.
RunOutcome RunLogStats(const std::vector<std::string>& files,
                       int64_t split_bytes, const std::string& out_dir,
                       Params params) {
  RunOutcome o;
  auto splits = PlanSplits(files, split_bytes);
  EXPECT_TRUE(splits.ok()) << splits.status();
  if (!splits.ok()) return o;
  int64_t task_id = 0;
  for (const FileSplit& split : *splits) {
    LogStatsProcessor p;
    FakeTaskContext ctx(split.ToPayload());
    ++task_id;
    Status s = p.Process(ctx);
    if (s.ok()) {
      o.results.push_back({task_id, "map", ctx.result});
    } else {
      o.failures[split.path] = s;
    }
  }
  LogStatsProcessor p;
  FakeJobContext job(out_dir, o.results, std::move(params));
  o.reduce_status = p.Reduce(job);
  o.job_result = job.result;
  o.summary = ReadFile(out_dir + "/summary.csv");
  o.top_urls = ReadFile(out_dir + "/top_urls.csv");
  return o;
}

// ---------------------------------------------------------------------------
// The oracle.

struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

struct Tally {
  int64_t requests = 0;
  int64_t bytes = 0;
  int64_t status[10] = {};  // by first digit
  int64_t malformed = 0;
  std::set<std::string> addrs;
  std::map<std::string, int64_t> urls;
};

using Key = std::pair<std::string, std::string>;  // domain, hour

// Writes lines for one file and tallies them.
class LogWriter {
 public:
  LogWriter(Tally* tally, uint64_t seed) : t_(tally), rng_{seed} {}

  // A valid line from its parts; `url` may be empty (request "-").
  void Valid(const std::string& addr, const std::string& url, int status,
             int64_t bytes, bool bytes_dash = false) {
    const char* methods[] = {"GET", "POST", "HEAD"};
    const std::string request =
        url.empty() ? "-"
                    : fmt::format("{} {} HTTP/1.{}", methods[rng_.Below(3)],
                                  url, rng_.Below(2));
    text_ += fmt::format(
        "{} - {} [15/Mar/2024:13:{:02}:{:02} +0000] \"{}\" {} {} \"{}\" "
        "\"{}\"{}",
        addr, rng_.Below(5) == 0 ? "carol" : "-", rng_.Below(60),
        rng_.Below(60), request, status,
        bytes_dash ? "-" : std::to_string(bytes),
        rng_.Below(2) ? "-" : "https://ref.example/?a=\\\"b\\\"",
        rng_.Below(2) ? "Mozilla/5.0 (X11; Linux)" : "ua \\\"quoted\\\"", eol_);
    ++t_->requests;
    t_->bytes += bytes_dash ? 0 : bytes;
    ++t_->status[status / 100];
    t_->addrs.insert(addr);
    if (!url.empty()) ++t_->urls[url];
  }

  // A line that is not a combined-format record.
  void Malformed(const std::string& line) {
    text_ += line + eol_;
    ++t_->malformed;
  }
  void Blank() { text_ += eol_; }  // not a record: not counted
  void set_eol(std::string eol) { eol_ = std::move(eol); }
  Rng& rng() { return rng_; }
  std::string& text() { return text_; }

 private:
  Tally* t_;
  Rng rng_;
  std::string text_;
  std::string eol_ = "\n";
};

const std::vector<std::string>& Urls() {
  static const auto* urls = new std::vector<std::string>{
      "/",
      "/index.html",
      "/a/b?x=1&y=2",
      "/search?q=a,b",            // comma: quoted in CSV
      "/q?s=\\\"hi\\\"",          // an escaped quote inside the request
      "/q?s=\\x22hi\\x22",        // nginx's default escaping
      "/nul\0byte"s,              // NUL
      "/bad-utf8-\xff\xfe\xc3(",  // invalid UTF-8
      "/cr\rinside",              // a raw CR in the middle of a line
      "/long/" + std::string(5000, 'z'),
  };
  return *urls;
}

std::string RandomAddr(Rng& rng) {
  switch (rng.Below(10)) {
    case 0:
      return fmt::format("2001:db8::{:x}", rng.Below(300) + 1);
    case 1:
      return "unix:";
    default:
      return fmt::format("192.0.{}.{}", rng.Below(3), rng.Below(256));
  }
}

// Fills a writer with `n` random records, some malformed and some blank.
void RandomLines(LogWriter& w, int n) {
  const auto& urls = Urls();
  const int statuses[] = {200, 200, 200, 204, 301, 304,
                          404, 403, 500, 503, 101, 999};
  for (int i = 0; i < n; ++i) {
    Rng& r = w.rng();
    const uint64_t kind = r.Below(100);
    if (kind == 0) {
      w.Malformed(fmt::format(
          "{} - - [15/Mar/2024:13:00:00 +0000] \"GET / HTTP/1.1\" 2x0 5 "
          "\"-\" \"-\"",
          RandomAddr(r)));
    } else if (kind == 1) {
      w.Malformed(fmt::format(
          "{} - - [15/Mar/2024:13:00:00 +0000] \"GET / HTTP/1.1\" 200 12k "
          "\"-\" \"-\"",
          RandomAddr(r)));
    } else if (kind == 2) {
      w.Malformed(RandomAddr(r) +
                  " - - [15/Mar/2024:13:00:00 +0000] \"GET / HTTP/1.1\" 200");
    } else if (kind == 3) {
      w.Malformed("garbage \x01\x02 \"unterminated");
    } else if (kind == 4) {
      w.Blank();
    } else if (kind == 5) {
      w.Valid(RandomAddr(r), "", 400, 0);  // request "-"
    } else {
      // Skewed popularity so that top-N has a clear head and ties below.
      const size_t u =
          std::min<size_t>(r.Below(urls.size()), r.Below(urls.size()));
      w.Valid(RandomAddr(r), urls[u], statuses[r.Below(12)],
              static_cast<int64_t>(r.Below(100000)), r.Below(50) == 0);
    }
  }
}

std::string CsvField(const std::string& f) {
  bool quote = false;
  for (char c : f) {
    quote = quote || c == ',' || c == '"' || c == '\r' || c == '\n';
  }
  if (!quote) return f;
  std::string out = "\"";
  for (char c : f) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string ExpectedSummary(const std::map<Key, Tally>& tallies) {
  std::string out =
      "domain,hour,requests,bytes,status_2xx,status_3xx,status_4xx,"
      "status_5xx,unique_ips,malformed\n";
  for (const auto& [key, t] : tallies) {
    out += CsvField(key.first) + "," + CsvField(key.second) + "," +
           fmt::format("{},{},{},{},{},{},{},{}\n", t.requests, t.bytes,
                       t.status[2], t.status[3], t.status[4], t.status[5],
                       t.addrs.size(), t.malformed);
  }
  return out;
}

std::string ExpectedTopUrls(const std::map<Key, Tally>& tallies, size_t top) {
  std::string out = "domain,hour,rank,url,requests\n";
  for (const auto& [key, t] : tallies) {
    std::vector<std::pair<int64_t, std::string>> v;
    for (const auto& [url, n] : t.urls) v.push_back({-n, url});
    std::sort(v.begin(), v.end());
    for (size_t i = 0; i < v.size() && i < top; ++i) {
      out += CsvField(key.first) + "," + CsvField(key.second) + "," +
             std::to_string(i + 1) + "," + CsvField(v[i].second) + "," +
             std::to_string(-v[i].first) + "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// File writers (zlib and zstd directly, not taskgrid's io).

void WriteGzip(const std::string& path, const std::string& content,
               const char* mode = "wb6") {
  gzFile f = gzopen(path.c_str(), mode);
  ASSERT_NE(f, nullptr) << path;
  if (!content.empty()) {
    ASSERT_EQ(gzwrite(f, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void WriteZstd(const std::string& path, const std::string& content) {
  std::string out(ZSTD_compressBound(content.size()), '\0');
  const size_t n =
      ZSTD_compress(out.data(), out.size(), content.data(), content.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  WriteFile(path, out);
}

std::string MakeDir(const TempDir& tmp, const std::string& domain,
                    const std::string& hour) {
  const std::string dir = tmp.path() + "/logs/" + domain + "/" + hour;
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(LogStatsEndToEnd, MatchesAnIndependentTally) {
  TempDir tmp;
  std::map<Key, Tally> tallies;
  std::vector<std::string> files;

  const std::string www = "www.example.com";
  const std::string odd = "shop,eu \"west\"";  // needs CSV quoting
  {
    // Two files of one hour: gzip (two members) and zstd.
    const std::string dir = MakeDir(tmp, www, "2024031513");
    LogWriter a(&tallies[{www, "2024031513"}], 1);
    RandomLines(a, 3000);

    LogWriter b(&tallies[{www, "2024031513"}], 2);
    RandomLines(b, 3000);
    // Exact ties, split across the two files: ranked by URL bytes.
    for (const char* url : {"/tie-b", "/tie-a", "/tie-B", "/tie-\xe9"}) {
      for (int i = 0; i < 3; ++i) {
        a.Valid("192.0.2.9", url, 200, 1);
        b.Valid("192.0.2.9", url, 200, 1);
      }
    }
    const size_t half = a.text().find('\n', a.text().size() / 2) + 1;
    WriteGzip(dir + "/a.log.gz", a.text().substr(0, half));
    WriteGzip(dir + "/a.log.gz", a.text().substr(half), "ab6");
    files.push_back(dir + "/a.log.gz");
    WriteZstd(dir + "/b.log.zst", b.text());
    files.push_back(dir + "/b.log.zst");
  }
  {
    // A plain file with CRLF endings and no final newline, split into many
    // byte ranges.
    const std::string dir = MakeDir(tmp, www, "2024031514");
    LogWriter c(&tallies[{www, "2024031514"}], 3);
    c.set_eol("\r\n");
    RandomLines(c, 4000);
    c.Valid("192.0.2.1", "/last-line", 200, 7);
    c.text().resize(c.text().size() - 2);
    WriteFile(dir + "/c.log", c.text());
    files.push_back(dir + "/c.log");
  }
  {
    const std::string dir = MakeDir(tmp, odd, "2024031513");
    LogWriter d(&tallies[{odd, "2024031513"}], 4);
    RandomLines(d, 2000);
    WriteGzip(dir + "/d.log.gz", d.text());
    files.push_back(dir + "/d.log.gz");
  }
  {
    // An empty file still yields its (domain, hour) row.
    const std::string dir = MakeDir(tmp, "empty.example", "2024031500");
    tallies[{"empty.example", "2024031500"}];
    WriteFile(dir + "/e.log", "");
    files.push_back(dir + "/e.log");
    WriteGzip(dir + "/e2.log.gz", "");
    files.push_back(dir + "/e2.log.gz");
  }
  std::string truncated;
  {
    // A truncated .gz: its task fails; nothing of it is counted.
    const std::string dir = MakeDir(tmp, www, "2024031513");
    Tally ignored;
    LogWriter t(&ignored, 5);
    RandomLines(t, 3000);
    truncated = dir + "/trunc.log.gz";
    WriteGzip(truncated, t.text());
    const std::string gz = ReadFile(truncated);
    WriteFile(truncated, gz.substr(0, gz.size() / 2));
    files.push_back(truncated);
  }

  const std::string out = tmp.path() + "/out";
  const RunOutcome o = RunLogStats(
      files, 8192, out,
      Params(std::map<std::string, std::string, std::less<>>{{"top", "4"}}));

  ASSERT_EQ(o.failures.size(), 1u);
  ASSERT_EQ(o.failures.count(truncated), 1u);
  const Status& failure = o.failures.at(truncated);
  EXPECT_NE(failure.message().find(truncated), std::string::npos) << failure;
  EXPECT_NE(failure.message().find("byte"), std::string::npos) << failure;

  ASSERT_TRUE(o.reduce_status.ok()) << o.reduce_status;
  EXPECT_EQ(o.summary, ExpectedSummary(tallies));
  EXPECT_EQ(o.top_urls, ExpectedTopUrls(tallies, 4));

  int64_t lines = 0, malformed = 0;
  for (const auto& [key, t] : tallies) {
    lines += t.requests + t.malformed;
    malformed += t.malformed;
  }
  EXPECT_EQ(o.job_result,
            fmt::format("{} lines, {} malformed, {} (domain,hour) groups",
                        lines, malformed, tallies.size()));

  // The plain file was read as several splits, and split results merge to
  // the same numbers as the whole file: the CSVs above already say so; the
  // number of results says the splitting really happened.
  EXPECT_GT(o.results.size(), files.size());

  // The same job with a larger top: every URL of every group.
  const RunOutcome all = RunLogStats(
      files, 0, tmp.path() + "/out-all",
      Params(std::map<std::string, std::string, std::less<>>{{"top", "1000"}}));
  ASSERT_TRUE(all.reduce_status.ok()) << all.reduce_status;
  EXPECT_EQ(all.summary, ExpectedSummary(tallies));
  EXPECT_EQ(all.top_urls, ExpectedTopUrls(tallies, 1000));
}

TEST(LogStatsEndToEnd, AFileOutsideTheLayoutFailsItsTaskNamingThePath) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/logs/d/not-an-hour");
  const std::string path = tmp.path() + "/logs/d/not-an-hour/a.log";
  WriteFile(path, "");
  LogStatsProcessor p;
  FakeTaskContext ctx(FileSplit{path}.ToPayload());
  Status s = p.Process(ctx);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
}

TEST(LogStatsEndToEnd, ReduceFailsOnACorruptResultNamingTheTask) {
  TempDir tmp;
  LogStatsProcessor p;
  FakeJobContext job(tmp.path(), {{42, "map", "not a result"}}, Params());
  Status s = p.Reduce(job);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("task 42"), std::string::npos) << s;
}

// Reduce merges results on several threads, each (domain, hour) owned by
// one; results holding several groups cross those owners. Whatever the
// order of the results, the outputs must equal a plain serial merge.
TEST(LogStatsEndToEnd, ReduceEqualsASerialMergeOfTheSameResults) {
  std::mt19937_64 rng(11);
  const auto below = [&](uint64_t n) { return rng() % n; };
  std::vector<TaskResult> results;
  for (int t = 0; t < 60; ++t) {
    Merged m;
    // Most results hold one group, as a map task's do; every fifth holds
    // several.
    const int groups = t % 5 == 0 ? 1 + static_cast<int>(below(4)) : 1;
    for (int g = 0; g < groups; ++g) {
      HourStats& s = m[{fmt::format("d{}.com", below(5)),
                        fmt::format("202403150{}", below(6))}];
      for (int i = 0, n = static_cast<int>(below(400)); i < n; ++i) {
        const std::string line = fmt::format(
            "10.0.{}.{} - - [15/Mar/2024:01:00:00 +0000] \"GET /p{}?q={} "
            "HTTP/1.1\" {} {} \"-\" \"ua\"",
            below(3), below(200), below(300), below(4), 200 + 100 * below(4),
            below(5000));
        s.AddLine(i % 97 == 0 ? "broken" : line);
      }
    }
    results.push_back({t + 1, "map", SerializeResult(m)});
  }
  Merged serial;
  for (const TaskResult& r : results) {
    ASSERT_TRUE(MergeResult(r.result, &serial).ok());
  }
  for (int round = 0; round < 3; ++round) {
    std::shuffle(results.begin(), results.end(), rng);
    TempDir tmp;
    LogStatsProcessor p;
    FakeJobContext job(tmp.path(), results, Params());
    ASSERT_TRUE(p.Reduce(job).ok());
    EXPECT_EQ(ReadFile(tmp.path() + "/summary.csv"), SummaryCsv(serial));
    EXPECT_EQ(ReadFile(tmp.path() + "/top_urls.csv"), TopUrlsCsv(serial, 10));
  }
  // A corrupt result among valid ones fails the reduce naming its task.
  results.insert(results.begin() + 30, {77, "map", "L\x01\x05"});
  TempDir tmp;
  LogStatsProcessor p;
  FakeJobContext job(tmp.path(), results, Params());
  const Status s = p.Reduce(job);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("task 77"), std::string::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/summary.csv"));
}

// ---------------------------------------------------------------------------
// Demo data.

std::map<std::string, std::string> ReadTree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      files[std::filesystem::relative(e.path(), root).string()] =
          ReadFile(e.path().string());
    }
  }
  return files;
}

TEST(DemoData, IsDeterministicReusedAndCountedAsItSays) {
  TempDir tmp;
  DemoDataOptions opts;
  opts.domains = 2;
  opts.hours = 3;
  opts.files_per_hour = 2;
  opts.total_bytes = 3 << 20;
  opts.first_hour = "2024022823";  // crosses into Feb 29 (a leap year)
  opts.threads = 1;
  DemoDataStats one;
  ASSERT_TRUE(GenerateDemoLogs(tmp.Path("one"), opts, &one).ok());
  EXPECT_FALSE(one.reused);
  EXPECT_EQ(one.files, 12);
  EXPECT_GT(one.malformed_lines, 0);
  EXPECT_GE(one.decoded_bytes, opts.total_bytes);

  // Same bytes with another thread count; reused on a second call.
  opts.threads = 3;
  DemoDataStats two;
  ASSERT_TRUE(GenerateDemoLogs(tmp.Path("two"), opts, &two).ok());
  const auto tree = ReadTree(tmp.Path("one"));
  EXPECT_EQ(tree, ReadTree(tmp.Path("two")));
  EXPECT_EQ(tree.count("www.example.com/2024022823/access-0.log.gz"), 1u);
  EXPECT_EQ(tree.count("www.example.com/2024022900/access-1.log.zst"), 1u);
  EXPECT_EQ(tree.count("shop.example.com/2024022901/access-1.log"), 1u);
  DemoDataStats again;
  ASSERT_TRUE(GenerateDemoLogs(tmp.Path("one"), opts, &again).ok());
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.lines, one.lines);
  EXPECT_EQ(again.file_bytes, one.file_bytes);

  // Other options regenerate, removing the old domain directories.
  opts.domains = 1;
  DemoDataStats fewer;
  ASSERT_TRUE(GenerateDemoLogs(tmp.Path("one"), opts, &fewer).ok());
  EXPECT_FALSE(fewer.reused);
  EXPECT_FALSE(std::filesystem::exists(tmp.Path("one/shop.example.com")));

  // The processor counts what the generator says it wrote.
  std::vector<std::string> files;
  for (const auto& [rel, content] : tree) {
    if (rel.find('/') != std::string::npos) {
      files.push_back(tmp.Path("two/" + rel));
    }
  }
  const RunOutcome o = RunLogStats(files, 0, tmp.Path("out"), Params());
  EXPECT_TRUE(o.failures.empty());
  ASSERT_TRUE(o.reduce_status.ok()) << o.reduce_status;
  EXPECT_EQ(o.job_result,
            fmt::format("{} lines, {} malformed, 6 (domain,hour) groups",
                        one.lines, one.malformed_lines));
}

TEST(DemoData, RejectsBadOptions) {
  TempDir tmp;
  DemoDataOptions opts;
  opts.first_hour = "2024023000";  // Feb 30
  EXPECT_EQ(GenerateDemoLogs(tmp.path(), opts, nullptr).code(),
            StatusCode::kInvalidArgument);
  opts = DemoDataOptions();
  opts.codecs = {"gz", "rar"};
  EXPECT_EQ(GenerateDemoLogs(tmp.path(), opts, nullptr).code(),
            StatusCode::kInvalidArgument);
  opts = DemoDataOptions();
  opts.domains = 0;
  EXPECT_EQ(GenerateDemoLogs(tmp.path(), opts, nullptr).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace taskgrid
