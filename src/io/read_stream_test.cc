// File streams, ranges, codec choice and open errors. Decoders are tested in
// decoders_test.cc.
#include "io/read_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "io/codec_test_util.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

using ::taskgrid::io_test::NginxText;
using ::taskgrid::io_test::ReadAll;
using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WriteFile;
using ::testing::HasSubstr;

constexpr size_t kMiB = size_t{1} << 20;

TEST(ReadStreamTest, CodecForPathTable) {
  const struct {
    const char* path;
    Codec codec;
  } kCases[] = {
      {"a.log", Codec::kNone},
      {"a.log.gz", Codec::kGzip},
      {"/var/log/nginx/access.log.2.gz", Codec::kGzip},
      {"A.LOG.GZ", Codec::kGzip},
      {"a.zst", Codec::kZstd},
      {"a.bz2", Codec::kBzip2},
      {"a.xz", Codec::kXz},
      {"a.lz4", Codec::kLz4},
      {"file:///x/a.log.zst", Codec::kZstd},
      {"a.gz.txt", Codec::kNone},
      {"a.tgz", Codec::kNone},
      {"gz", Codec::kNone},
      {".gz", Codec::kNone},  // a hidden file named "gz", not an extension
      {"dir.gz/a.log", Codec::kNone},
      {"a.gz/", Codec::kNone},
      {"a.", Codec::kNone},
      {"", Codec::kNone},
      {"a.zstd", Codec::kNone},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(CodecForPath(c.path), c.codec) << c.path;
  }
}

TEST(ReadStreamTest, CodecNames) {
  EXPECT_EQ(CodecName(Codec::kNone), "none");
  EXPECT_EQ(CodecName(Codec::kGzip), "gzip");
  EXPECT_EQ(CodecName(Codec::kZstd), "zstd");
  EXPECT_EQ(CodecName(Codec::kBzip2), "bzip2");
  EXPECT_EQ(CodecName(Codec::kXz), "xz");
  EXPECT_EQ(CodecName(Codec::kLz4), "lz4");
}

TEST(ReadStreamTest, PlainFileRoundTripsAtEverySize) {
  TempDir dir;
  const size_t kSizes[] = {0, 1, kMiB - 1, kMiB, kMiB + 1, 5 * kMiB + 17};
  const size_t kChunks[] = {1 << 20, 4096, 100, 3 * kMiB};
  for (size_t size : kSizes) {
    const std::string content = NginxText(size, size);
    const std::string path = dir.Path("plain_" + std::to_string(size));
    WriteFile(path, content);
    for (size_t chunk : kChunks) {
      SCOPED_TRACE("size " + std::to_string(size) + " chunk " +
                   std::to_string(chunk));
      StatusOr<std::unique_ptr<ReadStream>> s = OpenFileStream(path);
      ASSERT_TRUE(s.ok()) << s.status();
      StatusOr<std::string> got = ReadAll(s->get(), chunk);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got == content, true);
      EXPECT_EQ((*s)->file_offset(), size);
      EXPECT_EQ((*s)->path(), path);
      // At the end, Read keeps returning 0.
      char c;
      StatusOr<size_t> again = (*s)->Read(&c, 1);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, 0u);
    }
  }
}

TEST(ReadStreamTest, FileOffsetCountsBytesReturned) {
  TempDir dir;
  const std::string content = NginxText(300000, 7);
  WriteFile(dir.Path("f"), content);
  StatusOr<std::unique_ptr<ReadStream>> s = OpenFileStream(dir.Path("f"));
  ASSERT_TRUE(s.ok());
  char buf[1000];
  uint64_t total = 0;
  const size_t kReads[] = {10, 1000, 1, 999, 7};
  for (size_t n : kReads) {
    StatusOr<size_t> r = (*s)->Read(buf, n);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::string(buf, *r), content.substr(total, *r));
    total += *r;
    EXPECT_EQ((*s)->file_offset(), total);
  }
  // A large read after small ones continues at the right place.
  std::string big(1 << 20, '\0');
  StatusOr<size_t> r = (*s)->Read(big.data(), big.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(big.substr(0, *r), content.substr(total, *r));
}

