// Decoders: every codec against the same content, multi-member / multi-frame
// files, truncation and corruption, files made by the command-line tools,
// and a small fixed-seed fuzz. Fixtures are made here, in a temporary
// directory, with the codecs' own libraries (codec_test_util.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "io/codec_test_util.h"
#include "io/decoders_internal.h"
#include "io/read_stream.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

using ::taskgrid::io_internal::GzipImpl;
using ::taskgrid::io_test::Compress;
using ::taskgrid::io_test::Extension;
using ::taskgrid::io_test::MemoryStream;
using ::taskgrid::io_test::NginxText;
using ::taskgrid::io_test::ReadAll;
using ::taskgrid::testing::ReadFile;
using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WriteFile;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr size_t kMiB = size_t{1} << 20;

// One decoder under test: a codec, and for gzip the implementation.
struct Variant {
  const char* name;
  Codec codec;
  GzipImpl gzip = GzipImpl::kIsal;
};

const Variant kVariants[] = {
    {"none", Codec::kNone},
    {"gzip-isal", Codec::kGzip, GzipImpl::kIsal},
    {"gzip-zlib", Codec::kGzip, GzipImpl::kZlib},
    {"zstd", Codec::kZstd},
    {"bzip2", Codec::kBzip2},
    {"xz", Codec::kXz},
    {"lz4", Codec::kLz4},
};

std::unique_ptr<ReadStream> Wrap(const Variant& v,
                                 std::unique_ptr<ReadStream> raw) {
  if (v.codec == Codec::kGzip)
    return io_internal::WrapGzip(v.gzip, std::move(raw));
  StatusOr<std::unique_ptr<ReadStream>> s =
      WrapDecoder(v.codec, std::move(raw));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

StatusOr<std::string> DecodeFile(const Variant& v, const std::string& path,
                                 size_t chunk = kMiB) {
  StatusOr<std::unique_ptr<ReadStream>> raw = OpenFileStream(path);
  if (!raw.ok()) return raw.status();
  std::unique_ptr<ReadStream> s = Wrap(v, std::move(raw).value());
  return ReadAll(s.get(), chunk);
}

// Decodes `bytes` fed in chunks of 1..max_chunk bytes (random), reading
// `out_chunk` bytes at a time.
StatusOr<std::string> DecodeBytes(const Variant& v, const std::string& bytes,
                                  size_t max_chunk, size_t out_chunk,
                                  uint64_t seed = 1) {
  std::unique_ptr<ReadStream> s =
      Wrap(v, std::make_unique<MemoryStream>(bytes, "mem" + Extension(v.codec),
                                             max_chunk, true, seed));
  return ReadAll(s.get(), out_chunk);
}

std::string CompressAll(Codec codec, const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += Compress(codec, p);
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += p;
  return out;
}

// EXPECT_EQ on multi-megabyte strings prints them whole; this does not.
#define EXPECT_SAME_BYTES(got, want) \
  EXPECT_TRUE((got) == (want))       \
      << "got " << (got).size() << " bytes, want " << (want).size()

TEST(DecoderTest, RoundTripEveryCodecAndSize) {
  TempDir dir;
  const size_t kSizes[] = {0, 1, kMiB - 1, kMiB, kMiB + 1, 6 * kMiB + 3};
  for (size_t size : kSizes) {
    const std::string content = NginxText(size, size + 1);
    for (const Variant& v : kVariants) {
      SCOPED_TRACE(std::string(v.name) + " size " + std::to_string(size));
      const std::string compressed = Compress(v.codec, content);
      const std::string path =
          dir.Path("rt_" + std::to_string(size) + Extension(v.codec));
      WriteFile(path, compressed);
      StatusOr<std::string> got = DecodeFile(v, path);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_SAME_BYTES(*got, content);
      // And through OpenDecoded, which picks the codec by extension.
      StatusOr<std::string> by_ext = io_test::ReadDecoded(path);
      ASSERT_TRUE(by_ext.ok()) << by_ext.status();
      EXPECT_SAME_BYTES(*by_ext, content);
    }
  }
}

TEST(DecoderTest, FileOffsetCountsCompressedBytes) {
  TempDir dir;
  const std::string content = NginxText(3 * kMiB, 5);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    const std::string compressed = Compress(v.codec, content);
    const std::string path = dir.Path("off" + Extension(v.codec));
    WriteFile(path, compressed);
    StatusOr<std::unique_ptr<ReadStream>> raw = OpenFileStream(path);
    ASSERT_TRUE(raw.ok());
    std::unique_ptr<ReadStream> s = Wrap(v, std::move(raw).value());
    EXPECT_EQ(s->path(), path);
    std::string buf(64 << 10, '\0');
    uint64_t last = 0;
    for (;;) {
      StatusOr<size_t> n = s->Read(buf.data(), buf.size());
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_GE(s->file_offset(), last);
      EXPECT_LE(s->file_offset(), compressed.size());
      last = s->file_offset();
      if (*n == 0) break;
    }
    EXPECT_EQ(s->file_offset(), compressed.size());
  }
}

