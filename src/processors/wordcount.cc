#include "processors/wordcount.h"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status_macros.h"
#include "io/split.h"
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

int64_t ParseCount(std::string_view v) {
  int64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>{}(s);
  }
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
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>
        counts;
    size_t bytes = 0;
    auto flush = [&] {
      char buf[24];
      if (sc == nullptr) {  // mapreduce: "word<TAB>count\n" lines
        std::string result;
        for (const auto& [word, n] : counts) {
          auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
          result.append(word).append(1, '\t').append(buf, end).append(1, '\n');
        }
        ctx.SetResult(std::move(result));
        return;
      }
      for (const auto& [word, n] : counts) {
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
        ctx.Emit(word, std::string_view(buf, end - buf));
      }
      counts.clear();
      bytes = 0;
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
      ForEachWord(line, [&](std::string_view w) {
        auto it = counts.find(w);
        if (it != counts.end()) {
          ++it->second;
          return;
        }
        counts.emplace(std::string(w), 1);
        bytes += w.size() + 64;
      });
      if (bytes >= flush_at) flush();
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
    ASSIGN_OR_RETURN(const std::string path, ctx.OutputPath("part-00000"));
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) {
      return InternalError("cannot create " + path + ": " +
                           std::strerror(errno));
    }
    for (const auto& [word, n] : total) {
      std::fwrite(word.data(), 1, word.size(), out);
      std::fprintf(out, "\t%lld\n", static_cast<long long>(n));
    }
    const bool ok = std::ferror(out) == 0;
    if (std::fclose(out) != 0 || !ok) {
      return InternalError("cannot write " + path + ": " +
                           std::strerror(errno));
    }
    return OkStatus();
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
    const size_t step = std::max<size_t>(1, files.size() / kSampleFiles);
    for (size_t i = 0; i < files.size(); i += step) {
      auto reader = SplitLineReader::Open(FileSplit{files[i], 0, -1});
      if (!reader.ok()) continue;  // the map task will report it
      std::string_view line;
      size_t taken = 0;
      while (taken < kSampleWordsPerFile) {
        auto more = (*reader)->Next(&line);
        if (!more.ok() || !*more) break;
        ForEachWord(line, [&](std::string_view w) {
          if (taken++ < kSampleWordsPerFile) sample.emplace_back(w);
        });
      }
    }
    return shuffle::ChooseSplitPoints(std::move(sample), partitions);
  }

  Status BeginPartition(TaskContext& ctx) override {
    char name[32];
    std::snprintf(name, sizeof name, "part-%05d",
                  AsShuffleContext(ctx)->partition());
    ASSIGN_OR_RETURN(path_, ctx.OutputPath(name));
    out_ = std::fopen(path_.c_str(), "wb");
    if (out_ == nullptr) {
      return InternalError("cannot create " + path_ + ": " +
                           std::strerror(errno));
    }
    std::setvbuf(out_, nullptr, _IOFBF, 1 << 20);
    return OkStatus();
  }

  Status ReduceKey(TaskContext&, std::string_view word,
                   ValueReader& values) override {
    int64_t sum = 0;
    std::string_view v;
    while (values.Next(&v)) sum += ParseCount(v);
    std::fwrite(word.data(), 1, word.size(), out_);
    std::fprintf(out_, "\t%lld\n", static_cast<long long>(sum));
    return OkStatus();
  }

  Status EndPartition(TaskContext&) override {
    const bool failed = std::ferror(out_) != 0;
    const bool closed = std::fclose(out_) == 0;
    out_ = nullptr;
    if (failed || !closed) {
      return Status(errno == ENOSPC ? StatusCode::kResourceExhausted
                                    : StatusCode::kInternal,
                    "cannot write " + path_ + ": " + std::strerror(errno));
    }
    return OkStatus();
  }

  ~WordCount() override {
    if (out_ != nullptr) std::fclose(out_);
  }

 private:
  std::string path_;
  std::FILE* out_ = nullptr;
};

}  // namespace

std::unique_ptr<Processor> NewWordCountProcessor() {
  return std::make_unique<WordCount>();
}

}  // namespace taskgrid