TEST(ReadStreamTest, RangeTable) {
  TempDir dir;
  const std::string content = NginxText(3 * kMiB + 5, 3);
  const std::string path = dir.Path("range.log");
  WriteFile(path, content);
  const struct {
    uint64_t offset;
    int64_t length;
  } kCases[] = {
      {0, -1},
      {0, 0},
      {0, 10},
      {5, 100},
      {kMiB - 1, 2},
      {kMiB, static_cast<int64_t>(kMiB)},
      {100, -1},
      {content.size() - 1, 10},   // clipped at the end of the file
      {content.size(), -1},       // at the end: empty
      {content.size() + 100, 5},  // past the end: empty
  };
  for (const auto& c : kCases) {
    for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
      if (chunk == 1 && (c.length < 0 || c.length > 5000)) continue;
      SCOPED_TRACE("offset " + std::to_string(c.offset) + " length " +
                   std::to_string(c.length) + " chunk " +
                   std::to_string(chunk));
      StatusOr<std::unique_ptr<ReadStream>> s =
          OpenFileRange(path, c.offset, c.length);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ((*s)->file_offset(), c.offset);
      StatusOr<std::string> got = ReadAll(s->get(), chunk);
      ASSERT_TRUE(got.ok()) << got.status();
      std::string want;
      if (c.offset < content.size()) {
        want = content.substr(c.offset,
                              c.length < 0 ? std::string::npos : c.length);
      }
      EXPECT_TRUE(*got == want) << got->size() << " vs " << want.size();
      // file_offset is the position in the file.
      EXPECT_EQ((*s)->file_offset(), c.offset + want.size());
    }
  }
}

TEST(ReadStreamTest, NonexistentFileIsNotFoundNamingThePath) {
  TempDir dir;
  const std::string path = dir.Path("missing.log.gz");
  for (auto open :
       {+[](const std::string& p) { return OpenFileStream(p); },
        +[](const std::string& p) { return OpenDecoded(p); },
        +[](const std::string& p) { return OpenFileRange(p, 0, 10); }}) {
    StatusOr<std::unique_ptr<ReadStream>> s = open(path);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kNotFound) << s.status();
    EXPECT_THAT(s.status().message(), HasSubstr(path));
  }
  // A missing directory on the way is NotFound too.
  StatusOr<std::unique_ptr<ReadStream>> s =
      OpenFileStream(dir.Path("nodir/a.log"));
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound) << s.status();
}

TEST(ReadStreamTest, DirectoryIsAnErrorNotACrash) {
  TempDir dir;
  ::mkdir(dir.Path("d.gz").c_str(), 0755);
  for (const std::string& path : {dir.path(), dir.Path("d.gz")}) {
    StatusOr<std::unique_ptr<ReadStream>> a = OpenFileStream(path);
    StatusOr<std::unique_ptr<ReadStream>> b = OpenDecoded(path);
    StatusOr<std::unique_ptr<ReadStream>> c = OpenFileRange(path, 0, -1);
    for (const auto* s : {&a, &b, &c}) {
      ASSERT_FALSE(s->ok());
      EXPECT_EQ(s->status().code(), StatusCode::kFailedPrecondition)
          << s->status();
      EXPECT_THAT(s->status().message(), HasSubstr(path));
    }
  }
}

TEST(ReadStreamTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir;
  const std::string path = dir.Path("secret.log");
  WriteFile(path, "x\n");
  ::chmod(path.c_str(), 0);
  StatusOr<std::unique_ptr<ReadStream>> s = OpenFileStream(path);
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr(path));
}

// A character device streams like a file but has no byte ranges.
TEST(ReadStreamTest, DeviceReadsButCannotBeRanged) {
  StatusOr<std::unique_ptr<ReadStream>> r = OpenFileRange("/dev/null", 0, 10);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  StatusOr<std::unique_ptr<ReadStream>> s = OpenFileStream("/dev/null");
  ASSERT_TRUE(s.ok()) << s.status();
  StatusOr<std::string> got = ReadAll(s->get());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
}

TEST(ReadStreamTest, SchemeSelectsTheSource) {
  TempDir dir;
  const std::string path = dir.Path("a.log");
  WriteFile(path, "hello\n");
  StatusOr<std::unique_ptr<ReadStream>> s = OpenFileStream("file://" + path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->path(), "file://" + path);  // messages keep what was asked
  StatusOr<std::string> got = ReadAll(s->get());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "hello\n");

  StatusOr<std::unique_ptr<ReadStream>> t =
      OpenFileStream("tg://worker-1/" + path);
  EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented) << t.status();
  EXPECT_THAT(t.status().message(), HasSubstr("tg://worker-1/"));
}

TEST(ReadStreamTest, WrapDecoderNoneReturnsTheRawStream) {
  auto raw = std::make_unique<io_test::MemoryStream>("abc");
  ReadStream* const raw_ptr = raw.get();
  StatusOr<std::unique_ptr<ReadStream>> s =
      WrapDecoder(Codec::kNone, std::move(raw));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->get(), raw_ptr);
  StatusOr<std::unique_ptr<ReadStream>> null_raw =
      WrapDecoder(Codec::kGzip, nullptr);
  EXPECT_EQ(null_raw.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace taskgrid
