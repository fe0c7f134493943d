#include "worker/shuffle_task.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/status_macros.h"
#include "io/output_committer.h"
#include "shuffle/map_result.h"
#include "shuffle/merge.h"

namespace taskgrid {

namespace {

// A remote segment: a ReadStream from another worker's data service.
class StreamSegment final : public shuffle::SegmentSource {
 public:
  StreamSegment(std::unique_ptr<ReadStream> in, std::string name)
      : in_(std::move(in)), name_(std::move(name)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    return in_->Read(buf, n);
  }
  const std::string& name() const override { return name_; }

 private:
  std::unique_ptr<ReadStream> in_;
  const std::string name_;
};

void RemoveDir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The values of one key, as the public ValueReader.
class Values final : public ValueReader {
 public:
  explicit Values(shuffle::ValueIterator& it) : it_(it) {}
  bool Next(std::string_view* value) override { return it_.Next(value); }

 private:
  shuffle::ValueIterator& it_;
};

}  // namespace

bool IsLostInput(const Status& s) {
  switch (s.code()) {
    case StatusCode::kCancelled:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:  // this worker's disk or memory
    case StatusCode::kUnauthenticated:    // a misconfigured cluster
      return false;
    default:
      return !s.ok();
  }
}

std::string ShuffleJobDir(const std::string& data_dir, int64_t job_id) {
  return data_dir + "/shuffle/job-" + std::to_string(job_id);
}

namespace {
constexpr std::string_view kJobPrefix = "job-";
constexpr std::string_view kDetachedPrefix = ".drop-job-";
}  // namespace

std::vector<int64_t> ShuffleJobsOnDisk(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::vector<int64_t> jobs;
  std::error_code ec;
  fs::directory_iterator it(data_dir + "/shuffle", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kDetachedPrefix, 0) == 0) {
      RemoveShuffleTree(it->path().string());
      continue;
    }
    std::error_code type_ec;
    if (name.rfind(kJobPrefix, 0) != 0 || !it->is_directory(type_ec) ||
        it->is_symlink(type_ec)) {
      continue;
    }
    int64_t job = 0;
    const char* first = name.data() + kJobPrefix.size();
    const char* last = name.data() + name.size();
    const auto [end, err] = std::from_chars(first, last, job);
    if (err == std::errc() && end == last && first != last && job > 0) {
      jobs.push_back(job);
    }
  }
  std::sort(jobs.begin(), jobs.end());
  return jobs;
}

std::string DetachShuffleJob(const std::string& data_dir, int64_t job_id) {
  static std::atomic<uint64_t> seq{0};
  const std::string dir = ShuffleJobDir(data_dir, job_id);
  const std::string aside =
      data_dir + "/shuffle/" + std::string(kDetachedPrefix) +
      std::to_string(job_id) + "-" + std::to_string(getpid()) + "-" +
      std::to_string(seq.fetch_add(1));
  std::error_code ec;
  std::filesystem::rename(dir, aside, ec);
  return ec ? std::string() : aside;
}

void RemoveShuffleTree(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);  // never follows symlinks
}

ShuffleTaskContext* AsShuffleContext(TaskContext& ctx) {
  auto* sc = dynamic_cast<ShuffleTaskContext*>(&ctx);
  return sc != nullptr && sc->is_shuffle() ? sc : nullptr;
}

StatusOr<std::shared_ptr<const shuffle::Partitioner>> MakeJobPartitioner(
    const JobDefinition& def) {
  if (!def.range_splits.empty()) {
    if (static_cast<int>(def.range_splits.size()) != def.partitions - 1) {
      return InvalidArgumentError(
          "job " + std::to_string(def.job_id) + ": " +
          std::to_string(def.range_splits.size()) + " split points for " +
          std::to_string(def.partitions) + " partitions");
    }
    ASSIGN_OR_RETURN(auto p, shuffle::MakeRangePartitioner(def.range_splits));
    return std::shared_ptr<const shuffle::Partitioner>(std::move(p));
  }
  ASSIGN_OR_RETURN(auto p, shuffle::MakeHashPartitioner(def.partitions));
  return std::shared_ptr<const shuffle::Partitioner>(std::move(p));
}

ShuffleAttempt::ShuffleAttempt(
    const TaskAssignment& a, const JobDefinition& def, const ShuffleEnv& env,
    std::shared_ptr<const shuffle::Partitioner> partitioner,
    ShuffleProcessor* processor)
    : a_(a),
      def_(def),
      env_(env),
      partitioner_(std::move(partitioner)),
      processor_(processor),
      reduce_(a.stage == "reduce") {
  if (reduce_) {
    std::from_chars(a.payload.data(), a.payload.data() + a.payload.size(),
                    partition_);
  }
}

ShuffleAttempt::~ShuffleAttempt() {
  writer_.reset();
  RemoveDir(scratch_);
}

StatusOr<std::string> ShuffleAttempt::MapOutputDir() {
  if (reduce_) {
    return FailedPreconditionError("a reduce task has no map output");
  }
  if (dir_.empty()) {
    const std::string dir = ShuffleJobDir(env_.data_dir, a_.ref.job_id) +
                            "/map-" + std::to_string(a_.ref.task_id) + "-a" +
                            std::to_string(a_.ref.attempt);
    RemoveDir(dir);  // a crashed earlier run of this very attempt
    RETURN_IF_ERROR(MakeDirectories(dir));
    dir_ = dir;
  }
  return dir_;
}

