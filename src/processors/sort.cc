#include "processors/sort.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status_macros.h"
#include "io/read_stream.h"
#include "io/split.h"
#include "processors/part_file.h"
#include "shuffle/partitioner.h"
#include "shuffle/record_io.h"
#include "shuffle/u64_sort.h"
#include "worker/shuffle_task.h"

namespace taskgrid {
namespace {

constexpr size_t kChunkValues = 1 << 20;  // 8 MiB read buffer
constexpr size_t kSamplePerFile = 4096;   // values (lines) per input file
constexpr size_t kSampleFiles = 64;

// Split points travel in the spec as byte strings: u64 as 8-byte big-endian
// (so byte order is numeric order).
std::string BigEndian(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}
uint64_t FromBigEndian(std::string_view s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

bool IsU64(const Params& p) { return p.StringOr("format", "lines") == "u64"; }

// The u64 records a task owns: those starting in [offset, offset + length),
// both rounded up to 8 bytes.
struct U64Range {
  std::string path;
  uint64_t begin = 0;
  int64_t length = -1;  // bytes, -1 = to the end
};
StatusOr<U64Range> RangeOf(const std::string& payload) {
  ASSIGN_OR_RETURN(const FileSplit split, FileSplit::Parse(payload));
  U64Range r;
  r.path = split.path;
  r.begin = (split.offset + 7) / 8 * 8;
  if (!split.whole()) {
    const uint64_t end = (split.offset + split.length + 7) / 8 * 8;
    r.length = static_cast<int64_t>(end - std::min(end, r.begin));
  }
  return r;
}

// Reads whole u64 values from `in`; DataLoss naming the file if it ends
// inside a value.
class U64Reader {
 public:
  explicit U64Reader(std::unique_ptr<ReadStream> in) : in_(std::move(in)) {}
  StatusOr<size_t> Read(uint64_t* buf, size_t max) {
    char* out = reinterpret_cast<char*>(buf);
    size_t have = 0;
    const size_t want = max * 8;
    while (have < want) {
      ASSIGN_OR_RETURN(size_t n, in_->Read(out + have, want - have));
      if (n == 0) break;
      have += n;
    }
    if (have % 8 != 0) {
      return DataLossError(in_->path() +
                           ": ends inside a 64-bit value at "
                           "byte " +
                           std::to_string(in_->file_offset()));
    }
    return have / 8;
  }

 private:
  std::unique_ptr<ReadStream> in_;
};

StatusOr<std::unique_ptr<ReadStream>> OpenU64(const U64Range& r) {
  if (CodecForPath(r.path) != Codec::kNone) {
    if (r.begin != 0 || r.length >= 0) {
      return InvalidArgumentError(r.path +
                                  ": a compressed file cannot be split");
    }
    return OpenDecoded(r.path);
  }
  return OpenFileRange(r.path, r.begin, r.length);
}

Status WriteAll(int fd, const char* p, size_t n, uint64_t offset,
                const std::string& path) {
  while (n > 0) {
    const ssize_t w = pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return shuffle::internal::ErrnoError("cannot write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return OkStatus();
}

class SortProcessor : public ShuffleProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    ShuffleTaskContext* sc = AsShuffleContext(ctx);
    if (sc == nullptr) {
      return FailedPreconditionError("sort runs under model 'shuffle'");
    }
    return IsU64(ctx.params()) ? MapU64(ctx, *sc) : MapLines(ctx);
  }

  // lines: the line is the key; every copy is a value.
  Status ReduceKey(TaskContext&, std::string_view line,
                   ValueReader& values) override {
    std::string_view v;
    while (values.Next(&v)) {
      std::fwrite(line.data(), 1, line.size(), out_.get());
      std::fputc('\n', out_.get());
    }
    return OkStatus();
  }
  Status BeginPartition(TaskContext& ctx) override { return Open(ctx); }
  Status EndPartition(TaskContext&) override { return Close(); }

  Status ReducePartition(TaskContext& ctx) override {
    if (!IsU64(ctx.params())) return ShuffleProcessor::ReducePartition(ctx);
    ShuffleTaskContext* sc = AsShuffleContext(ctx);
    if (sc == nullptr) return FailedPreconditionError("not a reduce task");
    map_buf_ = shuffle::U64Buffer();
    ASSIGN_OR_RETURN(std::string scratch, sc->ScratchDir());
    RETURN_IF_ERROR(bulk_out_.Open(ctx.OutputPath(PartName(sc->partition()))));
    // The partition's segments one after the other, as one source.
    const std::vector<ShuffleInput>& inputs = sc->inputs();
    size_t next = 0;
    std::unique_ptr<shuffle::SegmentSource> src;
    const ShuffleInput* current = nullptr;
    uint64_t got = 0;
    uint32_t crc = 0;  // of the current segment's bytes so far
    auto source = [&](uint64_t* buf, size_t max) -> StatusOr<size_t> {
      while (true) {
        if (src == nullptr) {
          if (next == inputs.size()) return size_t{0};
          current = &inputs[next++];
          got = 0;
          crc = 0;
          auto opened = sc->OpenInput(*current);
          if (!opened.ok()) {
            if (IsLostInput(opened.status())) {
              sc->ReportLostInput(current->map_task_id);
            }
            return opened.status();
          }
          src = *std::move(opened);
        }
        char* out = reinterpret_cast<char*>(buf);
        size_t have = 0;
        while (have < max * 8) {
          auto n = src->Read(out + have, max * 8 - have);
          if (!n.ok()) {
            if (IsLostInput(n.status())) {
              sc->ReportLostInput(current->map_task_id);
            }
            return n.status();
          }
          if (*n == 0) break;
          have += *n;
        }
        got += have;
        crc = shuffle::internal::Crc32(crc, out, have);
        if (have == 0) {
          // The segment as the map task wrote it, or it is made again.
          if (got != current->length) {
            sc->ReportLostInput(current->map_task_id);
            return DataLossError(src->name() + ": " + std::to_string(got) +
                                 " bytes, the map task wrote " +
                                 std::to_string(current->length));
          }
          if (crc != current->crc) {
            sc->ReportLostInput(current->map_task_id);
            return DataLossError(src->name() + ": segment checksum mismatch");
          }
          src.reset();
          continue;
        }
        if (have % 8 != 0) {
          sc->ReportLostInput(current->map_task_id);
          return DataLossError(src->name() + ": not a whole number of values");
        }
        return have / 8;
      }
    };
    auto sink = [&](std::span<const uint64_t> values) -> Status {
      return bulk_out_.Write(values.data(), values.size() * 8);
    };
    // Buffers no larger than the partition needs (the sort takes a
    // budget-sized chunk of values, sorted in place): fresh memory costs
    // page faults, ~1 s per GB here.
    uint64_t total = 0;
    for (const ShuffleInput& in : inputs) total += in.length;
    auto stats = shuffle::ExternalSortU64(
        source, sink,
        {.tmp_dir = scratch,
         .memory_budget_bytes = static_cast<size_t>(
             std::min<uint64_t>(sc->definition().memory_bytes, SIZE_MAX)),
         .expected_values = total / 8});
    if (!stats.ok()) return stats.status();
    ctx.Log(std::to_string(stats->values) + " values sorted in " +
            (stats->runs == 0 ? std::string("memory")
                              : std::to_string(stats->runs) + " runs"));
    return bulk_out_.Close();
  }

  StatusOr<std::vector<std::string>> ChooseSplitPoints(
      const std::vector<std::string>& files, const Params& params,
      int partitions) override {
    std::vector<std::string> none;
    if (partitions <= 1 || files.empty()) return none;
    if (IsU64(params)) {
      std::vector<uint64_t> sample;
      for (const std::string& file : SampleFiles(files, kSampleFiles)) {
        SampleU64(file, &sample);
      }
      ASSIGN_OR_RETURN(auto splits, shuffle::ChooseU64SplitPoints(
                                        std::move(sample), partitions));
      std::vector<std::string> out;
      for (uint64_t v : splits) out.push_back(BigEndian(v));
      return out;
    }
    std::vector<std::string> sample;
    for (const std::string& file : SampleFiles(files, kSampleFiles)) {
      size_t n = 0;
      ReadLinesWhile(file, [&](std::string_view line) {
        sample.emplace_back(line);
        return ++n < kSamplePerFile;
      });
    }
    return shuffle::ChooseSplitPoints(std::move(sample), partitions);
  }

 private:
  // Values spread over a plain file (a block at each of 16 offsets); the
  // start of a compressed one.
  static void SampleU64(const std::string& path, std::vector<uint64_t>* out) {
    std::vector<uint64_t> buf(kSamplePerFile / 16);
    std::error_code ec;
    const uint64_t size = CodecForPath(path) == Codec::kNone
                              ? std::filesystem::file_size(path, ec)
                              : 0;
    for (int k = 0; k < 16; ++k) {
      const uint64_t at = ec || size == 0 ? 0 : size / 16 * k / 8 * 8;
      auto in = OpenU64(
          U64Range{path, at, ec || size == 0 ? -1 : int64_t(buf.size() * 8)});
      if (!in.ok()) return;
      U64Reader r(*std::move(in));
      auto n = r.Read(buf.data(), buf.size());
      if (!n.ok()) return;
      out->insert(out->end(), buf.begin(), buf.begin() + *n);
      if (ec || size == 0) return;
    }
  }

  Status MapLines(TaskContext& ctx) {
    ASSIGN_OR_RETURN(const FileSplit split, FileSplit::Parse(ctx.payload()));
    ASSIGN_OR_RETURN(auto reader, SplitLineReader::Open(split, 64u << 20));
    std::string_view line;
    for (uint64_t n = 1;; ++n) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&line));
      if (!more) break;
      if (reader->truncated()) {
        return FailedPreconditionError(split.path + ": a line at byte " +
                                       std::to_string(reader->line_offset()) +
                                       " is over 64 MiB");
      }
      if ((n & 0xffff) == 0 && ctx.cancelled()) {
        return CancelledError("sort: cancelled");
      }
      ctx.Emit(line, {});
    }
    return OkStatus();
  }

