// The shuffle model end to end in one process (master, in-process
// transport, several workers, a real SQLite store, map outputs on disk):
// a randomized job against an oracle across partition counts and memory
// budgets, and the built-in wordcount against a count made here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/local_runner.h"
#include "core/status_macros.h"
#include "io/codec_test_util.h"
#include "master/submit.h"
#include "store/sqlite/sqlite_state_store.h"
#include "worker/shuffle_task.h"

namespace taskgrid {
namespace {

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Map task "SEED,N" emits N records: a key out of params.keys random ones
// (binary, empty and NUL-bearing keys among them) with a decimal value.
struct Record {
  std::string key;
  int64_t value;
};
std::vector<Record> Records(uint64_t seed, int n, int keys) {
  std::mt19937_64 rng(seed);
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    const int k = static_cast<int>(rng() % keys);
    std::string key = k == 0   ? std::string()
                      : k == 1 ? std::string("\0\xff", 2)
                               : "k" + std::to_string(k * 7919 % 1000);
    out.push_back({std::move(key), static_cast<int64_t>(rng() % 1000)});
  }
  return out;
}

// Reduce writes "HEXKEY<TAB>SUM<TAB>VALUES" per key, and fails if keys do
// not arrive in strictly increasing byte order.
class SumByKey : public ShuffleProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    const auto comma = ctx.payload().find(',');
    const uint64_t seed = std::stoull(ctx.payload().substr(0, comma));
    const int n = std::stoi(ctx.payload().substr(comma + 1));
    for (const Record& r : Records(seed, n, ctx.params().IntOr("keys", 50))) {
      ctx.Emit(r.key, std::to_string(r.value) + ",1");
    }
    return OkStatus();
  }
  bool has_combiner() const override { return combine_; }
  std::string Combine(std::string_view,
                      const std::vector<std::string_view>& values) override {
    int64_t sum = 0, count = 0;
    for (std::string_view v : values) {
      const auto comma = v.find(',');
      sum += std::stoll(std::string(v.substr(0, comma)));
      count += std::stoll(std::string(v.substr(comma + 1)));
    }
    return std::to_string(sum) + "," + std::to_string(count);
  }
  Status BeginPartition(TaskContext& ctx) override {
    combine_ = ctx.params().BoolOr("combine", false);
    ASSIGN_OR_RETURN(const std::string path,
                     ctx.OutputPath("part-" + ctx.payload()));
    out_.open(path);
    last_.reset();
    return OkStatus();
  }
  Status ReduceKey(TaskContext&, std::string_view key,
                   ValueReader& values) override {
    if (last_ && key <= *last_) {
      return InternalError("keys out of order: " + Hex(key) + " after " +
                           Hex(*last_));
    }
    last_ = std::string(key);
    const std::string combined = [&] {
      std::vector<std::string> kept;
      std::string_view v;
      while (values.Next(&v)) kept.emplace_back(v);
      std::vector<std::string_view> views(kept.begin(), kept.end());
      return views.size() == 1 ? kept[0] : Combine(key, views);
    }();
    out_ << Hex(key) << "\t" << combined << "\n";
    return OkStatus();
  }
  Status EndPartition(TaskContext&) override {
    out_.close();
    return out_ ? OkStatus() : InternalError("write failed");
  }

 private:
  bool combine_ = false;
  std::ofstream out_;
  std::optional<std::string> last_;
};

// A map task of another model: no shuffle context, and Emit() is refused.
class NotShuffle : public MapProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    if (AsShuffleContext(ctx) != nullptr) {
      return InternalError("a map task has a shuffle context");
    }
    if (ctx.payload() == "emit") ctx.Emit("k", "v");  // throws
    return OkStatus();
  }
};

const bool kRegistered = [] {
  ProcessorRegistry::Global()
      .Register("tg_test_shuffle_sum",
                [] { return std::make_unique<SumByKey>(); })
      .IgnoreError();
  ProcessorRegistry::Global()
      .Register("tg_test_not_shuffle",
                [] { return std::make_unique<NotShuffle>(); })
      .IgnoreError();
  return true;
}();

class ShuffleEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kRegistered);
    dir_ = std::filesystem::temp_directory_path() /
           ("tg-shuffle-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = OpenSqliteStateStore((dir_ / "state.db").string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Submits and runs the job; returns the concatenated part files.
  std::string RunJob(const std::string& yaml, int workers,
                     const std::filesystem::path& out) {
    auto spec = ParseJobSpec(yaml, "test.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return "";
    std::vector<std::string> ids;
    for (int i = 0; i < workers; ++i) {
      ids.push_back("local-" + std::to_string(i));
    }
    auto sub = SubmitJob(store_.get(), *spec, ids, false, Clock::Real());
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return "";
    LocalRunnerOptions o;
    o.workers = workers;
    o.data_dir = (dir_ / "data").string();
    LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), o);
    auto outcome = runner.Run(sub->job_id);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return "";
    EXPECT_EQ(outcome->state, JobState::kSucceeded) << outcome->error;
    EXPECT_FALSE(std::filesystem::exists(
        dir_ / "data" / "shuffle" / ("job-" + std::to_string(sub->job_id))))
        << "map outputs are removed with the job";
    std::string all;
    for (int p = 0;; ++p) {
      char name[32];
      std::snprintf(name, sizeof name, "part-%05d", p);
      std::filesystem::path f = out / name;
      if (!std::filesystem::exists(f)) {
        f = out / ("part-" + std::to_string(p));
        if (!std::filesystem::exists(f)) break;
      }
      std::ifstream in(f);
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(ShuffleEngineTest, RandomizedAgainstAnOracle) {
  int round = 0;
  for (int partitions : {1, 2, 5, 17}) {
    for (const char* memory : {"2KiB", "64MiB"}) {
      for (bool combine : {false, true}) {
        SCOPED_TRACE(std::to_string(partitions) + " partitions, " + memory +
                     (combine ? ", combiner" : ""));
        const int maps = 3 + round % 4;
        const int keys = 5 + 37 * (round % 3);
        std::map<std::string, std::pair<int64_t, int64_t>> want;
        std::string list;
        for (int m = 0; m < maps; ++m) {
          const uint64_t seed = 1000 * round + m;
          const int n = 50 + 400 * m;
          for (const Record& r : Records(seed, n, keys)) {
            want[r.key].first += r.value;
            ++want[r.key].second;
          }
          list += (m ? ", \"" : "\"") + std::to_string(seed) + "," +
                  std::to_string(n) + "\"";
        }
        const auto out = dir_ / ("out-" + std::to_string(round));
        const std::string got = RunJob(
            "name: sum\nprocessor: tg_test_shuffle_sum\nmodel: shuffle\n"
            "input: {list: [" +
                list + "]}\npartitions: " + std::to_string(partitions) +
                "\nmemory: " + memory +
                "\nparams: {keys: " + std::to_string(keys) +
                ", combine: " + (combine ? "true" : "false") +
                "}\n"
                "output: " +
                out.string() + "\n",
            1 + round % 3, out);
        std::map<std::string, std::string> got_lines;
        std::istringstream in(got);
        std::string line;
        while (std::getline(in, line)) {
          const auto tab = line.find('\t');
          ASSERT_NE(tab, std::string::npos) << line;
          EXPECT_TRUE(
              got_lines.emplace(line.substr(0, tab), line.substr(tab + 1))
                  .second)
              << "key " << line.substr(0, tab) << " in two partitions";
        }
        ASSERT_EQ(got_lines.size(), want.size());
        for (const auto& [key, sc] : want) {
          EXPECT_EQ(got_lines[Hex(key)],
                    std::to_string(sc.first) + "," + std::to_string(sc.second))
              << Hex(key);
        }
        ++round;
      }
    }
  }
}

TEST_F(ShuffleEngineTest, WordCountIsExactAndGloballySorted) {
  const auto in = dir_ / "in";
  std::filesystem::create_directories(in);
  std::mt19937 rng(7);
  std::map<std::string, int64_t> want;
  const std::vector<std::pair<std::string, Codec>> files = {
      {"a.txt", Codec::kNone},
      {"b.txt.gz", Codec::kGzip},
      {"c.txt.zst", Codec::kZstd},
      {"d.txt", Codec::kNone},
      {"empty.txt", Codec::kNone}};
  for (const auto& [name, codec] : files) {
    std::string text;
    if (name != "empty.txt") {
      for (int l = 0; l < 3000; ++l) {
        const int words = static_cast<int>(rng() % 9);
        for (int w = 0; w < words; ++w) {
          std::string word;
          const int len = 1 + static_cast<int>(rng() % 5);
          for (int c = 0; c < len; ++c) {
            word += static_cast<char>("abcdefgh\x80\xff"[rng() % 10]);
          }
          ++want[word];
          text += word;
          text += " \t\r\v\f"[rng() % 5];
        }
        text += '\n';
      }
    }
    std::ofstream(in / name, std::ios::binary)
        << io_test::Compress(codec, text);
  }
  std::string expect;
  for (const auto& [w, n] : want) expect += w + "\t" + std::to_string(n) + "\n";
  const auto out = dir_ / "out";
  const std::string got = RunJob(
      "name: wc\nprocessor: wordcount\nmodel: shuffle\n"
      "input: {files: [\"" +
          (in / "*").string() +
          "\"]}\n"
          "partitions: 4\nmemory: 16KiB\noutput: " +
          out.string() + "\n",
      2, out);
  EXPECT_EQ(got, expect);  // globally sorted across part-00000..3
  EXPECT_TRUE(std::filesystem::exists(out / "part-00003"));
  EXPECT_TRUE(std::filesystem::exists(out / "_SUCCESS"));
  // The same job as a mapreduce (counts through the master): same output.
  const auto mr = dir_ / "out-mr";
  EXPECT_EQ(
      RunJob("name: wc\nprocessor: wordcount\nmodel: mapreduce\n"
             "input: {files: [\"" +
                 (in / "*").string() + "\"]}\noutput: " + mr.string() + "\n",
             2, mr),
      expect);
}

// sort format u64: three files cut at a byte size that is not a multiple
// of 8, a memory budget far below the data (external runs): the parts
// concatenated are the inputs' values, sorted — same count and checksum.
TEST_F(ShuffleEngineTest, SortU64IsExactWithExternalRuns) {
  const auto in = dir_ / "in";
  std::filesystem::create_directories(in);
  std::mt19937_64 rng(11);
  std::vector<uint64_t> all;
  for (int f = 0; f < 3; ++f) {
    std::vector<uint64_t> v(40'000 + 1'000 * f);
    for (uint64_t& x : v) x = f == 2 ? rng() % 1000 : rng();  // duplicates
    all.insert(all.end(), v.begin(), v.end());
    std::ofstream(in / ("u" + std::to_string(f) + ".bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(v.data()), v.size() * 8);
  }
  std::ofstream(in / "empty.bin", std::ios::binary);
  std::sort(all.begin(), all.end());
  const auto out = dir_ / "out";
  const std::string got = RunJob(
      "name: sort\nprocessor: sort\nmodel: shuffle\n"
      "input: {files: [\"" +
          (in / "*.bin").string() +
          "\"], split: \"bytes:100001\"}\n"
          "partitions: 3\nmemory: 64KiB\nparams: {format: u64}\n"
          "output: " +
          out.string() + "\n",
      2, out);
  ASSERT_EQ(got.size(), all.size() * 8);
  EXPECT_EQ(std::memcmp(got.data(), all.data(), got.size()), 0);
  EXPECT_TRUE(std::filesystem::exists(out / "part-00002"));
}

// sort format lines: duplicates kept, byte order (bytes >= 0x80 last).
TEST_F(ShuffleEngineTest, SortLinesKeepsDuplicates) {
  const auto in = dir_ / "in";
  std::filesystem::create_directories(in);
  std::mt19937 rng(12);
  std::vector<std::string> lines;
  std::string text;
  for (int i = 0; i < 20'000; ++i) {
    std::string l = std::string("ab\xc3\xa9z").substr(0, rng() % 5) +
                    std::to_string(rng() % 300);
    text += l + "\n";
    lines.push_back(std::move(l));
  }
  std::ofstream(in / "l.txt", std::ios::binary) << text;
  std::sort(lines.begin(), lines.end());
  std::string want;
  for (const std::string& l : lines) want += l + "\n";
  const auto out = dir_ / "out";
  EXPECT_EQ(RunJob("name: sort\nprocessor: sort\nmodel: shuffle\n"
                   "input: {files: [\"" +
                       (in / "l.txt").string() +
                       "\"], split: \"bytes:30000\"}\n"
                       "partitions: 4\nmemory: 16KiB\n"
                       "params: {format: lines}\noutput: " +
                       out.string() + "\n",
                   2, out),
            want);
}

TEST_F(ShuffleEngineTest, OtherModelsHaveNoShuffle) {
  auto spec = ParseJobSpec(
      "name: m\nprocessor: tg_test_not_shuffle\nmodel: map\n"
      "input: {list: [a, emit]}\nretry: {max_attempts: 1}\n",
      "m.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto sub = SubmitJob(store_.get(), *spec, {"local-0"}, false, Clock::Real());
  ASSERT_TRUE(sub.ok()) << sub.status();
  LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), {});
  auto out = runner.Run(sub->job_id);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->counts[static_cast<size_t>(TaskState::kSucceeded)], 1);
  auto emit = store_->GetTask(sub->job_id, 2);
  ASSERT_TRUE(emit.ok());
  EXPECT_EQ(emit->state, TaskState::kDead);
  EXPECT_NE(emit->error.find("Emit() is only allowed"), std::string::npos)
      << emit->error;
}

TEST(ShuffleSpecTest, FieldsParseAndRoundTrip) {
  auto spec = ParseJobSpec(
      "name: s\nprocessor: wordcount\nmodel: shuffle\n"
      "input: {list: [a]}\npartitions: 3\nmemory: 1MiB\n"
      "range_splits: [\"00ff\", \"6b\"]\n",
      "s.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->partitions, 3);
  EXPECT_EQ(spec->memory_bytes, 1 << 20);
  EXPECT_EQ(spec->range_splits,
            (std::vector<std::string>{std::string("\0\xff", 2), "k"}));
  auto again = ParseJobSpec(JobSpecToYaml(*spec), "again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->range_splits, spec->range_splits);
  EXPECT_EQ(again->partitions, 3);

  for (const char* bad :
       {"partitions: 0", "partitions: x", "range_splits: [\"6b\"]",
        "range_splits: [\"zz\", \"6b\"]", "range_splits: [\"6b\", \"00\"]",
        "memory: lots"}) {
    auto s = ParseJobSpec(
        std::string("name: s\nprocessor: wordcount\n"
                    "model: shuffle\ninput: {list: [a]}\n"
                    "partitions: 3\n") +
            (std::string(bad).rfind("partitions", 0) == 0 ? "" : bad),
        "bad.yaml");
    if (std::string(bad).rfind("partitions", 0) == 0) {
      s = ParseJobSpec(std::string("name: s\nprocessor: wordcount\n"
                                   "model: shuffle\ninput: {list: [a]}\n") +
                           bad,
                       "bad.yaml");
    }
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto not_shuffle = ParseJobSpec(
      "name: s\nprocessor: noop\nmodel: map\ninput: {list: [a]}\n"
      "partitions: 3\n",
      "m.yaml");
  EXPECT_EQ(not_shuffle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_shuffle.status().message().find("only applies to model"),
            std::string::npos);
}

}  // namespace
}  // namespace taskgrid
