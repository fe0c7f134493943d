#include "shuffle/map_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <utility>

#include "core/status_macros.h"
#include "shuffle/group_merger.h"
#include "shuffle/record_io.h"

namespace taskgrid::shuffle {

using internal::FileWriter;
using internal::GetFixed32;
using internal::GetVarint;
using internal::PutFixed32;
using internal::PutVarint;

namespace {

// Bookkeeping counted against the budget for each buffered record: the
// Entry (32 bytes with padding).
constexpr size_t kRecordOverhead = 32;
// Spills merged at once; more are first merged in passes.
constexpr size_t kMergeFactor = 32;
constexpr size_t kWriteBuffer = 1 << 20;

constexpr char kIndexMagic[] = "TGSI";
constexpr char kInfoMagic[] = "TGMO";
constexpr uint64_t kVersion = 1;

void EncodeTable(std::string* out, const std::vector<SegmentInfo>& parts) {
  PutVarint(out, parts.size());
  for (const SegmentInfo& s : parts) {
    PutVarint(out, s.offset);
    PutVarint(out, s.length);
    PutVarint(out, s.records);
    PutFixed32(out, s.crc);
  }
}

// Empty string on success, else what is wrong.
std::string DecodeTable(const char** p, const char* limit,
                        std::vector<SegmentInfo>* parts) {
  uint64_t r = 0;
  if (!GetVarint(p, limit, 10, &r)) return "truncated partition count";
  // Each entry takes at least 7 bytes: a bound before allocating.
  if (r == 0 || r > static_cast<uint64_t>(limit - *p) / 7) {
    return "bad partition count " + std::to_string(r);
  }
  parts->resize(static_cast<size_t>(r));
  uint64_t next = 0;
  for (SegmentInfo& s : *parts) {
    if (!GetVarint(p, limit, 10, &s.offset) ||
        !GetVarint(p, limit, 10, &s.length) ||
        !GetVarint(p, limit, 10, &s.records) || !GetFixed32(p, limit, &s.crc)) {
      return "truncated partition table";
    }
    if (s.offset != next || s.length > UINT64_MAX - s.offset) {
      return "segments are not back to back";
    }
    next = s.offset + s.length;
  }
  return "";
}

// Checks and strips the trailing CRC-32 of `bytes`.
bool CheckTrailer(std::string_view* bytes) {
  if (bytes->size() < 4) return false;
  const char* p = bytes->data() + bytes->size() - 4;
  uint32_t want = 0;
  GetFixed32(&p, p + 4, &want);
  bytes->remove_suffix(4);
  return internal::Crc32(0, bytes->data(), bytes->size()) == want;
}

Status WriteSmallFileSynced(const std::string& path, std::string_view data) {
  ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> w,
                   FileWriter::Create(path, data.size() + 1));
  RETURN_IF_ERROR(w->Append(data));
  return w->Sync();
}

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace

// --- MapOutputInfo and the index ---

std::string MapOutputInfo::Serialize() const {
  std::string out(kInfoMagic, 4);
  PutVarint(&out, kVersion);
  PutVarint(&out, data_path.size());
  out += data_path;
  PutVarint(&out, index_path.size());
  out += index_path;
  EncodeTable(&out, partitions);
  PutFixed32(&out, internal::Crc32(0, out.data(), out.size()));
  return out;
}

StatusOr<MapOutputInfo> MapOutputInfo::Parse(std::string_view bytes) {
  auto bad = [](std::string_view why) {
    return DataLossError("not a valid map output info: " + std::string(why));
  };
  if (bytes.size() < 4 ||
      bytes.substr(0, 4) != std::string_view(kInfoMagic, 4)) {
    return bad("bad magic");
  }
  if (!CheckTrailer(&bytes)) return bad("checksum mismatch or truncated");
  const char* p = bytes.data() + 4;
  const char* limit = bytes.data() + bytes.size();
  uint64_t version = 0;
  if (!GetVarint(&p, limit, 10, &version)) return bad("truncated");
  if (version != kVersion) {
    return bad("unknown version " + std::to_string(version));
  }
  MapOutputInfo info;
  for (std::string* s : {&info.data_path, &info.index_path}) {
    uint64_t n = 0;
    if (!GetVarint(&p, limit, 10, &n) || n > static_cast<uint64_t>(limit - p)) {
      return bad("truncated path");
    }
    s->assign(p, static_cast<size_t>(n));
    p += n;
  }
  std::string why = DecodeTable(&p, limit, &info.partitions);
  if (!why.empty()) return bad(why);
  if (p != limit) return bad("trailing bytes");
  return info;
}

StatusOr<std::vector<SegmentInfo>> ReadMapOutputIndex(
    const std::string& index_path) {
  const int fd = open(index_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return internal::ErrnoError("open", index_path);
  std::string bytes;
  char buf[64 << 10];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = internal::ErrnoError("read", index_path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto bad = [&](std::string_view why) {
    return DataLossError(index_path +
                         ": not a valid map output index: " + std::string(why));
  };
  std::string_view v = bytes;
  if (v.size() < 4 || v.substr(0, 4) != std::string_view(kIndexMagic, 4)) {
    return bad("bad magic");
  }
  if (!CheckTrailer(&v)) return bad("checksum mismatch or truncated");
  const char* p = v.data() + 4;
  const char* limit = v.data() + v.size();
  uint64_t version = 0;
  if (!GetVarint(&p, limit, 10, &version) || version != kVersion) {
    return bad("unknown version");
  }
  std::vector<SegmentInfo> parts;
  std::string why = DecodeTable(&p, limit, &parts);
  if (!why.empty()) return bad(why);
  if (p != limit) return bad("trailing bytes");
  return parts;
}

// --- MapOutputWriter ---

struct MapOutputWriter::Entry {
  const char* data;  // key bytes, then value bytes
  uint64_t prefix;   // the first 8 key bytes, big-endian, zero-padded
  uint32_t key_len;
  uint32_t value_len;
  uint32_t partition;

  std::string_view key() const { return {data, key_len}; }
  std::string_view value() const { return {data + key_len, value_len}; }
};

struct MapOutputWriter::Run {
  std::string path;
  std::vector<SegmentInfo> parts;
};

// Cursor over the sorted buffer's entries of one partition.
class MapOutputWriter::BufferCursor final : public internal::RecordCursor {
 public:
  void Begin(const Entry* begin, const Entry* end) {
    next_ = begin;
    end_ = end;
    cur_ = nullptr;
  }
  StatusOr<bool> Next() override {
    if (next_ == end_) return false;
    cur_ = next_++;
    return true;
  }
  std::string_view key() const override { return cur_->key(); }
  std::string_view value() const override { return cur_->value(); }

 private:
  const Entry* next_ = nullptr;
  const Entry* end_ = nullptr;
  const Entry* cur_ = nullptr;
};

// Cursor over one partition of a spill file at a time; the segment's record
// count and CRC are checked at its end.
class MapOutputWriter::RunCursor final : public internal::RecordCursor {
 public:
  RunCursor(const Run* run, int fd, size_t buffer_size)
      : run_(run), fd_(fd), reader_(nullptr, buffer_size) {}
  ~RunCursor() override { close(fd_); }
  RunCursor(const RunCursor&) = delete;
  RunCursor& operator=(const RunCursor&) = delete;

  void Begin(int p) {
    seg_ = &run_->parts[static_cast<size_t>(p)];
    source_ = std::make_unique<internal::PreadSource>(
        fd_, /*owns_fd=*/false, seg_->offset, seg_->length,
        run_->path + " partition " + std::to_string(p));
    reader_.Reset(source_.get());
  }
  StatusOr<bool> Next() override {
    ASSIGN_OR_RETURN(bool more, reader_.Next());
    if (!more &&
        (reader_.records() != seg_->records || reader_.crc() != seg_->crc ||
         reader_.bytes_read() != seg_->length)) {
      return DataLossError(source_->name() +
                           ": spill segment corrupt (record count or "
                           "checksum mismatch)");
    }
    return more;
  }
  std::string_view key() const override { return reader_.key(); }
  std::string_view value() const override { return reader_.value(); }

 private:
  const Run* const run_;
  const int fd_;
  const SegmentInfo* seg_ = nullptr;
  std::unique_ptr<internal::PreadSource> source_;
  internal::RecordReader reader_;
};

MapOutputWriter::MapOutputWriter(MapOutputOptions options)
    : options_(std::move(options)), r_(options_.partitioner->partitions()) {
  block_size_ =
      std::clamp<size_t>(options_.memory_budget_bytes / 8, 4 << 10, 1 << 20);
}

StatusOr<std::unique_ptr<MapOutputWriter>> MapOutputWriter::Create(
    MapOutputOptions options) {
  if (options.partitioner == nullptr) {
    return InvalidArgumentError("map output: no partitioner");
  }
  if (options.partitioner->partitions() < 1) {
    return InvalidArgumentError("map output: partitioner has no partitions");
  }
  if (!IsPlainName(options.file_stem)) {
    return InvalidArgumentError("map output: file stem '" + options.file_stem +
                                "' is not a plain file name");
  }
  if (options.memory_budget_bytes == 0) {
    return InvalidArgumentError("map output: memory budget must be > 0");
  }
  struct stat st;
  if (stat(options.dir.c_str(), &st) != 0) {
    return internal::ErrnoError("map output directory", options.dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgumentError("map output: " + options.dir +
                                " is not a directory");
  }
  return std::unique_ptr<MapOutputWriter>(
      new MapOutputWriter(std::move(options)));
}

MapOutputWriter::~MapOutputWriter() {
  RemoveSpills();
  const std::string base = options_.dir + "/" + options_.file_stem;
  unlink((base + ".data.tmp").c_str());
  unlink((base + ".index.tmp").c_str());
}

Status MapOutputWriter::Emit(std::string_view key, std::string_view value) {
  if (finished_)
    return FailedPreconditionError("map output: Emit after Finish");
  RETURN_IF_ERROR(status_);
  if (key.size() > internal::kMaxFieldLength ||
      value.size() > internal::kMaxFieldLength) {
    return InvalidArgumentError("map output: key or value of 4 GiB or more");
  }
  const int p = options_.partitioner->Partition(key);
  if (p < 0 || p >= r_) {
    return InvalidArgumentError("map output: partitioner returned " +
                                std::to_string(p) + " for " +
                                std::to_string(r_) + " partitions");
  }
  const size_t need = key.size() + value.size();
  if (blocks_.empty() || block_size_ - block_used_ < need) {
    // A record larger than a block gets a block of its own.
    blocks_.emplace_back(new char[std::max(block_size_, need)]);
    block_used_ = need > block_size_ ? block_size_ : 0;
  }
  char* dst = blocks_.back().get() + (need > block_size_ ? 0 : block_used_);
  if (!key.empty()) std::memcpy(dst, key.data(), key.size());
  if (!value.empty()) std::memcpy(dst + key.size(), value.data(), value.size());
  if (need <= block_size_) block_used_ += need;
  uint64_t prefix = 0;
  for (size_t i = 0; i < 8; ++i) {
    prefix <<= 8;
    if (i < key.size()) prefix |= static_cast<unsigned char>(key[i]);
  }
  entries_.push_back(Entry{dst, prefix, static_cast<uint32_t>(key.size()),
                           static_cast<uint32_t>(value.size()),
                           static_cast<uint32_t>(p)});
  buffered_bytes_ += need + kRecordOverhead;
  ++records_emitted_;
  if (buffered_bytes_ > options_.memory_budget_bytes) {
    status_ = Spill();
    return status_;
  }
  return OkStatus();
}

Status MapOutputWriter::SortBuffer() {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) {
                     if (a.partition != b.partition) {
                       return a.partition < b.partition;
                     }
                     if (a.prefix != b.prefix) return a.prefix < b.prefix;
                     return a.key() < b.key();
                   });
  return OkStatus();
}

void MapOutputWriter::ClearBuffer() {
  entries_.clear();
  blocks_.clear();
  block_used_ = 0;
  buffered_bytes_ = 0;
}

std::string MapOutputWriter::SpillPath() {
  return options_.dir + "/" + options_.file_stem + ".spill-" +
         std::to_string(spill_count_++);
}

void MapOutputWriter::RemoveSpills() {
  // Every spill file ever named, including those of a merge pass that
  // failed half-way (removing an absent file is harmless).
  for (int i = 0; i < spill_count_; ++i) {
    unlink((options_.dir + "/" + options_.file_stem + ".spill-" +
            std::to_string(i))
               .c_str());
  }
  runs_.clear();
}

Status MapOutputWriter::CallCombiner(
    std::string_view key, const std::vector<std::string_view>& values,
    std::string* out) {
  try {
    *out = options_.combiner(key, values);
  } catch (const std::exception& e) {
    return UnknownError(std::string("map output: combiner threw: ") + e.what());
  } catch (...) {
    return UnknownError("map output: combiner threw a non-std exception");
  }
  if (out->size() > internal::kMaxFieldLength) {
    return InvalidArgumentError("map output: combiner returned 4 GiB or more");
  }
  return OkStatus();
}

Status MapOutputWriter::Spill() {
  RETURN_IF_ERROR(SortBuffer());
  const std::string path = SpillPath();
  runs_.push_back(Run{path, {}});
  ASSIGN_OR_RETURN(runs_.back().parts, WriteBuffer(path, /*sync=*/false));
  ClearBuffer();
  return OkStatus();
}

StatusOr<std::vector<SegmentInfo>> MapOutputWriter::WriteBuffer(
    const std::string& path, bool sync) {
  ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> w,
                   FileWriter::Create(path, kWriteBuffer));
  std::vector<SegmentInfo> segs(static_cast<size_t>(r_));
  std::vector<std::string_view> values;
  std::string combined;
  size_t i = 0;
  const size_t n = entries_.size();
  for (int p = 0; p < r_; ++p) {
    SegmentInfo& seg = segs[static_cast<size_t>(p)];
    seg.offset = w->offset();
    w->ResetCrc();
    while (i < n && entries_[i].partition == static_cast<uint32_t>(p)) {
      size_t j = i + 1;
      if (options_.combiner) {
        while (j < n && entries_[j].partition == entries_[i].partition &&
               entries_[j].key() == entries_[i].key()) {
          ++j;
        }
      }
      if (j - i >= 2) {
        values.clear();
        for (size_t k = i; k < j; ++k) values.push_back(entries_[k].value());
        RETURN_IF_ERROR(CallCombiner(entries_[i].key(), values, &combined));
        RETURN_IF_ERROR(w->AppendRecord(entries_[i].key(), combined));
      } else {
        RETURN_IF_ERROR(
            w->AppendRecord(entries_[i].key(), entries_[i].value()));
      }
      ++seg.records;
      i = j;
    }
    seg.length = w->offset() - seg.offset;
    seg.crc = w->crc();
  }
  RETURN_IF_ERROR(sync ? w->Sync() : w->Flush());
  return segs;
}

StatusOr<std::vector<SegmentInfo>> MapOutputWriter::MergeRuns(
    size_t begin, size_t end, bool with_buffer, const std::string& path,
    bool sync) {
  const size_t inputs = end - begin + (with_buffer ? 1 : 0);
  const size_t read_buffer = std::clamp<size_t>(
      options_.memory_budget_bytes / std::max<size_t>(inputs, 1), 4 << 10,
      1 << 20);
  std::vector<std::unique_ptr<RunCursor>> runs;
  for (size_t i = begin; i < end; ++i) {
    const int fd = open(runs_[i].path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return internal::ErrnoError("open", runs_[i].path);
    runs.push_back(std::make_unique<RunCursor>(&runs_[i], fd, read_buffer));
  }
  BufferCursor buffer;
  // Where each partition's entries start in the sorted buffer.
  std::vector<size_t> starts(static_cast<size_t>(r_) + 1, entries_.size());
  if (with_buffer) {
    for (size_t i = entries_.size(); i-- > 0;) {
      starts[entries_[i].partition] = i;
    }
    for (int p = r_ - 1; p >= 0; --p) {
      starts[static_cast<size_t>(p)] = std::min(
          starts[static_cast<size_t>(p)], starts[static_cast<size_t>(p) + 1]);
    }
  }

  ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> w,
                   FileWriter::Create(path, kWriteBuffer));
  std::vector<SegmentInfo> segs(static_cast<size_t>(r_));
  std::string arena;  // the values of one group, for the combiner
  std::vector<size_t> ends;
  std::vector<std::string_view> values;
  std::string combined;
  for (int p = 0; p < r_; ++p) {
    const size_t up = static_cast<size_t>(p);
    std::vector<internal::RecordCursor*> cursors;
    for (auto& run : runs) {
      run->Begin(p);
      cursors.push_back(run.get());
    }
    if (with_buffer) {
      buffer.Begin(entries_.data() + starts[up],
                   entries_.data() + starts[up + 1]);
      cursors.push_back(&buffer);
    }
    internal::GroupMerger merger(std::move(cursors));
    SegmentInfo& seg = segs[up];
    seg.offset = w->offset();
    w->ResetCrc();
    std::string_view key, value;
    while (true) {
      ASSIGN_OR_RETURN(bool group, merger.NextGroup(&key));
      if (!group) break;
      if (!options_.combiner) {
        while (true) {
          ASSIGN_OR_RETURN(bool more, merger.NextValue(&value));
          if (!more) break;
          RETURN_IF_ERROR(w->AppendRecord(key, value));
          ++seg.records;
        }
        continue;
      }
      arena.clear();
      ends.clear();
      while (true) {
        ASSIGN_OR_RETURN(bool more, merger.NextValue(&value));
        if (!more) break;
        arena.append(value);
        ends.push_back(arena.size());
      }
      if (ends.size() == 1) {
        RETURN_IF_ERROR(w->AppendRecord(key, arena));
      } else {
        values.clear();
        size_t start = 0;
        for (size_t e : ends) {
          values.emplace_back(arena.data() + start, e - start);
          start = e;
        }
        RETURN_IF_ERROR(CallCombiner(key, values, &combined));
        RETURN_IF_ERROR(w->AppendRecord(key, combined));
      }
      ++seg.records;
    }
    seg.length = w->offset() - seg.offset;
    seg.crc = w->crc();
  }
  RETURN_IF_ERROR(sync ? w->Sync() : w->Flush());
  return segs;
}

StatusOr<MapOutputInfo> MapOutputWriter::Finish() {
  if (finished_)
    return FailedPreconditionError("map output: Finish called twice");
  RETURN_IF_ERROR(status_);
  finished_ = true;
  const std::string base = options_.dir + "/" + options_.file_stem;
  const std::string data_tmp = base + ".data.tmp";
  const std::string index_tmp = base + ".index.tmp";
  MapOutputInfo info;
  info.data_path = base + ".data";
  info.index_path = base + ".index";

  auto write = [&]() -> Status {
    RETURN_IF_ERROR(SortBuffer());
    if (runs_.empty()) {
      ASSIGN_OR_RETURN(info.partitions, WriteBuffer(data_tmp, /*sync=*/true));
    } else {
      // Merge passes over consecutive groups of runs (which keeps equal keys
      // in emit order) until the rest and the buffer can be merged at once.
      while (runs_.size() + 1 > kMergeFactor) {
        std::vector<Run> merged;
        for (size_t i = 0; i < runs_.size(); i += kMergeFactor) {
          const size_t end = std::min(i + kMergeFactor, runs_.size());
          if (end - i == 1) {
            merged.push_back(std::move(runs_[i]));
            continue;
          }
          Run run{SpillPath(), {}};
          ASSIGN_OR_RETURN(run.parts,
                           MergeRuns(i, end, false, run.path, /*sync=*/false));
          for (size_t k = i; k < end; ++k) unlink(runs_[k].path.c_str());
          merged.push_back(std::move(run));
        }
        runs_ = std::move(merged);
      }
      ASSIGN_OR_RETURN(info.partitions, MergeRuns(0, runs_.size(), true,
                                                  data_tmp, /*sync=*/true));
    }
    ClearBuffer();
    RemoveSpills();
    std::string index(kIndexMagic, 4);
    PutVarint(&index, kVersion);
    EncodeTable(&index, info.partitions);
    PutFixed32(&index, internal::Crc32(0, index.data(), index.size()));
    RETURN_IF_ERROR(WriteSmallFileSynced(index_tmp, index));
    if (rename(data_tmp.c_str(), info.data_path.c_str()) != 0) {
      return internal::ErrnoError("rename to", info.data_path);
    }
    if (rename(index_tmp.c_str(), info.index_path.c_str()) != 0) {
      return internal::ErrnoError("rename to", info.index_path);
    }
    return internal::FsyncDir(options_.dir);
  };
  status_ = write();
  if (!status_.ok()) {
    ClearBuffer();
    RemoveSpills();
    unlink(data_tmp.c_str());
    unlink(index_tmp.c_str());
    return status_;
  }
  return info;
}

}  // namespace taskgrid::shuffle
