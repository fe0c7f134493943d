// logstats_bench: where a logstats map task's time goes, per stage, on one
// plain log file held in memory (no decoding, no I/O), in MB/s of log text
// on one core (1 MB = 10^6 bytes):
//
//   SplitLines   finding the lines (memchr for '\n'), nothing else
//   Parse        SplitLines + ParseCombinedLine on every line
//   FastParse    SplitLines + the vector FastParseLine, ParseCombinedLine on
//                the lines it declines (counter `accepted`: the fraction it
//                decides)
//   AddLine      SplitLines + HourStats::AddLine (scalar parse, counters,
//                address set, URL counts)
//   AddLines     HourStats::AddLines on the whole file at once: a map
//                task's whole per-line work as it does it (the vector
//                parser, the scalar one where that declines)
//   Serialize    AddLine + SerializeResult of the file's aggregate
//   SerializeOnly  SerializeResult of that aggregate, built once (what a
//                map task does after its last line; counter result_bytes)
//   Merge        MergeResult of that serialized aggregate into an empty
//                Merged (the reduce's work per map result)
//   Ipv6         the first field of each line whose first field holds a
//                ':', parsed by inet_pton(AF_INET6) after the copy to a C
//                string that logstats.cc makes (impl:0), or by
//                logstats_internal::ParseIpv6 (impl:1); each where it lies
//                in the file (packed:0: each on its own log line, mostly
//                out of cache) or copied back to back (packed:1: in cache,
//                as a map task has them after its line parse). Counter
//                per_address: the time per address.
//
//   logstats_bench FILE [--benchmark_repetitions=3]
//
// FILE is a plain nginx log, e.g. one made by `taskgrid demo
// --generate-only --codecs plain` (bench/logstats_e2e.sh keeps them under
// /tmp/taskgrid-logstats-bench/plain/logs/).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

void BM_AddLines(benchmark::State& state) {
  // AddLines may read 64 bytes past the text: a padded copy.
  std::string padded = *g_text;
  padded.append(64, '\n');
  const std::string_view text(padded.data(), g_text->size());
  // reserve:1 sizes the tables as the previous iteration's (as a map task
  // does from the previous task's).
  HourStats::TableSizes sizes;
  for (auto _ : state) {
    HourStats stats;
    if (state.range(0) != 0) stats.Reserve(sizes);
    stats.AddLines(text);
    sizes = stats.table_sizes();
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

void BM_SerializeOnly(benchmark::State& state) {
  const Merged m = Aggregate();
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string result = taskgrid::SerializeResult(m);
    bytes = result.size();
    benchmark::DoNotOptimize(result.data());
  }
  state.counters["result_bytes"] = static_cast<double>(bytes);
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

void BM_Ipv6(benchmark::State& state) {
  std::vector<std::string_view> addrs;
  ForEachLine(*g_text, [&](std::string_view line) {
    const std::string_view addr = line.substr(0, line.find(' '));
    if (addr.find(':') != std::string_view::npos) addrs.push_back(addr);
  });
  std::string packed;
  if (state.range(1) != 0) {
    for (const std::string_view a : addrs) packed += a;
    size_t at = 0;
    for (std::string_view& a : addrs) {
      a = std::string_view(packed.data() + at, a.size());
      at += a.size();
    }
  }
  // What logstats.cc's own ParseIpv6 does.
  const auto inet_pton6 = [](std::string_view s, uint64_t* hi, uint64_t* lo) {
    char buf[64];
    if (s.size() < 2 || s.size() >= sizeof(buf) ||
        s.find(':') == std::string_view::npos) {
      return false;
    }
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    unsigned char bin[16];
    if (inet_pton(AF_INET6, buf, bin) != 1) return false;
    *hi = *lo = 0;
    for (int i = 0; i < 8; ++i) *hi = (*hi << 8) | bin[i];
    for (int i = 8; i < 16; ++i) *lo = (*lo << 8) | bin[i];
    return true;
  };
  const auto fast = [](std::string_view s, uint64_t* hi, uint64_t* lo) {
    return taskgrid::logstats_internal::ParseIpv6(s, hi, lo);
  };
  // Both must read the file alike, or the comparison means nothing.
  size_t valid = 0;
  for (const std::string_view a : addrs) {
    uint64_t h1 = 0, l1 = 0, h2 = 0, l2 = 0;
    const bool ok = inet_pton6(a, &h1, &l1);
    if (ok != fast(a, &h2, &l2) || h1 != h2 || l1 != l2) {
      state.SkipWithError("ParseIpv6 and inet_pton disagree");
      return;
    }
    valid += ok ? 1 : 0;
  }
  const auto run = [&](const auto& parse) {
    for (auto _ : state) {
      uint64_t sum = 0;
      for (const std::string_view a : addrs) {
        uint64_t hi = 0, lo = 0;
        if (parse(a, &hi, &lo)) sum += hi ^ lo;
      }
      benchmark::DoNotOptimize(sum);
    }
  };
  if (state.range(0) == 0) {
    state.SetLabel("inet_pton");
    run(inet_pton6);
  } else {
    state.SetLabel("ParseIpv6");
    run(fast);
  }
  state.counters["addresses"] = static_cast<double>(addrs.size());
  state.counters["valid"] = static_cast<double>(valid);
  state.counters["per_address"] =
      benchmark::Counter(static_cast<double>(addrs.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

BENCHMARK(BM_SplitLines)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FastParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddLine)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddLines)
    ->ArgName("reserve")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Serialize)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SerializeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Merge)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Ipv6)
    ->ArgNames({"impl", "packed"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

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