  // Two passes over the task's values: count per range, then write each
  // value at its range's cursor in one data file (CRC-32 per range).
  Status MapU64(TaskContext& ctx, ShuffleTaskContext& sc) {
    std::vector<uint64_t> splits;
    for (const std::string& s : sc.definition().range_splits) {
      splits.push_back(FromBigEndian(s));
    }
    const size_t r = splits.size() + 1;
    ASSIGN_OR_RETURN(const U64Range range, RangeOf(ctx.payload()));
    ASSIGN_OR_RETURN(const std::optional<size_t> loaded,
                     LoadU64(range, sc.definition().memory_bytes / 2));
    std::vector<uint64_t> buf;  // for values read chunk by chunk
    std::vector<size_t> counts(r, 0);
    RETURN_IF_ERROR(ForEachU64Chunk(
        ctx, range, loaded, &buf, [&](const uint64_t* v, size_t n) -> Status {
          const auto c = shuffle::CountU64Partitions(v, n, splits);
          for (size_t p = 0; p < r; ++p) counts[p] += c[p];
          return OkStatus();
        }));
    ASSIGN_OR_RETURN(std::string dir, sc.MapOutputDir());
    shuffle::MapOutputInfo info;
    info.data_path = dir + "/out.data";
    const std::string tmp = info.data_path + ".tmp";
    std::vector<uint64_t> cursor(r);
    uint64_t offset = 0;
    for (size_t p = 0; p < r; ++p) {
      cursor[p] = offset;
      info.partitions.push_back({offset, counts[p] * 8, counts[p], 0});
      offset += counts[p] * 8;
    }
    const int fd =
        open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return shuffle::internal::ErrnoError("cannot create", tmp);
    Status s = [&]() -> Status {
      RETURN_IF_ERROR(ForEachU64Chunk(
          ctx, range, loaded, &buf,
          [&](const uint64_t* values, size_t n) -> Status {
            return shuffle::ScatterU64(
                values, n, splits,
                [&](size_t p, std::span<const uint64_t> v) -> Status {
                  const char* bytes = reinterpret_cast<const char*>(v.data());
                  info.partitions[p].crc = shuffle::internal::Crc32(
                      info.partitions[p].crc, bytes, v.size() * 8);
                  RETURN_IF_ERROR(
                      WriteAll(fd, bytes, v.size() * 8, cursor[p], tmp));
                  // Start writing back now: the fdatasync at the end then
                  // waits for the last pieces only (advice; errors show
                  // there).
                  sync_file_range(fd, static_cast<off_t>(cursor[p]),
                                  static_cast<off_t>(v.size() * 8),
                                  SYNC_FILE_RANGE_WRITE);
                  cursor[p] += v.size() * 8;
                  return OkStatus();
                },
                1 << 16);
          }));
      for (size_t p = 0; p < r; ++p) {
        if (cursor[p] !=
            info.partitions[p].offset + info.partitions[p].length) {
          return DataLossError(range.path + " changed while it was read");
        }
      }
      if (fdatasync(fd) != 0) {
        return shuffle::internal::ErrnoError("cannot sync", tmp);
      }
      return OkStatus();
    }();
    close(fd);
    if (s.ok() && rename(tmp.c_str(), info.data_path.c_str()) != 0) {
      s = shuffle::internal::ErrnoError("cannot rename", tmp);
    }
    if (s.ok()) s = shuffle::internal::FsyncDir(dir);
    if (!s.ok()) {
      unlink(tmp.c_str());
      return s;
    }
    sc.SetMapOutput(std::move(info));
    return OkStatus();
  }

