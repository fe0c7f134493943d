// shuffle_bench: the u64 fast path of the shuffle against the baseline a
// distributed sort of N little-endian u64 has to beat — one std::sort on one
// thread — all on the same data, in one run.
//
//   N random u64 ──┬─► std::sort, 1 thread                       (baseline)
//                  ├─► RadixSortU64, 1 thread (in place; LSD with 8, 11, 16
//                  │   bit digits and a full scratch; in place with
//                  │   scratches of 2^14..2^20 values)
//                  └─► sample ─► ChooseU64SplitPoints(2)
//                        ─► CountU64Partitions + ScatterU64, 2 threads
//                           (each thread half the input, into disjoint
//                           slices of the 2 range buffers)
//                        ─► RadixSortU64InPlace of each range, 2 threads
//                           (as a reduce task sorts)
//
// The 2-range path is what two map tasks and two reduce tasks of a
// distributed sort compute, minus the network: it must beat the baseline on
// a 2-core machine. Every result is checked against std::sort's.
//
//   shuffle_bench [N [REPS]]  (N default 100000000: 800 MB of data, needs
//                              about 4 x that in memory; each variant runs
//                              REPS times, default 1, and the fastest run
//                              is reported — the machine is shared)
//
// A plain main, not Google Benchmark: each variant of a 100M sort runs for
// seconds, once.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "shuffle/u64_sort.h"

