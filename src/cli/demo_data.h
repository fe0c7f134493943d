// Demo access logs for `taskgrid demo` and the logstats benchmarks: nginx
// "combined" lines laid out as the logstats processor expects,
//
//   ROOT/<domain>/<YYYYMMDDHH>/access-<n>.log[.gz|.zst]
//
// Deterministic: the bytes of every decoded file depend only on the
// options (a fixed-seed PRNG of our own, integer arithmetic only, no
// std::random_device or <random> distributions, whose output differs
// between standard libraries). Compressed bytes also depend on the
// libdeflate and zstd versions.
//
// The data looks like traffic: IPv4 and some IPv6 clients with Zipf-like
// activity, requests in short bursts per client, mixed methods and
// protocols, statuses across 2xx..5xx, URLs with query strings and
// Zipf-like popularity (so top-N lists are meaningful) plus a tail of
// one-off URLs (tracking parameters), a few URLs with commas and nginx's
// \xHH escapes, and about one malformed line in 2000 (cut lines, TLS
// handshakes sent to the HTTP port, missing fields, a non-numeric status).
//
// Generation is skipped when ROOT already holds the data for the same
// options: a marker file (ROOT/.taskgrid-demo-data) records the options and
// the stats, and is written last, so an interrupted run regenerates.
//
// Thread-safety: GenerateDemoLogs may run concurrently on distinct roots.
#ifndef TASKGRID_CLI_DEMO_DATA_H_
#define TASKGRID_CLI_DEMO_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid {

struct DemoDataOptions {
  int domains = 4;         // 1..1000
  int hours = 6;           // 1..10000, consecutive from first_hour
  int files_per_hour = 3;  // per domain, 1..1000
  // Decoded size of all files together, approximately (each file stops at
  // the first line that reaches its share). The default keeps `taskgrid
  // demo` to seconds; benchmarks ask for gigabytes.
  int64_t total_bytes = int64_t{32} << 20;
  uint64_t seed = 1;
  std::string first_hour = "2024031500";  // YYYYMMDDHH
  // Encodings, used in turn across files: "gz" (libdeflate, level 6),
  // "zst" (level 3) or "plain".
  std::vector<std::string> codecs = {"gz", "zst", "gz", "zst", "gz", "plain"};
  // Files generated in parallel; 0 = the number of cores (at most 8). The
  // output does not depend on it.
  int threads = 0;
};

// What was generated (or found), for callers and tests: `lines` counts
// every line written, `malformed_lines` those that the logstats parser
// rejects by construction.
struct DemoDataStats {
  int64_t files = 0;
  int64_t lines = 0;
  int64_t malformed_lines = 0;
  int64_t decoded_bytes = 0;
  int64_t file_bytes = 0;  // on disk
  bool reused = false;     // the data was already there
};

// Writes the demo logs under `root` (created if needed), or finds them
// there. Before generating, removes the domain directories an earlier run
// of this generator may have left under `root` (and nothing else).
// InvalidArgument for out-of-range options; Internal (naming the path) for
// I/O errors. `stats` may be null.
Status GenerateDemoLogs(const std::string& root, const DemoDataOptions& opts,
                        DemoDataStats* stats);

// The name of domain `i` (0-based), as used for its directory.
std::string DemoDomainName(int i);

}  // namespace taskgrid

#endif  // TASKGRID_CLI_DEMO_DATA_H_