  // Reads the task's values into map_buf_ (kept for the job's next map
  // task on this slot) if they are a range of a plain local file of at most
  // max_bytes: their number; nullopt to read them chunk by chunk instead.
  // One read of the input instead of one per pass.
  StatusOr<std::optional<size_t>> LoadU64(const U64Range& range,
                                          uint64_t max_bytes) {
    if (CodecForPath(range.path) != Codec::kNone ||
        range.path.find("://") != std::string::npos) {
      return std::optional<size_t>();
    }
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(range.path, ec);
    if (ec) return std::optional<size_t>();  // the reader reports it
    uint64_t end = size;
    if (range.length >= 0) {
      end = std::min(end, range.begin + static_cast<uint64_t>(range.length));
    }
    const uint64_t bytes = end > range.begin ? end - range.begin : 0;
    if (bytes > max_bytes) return std::optional<size_t>();
    // One value more than expected: a file that grew is noticed.
    const size_t want = static_cast<size_t>((bytes + 7) / 8) + 1;
    if (map_buf_.size() < want) {
      map_buf_ = shuffle::U64Buffer();  // its pages go to the new one
      map_buf_ = shuffle::U64Buffer(want);
    }
    ASSIGN_OR_RETURN(auto in, OpenU64(range));
    U64Reader reader(std::move(in));
    size_t have = 0;
    while (have < want) {
      ASSIGN_OR_RETURN(size_t n,
                       reader.Read(map_buf_.data() + have, want - have));
      if (n == 0) break;
      have += n;
    }
    if (have == want) {
      return DataLossError(range.path + " changed while it was read");
    }
    return std::optional<size_t>(have);
  }