TEST(DecoderTest, TinyInputChunksAndTinyReads) {
  const std::string content = NginxText(150000, 11);
  for (const Variant& v : kVariants) {
    const std::string compressed = Compress(v.codec, content);
    for (size_t max_chunk : {size_t{1}, size_t{7}, size_t{4096}}) {
      for (size_t out_chunk : {size_t{1}, size_t{5}, size_t{65536}}) {
        if (max_chunk == 1 && out_chunk == 1) continue;  // slow, adds nothing
        SCOPED_TRACE(std::string(v.name) + " in " + std::to_string(max_chunk) +
                     " out " + std::to_string(out_chunk));
        StatusOr<std::string> got =
            DecodeBytes(v, compressed, max_chunk, out_chunk, max_chunk);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_SAME_BYTES(*got, content);
      }
    }
  }
}

TEST(DecoderTest, EmptyFileDecodesToNothing) {
  TempDir dir;
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    const std::string path =
        dir.Path(std::string("empty") + Extension(v.codec));
    WriteFile(path, "");
    StatusOr<std::string> got = DecodeFile(v, path);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "");
  }
}

TEST(DecoderTest, MultiMemberGzipDecodesEveryMember) {
  TempDir dir;
  std::vector<std::string> many;
  for (int i = 0; i < 60; ++i) many.push_back(NginxText(i * 37, i));
  const std::vector<std::vector<std::string>> kCases = {
      {"first\n", "second\n"},  // boundary inside one input buffer
      {NginxText(2 * kMiB + 3, 1), NginxText(kMiB, 2)},
      {"", "a\n", "", "", "b"},  // empty members produce nothing, not EOF
      many,
  };
  for (GzipImpl impl : {GzipImpl::kIsal, GzipImpl::kZlib}) {
    const Variant v{"gzip", Codec::kGzip, impl};
    for (size_t i = 0; i < kCases.size(); ++i) {
      SCOPED_TRACE("impl " + std::to_string(static_cast<int>(impl)) + " case " +
                   std::to_string(i));
      const std::string want = Join(kCases[i]);
      const std::string bytes = CompressAll(Codec::kGzip, kCases[i]);
      const std::string path = dir.Path("multi" + std::to_string(i) + ".gz");
      WriteFile(path, bytes);
      StatusOr<std::string> got = DecodeFile(v, path);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_SAME_BYTES(*got, want);
      // Member boundaries at every position relative to input refills.
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        StatusOr<std::string> chunked = DecodeBytes(v, bytes, 97, 4096, seed);
        ASSERT_TRUE(chunked.ok()) << chunked.status();
        EXPECT_SAME_BYTES(*chunked, want);
      }
    }
    // Byte-at-a-time input across two small members.
    const std::string two = CompressAll(Codec::kGzip, {"one\n", "two\n"});
    StatusOr<std::string> got = DecodeBytes(v, two, 1, 3);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "one\ntwo\n");
  }
}

TEST(DecoderTest, MultipleFramesEveryCodec) {
  const std::vector<std::string> parts = {NginxText(300000, 1), "",
                                          NginxText(1000, 2), "x"};
  const std::string want = Join(parts);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    SCOPED_TRACE(v.name);
    const std::string bytes = CompressAll(v.codec, parts);
    StatusOr<std::string> got = DecodeBytes(v, bytes, kMiB, kMiB);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_SAME_BYTES(*got, want);
    StatusOr<std::string> chunked = DecodeBytes(v, bytes, 13, 1000);
    ASSERT_TRUE(chunked.ok()) << chunked.status();
    EXPECT_SAME_BYTES(*chunked, want);
  }
}

TEST(DecoderTest, GzipTrailingZerosAreIgnored) {
  const std::string gz = Compress(Codec::kGzip, "hello\n");
  for (GzipImpl impl : {GzipImpl::kIsal, GzipImpl::kZlib}) {
    const Variant v{"gzip", Codec::kGzip, impl};
    for (size_t zeros : {size_t{1}, size_t{512}, 2 * kMiB + 1}) {
      SCOPED_TRACE(zeros);
      StatusOr<std::string> got =
          DecodeBytes(v, gz + std::string(zeros, '\0'), kMiB, kMiB);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, "hello\n");
    }
  }
}