Status ShuffleAttempt::EnsureWriter() {
  if (writer_ != nullptr) return OkStatus();
  ASSIGN_OR_RETURN(std::string dir, MapOutputDir());
  shuffle::MapOutputOptions o;
  o.dir = dir;
  o.file_stem = "out";
  o.partitioner = partitioner_.get();
  o.memory_budget_bytes = static_cast<size_t>(def_.memory_bytes);
  if (processor_ != nullptr && processor_->has_combiner()) {
    o.combiner = [p = processor_](std::string_view key,
                                  const std::vector<std::string_view>& values) {
      return p->Combine(key, values);
    };
  }
  ASSIGN_OR_RETURN(writer_, shuffle::MapOutputWriter::Create(std::move(o)));
  return OkStatus();
}

Status ShuffleAttempt::Emit(std::string_view key, std::string_view value) {
  RETURN_IF_ERROR(EnsureWriter());
  return writer_->Emit(key, value);
}

void ShuffleAttempt::SetMapOutput(shuffle::MapOutputInfo info) {
  output_ = std::move(info);
}

StatusOr<std::string> ShuffleAttempt::FinishMap() {
  shuffle::MapOutputRef ref;
  ref.worker = env_.worker_id;
  ref.address = env_.data_address;
  if (output_) {
    ref.info = *std::move(output_);
  } else {
    RETURN_IF_ERROR(EnsureWriter());  // nothing emitted: empty partitions
    ASSIGN_OR_RETURN(ref.info, writer_->Finish());
    writer_.reset();
  }
  if (static_cast<int>(ref.info.partitions.size()) !=
      partitioner_->partitions()) {
    return InternalError(
        "map output has " + std::to_string(ref.info.partitions.size()) +
        " partitions, the job " + std::to_string(partitioner_->partitions()));
  }
  return shuffle::EncodeMapResult(ref);
}

void ShuffleAttempt::Discard() {
  writer_.reset();
  RemoveDir(dir_);
  dir_.clear();
}

StatusOr<std::unique_ptr<shuffle::SegmentSource>> ShuffleAttempt::OpenInput(
    const ShuffleInput& in) {
  const std::string what =
      "map task " + std::to_string(in.map_task_id) + "'s output";
  if (in.address.empty() || in.address == env_.data_address) {
    auto src = shuffle::OpenLocalSegment(in.path, in.offset, in.length);
    if (!src.ok()) return src.status().WithPrefix(what);
    return src;
  }
  const std::string url = "tg://" + in.address + in.path;
  auto stream = OpenFileRange(url, in.offset, static_cast<int64_t>(in.length));
  if (!stream.ok()) return stream.status().WithPrefix(what);
  return std::unique_ptr<shuffle::SegmentSource>(
      std::make_unique<StreamSegment>(
          *std::move(stream), url + "@" + std::to_string(in.offset) + "+" +
                                  std::to_string(in.length)));
}

StatusOr<std::string> ShuffleAttempt::ScratchDir() {
  if (scratch_.empty()) {
    const std::string dir = ShuffleJobDir(env_.data_dir, a_.ref.job_id) +
                            "/reduce-" + std::to_string(a_.ref.task_id) + "-a" +
                            std::to_string(a_.ref.attempt);
    RemoveDir(dir);
    RETURN_IF_ERROR(MakeDirectories(dir));
    scratch_ = dir;
  }
  return scratch_;
}

// ---------------------------------------------------------------------------
// ShuffleProcessor's defaults (declared in include/taskgrid/processor.h).

Status ShuffleProcessor::BeginPartition(TaskContext&) { return OkStatus(); }
Status ShuffleProcessor::EndPartition(TaskContext&) { return OkStatus(); }

std::string ShuffleProcessor::Combine(
    std::string_view, const std::vector<std::string_view>& values) {
  return values.empty() ? std::string() : std::string(values.back());
}

StatusOr<std::vector<std::string>> ShuffleProcessor::ChooseSplitPoints(
    const std::vector<std::string>&, const Params&, int) {
  return std::vector<std::string>{};
}

Status ShuffleProcessor::ReducePartition(TaskContext& ctx) {
  ShuffleTaskContext* sc = AsShuffleContext(ctx);
  if (sc == nullptr) {
    return FailedPreconditionError("not a shuffle reduce task");
  }
  ASSIGN_OR_RETURN(std::string scratch, sc->ScratchDir());
  shuffle::ReduceMerger merger({.tmp_dir = scratch,
                                .memory_budget_bytes = static_cast<size_t>(
                                    sc->definition().memory_bytes)});
  for (const ShuffleInput& in : sc->inputs()) {
    if (ctx.cancelled()) return CancelledError("cancelled");
    auto src = sc->OpenInput(in);
    Status s = src.ok() ? merger.Add(*std::move(src), in.records, in.crc)
                        : src.status();
    if (!s.ok()) {
      if (IsLostInput(s)) sc->ReportLostInput(in.map_task_id);
      return s;
    }
  }
  RETURN_IF_ERROR(BeginPartition(ctx));
  RETURN_IF_ERROR(merger.Run(
      [&](std::string_view key, shuffle::ValueIterator& it) -> Status {
        if (ctx.cancelled()) return CancelledError("cancelled");
        Values values(it);
        RETURN_IF_ERROR(ReduceKey(ctx, key, values));
        return it.status();
      }));
  return EndPartition(ctx);
}

}  // namespace taskgrid