  // Calls fn(values, n) on the task's values chunk by chunk: from map_buf_
  // if LoadU64 put `loaded` values there, else read from the file into
  // *buf. Stops at the first error of fn, or when the task is cancelled.
  template <typename Fn>
  Status ForEachU64Chunk(TaskContext& ctx, const U64Range& range,
                         std::optional<size_t> loaded,
                         std::vector<uint64_t>* buf, Fn&& fn) {
    if (loaded.has_value()) {
      for (size_t i = 0; i < *loaded; i += kChunkValues) {
        RETURN_IF_ERROR(
            fn(map_buf_.data() + i, std::min(kChunkValues, *loaded - i)));
        if (ctx.cancelled()) return CancelledError("sort: cancelled");
      }
      return OkStatus();
    }
    buf->resize(kChunkValues);
    ASSIGN_OR_RETURN(auto in, OpenU64(range));
    U64Reader reader(std::move(in));
    while (true) {
      ASSIGN_OR_RETURN(size_t n, reader.Read(buf->data(), buf->size()));
      if (n == 0) return OkStatus();
      RETURN_IF_ERROR(fn(buf->data(), n));
      if (ctx.cancelled()) return CancelledError("sort: cancelled");
    }
  }

  Status Open(TaskContext& ctx) {
    return out_.Open(
        ctx.OutputPath(PartName(AsShuffleContext(ctx)->partition())));
  }
  Status Close() { return out_.Close(); }

  PartFile out_;           // lines
  BulkPartFile bulk_out_;  // u64
  // u64 map tasks: the values of the last one (LoadU64). Freed when a
  // reduce starts, whose buffer then reuses the pages.
  shuffle::U64Buffer map_buf_;
};

}  // namespace

std::unique_ptr<Processor> NewSortProcessor() {
  return std::make_unique<SortProcessor>();
}

}  // namespace taskgrid
