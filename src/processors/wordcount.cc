#include "processors/wordcount.h"

#include <sys/mman.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status_macros.h"
#include "io/split.h"
#include "processors/part_file.h"
#include "shuffle/partitioner.h"
#include "worker/shuffle_task.h"

namespace taskgrid {
namespace {

inline bool IsSpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Calls fn(word) for each word of `line`.
template <typename Fn>
void ForEachWord(std::string_view line, Fn&& fn) {
  const char* p = line.data();
  const char* const end = p + line.size();
  while (p < end) {
    while (p < end && IsSpace(static_cast<unsigned char>(*p))) ++p;
    const char* start = p;
    while (p < end && !IsSpace(static_cast<unsigned char>(*p))) ++p;
    if (p > start) fn(std::string_view(start, p - start));
  }
}

// One output line: "word<TAB>count\n".
void WriteCount(std::FILE* out, std::string_view word, int64_t n) {
  std::fwrite(word.data(), 1, word.size(), out);
  std::fprintf(out, "\t%lld\n", static_cast<long long>(n));
}

int64_t ParseCount(std::string_view v) {
  int64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

// n zeroed T (trivial types), in anonymous memory advised for transparent
// huge pages: a hash table read at random costs a TLB miss per lookup on 4
// KiB pages once it outgrows the TLB's reach (a few MB).
template <typename T>
class HugePageArray {
 public:
  HugePageArray() = default;
  explicit HugePageArray(size_t n) : size_(n) {
    constexpr size_t kHuge = 2 << 20;
    bytes_ = n * sizeof(T) + kHuge;
    map_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      fallback_ = std::make_unique<T[]>(n);  // zeroed
      data_ = fallback_.get();
      return;
    }
    const uintptr_t a = (reinterpret_cast<uintptr_t>(map_) + kHuge - 1) &
                        ~static_cast<uintptr_t>(kHuge - 1);
    data_ = reinterpret_cast<T*>(a);
    madvise(data_, n * sizeof(T), MADV_HUGEPAGE);  // advice only
  }
  ~HugePageArray() {
    if (map_ != nullptr) munmap(map_, bytes_);
  }
  HugePageArray(HugePageArray&& o) noexcept { *this = std::move(o); }
  HugePageArray& operator=(HugePageArray&& o) noexcept {
    if (this != &o) {
      if (map_ != nullptr) munmap(map_, bytes_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      map_ = std::exchange(o.map_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      fallback_ = std::move(o.fallback_);
    }
    return *this;
  }

  T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;
  size_t bytes_ = 0;
  std::unique_ptr<T[]> fallback_;
};

// Word -> count, open addressing with linear probing over a power-of-two
// table: no node per word and no division per lookup (std::unordered_map
// spent most of the map task in both). A word of up to 16 bytes is kept in
// its slot, zero-padded, and compared as two 8-byte integers; a longer one
// lives in an arena and its slot holds its hash and offset. The map task
// spent 60% of its time waiting on two cache misses per word (the slot,
// then the word's bytes in the arena): a short word now takes one, and
// that one overlaps the words after it (Add).
class WordTable {
 public:
  WordTable() { Reset(kInitialBits); }

  // Counts `w`. A word of up to 16 bytes is counted kAhead words later,
  // its slot prefetched now, so that the cache miss overlaps the words in
  // between; `w` need not outlive the call.
  void Add(std::string_view w) {
    const Key k = MakeKey(w);
    if (w.size() > kInline) {
      Insert(k, w);  // rare: its bytes are needed now
      return;
    }
    __builtin_prefetch(&slots_[k.hash >> shift_]);
    if (pending_ == kAhead) {
      Insert(ring_[next_], {});
    } else {
      ++pending_;
    }
    ring_[next_] = k;
    next_ = (next_ + 1) % kAhead;
  }

  size_t bytes() const { return arena_.size() + slots_.size() * sizeof(Slot); }

  // Calls fn(word, count) for every word; the view is valid during the call
  // only.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    Drain();
    char buf[kInline];
    for (const Slot& s : slots_) {
      if (s.len == 0) continue;
      if (s.len <= kInline) {
        std::memcpy(buf, &s.a, 8);
        std::memcpy(buf + 8, &s.b, 8);
        fn(std::string_view(buf, s.len), s.count);
      } else {
        fn(std::string_view(arena_.data() + s.b, s.len), s.count);
      }
    }
  }

  void Clear() {
    Reset(kInitialBits);
    arena_.clear();
    pending_ = next_ = 0;
  }

 private:
  static constexpr size_t kInline = 16;
  static constexpr int kInitialBits = 12;
  // Words between a slot's prefetch and its use.
  static constexpr size_t kAhead = 16;

  // A word as the table looks it up.
  struct Key {
    uint64_t a = 0;  // short word: bytes 0-7, zero-padded; long: its hash
    uint64_t b = 0;  // short word: bytes 8-15, zero-padded
    uint64_t hash = 0;
    uint32_t len = 0;
  };
  struct Slot {
    uint64_t a;
    uint64_t b;    // short word: bytes 8-15; long word: arena offset
    uint32_t len;  // 0: empty
    int64_t count;
  };

  static Key MakeKey(std::string_view w) {
    Key k;
    const char* p = w.data();
    const size_t n = w.size();
    k.len = static_cast<uint32_t>(n);
    if (n <= kInline) {
      // Loads that stay inside the word.
      if (n >= 8) {
        k.a = Load8(p);
        // Bytes 8..n-1: the last 8 bytes, shifted down past the overlap.
        k.b = n == 8 ? 0 : Load8(p + n - 8) >> (8 * (16 - n));
      } else if (n >= 4) {
        k.a = Load4(p) | (Load4(p + n - 4) << (8 * (n - 4)));
      } else {
        const auto byte = [p](size_t i) {
          return static_cast<uint64_t>(static_cast<unsigned char>(p[i]));
        };
        k.a = byte(0) | (byte(n / 2) << (8 * (n / 2))) |
              (byte(n - 1) << (8 * (n - 1)));
      }
    } else {
      k.a = std::hash<std::string_view>{}(w);
    }
    k.hash = Mix(k.a, k.b, n);
    return k;
  }

  static uint64_t Load8(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t Load4(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  // One multiply-mix; the slot is the top bits of the result (the best
  // mixed).
  static uint64_t Mix(uint64_t a, uint64_t b, size_t n) {
    const __uint128_t m = static_cast<__uint128_t>(a ^ 0x9e3779b97f4a7c15ULL) *
                          (b ^ n ^ 0xbf58476d1ce4e5b9ULL);
    return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
  }

  // `word`: the bytes of a word longer than kInline (else unused).
  void Insert(const Key& k, std::string_view word) {
    const bool inline_word = k.len <= kInline;
    size_t i = k.hash >> shift_;
    while (true) {
      Slot& s = slots_[i];
      if (s.len == 0) break;
      if (s.len == k.len && s.a == k.a &&
          (inline_word
               ? s.b == k.b
               : std::memcmp(arena_.data() + s.b, word.data(), k.len) == 0)) {
        ++s.count;
        return;
      }
      i = (i + 1) & mask_;
    }
    Slot& s = slots_[i];
    s.a = k.a;
    s.len = k.len;
    s.count = 1;
    if (inline_word) {
      s.b = k.b;
    } else {
      s.b = arena_.size();
      arena_.append(word);
    }
    if (++size_ * 2 > slots_.size()) Grow();
  }

  // Counts the words Add deferred.
  void Drain() {
    for (; pending_ > 0; --pending_) {
      Insert(ring_[(next_ + kAhead - pending_) % kAhead], {});
    }
  }

  void Reset(int bits) {
    slots_ = HugePageArray<Slot>(size_t{1} << bits);
    shift_ = 64 - bits;
    mask_ = slots_.size() - 1;
    size_ = 0;
  }

  void Grow() {
    HugePageArray<Slot> old = std::move(slots_);
    const size_t size = size_;
    Reset(64 - shift_ + 1);
    size_ = size;
    for (const Slot& s : old) {
      if (s.len == 0) continue;
      const uint64_t b = s.len <= kInline ? s.b : 0;
      size_t i = Mix(s.a, b, s.len) >> shift_;
      while (slots_[i].len != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  HugePageArray<Slot> slots_;
  int shift_ = 64;
  size_t mask_ = 0;
  std::string arena_;
  size_t size_ = 0;
  Key ring_[kAhead];  // deferred words; the oldest at next_ when full
  size_t pending_ = 0;
  size_t next_ = 0;
};

// Lines up to this long are read whole; a longer one fails the task.
constexpr size_t kMaxLine = 64u << 20;
// Words sampled per input file for the split points, and files sampled.
constexpr size_t kSampleWordsPerFile = 20'000;
constexpr size_t kSampleFiles = 64;

class WordCount : public ShuffleProcessor {
 public:
  // Also runs as a mapreduce (counts travel through the master as results,
  // Reduce merges them into part-00000): the same job for comparison.
  ModelSet models() const override {
    return ModelBit(Model::kShuffle) | ModelBit(Model::kMapReduce);
  }

  Status Process(TaskContext& ctx) override {
    ASSIGN_OR_RETURN(const FileSplit split, FileSplit::Parse(ctx.payload()));
    ASSIGN_OR_RETURN(auto reader, SplitLineReader::Open(split, kMaxLine));
    ShuffleTaskContext* sc = AsShuffleContext(ctx);
    const size_t flush_at =
        sc != nullptr
            ? std::max<size_t>(1 << 20, sc->definition().memory_bytes / 4)
            : SIZE_MAX;  // mapreduce: one result per task
    WordTable counts;
    auto flush = [&] {
      char buf[24];
      if (sc == nullptr) {  // mapreduce: "word<TAB>count\n" lines
        std::string result;
        counts.ForEach([&](std::string_view word, int64_t n) {
          auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
          result.append(word).append(1, '\t').append(buf, end).append(1, '\n');
        });
        ctx.SetResult(std::move(result));
        return;
      }
      counts.ForEach([&](std::string_view word, int64_t n) {
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
        ctx.Emit(word, std::string_view(buf, end - buf));
      });
      counts.Clear();
    };
    std::string_view line;
    for (uint64_t n = 1;; ++n) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&line));
      if (!more) break;
      if (reader->truncated()) {
        return FailedPreconditionError(split.path + ": a line at byte " +
                                       std::to_string(reader->line_offset()) +
                                       " is longer than " +
                                       std::to_string(kMaxLine) + " bytes");
      }
      if ((n & 0xfff) == 0 && ctx.cancelled()) {
        return CancelledError("wordcount: cancelled");
      }
      ForEachWord(line, [&](std::string_view w) { counts.Add(w); });
      if (counts.bytes() >= flush_at) flush();
    }
    flush();
    return OkStatus();
  }

  Status Reduce(JobContext& ctx) override {
    std::map<std::string, int64_t, std::less<>> total;
    RETURN_IF_ERROR(ctx.ForEachResult([&](const TaskResult& r) {
      std::string_view rest = r.result;
      while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
        const size_t tab = line.rfind('\t');
        if (tab == std::string_view::npos) continue;
        const std::string_view word = line.substr(0, tab);
        auto it = total.find(word);
        if (it == total.end()) it = total.emplace(std::string(word), 0).first;
        it->second += ParseCount(line.substr(tab + 1));
      }
    }));
    PartFile out;
    RETURN_IF_ERROR(out.Open(ctx.OutputPath(PartName(0))));
    for (const auto& [word, n] : total) WriteCount(out.get(), word, n);
    return out.Close();
  }

  bool has_combiner() const override { return true; }
  std::string Combine(std::string_view,
                      const std::vector<std::string_view>& values) override {
    int64_t sum = 0;
    for (std::string_view v : values) sum += ParseCount(v);
    return std::to_string(sum);
  }

  StatusOr<std::vector<std::string>> ChooseSplitPoints(
      const std::vector<std::string>& files, const Params&,
      int partitions) override {
    if (partitions <= 1 || files.empty()) return std::vector<std::string>{};
    std::vector<std::string> sample;
    for (const std::string& file : SampleFiles(files, kSampleFiles)) {
      size_t taken = 0;
      ReadLinesWhile(file, [&](std::string_view line) {
        ForEachWord(line, [&](std::string_view w) {
          if (taken++ < kSampleWordsPerFile) sample.emplace_back(w);
        });
        return taken < kSampleWordsPerFile;
      });
    }
    return shuffle::ChooseSplitPoints(std::move(sample), partitions);
  }

  Status BeginPartition(TaskContext& ctx) override {
    return out_.Open(
        ctx.OutputPath(PartName(AsShuffleContext(ctx)->partition())));
  }

  Status ReduceKey(TaskContext&, std::string_view word,
                   ValueReader& values) override {
    int64_t sum = 0;
    std::string_view v;
    while (values.Next(&v)) sum += ParseCount(v);
    WriteCount(out_.get(), word, sum);
    return OkStatus();
  }

  Status EndPartition(TaskContext&) override { return out_.Close(); }

 private:
  PartFile out_;
};

}  // namespace

std::unique_ptr<Processor> NewWordCountProcessor() {
  return std::make_unique<WordCount>();
}

}  // namespace taskgrid
