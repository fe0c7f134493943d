// The `logstats` processor (mapreduce): per-domain, per-hour aggregates of
// nginx "combined" access logs laid out as ROOT/<domain>/<YYYYMMDDHH>/<file>.
//
//   map task (one per file split)          reduce (in the master)
//   ┌──────────────────────────────┐       ┌──────────────────────────────┐
//   │ SplitLineReader::NextLines   │       │ ForEachResult → ResultReducer│
//   │ vector parser, else the      │       │ (domain,hour): k-way merge of│
//   │ scalar parser → HourStats    │──────►│ the results' sorted runs     │
//   │ SerializeResult (LZ4)        │ bytes │ → summary.csv, top_urls.csv  │
//   └──────────────────────────────┘       └──────────────────────────────┘
//
// Outputs (in the job's output directory):
//   summary.csv   domain,hour,requests,bytes,status_2xx,status_3xx,
//                 status_4xx,status_5xx,unique_ips,malformed
//                 one row per (domain, hour), sorted by domain then hour
//                 (byte order).
//   top_urls.csv  domain,hour,rank,url,requests: the params.top (default 10)
//                 most requested URLs per (domain, hour), ties broken by URL
//                 in byte order.
// Fields are quoted as RFC 4180 asks when they contain a comma, a quote, CR
// or LF; other bytes (NUL, invalid UTF-8) are written as they are. Lines end
// with "\n".
//
// What counts (decisions, so that operators can reproduce the numbers):
// - A line that ParseCombinedLine rejects is `malformed`: it adds to nothing
//   else. An empty line (after stripping one trailing '\r') is not a record
//   and is not counted at all. A line the reader cut at its maximum length
//   is malformed.
// - `requests` counts parsed lines; `bytes` sums $body_bytes_sent, where "-"
//   counts as 0 (nginx's combined format writes 0, but other producers write
//   "-"); a value that does not fit in int64 makes the line malformed.
// - Status buckets hold 200-299, 300-399, 400-499, 500-599; any other
//   three-digit status (1xx, 000, 6xx-9xx) counts in `requests` only.
// - `unique_ips` is the number of distinct $remote_addr values. IPv4 and
//   IPv6 literals are compared by value (nginx always writes the canonical
//   text, so this equals distinct strings); anything else nginx may log
//   there (e.g. "unix:") is compared as a string.
// - The URL is the request target as logged ("GET /a?x=1 HTTP/1.1" ->
//   "/a?x=1"), bytes untouched (nginx's \xHH escapes are not decoded). A
//   request without a target ("-", or binary garbage from a scanner) counts
//   in `requests` but not in top_urls.
// - A file with no lines still yields its (domain, hour) row, with zeros.
#ifndef TASKGRID_PROCESSORS_LOGSTATS_H_
#define TASKGRID_PROCESSORS_LOGSTATS_H_

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/csv.h"  // AppendCsvField
#include "taskgrid/processor.h"
#include "taskgrid/status.h"