TEST(DecoderTest, GzipTrailingGarbageIsDataLoss) {
  const std::string gz = Compress(Codec::kGzip, "hello\n");
  const struct {
    std::string bytes;
    const char* reason;
  } kCases[] = {
      {gz + "x", "trailing garbage after gzip member 1"},
      {gz + std::string(100, '\0') + "x", "trailing garbage"},
      {gz + gz + "\n", "trailing garbage after gzip member 2"},
      {std::string(64, '\0'), "not in gzip format"},
      {"plain text, not gzip\n", "not in gzip format"},
      {gz + "\x1f", "truncated"},  // the start of a member that never comes
  };
  for (GzipImpl impl : {GzipImpl::kIsal, GzipImpl::kZlib}) {
    const Variant v{"gzip", Codec::kGzip, impl};
    for (const auto& c : kCases) {
      SCOPED_TRACE(c.reason);
      StatusOr<std::string> got = DecodeBytes(v, c.bytes, kMiB, kMiB);
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
      EXPECT_THAT(got.status().message(), HasSubstr(c.reason));
      EXPECT_THAT(got.status().message(), HasSubstr("mem.gz: gzip data"));
    }
  }
}

TEST(DecoderTest, TruncatedFileIsDataLossEveryCodec) {
  TempDir dir;
  const std::string content = NginxText(400000, 21);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    for (bool multi : {false, true}) {
      const std::string bytes = multi ? CompressAll(v.codec, {content, content})
                                      : Compress(v.codec, content);
      const size_t n = bytes.size();
      // In the two-frame file, n / 2 is the clean end of the first frame.
      for (size_t cut : {size_t{1}, size_t{2}, size_t{10}, n / 4, n / 2 - 1,
                         n / 2 + 1, n / 2 + 2, n - 8, n - 4, n - 1}) {
        SCOPED_TRACE(std::string(v.name) + (multi ? " multi" : "") + " cut " +
                     std::to_string(cut) + " of " + std::to_string(n));
        const std::string path = dir.Path("trunc" + Extension(v.codec));
        WriteFile(path, bytes.substr(0, cut));
        StatusOr<std::string> got = DecodeFile(v, path);
        ASSERT_FALSE(got.ok()) << "decoded " << got->size() << " bytes";
        EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
        const std::string msg = got.status().message();
        EXPECT_THAT(msg, HasSubstr(path + ": " +
                                   std::string(CodecName(v.codec)) + " data "));
        EXPECT_THAT(msg, HasSubstr("truncated at byte " + std::to_string(cut)))
            << msg;
      }
    }
  }
}

TEST(DecoderTest, CorruptBytesAreDataLossEveryCodec) {
  TempDir dir;
  const std::string content = NginxText(400000, 31);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    const std::string good = Compress(v.codec, content);
    const size_t n = good.size();
    // A run of bytes in the middle, a byte near the end (the checksum, for
    // most formats), and the first byte (the magic number).
    for (size_t at : {n / 2, n - 3, size_t{0}}) {
      SCOPED_TRACE(std::string(v.name) + " at " + std::to_string(at));
      std::string bad = good;
      for (size_t i = at; i < std::min(n, at + 8); ++i) bad[i] ^= 0x5a;
      const std::string path = dir.Path("corrupt" + Extension(v.codec));
      WriteFile(path, bad);
      StatusOr<std::string> got = DecodeFile(v, path);
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
      EXPECT_THAT(got.status().message(), HasSubstr(path));
      EXPECT_THAT(got.status().message(), HasSubstr(" at byte "));
      EXPECT_THAT(got.status().message(), AnyOf(HasSubstr("data corrupt"),
                                                HasSubstr("data truncated")));
    }
  }
}

TEST(DecoderTest, ErrorsAreSticky) {
  const std::string bad = Compress(Codec::kGzip, NginxText(100000, 1)) + "junk";
  const Variant v{"gzip", Codec::kGzip, GzipImpl::kIsal};
  std::unique_ptr<ReadStream> s =
      Wrap(v, std::make_unique<MemoryStream>(bad, "x.gz"));
  StatusOr<std::string> first = ReadAll(s.get());
  ASSERT_FALSE(first.ok());
  char buf[10];
  StatusOr<size_t> again = s->Read(buf, sizeof(buf));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status(), first.status());
}

