#include "shuffle/merge.h"

#include <algorithm>
#include <utility>

#include "core/status_macros.h"
#include "shuffle/group_merger.h"
#include "shuffle/record_io.h"

namespace taskgrid::shuffle {
namespace {

// Read buffer used by Add.
constexpr size_t kAddBuffer = 64 << 10;
constexpr size_t kTmpWriteBuffer = 256 << 10;

}  // namespace

struct ReduceMerger::Segment {
  std::string name;      // the source's name, for messages
  std::string data;      // in memory, or
  bool on_disk = false;  // [offset, offset + length) of the tmp file
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t records = 0;
  uint32_t crc = 0;
};

bool ValueIterator::Next(std::string_view* value) {
  if (!status_.ok()) return false;
  StatusOr<bool> more = merger_->NextValue(value);
  if (!more.ok()) {
    status_ = more.status();
    return false;
  }
  return *more;
}

// Cursor over a segment held in memory (already verified by Add).
class ReduceMerger::MemoryCursor final : public internal::RecordCursor {
 public:
  explicit MemoryCursor(const Segment* seg)
      : seg_(seg), p_(seg->data.data()), limit_(p_ + seg->data.size()) {}
  StatusOr<bool> Next() override {
    if (p_ == limit_) return false;
    uint64_t klen = 0, vlen = 0;
    if (!internal::GetVarint(&p_, limit_, 5, &klen) ||
        !internal::GetVarint(&p_, limit_, 5, &vlen) ||
        klen + vlen > static_cast<uint64_t>(limit_ - p_)) {
      return InternalError(seg_->name + ": in-memory segment corrupt");
    }
    key_ = std::string_view(p_, static_cast<size_t>(klen));
    value_ = std::string_view(p_ + klen, static_cast<size_t>(vlen));
    p_ += klen + vlen;
    return true;
  }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }

 private:
  const Segment* const seg_;
  const char* p_;
  const char* const limit_;
  std::string_view key_, value_;
};

// Cursor over a segment in the temporary file, checked again as it is read.
class ReduceMerger::DiskCursor final : public internal::RecordCursor {
 public:
  DiskCursor(const Segment* seg, int fd, size_t buffer)
      : seg_(seg),
        source_(fd, /*owns_fd=*/false, seg->offset, seg->length,
                "temporary copy of " + seg->name),
        reader_(&source_, buffer) {}
  StatusOr<bool> Next() override {
    ASSIGN_OR_RETURN(bool more, reader_.Next());
    if (!more &&
        (reader_.records() != seg_->records || reader_.crc() != seg_->crc)) {
      return DataLossError(source_.name() + ": checksum mismatch");
    }
    return more;
  }
  std::string_view key() const override { return reader_.key(); }
  std::string_view value() const override { return reader_.value(); }

 private:
  const Segment* const seg_;
  internal::PreadSource source_;
  internal::RecordReader reader_;
};

ReduceMerger::ReduceMerger(ReduceMergerOptions options)
    : options_(std::move(options)) {}

ReduceMerger::~ReduceMerger() = default;

Status ReduceMerger::Add(std::unique_ptr<SegmentSource> source,
                         uint64_t expected_records, uint32_t expected_crc) {
  if (ran_) return FailedPreconditionError("reduce merger: Add after Run");
  if (source == nullptr) {
    return InvalidArgumentError("reduce merger: null segment source");
  }
  Segment seg;
  seg.name = source->name();
  internal::RecordReader reader(source.get(), kAddBuffer);
  const uint64_t tmp_start = tmp_ ? tmp_->offset() : 0;
  // Undoes a partial copy to the temporary file.
  auto fail = [&](Status s) -> Status {
    if (seg.on_disk) tmp_->Truncate(tmp_start).IgnoreError();
    return s;
  };
  while (true) {
    StatusOr<bool> more = reader.Next();
    if (!more.ok()) return fail(more.status());
    if (!*more) break;
    const std::string_view raw = reader.raw();
    if (!seg.on_disk && bytes_in_memory_ + seg.data.size() + raw.size() >
                            options_.memory_budget_bytes) {
      if (tmp_ == nullptr) {
        StatusOr<std::unique_ptr<internal::FileWriter>> w =
            internal::FileWriter::CreateAnonymous(options_.tmp_dir,
                                                  kTmpWriteBuffer);
        if (!w.ok()) return w.status();
        tmp_ = std::move(*w);
      }
      seg.on_disk = true;
      seg.offset = tmp_start;
      Status s = tmp_->Append(seg.data);
      if (!s.ok()) return fail(s);
      std::string().swap(seg.data);
    }
    Status s = seg.on_disk ? tmp_->Append(raw) : OkStatus();
    if (!s.ok()) return fail(s);
    if (!seg.on_disk) seg.data.append(raw);
  }
  if (reader.records() != expected_records) {
    return fail(
        DataLossError(seg.name + ": segment has " +
                      std::to_string(reader.records()) + " records, expected " +
                      std::to_string(expected_records) + " (truncated?)"));
  }
  if (reader.crc() != expected_crc) {
    return fail(DataLossError(seg.name + ": segment checksum mismatch"));
  }
  seg.records = reader.records();
  seg.crc = reader.crc();
  if (seg.on_disk) {
    Status s = tmp_->Flush();
    if (!s.ok()) return fail(s);
    seg.length = tmp_->offset() - seg.offset;
    ++on_disk_;
    bytes_on_disk_ += seg.length;
  } else {
    seg.length = seg.data.size();
    ++in_memory_;
    bytes_in_memory_ += seg.length;
  }
  segments_.push_back(std::move(seg));
  return OkStatus();
}

Status ReduceMerger::Run(const GroupFn& fn) {
  if (ran_) return FailedPreconditionError("reduce merger: Run called twice");
  ran_ = true;
  if (tmp_) RETURN_IF_ERROR(tmp_->Flush());
  const size_t buffer = std::max<size_t>(options_.read_buffer_bytes, 4 << 10);
  std::vector<std::unique_ptr<internal::RecordCursor>> owned;
  std::vector<internal::RecordCursor*> cursors;
  for (const Segment& seg : segments_) {
    if (seg.on_disk) {
      owned.push_back(std::make_unique<DiskCursor>(&seg, tmp_->fd(), buffer));
    } else {
      owned.push_back(std::make_unique<MemoryCursor>(&seg));
    }
    cursors.push_back(owned.back().get());
  }
  internal::GroupMerger merger(std::move(cursors));
  std::string_view key;
  while (true) {
    ASSIGN_OR_RETURN(bool group, merger.NextGroup(&key));
    if (!group) break;
    ValueIterator values(&merger);
    Status s = fn(key, values);
    RETURN_IF_ERROR(values.status());
    RETURN_IF_ERROR(s);
  }
  return OkStatus();
}

}  // namespace taskgrid::shuffle
