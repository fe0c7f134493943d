// decode_bench: how fast each decoder turns a compressed nginx log back into
// text, in MB/s of decoded output (1 MB = 10^6 bytes).
//
//   generated ~100 MB access log ──► gzip -6 ─┬─► isa-l stream   (ours)
//                                             ├─► zlib stream    (ours)
//                                             └─► libdeflate, whole member
//                                                 in memory (reference only)
//                               ──► igzip ────► same three
//                               ──► zstd -3 ──► zstd stream
//                               ──► lz4 ──────► lz4 stream
//                               ──► (plain) ──► file read
//
// The fixtures are made once with the command-line tools into
// $TASKGRID_BENCH_DIR (default /tmp/taskgrid_decode_bench) and reused.
// Files are read from the page cache (each benchmark reads its file once
// before timing), so the figures are decoder speed, not disk speed.
//
//   decode_bench [--benchmark_filter=Gzip] [--benchmark_repetitions=3]
//
// Ends with a summary: one line per benchmark, MB/s of decoded output.
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "io/decoders_internal.h"
#include "io/line_reader.h"
#include "io/read_stream.h"

namespace {

using taskgrid::Codec;
using taskgrid::ReadStream;
using taskgrid::StatusOr;
using taskgrid::io_internal::GzipImpl;

constexpr size_t kTextBytes = 100'000'000;

std::string BenchDir() {
  const char* d = std::getenv("TASKGRID_BENCH_DIR");
  return d != nullptr && *d != '\0' ? d : "/tmp/taskgrid_decode_bench";
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t Next(uint64_t* s) {  // splitmix64
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// An nginx "combined" log: realistic repetition (paths, agents, dates) and
// realistic noise (addresses, ids, sizes), so compressors see ~6-10x.
void WriteAccessLog(const std::string& path) {
  static const char* const kPaths[] = {"/",
                                       "/index.html",
                                       "/api/v1/items",
                                       "/api/v1/users/login",
                                       "/static/js/app.8f3a1c.js",
                                       "/static/css/site.css",
                                       "/favicon.ico",
                                       "/api/v1/search",
                                       "/healthz",
                                       "/wp-login.php"};
  static const char* const kAgents[] = {
      "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "curl/7.88.1", "Go-http-client/1.1", "kube-probe/1.27"};
  static const char* const kMethods[] = {"GET", "GET", "GET", "POST", "HEAD"};
  static const int kCodes[] = {200, 200, 200, 200, 200, 301, 304, 404};
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  uint64_t rng = 42;
  size_t written = 0;
  uint64_t t = 0;
  char line[512];
  while (written < kTextBytes) {
    const uint64_t r = Next(&rng);
    t += r % 3;
    const int n = std::snprintf(
        line, sizeof(line),
        "%u.%u.%u.%u - - [12/Mar/2024:%02u:%02u:%02u +0000] \"%s %s?id=%u "
        "HTTP/1.1\" %d %u \"-\" \"%s\" rt=%u.%03u\n",
        static_cast<unsigned>(10 + r % 200),
        static_cast<unsigned>(r >> 8 & 255),
        static_cast<unsigned>(r >> 16 & 255),
        static_cast<unsigned>(r >> 24 & 255),
        static_cast<unsigned>(t / 3600 % 24),
        static_cast<unsigned>(t / 60 % 60), static_cast<unsigned>(t % 60),
        kMethods[(r >> 32) % 5], kPaths[(r >> 35) % 10],
        static_cast<unsigned>((r >> 40) % 100000), kCodes[(r >> 57) % 8],
        static_cast<unsigned>(Next(&rng) % 60000), kAgents[(r >> 50) % 5],
        static_cast<unsigned>(r % 3), static_cast<unsigned>((r >> 12) % 1000));
    std::fwrite(line, 1, static_cast<size_t>(n), f);
    written += static_cast<size_t>(n);
  }
  std::fclose(f);
}

void Run(const std::string& cmd) {
  std::fprintf(stderr, "decode_bench: %s\n", cmd.c_str());
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "decode_bench: failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

struct Fixtures {
  std::string text, gzip6, igzip, zstd, lz4;
  size_t text_bytes = 0;
};

const Fixtures& GetFixtures() {
  static const Fixtures* f = [] {
    auto* x = new Fixtures;
    const std::string dir = BenchDir();
    ::mkdir(dir.c_str(), 0755);
    x->text = dir + "/access.log";
    x->gzip6 = dir + "/access.log.gzip6.gz";
    x->igzip = dir + "/access.log.igzip.gz";
    x->zstd = dir + "/access.log.zst";
    x->lz4 = dir + "/access.log.lz4";
    if (!Exists(x->text)) WriteAccessLog(x->text);
    if (!Exists(x->gzip6)) Run("gzip -6 -c " + x->text + " > " + x->gzip6);
    if (!Exists(x->igzip)) Run("igzip -c " + x->text + " > " + x->igzip);
    if (!Exists(x->zstd)) Run("zstd -q -3 -c " + x->text + " > " + x->zstd);
    if (!Exists(x->lz4)) Run("lz4 -q -c " + x->text + " > " + x->lz4);
    struct stat st;
    ::stat(x->text.c_str(), &st);
    x->text_bytes = static_cast<size_t>(st.st_size);
    return x;
  }();
  return *f;
}

void SetRate(benchmark::State& state, size_t bytes_per_iter,
             const std::string& compressed_path) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_per_iter));
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(bytes_per_iter) / 1e6,
                         benchmark::Counter::kIsIterationInvariantRate);
  struct stat st;
  if (!compressed_path.empty() && ::stat(compressed_path.c_str(), &st) == 0) {
    state.counters["ratio"] =
        static_cast<double>(bytes_per_iter) / static_cast<double>(st.st_size);
  }
}

// Streams `s` to its end through a 1 MiB buffer, as LineReader does.
size_t Drain(ReadStream* s, benchmark::State& state) {
  static char buf[1 << 20];
  size_t total = 0;
  for (;;) {
    StatusOr<size_t> n = s->Read(buf, sizeof(buf));
    if (!n.ok()) {
      state.SkipWithError(n.status().message().c_str());
      return total;
    }
    if (*n == 0) return total;
    total += *n;
  }
}

void Warm(const std::string& path) { benchmark::DoNotOptimize(Slurp(path)); }

void BM_PlainRead(benchmark::State& state) {
  const Fixtures& f = GetFixtures();
  Warm(f.text);
  for (auto _ : state) {
    auto s = taskgrid::OpenFileStream(f.text);
    benchmark::DoNotOptimize(Drain(s->get(), state));
  }
  SetRate(state, f.text_bytes, "");
}

void GzipStream(benchmark::State& state, const std::string& path,
                GzipImpl impl) {
  const Fixtures& f = GetFixtures();
  Warm(path);
  for (auto _ : state) {
    auto raw = taskgrid::OpenFileStream(path);
    auto s = taskgrid::io_internal::WrapGzip(impl, std::move(raw).value());
    if (Drain(s.get(), state) != f.text_bytes) {
      state.SkipWithError("wrong decoded size");
      break;
    }
  }
  SetRate(state, f.text_bytes, path);
}

// libdeflate: whole members from memory into a preallocated buffer; no file
// reads inside the loop. A reference point, not something we can stream.
void GzipLibdeflate(benchmark::State& state, const std::string& path) {
  const Fixtures& f = GetFixtures();
  const std::string in = Slurp(path);
  std::string out(f.text_bytes, '\0');
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  for (auto _ : state) {
    size_t in_pos = 0, out_pos = 0;
    while (in_pos < in.size()) {
      size_t used = 0, made = 0;
      const libdeflate_result r = libdeflate_gzip_decompress_ex(
          d, in.data() + in_pos, in.size() - in_pos, out.data() + out_pos,
          out.size() - out_pos, &used, &made);
      if (r != LIBDEFLATE_SUCCESS) {
        state.SkipWithError("libdeflate failed");
        break;
      }
      in_pos += used;
      out_pos += made;
    }
    benchmark::DoNotOptimize(out.data());
  }
  libdeflate_free_decompressor(d);
  SetRate(state, f.text_bytes, path);
}

void BM_Gzip6_Isal(benchmark::State& s) {
  GzipStream(s, GetFixtures().gzip6, GzipImpl::kIsal);
}
void BM_Gzip6_Zlib(benchmark::State& s) {
  GzipStream(s, GetFixtures().gzip6, GzipImpl::kZlib);
}
void BM_Gzip6_LibdeflateWholeBuffer(benchmark::State& s) {
  GzipLibdeflate(s, GetFixtures().gzip6);
}
void BM_Igzip_Isal(benchmark::State& s) {
  GzipStream(s, GetFixtures().igzip, GzipImpl::kIsal);
}
void BM_Igzip_Zlib(benchmark::State& s) {
  GzipStream(s, GetFixtures().igzip, GzipImpl::kZlib);
}
void BM_Igzip_LibdeflateWholeBuffer(benchmark::State& s) {
  GzipLibdeflate(s, GetFixtures().igzip);
}

void CodecStream(benchmark::State& state, const std::string& path) {
  const Fixtures& f = GetFixtures();
  Warm(path);
  for (auto _ : state) {
    auto s = taskgrid::OpenDecoded(path);
    if (!s.ok() || Drain(s->get(), state) != f.text_bytes) {
      state.SkipWithError("decode failed");
      break;
    }
  }
  SetRate(state, f.text_bytes, path);
}
void BM_Zstd(benchmark::State& s) { CodecStream(s, GetFixtures().zstd); }
void BM_Lz4(benchmark::State& s) { CodecStream(s, GetFixtures().lz4); }

// End to end as a job sees it: lines out of the default gzip decoder.
void BM_Gzip6_Lines(benchmark::State& state) {
  const Fixtures& f = GetFixtures();
  Warm(f.gzip6);
  uint64_t lines = 0;
  for (auto _ : state) {
    auto s = taskgrid::OpenDecoded(f.gzip6);
    taskgrid::LineReader r(s->get());
    std::string_view line;
    lines = 0;
    for (;;) {
      StatusOr<bool> more = r.Next(&line);
      if (!more.ok()) {
        state.SkipWithError(more.status().message().c_str());
        break;
      }
      if (!*more) break;
      ++lines;
    }
  }
  state.counters["lines"] = static_cast<double>(lines);
  SetRate(state, f.text_bytes, f.gzip6);
}

// CPU time, not wall time: the decoders are single-threaded and CPU-bound,
// and the build machine is shared, so wall time mostly measures the others.
#define DECODE_BENCH(fn) \
  BENCHMARK(fn)->Unit(benchmark::kMillisecond)->MinTime(2.0)
DECODE_BENCH(BM_PlainRead);
DECODE_BENCH(BM_Gzip6_Isal);
DECODE_BENCH(BM_Gzip6_Zlib);
DECODE_BENCH(BM_Gzip6_LibdeflateWholeBuffer);
DECODE_BENCH(BM_Igzip_Isal);
DECODE_BENCH(BM_Igzip_Zlib);
DECODE_BENCH(BM_Igzip_LibdeflateWholeBuffer);
DECODE_BENCH(BM_Zstd);
DECODE_BENCH(BM_Lz4);
DECODE_BENCH(BM_Gzip6_Lines);

// The console table, then a summary in plain MB/s (the table prints rates
// with SI suffixes, "1.2k/s"). With --benchmark_repetitions, the median.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const auto it = run.counters.find("MB/s");
      if (it == run.counters.end()) continue;
      const bool median =
          run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = run.run_name.str();
      auto found = std::find_if(rows_.begin(), rows_.end(),
                                [&](const Row& r) { return r.name == name; });
      if (found == rows_.end()) {
        rows_.push_back(Row{name, it->second.value});
      } else if (median) {
        found->mb_per_s = it->second.value;
      }
    }
  }

  void PrintSummary() const {
    std::printf("\nDecoded output, MB/s (10^6 bytes per CPU second):\n");
    for (const Row& r : rows_) {
      std::printf("  %-45s %8.0f\n", r.name.c_str(), r.mb_per_s);
    }
  }

 private:
  struct Row {
    std::string name;
    double mb_per_s;
  };
  std::vector<Row> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  reporter.PrintSummary();
  return 0;
}