namespace taskgrid {

// ---------------------------------------------------------------------------
// Parsing one line.

// The fields of one combined-format line, as views into that line (valid as
// long as the line's bytes are). Quoted fields are given without their
// quotes, escapes untouched.
struct ParsedLine {
  std::string_view remote_addr;
  std::string_view remote_user;
  std::string_view time_local;  // without the brackets
  std::string_view request;     // e.g. "GET /a?x=1 HTTP/1.1"
  std::string_view method;      // "GET"; the whole request if it has no space
  std::string_view url;         // "/a?x=1"; empty if the request has none
  std::string_view protocol;    // "HTTP/1.1"; empty if absent
  int status = 0;               // 000..999
  int64_t body_bytes = 0;       // "-" gives 0
  std::string_view referer;
  std::string_view user_agent;
};

// Parses `line` (without its '\n' or '\r') in nginx's combined format:
//   addr SP ident SP user SP [time] SP "request" SP status SP bytes SP
//   "referer" SP "user_agent" [anything]
// Single pass, no allocation. The user runs to the first " [" (names may
// hold spaces). Runs of spaces between fields are accepted;
// text after the user agent (extra fields some configs append) is ignored.
// Inside quoted fields a backslash escapes the next byte (so \" does not end
// the field); nginx's \xHH escapes need no special handling. status must be
// exactly three digits; bytes a non-negative integer that fits int64, or
// "-". Returns false (leaving *out unspecified) when a field is missing or
// invalid. Any bytes (NUL, invalid UTF-8) are data.
bool ParseCombinedLine(std::string_view line, ParsedLine* out);

namespace logstats_internal {
// The dotted-quad IPv4 parser (no leading zeros; a value with them is not
// an IPv4 literal), and the same for an address of n bytes at p when 16
// bytes from p may be read (SSE2: one compare per character class). They
// agree on every input. Exposed for tests.
bool ParseIpv4(std::string_view s, uint32_t* out);
bool ParseIpv4Wide(const char* p, size_t n, uint32_t* out);
// A serialized result (SerializeResult) in version 1, uncompressed;
// DataLoss if it does not decompress. For tests and tools.
StatusOr<std::string> UncompressedResult(std::string_view result);
}  // namespace logstats_internal

// Splits a request into method, url and protocol: the url is what lies
// between the first space and a final " HTTP/..." token (or the end).
void SplitRequest(std::string_view request, std::string_view* method,
                  std::string_view* url, std::string_view* protocol);

// ---------------------------------------------------------------------------
// Grouping by path.

struct LogKey {
  std::string domain;
  std::string hour;  // YYYYMMDDHH
  friend auto operator<=>(const LogKey&, const LogKey&) = default;
};

// The (domain, hour) of a log file from its path: the two directory
// components above the file name, ".../<domain>/<YYYYMMDDHH>/<file>". The
// hour must be ten digits forming a valid date and hour (month 01-12, day
// 01-31, hour 00-23) and the domain must be non-empty and not "." or "..";
// otherwise InvalidArgument naming the path and what is expected. Such a
// task fails rather than guessing: a misplaced file would otherwise be
// counted in the wrong group.
StatusOr<LogKey> PathKey(std::string_view path);

// ---------------------------------------------------------------------------
// Aggregation.

// The aggregate of one (domain, hour): counters, the set of distinct remote
// addresses and the request count per URL. Hash tables are open-addressing
// flat arrays; URL bytes live in one arena, so adding a line allocates only
// when a table or the arena grows.
//
// A moved-from HourStats may only be assigned to or destroyed.
//
// Thread-safety: none; one thread at a time.
class HourStats {
 public:
  HourStats();
  ~HourStats();
  HourStats(HourStats&&) noexcept;
  HourStats& operator=(HourStats&&) noexcept;

  // Counts one line (without its '\n'): strips one trailing '\r', ignores
  // an empty line, counts a line ParseCombinedLine rejects as malformed.
  void AddLine(std::string_view line);
  // AddLine for each line of `lines` ('\n'-separated; a final '\n' ends the
  // last line rather than starting an empty one), which must be followed by
  // 64 readable bytes (kLineReadSlack; LineReader::NextLines leaves them),
  // whose content does not matter: most lines are then parsed by the vector
  // fast path (logstats_fastparse.h). Counts exactly what AddLine counts.
  void AddLines(std::string_view lines);
  // Counts one parsed line.
  void Add(const ParsedLine& line);
  void AddMalformed(int64_t n = 1) { malformed_ += n; }
  // Adds `other` into this.
  void Merge(const HourStats& other);

  // What the tables hold: distinct IPv4 addresses, distinct URLs and their
  // bytes.
  struct TableSizes {
    size_t ipv4 = 0;
    size_t urls = 0;
    size_t url_bytes = 0;
  };
  TableSizes table_sizes() const;
  // Makes room for that much at once (rather than growing step by step,
  // copying what is there at each step): for a file like one seen before.
  void Reserve(const TableSizes& sizes);