namespace {

using Clock = std::chrono::steady_clock;
using taskgrid::shuffle::ChooseU64SplitPoints;
using taskgrid::shuffle::CountU64Partitions;
using taskgrid::shuffle::kRadixSortScratchValues;
using taskgrid::shuffle::RadixSortU64;
using taskgrid::shuffle::RadixSortU64InPlace;
using taskgrid::shuffle::RadixSortU64WithDigits;
using taskgrid::shuffle::ScatterU64;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uninitialized storage (page faults happen where the bench first writes),
// huge pages where the kernel allows, for every variant alike.
taskgrid::shuffle::U64Buffer Alloc(size_t n) {
  return taskgrid::shuffle::U64Buffer(n);
}

void Check(const char* what, const uint64_t* got, const uint64_t* want,
           size_t n) {
  if (std::memcmp(got, want, n * sizeof(uint64_t)) != 0) {
    std::fprintf(stderr, "%s: result differs from std::sort\n", what);
    std::exit(1);
  }
}

void Report(const char* what, double s, double baseline, size_t n) {
  std::printf("%-46s %8.3f s  %7.1f M/s  %5.2fx\n", what, s, n / s / 1e6,
              baseline / s);
}

// The 2-range distributed sort of data[0, n) into out[0, n) (the ranges
// back to back, so out ends up sorted), with scratch[0, n) for the radix
// passes: seconds, and the phase end times in phases[].
double DistributedSort(const uint64_t* data, size_t n, uint64_t* out,
                       uint64_t* scratch, size_t* range0, double phases[4]) {
  const auto t = Clock::now();
  std::vector<uint64_t> sample;
  const size_t step = std::max<size_t>(n / 100000, 1);
  for (size_t i = 0; i < n; i += step) sample.push_back(data[i]);
  auto splits = ChooseU64SplitPoints(sample, 2);
  if (!splits.ok()) std::exit(1);
  phases[0] = Seconds(t);
  const size_t half = n / 2;
  const uint64_t* in[2] = {data, data + half};
  const size_t len[2] = {half, n - half};
  std::vector<size_t> counts[2];
  {
    std::thread th(
        [&] { counts[1] = CountU64Partitions(in[1], len[1], *splits); });
    counts[0] = CountU64Partitions(in[0], len[0], *splits);
    th.join();
  }
  const size_t r = splits->size() + 1;
  // Range p starts after ranges 0..p-1; thread 0 writes the start of each
  // range, thread 1 the rest.
  std::vector<size_t> start(r + 1, 0);
  for (size_t p = 0; p < r; ++p) {
    start[p + 1] = start[p] + counts[0][p] + counts[1][p];
  }
  std::vector<uint64_t*> cur[2] = {std::vector<uint64_t*>(r),
                                   std::vector<uint64_t*>(r)};
  for (size_t p = 0; p < r; ++p) {
    cur[0][p] = out + start[p];
    cur[1][p] = out + start[p] + counts[0][p];
  }
  *range0 = start[1];
  phases[1] = Seconds(t);
  {
    std::thread th([&] { ScatterU64(in[1], len[1], *splits, cur[1].data()); });
    ScatterU64(in[0], len[0], *splits, cur[0].data());
    th.join();
  }
  phases[2] = Seconds(t);
  {
    std::vector<std::thread> sorters;
    for (size_t p = 1; p < r; ++p) {
      sorters.emplace_back([&, p] {
        RadixSortU64InPlace(out + start[p], start[p + 1] - start[p],
                            scratch + p * kRadixSortScratchValues,
                            kRadixSortScratchValues);
      });
    }
    RadixSortU64InPlace(out, start[1], scratch, kRadixSortScratchValues);
    for (auto& th : sorters) th.join();
  }
  phases[3] = Seconds(t);
  return phases[3];
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000000;
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  std::printf("N = %zu u64 (%.0f MB), hardware threads: %u, best of %d\n", n,
              n * 8 / 1e6, std::thread::hardware_concurrency(), reps);
  auto data = Alloc(n);
  uint64_t seed = 42;
  for (size_t i = 0; i < n; ++i) data[i] = SplitMix64(&seed);
  auto want = Alloc(n);
  auto v = Alloc(n);
  auto scratch = Alloc(n);
  std::memset(scratch.data(), 0, n * 8);
  constexpr int kInPlaceLogs[4] = {14, 16, 18, 20};
  double best[10];
  std::fill(best, best + 10, 1e30);
  double phases[4] = {0, 0, 0, 0}, best_phases[4] = {0, 0, 0, 0};
  size_t range0 = 0;
  auto out = Alloc(n);
  // Interleaved, so that load from others sharing the machine spreads over
  // every variant alike.
  for (int rep = 0; rep < reps; ++rep) {
    // Baseline: std::sort, one thread.
    std::memcpy(want.data(), data.data(), n * 8);
    auto t = Clock::now();
    std::sort(want.data(), want.data() + n);
    best[0] = std::min(best[0], Seconds(t));

    // RadixSortU64 as called: its scratch allocation (and first touch)
    // included.
    std::memcpy(v.data(), data.data(), n * 8);
    t = Clock::now();
    RadixSortU64(v.data(), n);
    best[1] = std::min(best[1], Seconds(t));
    Check("RadixSortU64", v.data(), want.data(), n);

    // Digit widths, with a scratch buffer already touched.
    const int widths[3] = {8, 11, 16};
    for (int i = 0; i < 3; ++i) {
      std::memcpy(v.data(), data.data(), n * 8);
      t = Clock::now();
      RadixSortU64WithDigits(v.data(), n, scratch.data(), widths[i]);
      best[2 + i] = std::min(best[2 + i], Seconds(t));
      Check("RadixSortU64WithDigits", v.data(), want.data(), n);
    }

    // In place, with scratches of several sizes.
    for (int i = 0; i < 4; ++i) {
      std::memcpy(v.data(), data.data(), n * 8);
      t = Clock::now();
      const size_t sn = std::min(n, size_t{1} << kInPlaceLogs[i]);
      RadixSortU64InPlace(v.data(), n, scratch.data(), sn);
      best[6 + i] = std::min(best[6 + i], Seconds(t));
      Check("RadixSortU64InPlace", v.data(), want.data(), n);
    }

    // Scatter into 2 ranges + radix sort each, on 2 threads (output and
    // scratch buffers allocated once, as a worker's buffer pool would).
    const double s = DistributedSort(data.data(), n, out.data(), scratch.data(),
                                     &range0, phases);
    if (s < best[5]) {
      best[5] = s;
      std::copy(phases, phases + 4, best_phases);
    }
    Check("scatter + radix", out.data(), want.data(), n);
  }
  const double base = best[0];
  Report("std::sort, 1 thread", base, base, n);
  Report("RadixSortU64, 1 thread (allocates scratch)", best[1], base, n);
  for (int i = 0; i < 4; ++i) {
    char what[64];
    std::snprintf(what, sizeof what, "  in place, scratch 2^%d preallocated",
                  kInPlaceLogs[i]);
    Report(what, best[6 + i], base, n);
  }
  Report("  radix  8-bit digits, scratch preallocated", best[2], base, n);
  Report("  radix 11-bit digits, scratch preallocated", best[3], base, n);
  Report("  radix 16-bit digits, scratch preallocated", best[4], base, n);
  Report("ScatterU64 2 ranges + RadixSortU64InPlace, 2 threads", best[5], base,
         n);
  std::printf(
      "  sample+splits %.3f s, count %.3f s, scatter %.3f s, sort %.3f s"
      " (ranges %zu / %zu)\n",
      best_phases[0], best_phases[1] - best_phases[0],
      best_phases[2] - best_phases[1], best_phases[3] - best_phases[2], range0,
      n - range0);
  return 0;
}