TEST(DecoderTest, RawStreamErrorsPassThrough) {
  const std::string content = NginxText(500000, 3);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    auto raw = std::make_unique<MemoryStream>(Compress(v.codec, content),
                                              "flaky" + Extension(v.codec));
    raw->FailAt(1000, UnavailableError("flaky: read at byte 1000: EIO"));
    std::unique_ptr<ReadStream> s = Wrap(v, std::move(raw));
    StatusOr<std::string> got = ReadAll(s.get());
    ASSERT_FALSE(got.ok());
    // Unchanged: the raw stream's message already names the file.
    EXPECT_EQ(got.status(), UnavailableError("flaky: read at byte 1000: EIO"));
  }
}

// TASKGRID_GZIP picks the implementation; the reasons in error messages
// show which one ran.
TEST(DecoderTest, GzipImplementationFromEnvironment) {
  TempDir dir;
  const std::string path = dir.Path("bad.gz");
  std::string bad = Compress(Codec::kGzip, NginxText(100000, 1));
  bad[bad.size() / 2] ^= 0x40;
  WriteFile(path, bad);
  const char* saved = std::getenv("TASKGRID_GZIP");
  const std::string saved_value = saved != nullptr ? saved : "";

  ::setenv("TASKGRID_GZIP", "zlib", 1);
  StatusOr<std::string> z = io_test::ReadDecoded(path);
  ::setenv("TASKGRID_GZIP", "isal", 1);
  StatusOr<std::string> i = io_test::ReadDecoded(path);
  ::unsetenv("TASKGRID_GZIP");
  StatusOr<std::string> d = io_test::ReadDecoded(path);
  ::setenv("TASKGRID_GZIP", "pigz", 1);
  StatusOr<std::unique_ptr<ReadStream>> bogus = OpenDecoded(path);
  if (saved != nullptr) {
    ::setenv("TASKGRID_GZIP", saved_value.c_str(), 1);
  } else {
    ::unsetenv("TASKGRID_GZIP");
  }

  EXPECT_THAT(z.status().message(), HasSubstr("(zlib: "));
  EXPECT_THAT(i.status().message(), HasSubstr("(isa-l: "));
  EXPECT_THAT(d.status().message(), HasSubstr("(isa-l: "));  // the default
  EXPECT_EQ(bogus.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bogus.status().message(), HasSubstr("TASKGRID_GZIP=pigz"));
}

// Files as the real tools write them: gzip stores the file name, igzip its
// own block layout, lz4 its default frame settings, and so on.
TEST(DecoderTest, FilesFromCommandLineTools) {
  TempDir dir;
  const std::string content = NginxText(1500000, 41);
  const std::string input = dir.Path("access.log");
  WriteFile(input, content);
  const struct {
    const char* tool;
    std::vector<std::string> args;
    const char* ext;
  } kTools[] = {
      {"gzip", {"-6", "-c"}, ".gz"},  {"gzip", {"-1", "-c"}, ".gz"},
      {"igzip", {"-c"}, ".gz"},       {"igzip", {"-3", "-c"}, ".gz"},
      {"zstd", {"-q", "-c"}, ".zst"}, {"bzip2", {"-c"}, ".bz2"},
      {"xz", {"-1", "-c"}, ".xz"},    {"lz4", {"-q", "-c"}, ".lz4"},
  };
  int ran = 0;
  int gz_files = 0;
  std::string gz_concat;
  for (const auto& t : kTools) {
    const std::string tool = io_test::FindTool(t.tool);
    if (tool.empty()) {
      std::cerr << "note: " << t.tool << " not installed; skipped\n";
      continue;
    }
    std::vector<std::string> argv = {tool};
    argv.insert(argv.end(), t.args.begin(), t.args.end());
    argv.push_back(input);
    const std::string out =
        dir.Path("tool" + std::to_string(ran) + "_" + t.tool + t.ext);
    testing::SpawnOptions opts;
    opts.stdout_path = out;
    testing::CommandResult r =
        testing::RunCommand(argv, std::chrono::seconds(120), opts);
    ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
    ++ran;
    SCOPED_TRACE(out);
    StatusOr<std::string> got = io_test::ReadDecoded(out);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_SAME_BYTES(*got, content);
    if (std::string(t.ext) == ".gz") {
      gz_concat += ReadFile(out);
      ++gz_files;
    }
    for (GzipImpl impl : {GzipImpl::kIsal, GzipImpl::kZlib}) {
      if (std::string(t.ext) != ".gz") break;
      StatusOr<std::string> other =
          DecodeFile(Variant{"gzip", Codec::kGzip, impl}, out);
      ASSERT_TRUE(other.ok()) << other.status();
      EXPECT_SAME_BYTES(*other, content);
    }
  }
  if (ran == 0) GTEST_SKIP() << "no compression tools installed";
  // `cat a.gz b.gz ...` of members from different compressors.
  const std::string cat_path = dir.Path("cat.gz");
  WriteFile(cat_path, gz_concat);
  StatusOr<std::string> got = io_test::ReadDecoded(cat_path);
  ASSERT_TRUE(got.ok()) << got.status();
  std::string want;
  for (int i = 0; i < gz_files; ++i) want += content;
  EXPECT_SAME_BYTES(*got, want);
}