  int64_t requests() const { return requests_; }
  int64_t bytes() const { return bytes_; }
  // status_class 2..5: the 2xx..5xx buckets.
  int64_t status_class(int status_class) const;
  int64_t malformed() const { return malformed_; }
  int64_t unique_ips() const;
  int64_t distinct_urls() const;

  // The `n` most requested URLs, by count descending then URL in byte order.
  // Views into this object, valid until it is next modified.
  std::vector<std::pair<std::string_view, int64_t>> TopUrls(size_t n) const;

 private:
  friend class ResultCodec;
  friend struct LineLoop;  // AddLines' loops (logstats.cc)
  struct Tables;

  // The table updates (URL count, IPv4 insert) that AddLines defers by a
  // few lines once the tables outgrow the caches (logstats.cc).
  class Later;

  // AddLine once the '\r' is stripped and an empty line ignored: parses
  // (scalar) and counts, or counts as malformed.
  void AddRecord(std::string_view line, Later* later = nullptr);
  // AddLine, the table updates made through `later` (nullptr: now).
  void AddLine(std::string_view line, Later* later);
  // Counts a parsed line's fields, where the bytes up to readable_end (at
  // or after the address's end) may be read: lets the address parser load
  // 16 bytes at once. `ipv4`: the address's value, if the caller parsed it
  // as IPv4 already (nullptr: parse it here). The URL and IPv4 tables are
  // updated now, or when `later` (non-null) says: the URL's bytes must live
  // until then.
  void Count(std::string_view addr, std::string_view url, int status,
             int64_t body_bytes, const char* readable_end,
             const uint32_t* ipv4 = nullptr, Later* later = nullptr);

  int64_t requests_ = 0;
  int64_t bytes_ = 0;
  int64_t status_[4] = {0, 0, 0, 0};  // 2xx..5xx
  int64_t malformed_ = 0;
  std::unique_ptr<Tables> t_;
};

using Merged = std::map<LogKey, HourStats>;

// A map task's result: every group of `groups`, serialized compactly.
//
// Format (all integers LEB128 varints, strings varint length + bytes):
//   "L" version(1) ngroups, then per group: domain hour requests bytes
//   s2xx s3xx s4xx s5xx malformed, n4 + n4 IPv4 addresses (4 bytes, big
//   endian, ascending), n6 + n6 IPv6 addresses (16 bytes, ascending), nother
//   + other addresses (strings, ascending), nurls + (url, count) pairs (in
//   the order of a fixed 64-bit hash of the URL, ties by bytes). The orders
//   make the bytes a function of the content only; a reader needs none.
// A result of 4 KiB or more is written as version 2 when that is smaller:
//   "L" version(2) n, then the version-1 bytes after "L\x01" (n of them)
//   as one LZ4 block (about half the size: the state store writes and the
//   reduce reads that much less). Both versions are read.
//
// Size: a result grows with the distinct addresses (4 or 16 bytes each) and
// distinct URLs (their length + ~2 bytes each) of one file; typical hourly
// files give KBs to a few MBs, but a file with millions of distinct URLs
// (cache-busting query strings) gives a result of that order, which the
// state store keeps and Reduce holds in memory (ResultReducer). If that
// becomes the bottleneck, the fix is the shuffle model (partition by
// (domain, hour)) and an approximate distinct count, not a bigger result.
std::string SerializeResult(const Merged& groups);
// Adds a serialized result into `*into`. DataLoss describing the byte
// offset for a malformed or truncated result; *into may then hold part of
// it.
Status MergeResult(std::string_view result, Merged* into);

// The two outputs, as described at the top of this file.
std::string SummaryCsv(const Merged& merged);
std::string TopUrlsCsv(const Merged& merged, size_t top);

// The reduce: the two outputs of many map results, computed by merging
// them rather than by building each (domain, hour) again. A result's
// addresses and URLs are sorted runs (see SerializeResult), so a group's
// distinct addresses and URL counts are a k-way merge of its results' runs,
// counted as they stream by (no hash table; the URLs' hashes are computed
// again as they are read), keeping only the `top` best URLs. The outputs equal
// SummaryCsv and TopUrlsCsv of the same results merged with MergeResult.
//
// Groups are merged as soon as they can be: a caller that knows which
// groups its results will hold (LogStatsProcessor: from the map tasks'
// paths) announces them with Expect, and Add merges a group on its own
// thread once the last announced result of it comes, while the maps still
// run, then frees the results it held for it. Finish merges the rest (all
// of them, without Expect) in parallel.
//
// Memory: a copy of every result added, as stored (compressed; they are
// read from the state store, or fed by the master, one at a time), until
// its groups are merged, an index of its groups, plus per merging thread
// the uncompressed results of the group it merges (reused from group to
// group), plus `top` URLs per group.
//
// Thread-safety: one thread at a time (Finish uses threads of its own).
class ResultReducer {
 public:
  // `top`: the URLs kept per group (top_urls.csv's rows).
  explicit ResultReducer(size_t top = 10);
  ~ResultReducer();

