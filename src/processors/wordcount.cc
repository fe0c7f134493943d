#include "processors/wordcount.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
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

// Word -> count, open addressing with linear probing over a power-of-two
// table, the words' bytes in one arena: no node per word and no division
// per lookup (std::unordered_map spent most of the map task in both).
class WordTable {
 public:
  WordTable() { slots_.resize(1 << 12); }

  void Add(std::string_view w) {
    const uint64_t h = std::hash<std::string_view>{}(w) | 1;  // 0 = empty
    size_t i = h & (slots_.size() - 1);
    while (true) {
      Slot& s = slots_[i];
      if (s.hash == 0) break;
      if (s.hash == h && s.len == w.size() &&
          Same(arena_.data() + s.off, w.data(), w.size())) {
        ++s.count;
        return;
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] = Slot{h, arena_.size(), w.size(), 1};
    arena_.append(w);
    if (++size_ * 2 > slots_.size()) Grow();
  }

  size_t bytes() const { return arena_.size() + slots_.size() * sizeof(Slot); }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.hash != 0)
        fn(std::string_view(arena_.data() + s.off, s.len), s.count);
    }
  }
  void Clear() {
    slots_.assign(1 << 12, Slot{});
    arena_.clear();
    size_ = 0;
  }

 private:
  // Words are short: a byte loop beats a call to memcmp.
  static bool Same(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  struct Slot {
    uint64_t hash = 0;
    size_t off = 0;
    size_t len = 0;
    int64_t count = 0;
  };
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.hash == 0) continue;
      size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].hash != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
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