// --- Fuzz: fixed seeds, bounded iterations. The property: no crash, no
// hang, no unbounded memory, and no silently wrong output.

bool AcceptableError(const Status& s) {
  return s.code() == StatusCode::kDataLoss ||
         s.code() == StatusCode::kResourceExhausted;
}

std::string Magic(Codec codec) {
  switch (codec) {
    case Codec::kGzip:
      return std::string("\x1f\x8b\x08", 3);
    case Codec::kZstd:
      return std::string("\x28\xb5\x2f\xfd", 4);
    case Codec::kBzip2:
      return "BZh9";
    case Codec::kXz:
      return std::string(
          "\xfd"
          "7zXZ\0",
          6);
    case Codec::kLz4:
      return std::string("\x04\x22\x4d\x18", 4);
    case Codec::kNone:
      return "";
  }
  return "";
}

TEST(DecoderFuzzTest, RandomBytes) {
  std::mt19937_64 rng(20240312);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    SCOPED_TRACE(v.name);
    for (int iter = 0; iter < 300; ++iter) {
      std::string bytes = iter % 2 == 0 ? Magic(v.codec) : "";
      const size_t len = rng() % 3000;
      for (size_t i = 0; i < len; ++i)
        bytes.push_back(static_cast<char>(rng()));
      // Draws in a fixed order (argument evaluation order is unspecified).
      const size_t max_chunk = 1 + rng() % 4096;
      const size_t out_chunk = 1 + rng() % 70000;
      const uint64_t seed = rng();
      StatusOr<std::string> got =
          DecodeBytes(v, bytes, max_chunk, out_chunk, seed);
      if (!got.ok()) {
        EXPECT_TRUE(AcceptableError(got.status())) << got.status();
      }
    }
  }
}

TEST(DecoderFuzzTest, RandomTruncationsAreNeverCleanEnds) {
  std::mt19937_64 rng(7);
  const std::string content = NginxText(64 << 10, 9);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    SCOPED_TRACE(v.name);
    const std::string bytes = CompressAll(v.codec, {content, "tail\n"});
    const size_t first = Compress(v.codec, content).size();
    for (int iter = 0; iter < 150; ++iter) {
      const size_t cut = 1 + rng() % (bytes.size() - 1);
      if (cut == first) continue;  // a clean end of the first frame
      const size_t max_chunk = 1 + rng() % 5000;
      const uint64_t seed = rng();
      StatusOr<std::string> got =
          DecodeBytes(v, bytes.substr(0, cut), max_chunk, 4096, seed);
      ASSERT_FALSE(got.ok()) << "cut " << cut << " decoded cleanly";
      EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
    }
  }
}

TEST(DecoderFuzzTest, RandomBitFlipsNeverGiveWrongOutput) {
  std::mt19937_64 rng(99);
  const std::string content = NginxText(64 << 10, 10);
  for (const Variant& v : kVariants) {
    if (v.codec == Codec::kNone) continue;
    SCOPED_TRACE(v.name);
    const std::string good = Compress(v.codec, content);
    for (int iter = 0; iter < 200; ++iter) {
      std::string bad = good;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        const size_t at = rng() % bad.size();
        bad[at] ^= static_cast<char>(1 << (rng() % 8));
      }
      const size_t max_chunk = 1 + rng() % 5000;
      const size_t out_chunk = 1 + rng() % 70000;
      const uint64_t seed = rng();
      StatusOr<std::string> got =
          DecodeBytes(v, bad, max_chunk, out_chunk, seed);
      if (got.ok()) {
        // Flips in fields no checksum covers (gzip's MTIME, say) are fine
        // as long as the content is right.
        EXPECT_SAME_BYTES(*got, content);
      } else {
        EXPECT_TRUE(AcceptableError(got.status())) << got.status();
      }
    }
  }
}

}  // namespace
}  // namespace taskgrid
