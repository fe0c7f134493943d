// `taskgrid demo`: the flagship job end to end on the embedded default.
// Generates a deterministic set of nginx access logs laid out as
// DIR/logs/<domain>/<YYYYMMDDHH>/ (gzip, zstd and plain files, a few
// malformed lines), runs the `logstats` mapreduce job over them, and prints
// the per-(domain, hour) summary as a table.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/demo_data.h"
#include "taskgrid/job_spec.h"

namespace taskgrid {
namespace {

// Splits a CSV line without quoted fields (summary.csv's domains are the
// generator's names, its other fields numbers).
std::vector<std::string> SplitPlainCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(field);
  return out;
}

void PrintTable(const std::string& csv_path) {
  std::ifstream in(csv_path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(SplitPlainCsv(line));
  if (rows.empty()) return;
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (size_t k = 0; k < rows.size(); ++k) {
    std::string out;
    for (size_t i = 0; i < rows[k].size() && i < width.size(); ++i) {
      // Text columns (domain, hour) left-aligned, numbers right-aligned.
      out += i < 2 ? fmt::format("{:<{}}  ", rows[k][i], width[i])
                   : fmt::format("{:>{}}  ", rows[k][i], width[i]);
    }
    out.erase(out.find_last_not_of(' ') + 1);
    std::cout << "  " << out << "\n";
    if (k == 0) std::cout << "  " << std::string(out.size(), '-') << "\n";
  }
}

}  // namespace

int CmdDemo(const RunOptions& o, const DemoOptions& d) {
  DemoDataOptions data;
  if (!d.size.empty()) {
    auto size = ParseByteSize(d.size);
    if (!size.ok()) {
      std::cerr << "taskgrid demo: --size: " << size.status().message() << "\n";
      return kExitUsage;
    }
    data.total_bytes = *size;
  }
  if (!d.codecs.empty()) data.codecs = d.codecs;
  const std::string logs = d.dir + "/logs";
  std::cout << "taskgrid demo: nginx access logs in " << logs << "\n";
  DemoDataStats stats;
  Status s = GenerateDemoLogs(logs, data, &stats);
  if (!s.ok()) {
    std::cerr << "taskgrid demo: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage
                                                    : kExitJobFailed;
  }
  std::cout << fmt::format(
      "  {} files, {} lines ({} malformed), {:.1f} MB decoded, {:.1f} MB on "
      "disk{}\n",
      stats.files, stats.lines, stats.malformed_lines,
      stats.decoded_bytes / 1e6, stats.file_bytes / 1e6,
      stats.reused ? " (already there)" : "");
  if (d.generate_only) return kExitOk;

  const std::string spec_path = d.dir + "/logstats.yaml";
  const std::string out_dir = d.dir + "/out";
  std::ofstream(spec_path) << fmt::format(
      R"(# Written by `taskgrid demo`: per-domain, per-hour request statistics.
name: demo-logstats
processor: logstats
model: mapreduce
input:
  files: ["{}/**"]
params: {{top: 5}}
retry: {{max_attempts: 3, backoff: 100ms}}
output: "{}"
)",
      logs, out_dir);
  std::cout << "  spec:  " << spec_path << "\n"
            << "  state: " << o.common.state_path << "\n";
  const int rc = CmdRun(o, spec_path);
  if (rc != kExitOk) return rc;
  std::cout << "\n" << out_dir << "/summary.csv:\n";
  PrintTable(out_dir + "/summary.csv");
  std::cout << "\nAlso written: " << out_dir << "/top_urls.csv, " << out_dir
            << "/_manifest.csv, " << out_dir << "/_SUCCESS\n";
  return kExitOk;
}

}  // namespace taskgrid
