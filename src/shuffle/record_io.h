// Internal to src/shuffle: the record encoding shared by map output files,
// spill files and reduce-side temporary files, a buffered record reader over
// a SegmentSource, a buffered file writer, and small POSIX helpers.
//
// A record is  varint32(key length) varint32(value length) key value
// (varints as in protobuf / leveldb: 7 bits a byte, low bits first), so
// keys and values are arbitrary bytes (NULs included) of up to 2^32 - 1
// bytes each.
//
// Thread-safety: RecordReader and FileWriter are used by one thread at a
// time; the free functions are thread-safe.
#ifndef TASKGRID_SHUFFLE_RECORD_IO_H_
#define TASKGRID_SHUFFLE_RECORD_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shuffle/segment_source.h"
#include "taskgrid/status.h"

namespace taskgrid::shuffle::internal {

// The largest key or value length a record can hold.
inline constexpr uint64_t kMaxFieldLength = 0xffffffffULL;

void PutVarint(std::string* out, uint64_t v);
void PutFixed32(std::string* out, uint32_t v);
// Parses a varint of at most `max_bytes` bytes from [*p, limit); advances
// *p. False if the input ends first or the varint is too long.
bool GetVarint(const char** p, const char* limit, int max_bytes, uint64_t* v);
bool GetFixed32(const char** p, const char* limit, uint32_t* v);

// Appends one encoded record to `out`. Precondition: both lengths <=
// kMaxFieldLength.
void AppendRecord(std::string* out, std::string_view key,
                  std::string_view value);

// The CRC-32 of zlib's crc32 (the gzip polynomial, computed by isa-l) of
// `data`, continuing from `crc` (0 for a fresh checksum); any length.
uint32_t Crc32(uint32_t crc, const char* data, size_t n);

// An error for a failed system call on `path`, from errno: NotFound,
// PermissionDenied, ResourceExhausted (disk full) or Internal.
Status ErrnoError(std::string_view what, const std::string& path);

// fsyncs a directory, so a rename in it is durable.
Status FsyncDir(const std::string& dir);

// A SegmentSource reading [offset, offset + length) of an open file with
// pread; owns the descriptor if `owns_fd`.
class PreadSource final : public SegmentSource {
 public:
  PreadSource(int fd, bool owns_fd, uint64_t offset, uint64_t length,
              std::string name);
  ~PreadSource() override;
  PreadSource(const PreadSource&) = delete;
  PreadSource& operator=(const PreadSource&) = delete;
  StatusOr<size_t> Read(char* buf, size_t n) override;
  const std::string& name() const override { return name_; }

 private:
  const int fd_;
  const bool owns_fd_;
  uint64_t pos_;
  const uint64_t end_;
  const std::string name_;
};

// Reads records from a SegmentSource, keeping a running CRC-32 and byte
// count of everything read. Memory: one buffer of `buffer_size` bytes,
// grown only to hold a record larger than it (and only as that record's
// bytes arrive, so garbage lengths cannot make it allocate much).
class RecordReader {
 public:
  RecordReader(SegmentSource* source, size_t buffer_size);  // borrows source

  // Starts over on another source (keeps the buffer). Borrows `source`.
  void Reset(SegmentSource* source);

  // Advances to the next record: true if there is one, false at the end
  // of the source (which must fall on a record boundary). DataLoss naming
  // the source for a record cut short or a malformed length; the source's
  // own errors are returned prefixed with its name.
  StatusOr<bool> Next();

  // The current record; valid until the next call to Next or Reset.
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  std::string_view raw() const { return raw_; }  // header, key and value

  uint64_t records() const { return records_; }  // returned so far
  // CRC-32 and length of the bytes read from the source so far: once Next
  // returned false, of the whole segment.
  uint32_t crc() const { return crc_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Ensures end_ - pos_ >= need unless the source ends first.
  Status Fill(size_t need);

  SegmentSource* source_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  std::string_view key_, value_, raw_;
  uint64_t records_ = 0;
  uint32_t crc_ = 0;
  uint64_t bytes_read_ = 0;
};

// A buffered writer of one file, with a CRC-32 of the bytes appended since
// the last ResetCrc. Errors name the path and are sticky.
class FileWriter {
 public:
  // Creates (or truncates) `path`.
  static StatusOr<std::unique_ptr<FileWriter>> Create(const std::string& path,
                                                      size_t buffer_size);
  // Creates a file in `dir` and unlinks it at once: it lives as long as this
  // writer (fd() stays valid for preads) and vanishes even after a crash.
  static StatusOr<std::unique_ptr<FileWriter>> CreateAnonymous(
      const std::string& dir, size_t buffer_size);
  ~FileWriter();  // closes without syncing
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  Status Append(std::string_view data);
  Status AppendRecord(std::string_view key, std::string_view value);
  Status Flush();
  Status Sync();  // Flush + fsync
  // Flushes, then cuts the file back to `offset` (<= offset()) and
  // continues writing there.
  Status Truncate(uint64_t offset);

  uint64_t offset() const { return flushed_ + buf_.size(); }
  uint32_t crc();  // of the bytes appended since ResetCrc
  void ResetCrc();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  FileWriter(int fd, std::string path, size_t buffer_size);
  void UpdateCrc();
  // Writes `data` at the file's end (after the buffer was flushed).
  Status Write(std::string_view data);

  const int fd_;
  const std::string path_;
  const size_t buffer_size_;
  std::string buf_;
  size_t crc_pos_ = 0;  // bytes of buf_ already in crc_
  uint32_t crc_ = 0;
  uint64_t flushed_ = 0;
  Status status_;
};

}  // namespace taskgrid::shuffle::internal

#endif  // TASKGRID_SHUFFLE_RECORD_IO_H_
