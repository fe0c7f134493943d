// u64_check INPUT -- PART...: whether the concatenation of the PART files
// is INPUT's little-endian 64-bit values sorted ascending (same count, sum
// and xor; every value >= the previous). Exit 0 if so; prints the counts.
// For bench/sort_e2e.sh.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

struct Stats {
  uint64_t n = 0, sum = 0, x = 0;
  bool sorted = true;
  uint64_t prev = 0;
};

bool Add(const char* path, Stats* s) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) {
    std::perror(path);
    return false;
  }
  std::vector<uint64_t> buf(1 << 20);
  size_t got;
  while ((got = std::fread(buf.data(), 8, buf.size(), f)) > 0) {
    for (size_t i = 0; i < got; ++i) {
      const uint64_t v = buf[i];
      if (s->n > 0 && v < s->prev) s->sorted = false;
      s->prev = v;
      s->sum += v;
      s->x ^= v;
      ++s->n;
    }
  }
  std::fclose(f);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || std::strcmp(argv[2], "--") != 0) {
    std::fprintf(stderr, "usage: %s INPUT -- PART...\n", argv[0]);
    return 2;
  }
  Stats in, out;
  if (!Add(argv[1], &in)) return 2;
  for (int i = 3; i < argc; ++i) {
    if (!Add(argv[i], &out)) return 2;
  }
  const bool ok =
      in.n == out.n && in.sum == out.sum && in.x == out.x && out.sorted;
  std::printf("check: %s (%llu values in, %llu out, %s)\n",
              ok ? "ok" : "MISMATCH", static_cast<unsigned long long>(in.n),
              static_cast<unsigned long long>(out.n),
              out.sorted ? "ascending" : "NOT ascending");
  return ok ? 0 : 1;
}
