// Test helpers for read streams and decoders: compress with the codecs' own
// libraries (so tests need no command-line tools), an in-memory ReadStream
// with fault injection, nginx-like text, and whole-stream reads.
//
// Thread-safety: the functions are thread-compatible; a MemoryStream is
// used by one thread at a time.
#ifndef TASKGRID_IO_CODEC_TEST_UTIL_H_
#define TASKGRID_IO_CODEC_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/read_stream.h"
#include "taskgrid/status.h"

namespace taskgrid::io_test {

// `data` compressed as one gzip member / zstd frame / bzip2 stream / xz
// stream / lz4 frame (with content checksums where the format has them).
// kNone returns `data`.
std::string Compress(Codec codec, const std::string& data);

// The file extension for `codec` (".gz", ...; "" for kNone).
std::string Extension(Codec codec);

// Pseudo-random nginx access-log lines, exactly `size` bytes (the last line
// may be cut short), reproducible from `seed`.
std::string NginxText(size_t size, uint64_t seed);

// A ReadStream over a string. Each Read returns at most max_chunk bytes
// (chunk sizes drawn from [1, max_chunk] when `random_chunks`), and the
// stream fails with `fail_status` once fail_at bytes were returned.
class MemoryStream : public ReadStream {
 public:
  explicit MemoryStream(std::string data, std::string path = "mem",
                        size_t max_chunk = SIZE_MAX, bool random_chunks = false,
                        uint64_t seed = 1);
  void FailAt(uint64_t offset, Status status);

  StatusOr<size_t> Read(char* buf, size_t n) override;
  uint64_t file_offset() const override { return pos_; }
  const std::string& path() const override { return path_; }

 private:
  const std::string data_;
  const std::string path_;
  const size_t max_chunk_;
  const bool random_chunks_;
  uint64_t rng_;
  size_t pos_ = 0;
  uint64_t fail_at_ = UINT64_MAX;
  Status fail_status_;
};

// Reads `stream` to its end in Read calls of `chunk` bytes.
StatusOr<std::string> ReadAll(ReadStream* stream, size_t chunk = 1 << 20);

// OpenDecoded(path) and ReadAll.
StatusOr<std::string> ReadDecoded(const std::string& path);

// Absolute path of an executable found in $PATH, or "" if there is none.
std::string FindTool(const std::string& name);

}  // namespace taskgrid::io_test

#endif  // TASKGRID_IO_CODEC_TEST_UTIL_H_
