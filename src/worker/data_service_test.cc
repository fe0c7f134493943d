// DataServer and its clients in one process, over gRPC on a loopback port:
// chunked reads with exact bytes, ranges, listings, every way out of the
// served roots, the cluster token, TLS, and tg:// URLs through io's
// OpenDecoded and SplitLineReader (what processors use), tg:// globs and
// splits through the catalog, and the idle timeout of reads from a data
// service that stops sending.
#include "worker/data_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/status_macros.h"
#include "io/codec_test_util.h"
#include "io/read_stream.h"
#include "io/split.h"
#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_test_util.h"
#include "rpc/grpc/proto/data.grpc.pb.h"
#include "testing/process.h"
#include "worker/data_client.h"
#include "worker/shuffle_task.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using ::taskgrid::io_test::Compress;
using ::taskgrid::io_test::ReadAll;
using ::taskgrid::testing::ReadFile;
using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WriteFile;
using ::taskgrid::testing_grpc::FreePort;

constexpr char kToken[] = "data-secret";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class DataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.Path("data");
    fs::create_directories(data_ + "/sub");
    fs::create_directories(tmp_.Path("data2"));
    fs::create_directories(tmp_.Path("outside"));
    WriteFile(data_ + "/hello.txt", "hello, world\n");
    WriteFile(data_ + "/sub/b.txt", "bb\n");
    WriteFile(tmp_.Path("data2/secret.txt"), "not yours\n");
    WriteFile(tmp_.Path("outside/secret.txt"), "not yours either\n");
    // Symlinks: one staying inside, two leading out.
    fs::create_symlink(data_ + "/hello.txt", data_ + "/inside-link");
    fs::create_symlink(tmp_.Path("outside/secret.txt"), data_ + "/file-out");
    fs::create_symlink(tmp_.Path("outside"), data_ + "/dir-out");
    StartServer({data_});
  }

  void StartServer(std::vector<std::string> roots,
                   const GrpcTlsOptions& tls = {}) {
    server_.reset();
    DataServerOptions o;
    o.listen_address = "127.0.0.1:" + std::to_string(FreePort());
    o.token = kToken;
    o.tls = tls;
    o.roots = std::move(roots);
    auto s = DataServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  DataClientOptions Client(std::string token = kToken) const {
    DataClientOptions o;
    o.token = std::move(token);
    return o;
  }

  StatusOr<std::string> Cat(const std::string& path, uint64_t offset = 0,
                            int64_t length = -1) {
    ASSIGN_OR_RETURN(auto s,
                     OpenRemoteFile(address_, Client(), path, offset, length));
    return ReadAll(s.get(), 100'000);
  }

  TempDir tmp_;
  std::string data_;
  std::unique_ptr<DataServer> server_;
  std::string address_;
};

TEST_F(DataServiceTest, ReadsAMultiMegabyteFileExactly) {
  const std::string big = RandomBytes((5u << 20) + 12345, 7);
  WriteFile(data_ + "/big.bin", big);
  for (size_t chunk :
       {size_t{1}, size_t{4096}, size_t{1} << 20, size_t{3} << 20}) {
    if (chunk == 1) {
      // Byte-at-a-time over the first 100 KiB only.
      auto s =
          OpenRemoteFile(address_, Client(), data_ + "/big.bin", 0, 100 << 10);
      ASSERT_TRUE(s.ok()) << s.status();
      std::string got;
      char c;
      while (true) {
        auto n = (*s)->Read(&c, 1);
        ASSERT_TRUE(n.ok()) << n.status();
        if (*n == 0) break;
        got.push_back(c);
      }
      EXPECT_EQ(got, big.substr(0, 100 << 10));
      continue;
    }
    auto s = OpenRemoteFile(address_, Client(), data_ + "/big.bin");
    ASSERT_TRUE(s.ok()) << s.status();
    auto all = ReadAll(s->get(), chunk);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_TRUE(*all == big) << "read in pieces of " << chunk;
    EXPECT_EQ((*s)->file_offset(), big.size());
  }
}

TEST_F(DataServiceTest, StreamsChunksOfAboutOneMebibyte) {
  const std::string big = RandomBytes((3u << 20) + 1, 8);
  WriteFile(data_ + "/big.bin", big);
  auto channel =
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto stub = pb::Data::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-taskgrid-token", kToken);
  pb::DataReadRequest req;
  req.set_path(data_ + "/big.bin");
  auto reader = stub->Read(&ctx, req);
  pb::DataChunk chunk;
  std::vector<size_t> sizes;
  std::string got;
  uint64_t file_size = 0;
  while (reader->Read(&chunk)) {
    if (sizes.empty()) file_size = chunk.file_size();
    EXPECT_EQ(chunk.offset(), got.size());
    sizes.push_back(chunk.data().size());
    got += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(file_size, big.size());
  EXPECT_TRUE(got == big);
  ASSERT_EQ(sizes.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sizes[i], size_t{1} << 20);
  EXPECT_EQ(sizes[3], 1u);
}

TEST_F(DataServiceTest, OffsetAndLength) {
  const std::string big = RandomBytes((2u << 20) + 777, 9);
  WriteFile(data_ + "/big.bin", big);
  const std::string p = data_ + "/big.bin";
  struct Case {
    uint64_t offset;
    int64_t length;
  };
  for (const Case& c : std::vector<Case>{{0, -1},
                                         {3, 10},
                                         {(1u << 20) - 1, (1 << 20) + 5},
                                         {(1u << 20) + 3, -1},
                                         {big.size() - 1, 100},
                                         {big.size(), -1},
                                         {big.size() + 10, 5},
                                         {17, 0}}) {
    auto got = Cat(p, c.offset, c.length);
    ASSERT_TRUE(got.ok()) << got.status();
    const std::string want =
        c.offset >= big.size()
            ? ""
            : big.substr(c.offset, c.length < 0
                                       ? std::string::npos
                                       : static_cast<size_t>(c.length));
    EXPECT_TRUE(*got == want) << "offset " << c.offset << " length " << c.length
                              << ": " << got->size() << " vs " << want.size();
  }
  auto empty = Cat(data_ + "/empty.txt");
  EXPECT_EQ(empty.status().code(), StatusCode::kNotFound);
  WriteFile(data_ + "/empty.txt", "");
  empty = Cat(data_ + "/empty.txt");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
}

TEST_F(DataServiceTest, ListsADirectory) {
  auto entries = ListRemoteDir(address_, Client(), data_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> names;
  for (const RemoteEntry& e : *entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dir-out", "file-out", "hello.txt",
                                             "inside-link", "sub"}));
  const auto& by = [&](const std::string& n) -> const RemoteEntry& {
    for (const RemoteEntry& e : *entries) {
      if (e.name == n) return e;
    }
    ADD_FAILURE() << n;
    return entries->front();
  };
  EXPECT_FALSE(by("hello.txt").is_dir);
  EXPECT_EQ(by("hello.txt").size, 13u);
  EXPECT_GT(by("hello.txt").mtime_ms, 0);
  EXPECT_TRUE(by("sub").is_dir);
  EXPECT_TRUE(by("inside-link").is_symlink);
  EXPECT_EQ(by("inside-link").size, 13u);  // the target's, inside
  // Links out say nothing about their targets.
  EXPECT_TRUE(by("file-out").is_symlink);
  EXPECT_EQ(by("file-out").size, 0u);
  EXPECT_EQ(by("file-out").mtime_ms, 0);
  EXPECT_FALSE(by("dir-out").is_dir);

  // A file lists as itself.
  auto one = ListRemoteDir(address_, Client(), data_ + "/sub/b.txt");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "b.txt");
  EXPECT_EQ((*one)[0].size, 3u);

  // Many entries arrive in several batches.
  fs::create_directories(data_ + "/many");
  for (int i = 0; i < 1200; ++i) {
    WriteFile(data_ + "/many/f" + std::to_string(100000 + i), "x");
  }
  auto many = ListRemoteDir(address_, Client(), data_ + "/many");
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 1200u);
  EXPECT_EQ(many->front().name, "f100000");
  EXPECT_EQ(many->back().name, "f101199");
}