  // Announces one more result that will hold group `key` (a map task's).
  // A group announced but never added gives no rows. Call before the Adds
  // of that group; a result added for a group merged already (more than
  // announced) is an Internal error from Finish.
  void Expect(const LogKey& key);

  // Keeps a copy of one map task's result and notes its groups now: a
  // compressed result of one group from the first bytes of its block (it
  // is checked when its group merges), any other decompressed and checked
  // at once. Merges the groups it completes (see Expect). Finish reports
  // what was wrong with it.
  void Add(int64_t task_id, std::string_view stage, std::string_view result);

  struct Output {
    std::string summary_csv;
    std::string top_urls_csv;  // `top` rows per (domain, hour)
    int64_t requests = 0;      // parsed lines, over all groups
    int64_t malformed = 0;
    size_t groups = 0;
  };
  // Merges each group not merged yet, on up to `threads` threads; the order
  // the results were added in does not matter. DataLoss, prefixed with the
  // task ("result of task N (stage): ...") and giving the byte offset, for
  // a result that is not well formed (the first by task id among those Add
  // checked, else the first group's found while merging), or whose runs do
  // not strictly ascend (which SerializeResult never writes; the message
  // also names the group).
  StatusOr<Output> Finish(int threads);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes `content` to the job's output file `name` through
// ctx.OutputPath (so the job commit publishes it). FailedPrecondition if
// the job has no output directory; InvalidArgument for a name that is not a
// plain file name; an I/O error names the path.
Status WriteOutput(JobContext& ctx, std::string_view name,
                   std::string_view content);

// The processor. A map task's payload is a FileSplit payload; it reads the
// split's lines, aggregates them under PathKey(path) and sets
// SerializeResult() as its result. It fails with the reader's error (which
// names the file and the byte offset) on unreadable or corrupt input, and
// with PathKey's error on a path outside the layout. Reduce starts with the
// job (reduces_early), takes the results as the map tasks succeed, merges
// them (ResultReducer, one thread per core up to 8) and writes summary.csv
// and top_urls.csv; params.top (default 10, >= 0) is the number of rows per
// (domain, hour) in top_urls.csv. The job's
// result is a one-line summary: "N lines, M malformed, K (domain,hour)
// groups".
//
// Thread-safety: as any Processor (one call at a time per instance).
class LogStatsProcessor : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override;
  Status Reduce(JobContext& ctx) override;
  // The merge does not depend on the results' order, and nothing leaves
  // the reduce before it has them all.
  bool reduces_early() const override { return true; }

 private:
  // What the last task's tables held: Process sizes the next task's so at
  // first (files of one job tend to be alike; growing a URL table from
  // empty to 18k URLs copied it a dozen times: 4-10% of the per-line work).
  HourStats::TableSizes last_sizes_;
};

std::unique_ptr<Processor> NewLogStatsProcessor();

}  // namespace taskgrid

#endif  // TASKGRID_PROCESSORS_LOGSTATS_H_
