// logstats_bench: where a logstats map task's time goes, per stage, on one
// plain log file held in memory (no decoding, no I/O), in MB/s of log text
// on one core (1 MB = 10^6 bytes):
//
//   SplitLines   finding the lines (memchr for '\n'), nothing else
//   Parse        SplitLines + ParseCombinedLine on every line
//   FastParse    SplitLines + the vector FastParseLine, ParseCombinedLine on
//                the lines it declines (counter `accepted`: the fraction it
//                decides)
//   AddLine      SplitLines + HourStats::AddLine (parse, counters, address
//                set, URL counts): a map task's whole per-line work
//   Serialize    AddLine + SerializeResult of the file's aggregate
//   Merge        MergeResult of that serialized aggregate into an empty
//                Merged (the reduce's work per map result)
//
//   logstats_bench FILE [--benchmark_repetitions=3]
//
// FILE is a plain nginx log, e.g. one made by `taskgrid demo
// --generate-only --codecs plain` (bench/logstats_e2e.sh keeps them under
// /tmp/taskgrid-logstats-bench/plain/logs/).
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "processors/logstats.h"
#include "processors/logstats_fastparse.h"

namespace {

using taskgrid::HourStats;
using taskgrid::LogKey;
using taskgrid::Merged;
using taskgrid::ParsedLine;

std::string* g_text = nullptr;

template <typename F>
void ForEachLine(std::string_view text, F&& f) {
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl == nullptr ? end : nl;
    f(std::string_view(p, line_end - p));
    p = line_end + 1;
  }
}

void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(g_text->size()));
}

void BM_SplitLines(benchmark::State& state) {
  for (auto _ : state) {
    size_t n = 0;
    ForEachLine(*g_text, [&](std::string_view line) { n += line.size(); });
    benchmark::DoNotOptimize(n);
  }
  SetBytes(state);
}

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    size_t ok = 0;
    ForEachLine(*g_text, [&](std::string_view line) {
      ParsedLine p;
      ok += taskgrid::ParseCombinedLine(line, &p) ? 1 : 0;
      benchmark::DoNotOptimize(p);
    });
    benchmark::DoNotOptimize(ok);
  }
  SetBytes(state);
}

void BM_FastParse(benchmark::State& state) {
  using taskgrid::logstats_internal::FastFields;
  using taskgrid::logstats_internal::FastParseLine;
  // FastParseLine may read 64 bytes past a line's end: a padded copy.
  std::string padded = *g_text;
  padded.append(64, '\n');
  const std::string_view text(padded.data(), g_text->size());
  size_t lines = 0;
  size_t fast = 0;
  for (auto _ : state) {
    size_t ok = 0;
    lines = 0;
    fast = 0;
    ForEachLine(text, [&](std::string_view line) {
      ++lines;
      FastFields f;
      if (FastParseLine(line, &f)) {
        ++fast;
        ++ok;
        benchmark::DoNotOptimize(f);
        return;
      }
      ParsedLine p;
      ok += taskgrid::ParseCombinedLine(line, &p) ? 1 : 0;
      benchmark::DoNotOptimize(p);
    });
    benchmark::DoNotOptimize(ok);
  }
  state.counters["accepted"] =
      lines == 0 ? 0.0 : static_cast<double>(fast) / static_cast<double>(lines);
  SetBytes(state);
}

void BM_AddLine(benchmark::State& state) {
  for (auto _ : state) {
    HourStats stats;
    ForEachLine(*g_text, [&](std::string_view line) { stats.AddLine(line); });
    benchmark::DoNotOptimize(stats.requests());
  }
  SetBytes(state);
}

Merged Aggregate() {
  HourStats stats;
  ForEachLine(*g_text, [&](std::string_view line) { stats.AddLine(line); });
  Merged m;
  m.emplace(LogKey{"example.com", "2024031500"}, std::move(stats));
  return m;
}

void BM_Serialize(benchmark::State& state) {
  for (auto _ : state) {
    const std::string result = taskgrid::SerializeResult(Aggregate());
    benchmark::DoNotOptimize(result.data());
  }
  SetBytes(state);
}

void BM_Merge(benchmark::State& state) {
  const std::string result = taskgrid::SerializeResult(Aggregate());
  for (auto _ : state) {
    Merged into;
    if (!taskgrid::MergeResult(result, &into).ok()) {
      state.SkipWithError("MergeResult failed");
      break;
    }
    benchmark::DoNotOptimize(into.size());
  }
  state.counters["result_bytes"] = static_cast<double>(result.size());
  SetBytes(state);
}

BENCHMARK(BM_SplitLines)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FastParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddLine)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Serialize)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Merge)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc != 2) {
    std::cerr << "usage: logstats_bench FILE [benchmark options]\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "logstats_bench: cannot read " << argv[1] << "\n";
    return 2;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  static std::string text = ss.str();
  g_text = &text;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