TEST_F(DataServiceTest, RefusesPathsOutsideTheRoots) {
  const std::vector<std::string> refused = {
      data_ + "/../outside/secret.txt",  // ..
      data_ + "/sub/../hello.txt",       // .. even when it stays inside
      "data/hello.txt",                  // relative
      "",                                // empty
      "/etc/passwd",                     // elsewhere
      tmp_.Path("outside/secret.txt"),
      data_ + "/file-out",            // symlink to a file outside
      data_ + "/dir-out/secret.txt",  // through a symlinked directory
      data_ + "/dir-out",             // the symlinked directory itself
      tmp_.Path("data2/secret.txt"),  // /data vs /data2
      tmp_.Path("data2"),
      data_ + "2/secret.txt",
      tmp_.Path("outside/missing.txt"),  // missing, outside: still refused
      data_ + "/dir-out/missing.txt",
  };
  for (const std::string& p : refused) {
    auto r = Cat(p);
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied)
        << "'" << p << "': " << r.status();
    if (!p.empty()) {
      EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status();
    }
    auto l = ListRemoteDir(address_, Client(), p);
    EXPECT_EQ(l.status().code(), StatusCode::kPermissionDenied)
        << "'" << p << "': " << l.status();
  }
  // Inside, all of these are fine.
  for (const std::string& p :
       {data_ + "/hello.txt", data_ + "//hello.txt", data_ + "/./hello.txt",
        data_ + "/inside-link", data_ + "/sub/b.txt"}) {
    auto r = Cat(p);
    EXPECT_TRUE(r.ok()) << p << ": " << r.status();
  }
}

