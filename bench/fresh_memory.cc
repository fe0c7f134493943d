// fresh_memory: what it costs to touch memory the process has not touched
// before, on this machine. On the reference VM the host backs guest memory
// on first touch, and the guest hands free memory back to it (virtio free
// page reporting), so a page that was free for a while costs far more the
// first time than a page freed and taken again at once: the reason the
// logstats reduce merges each group as soon as it can and frees what it
// held (docs/architecture.md, docs/benchmarks.md).
//
//   fresh_memory [MIB] [SETTLE_SECONDS]
//
// For 4 KiB pages and for transparent huge pages (MADV_HUGEPAGE): maps MIB
// MiB (default 32), writes one byte per 4 KiB page (the first touch), then
// writes every byte (memory already backed); then unmaps, maps again and
// touches again (pages the kernel just got back); the first pass runs after
// SETTLE_SECONDS (default 3) of sleep so that freed memory has been
// reported to the host. Prints ms and MB/s per pass.
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace {

double NowSeconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void Report(const char* what, size_t bytes, double seconds) {
  std::printf("  %-34s %9.2f ms %9.0f MB/s\n", what, seconds * 1e3,
              static_cast<double>(bytes) / seconds / 1e6);
}

// Maps `bytes`, touches each 4 KiB page once, then writes all of it.
bool Pass(size_t bytes, bool huge, const char* label) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    return false;
  }
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // a hint
  char* const c = static_cast<char*>(p);
  const double t0 = NowSeconds();
  for (size_t i = 0; i < bytes; i += 4096) c[i] = 1;
  const double t1 = NowSeconds();
  std::memset(c, 2, bytes);
  const double t2 = NowSeconds();
  char line[64];
  std::snprintf(line, sizeof(line), "%s: first touch", label);
  Report(line, bytes, t1 - t0);
  std::snprintf(line, sizeof(line), "%s: written again", label);
  Report(line, bytes, t2 - t1);
  munmap(p, bytes);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const long mib = argc > 1 ? std::atol(argv[1]) : 32;
  const long settle = argc > 2 ? std::atol(argv[2]) : 3;
  if (mib <= 0 || settle < 0 || argc > 3) {
    std::fprintf(stderr, "usage: %s [MIB > 0] [SETTLE_SECONDS >= 0]\n",
                 argv[0]);
    return 2;
  }
  const size_t bytes = static_cast<size_t>(mib) << 20;
  for (const bool huge : {false, true}) {
    std::printf("%s pages, %ld MiB:\n", huge ? "huge (MADV_HUGEPAGE)" : "4 KiB",
                mib);
    sleep(static_cast<unsigned>(settle));
    if (!Pass(bytes, huge, "after a pause") ||
        !Pass(bytes, huge, "just freed, again")) {
      return 1;
    }
  }
  return 0;
}