TEST_F(DataServiceTest, MissingAndWrongKinds) {
  auto r = Cat(data_ + "/nope.txt");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_NE(r.status().message().find(data_ + "/nope.txt"), std::string::npos);
  r = Cat(data_ + "/no/such/dir/x");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  r = Cat(data_ + "/hello.txt/x");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  r = Cat(data_ + "/sub");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  auto l = ListRemoteDir(address_, Client(), data_ + "/nope");
  EXPECT_EQ(l.status().code(), StatusCode::kNotFound) << l.status();
}

TEST_F(DataServiceTest, MissingOrWrongTokenIsUnauthenticated) {
  auto wrong =
      OpenRemoteFile(address_, Client("not-the-token"), data_ + "/hello.txt");
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("wrong cluster token"),
            std::string::npos)
      << wrong.status();
  auto wrong_list = ListRemoteDir(address_, Client("not-the-token"), data_);
  EXPECT_EQ(wrong_list.status().code(), StatusCode::kUnauthenticated);
  // A refused path gets the same answer without a token: the token is
  // checked first.
  auto wrong_out = OpenRemoteFile(address_, Client("x"), "/etc/passwd");
  EXPECT_EQ(wrong_out.status().code(), StatusCode::kUnauthenticated);

  // No token at all (our client refuses to send none: use a raw stub).
  auto stub = pb::Data::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    pb::DataReadRequest req;
    req.set_path(data_ + "/hello.txt");
    auto reader = stub->Read(&ctx, req);
    pb::DataChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(s.error_message().find("missing cluster token"),
              std::string::npos)
        << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    pb::DataStatRequest req;
    req.set_path(data_ + "/hello.txt");
    pb::DataEntry e;
    EXPECT_EQ(stub->Stat(&ctx, req, &e).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    pb::DataStatRequest req;
    req.set_path(data_ + "/hello.txt");
    pb::DataEntry e;
    ASSERT_TRUE(stub->Stat(&ctx, req, &e).ok());
    EXPECT_EQ(e.size(), 13u);
  }
  EXPECT_EQ(OpenRemoteFile(address_, Client(""), data_ + "/hello.txt")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(DataServiceTest, RootsAddedWhileServing) {
  const std::string out = tmp_.Path("job-out");
  EXPECT_EQ(Cat(out + "/part-00000").status().code(),
            StatusCode::kPermissionDenied);
  // Added before the directory exists, as a job's output directory is.
  ASSERT_TRUE(server_->AddRoot(out).ok());
  EXPECT_EQ(Cat(out + "/part-00000").status().code(), StatusCode::kNotFound);
  fs::create_directories(out);
  WriteFile(out + "/part-00000", "result\n");
  auto r = Cat(out + "/part-00000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "result\n");
  ASSERT_TRUE(server_->AddRoot(out + "/").ok());  // the same root
  EXPECT_EQ(server_->roots().size(), 2u);
  EXPECT_EQ(server_->AddRoot("/").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server_->AddRoot("").code(), StatusCode::kInvalidArgument);
}

TEST_F(DataServiceTest, StopsStreamingWhenTheReaderGoesAway) {
  WriteFile(data_ + "/big.bin", RandomBytes(8u << 20, 3));
  for (int i = 0; i < 5; ++i) {
    auto s = OpenRemoteFile(address_, Client(), data_ + "/big.bin");
    ASSERT_TRUE(s.ok()) << s.status();
    char buf[10];
    ASSERT_TRUE((*s)->Read(buf, sizeof buf).ok());
    // Destroyed mid-stream: cancels the call; must neither hang nor leak.
  }
  server_->Shutdown(1000);
}

TEST_F(DataServiceTest, TgUrlsThroughReadStreams) {
  // What processors do: OpenDecoded / SplitLineReader on a tg:// URL.
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "line " + std::to_string(i) + "\n";
  WriteFile(data_ + "/x.log.gz", Compress(Codec::kGzip, text));
  WriteFile(data_ + "/x.log", text);
  const std::string base = "tg://" + address_ + data_;

  auto no_opener = OpenDecoded(base + "/x.log.gz");
  EXPECT_EQ(no_opener.status().code(), StatusCode::kUnimplemented);

  InstallTgOpener(std::make_shared<TgResolver>(nullptr, Client()));
  struct Uninstall {
    ~Uninstall() { InstallTgOpener(nullptr); }
  } uninstall;
  auto decoded = io_test::ReadDecoded(base + "/x.log.gz");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == text);

  // A byte range split of the plain file: the lines it owns.
  FileSplit split{base + "/x.log", 1000, 5000};
  auto reader = SplitLineReader::Open(split);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string lines;
  std::string_view line;
  while (true) {
    auto more = (*reader)->Next(&line);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    lines += std::string(line) + "\n";
  }
  const size_t from = text.find('\n', 999) + 1;
  const size_t to = text.find('\n', 5999) + 1;
  EXPECT_EQ(lines, text.substr(from, to - from));

  // Errors name the URL.
  auto missing = OpenDecoded(base + "/nope.gz");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message().rfind(base + "/nope.gz", 0), 0u)
      << missing.status();
  auto out = OpenDecoded("tg://" + address_ + "/etc/passwd");
  EXPECT_EQ(out.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(out.status().message().find("tg://" + address_ + "/etc/passwd"),
            std::string::npos);
  // A worker id needs masters to resolve it.
  auto id = OpenDecoded("tg://w1" + data_ + "/x.log");
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(id.status().message().find("tg://w1"), std::string::npos);
}

// The hook itself, without gRPC: ranges reach the opener, decoders wrap
// what it returns, and it can be replaced and removed.
TEST(RemoteOpenerTest, OpenFileRangeAndOpenDecodedUseTheHook) {
  const std::string text = "one\ntwo\nthree\n";
  std::vector<std::string> calls;
  RemoteOpener prev = SetRemoteOpener(
      [&](const std::string& url, uint64_t offset,
          int64_t length) -> StatusOr<std::unique_ptr<ReadStream>> {
        calls.push_back(url + " " + std::to_string(offset) + " " +
                        std::to_string(length));
        std::string data =
            url.ends_with(".gz") ? Compress(Codec::kGzip, text) : text;
        data = data.substr(
            std::min<size_t>(offset, data.size()),
            length < 0 ? std::string::npos : static_cast<size_t>(length));
        return std::unique_ptr<ReadStream>(
            std::make_unique<io_test::MemoryStream>(data, url));
      });
  EXPECT_FALSE(prev);
  auto range = OpenFileRange("tg://w1/d/a.txt", 4, 3);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*ReadAll(range->get()), "two");
  auto gz = OpenDecoded("tg://w1/d/a.txt.gz");
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(*ReadAll(gz->get()), text);
  EXPECT_EQ(calls, (std::vector<std::string>{"tg://w1/d/a.txt 4 3",
                                             "tg://w1/d/a.txt.gz 0 -1"}));
  // Other schemes are still not ours; plain paths never reach the hook.
  EXPECT_EQ(OpenFileStream("s3://b/k").status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(OpenFileStream("/no/such/tg/file").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_TRUE(SetRemoteOpener(nullptr));
  EXPECT_EQ(OpenFileStream("tg://w1/d/a.txt").status().code(),
            StatusCode::kUnimplemented);
}

TEST_F(DataServiceTest, ServesOverTls) {
  testing_grpc::TempTlsFiles tls("tg-data-tls");
  GrpcTlsOptions server_tls = tls.options();
  server_tls.ca_path.clear();
  StartServer({data_}, server_tls);
  address_ = "localhost:" + std::to_string(server_->port());
  DataClientOptions o = Client();
  o.tls.ca_path = tls.options().ca_path;
  auto s = OpenRemoteFile(address_, o, data_ + "/hello.txt");
  ASSERT_TRUE(s.ok()) << s.status();
  auto all = ReadAll(s->get());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, "hello, world\n");
  // Plaintext to a TLS server does not get through.
  auto plain = OpenRemoteFile(address_, Client(), data_ + "/hello.txt");
  EXPECT_FALSE(plain.ok());
}

TEST_F(DataServiceTest, StatAndTgGlobsThroughTheCatalog) {
  auto st = StatRemoteFile(address_, Client(), data_ + "/hello.txt");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->name, "hello.txt");
  EXPECT_EQ(st->size, 13u);
  EXPECT_FALSE(st->is_dir);
  EXPECT_EQ(StatRemoteFile(address_, Client(), data_ + "/nope").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(StatRemoteFile(address_, Client(), "/etc/passwd").status().code(),
            StatusCode::kPermissionDenied);

  const std::string base = "tg://" + address_ + data_;
  EXPECT_EQ(ExpandGlobs({base + "/*"}).status().code(),
            StatusCode::kUnimplemented);
  InstallTgOpener(std::make_shared<TgResolver>(nullptr, Client()));
  struct Uninstall {
    ~Uninstall() { InstallTgOpener(nullptr); }
  } uninstall;
  // Symlinks out of the root (file-out, dir-out) match nothing; the one
  // inside does.
  auto all = ExpandGlobs({base + "/*"});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<std::string>{base + "/hello.txt",
                                            base + "/inside-link"}));
  auto deep = ExpandGlobs({base + "/**/*.txt"});
  ASSERT_TRUE(deep.ok()) << deep.status();
  EXPECT_EQ(*deep, (std::vector<std::string>{base + "/hello.txt",
                                             base + "/sub/b.txt"}));
  auto none = ExpandGlobs({base + "/*.csv"});
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.status().message(),
            "input glob '" + base + "/*.csv' matches no file");
  auto missing = ExpandGlobs({base + "/nope.txt"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  // Plain remote files are cut by the size Stat reports.
  auto splits = PlanSplits({base + "/hello.txt"}, 5);
  ASSERT_TRUE(splits.ok()) << splits.status();
  ASSERT_EQ(splits->size(), 3u);
  EXPECT_EQ((*splits)[2].offset, 10u);
  EXPECT_EQ((*splits)[2].length, 3);
  std::string lines;
  for (const FileSplit& split : *splits) {
    auto reader = SplitLineReader::Open(split);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::string_view line;
    while (true) {
      auto more = (*reader)->Next(&line);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      lines += std::string(line) + "\n";
    }
  }
  EXPECT_EQ(lines, "hello, world\n");
}

// A data service whose Read sends `chunks` chunks of 4 bytes and then
// nothing, holding the call open until it is cancelled or released: a
// worker that vanished without closing its connections, or froze.
class StallingDataService final : public pb::Data::Service {
 public:
  explicit StallingDataService(int chunks) : chunks_(chunks) {}
  grpc::Status Read(grpc::ServerContext* ctx, const pb::DataReadRequest*,
                    grpc::ServerWriter<pb::DataChunk>* writer) override {
    for (int i = 0; i < chunks_; ++i) {
      pb::DataChunk c;
      c.set_offset(4 * static_cast<uint64_t>(i));
      c.set_data("abcd");
      writer->Write(c);
    }
    std::unique_lock<std::mutex> lock(mu_);
    // IsCancelled has no notification: look again every 10 ms.
    while (!released_ && !ctx->IsCancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    return grpc::Status::OK;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  const int chunks_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST(DataClientDeadlineTest, AStalledReadFailsWithinTheIdleTimeout) {
  for (int chunks : {0, 2}) {
    SCOPED_TRACE(std::to_string(chunks) + " chunks before the stall");
    StallingDataService service(chunks);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    const std::string address = "127.0.0.1:" + std::to_string(port);
    const std::string url = "tg://" + address + "/data/part.bin";
    DataClientOptions o;
    o.token = kToken;
    o.read_idle_timeout_ms = 300;
    const auto start = std::chrono::steady_clock::now();
    Status error;
    std::string got;
    auto stream = OpenRemoteFile(address, o, "/data/part.bin", 0, -1, url);
    if (!stream.ok()) {
      error = stream.status();
    } else {
      char buf[64];
      while (true) {
        auto n = (*stream)->Read(buf, sizeof buf);
        if (!n.ok()) {
          error = n.status();
          break;
        }
        ASSERT_GT(*n, 0u) << "the stream ended instead of failing";
        got.append(buf, *n);
      }
      // Sticky.
      EXPECT_EQ((*stream)->Read(buf, sizeof buf).status().code(),
                StatusCode::kUnavailable);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(stream.ok(), chunks > 0);
    EXPECT_EQ(got, std::string(chunks > 0 ? "abcdabcd" : ""));
    EXPECT_EQ(error.code(), StatusCode::kUnavailable) << error;
    EXPECT_NE(error.message().find(url), std::string::npos) << error;
    EXPECT_NE(error.message().find("no data for 300 ms"), std::string::npos)
        << error;
    // What a shuffle reduce makes of it: the map output is lost.
    EXPECT_TRUE(IsLostInput(error));
    EXPECT_GE(elapsed, std::chrono::milliseconds(300));
    EXPECT_LT(elapsed, std::chrono::seconds(5));
    stream = InvalidArgumentError("closed");  // the call ends: cancelled
    service.Release();
    server->Shutdown(grpc_internal::DeadlineIn(1000));
  }
}

// The idle timeout runs only while the reader waits for data: a reader
// slower than the timeout between its reads is not cut off.
TEST_F(DataServiceTest, ASlowReaderIsNotTimedOut) {
  const std::string big = RandomBytes((3u << 20) + 7, 11);
  WriteFile(data_ + "/big.bin", big);
  DataClientOptions o = Client();
  o.read_idle_timeout_ms = 200;
  auto s = OpenRemoteFile(address_, o, data_ + "/big.bin");
  ASSERT_TRUE(s.ok()) << s.status();
  std::string got;
  std::string buf(1u << 20, '\0');
  while (true) {
    auto n = (*s)->Read(buf.data(), buf.size());
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got.append(buf.data(), *n);
    // Deliberately slower than the timeout: the behaviour under test.
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
  }
  EXPECT_TRUE(got == big) << got.size() << " bytes";
}

TEST(TgUrlTest, ParsesWorkerAndPath) {
  auto u = ParseTgUrl("tg://w1/srv/data/a.log");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->worker, "w1");
  EXPECT_EQ(u->path, "/srv/data/a.log");
  u = ParseTgUrl("tg://[::1]:7701/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->worker, "[::1]:7701");
  for (const char* bad : {"tg://", "tg:///x", "tg://w1", "file:///x", "/x"}) {
    EXPECT_EQ(ParseTgUrl(bad).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(IsHostPort("host:7701"));
  EXPECT_TRUE(IsHostPort("127.0.0.1:1"));
  EXPECT_TRUE(IsHostPort("[::1]:7701"));
  EXPECT_FALSE(IsHostPort("w1"));
  EXPECT_FALSE(IsHostPort("host-123"));
  EXPECT_FALSE(IsHostPort(":7701"));
  EXPECT_FALSE(IsHostPort("host:"));
  EXPECT_FALSE(IsHostPort("host:77x"));
  EXPECT_FALSE(IsHostPort("::1:7701"));
}

TEST(DataRootsTest, PathInside) {
  EXPECT_TRUE(PathInside("/data", "/data"));
  EXPECT_TRUE(PathInside("/data/x", "/data"));
  EXPECT_FALSE(PathInside("/data2", "/data"));
  EXPECT_FALSE(PathInside("/data2/x", "/data"));
  EXPECT_FALSE(PathInside("/dat", "/data"));
  EXPECT_FALSE(PathInside("/", "/data"));
}

}  // namespace
}  // namespace taskgrid
