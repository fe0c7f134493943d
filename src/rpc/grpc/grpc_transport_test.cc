// The gRPC transport: message conversion, status mapping, cluster-token
// auth, an unreachable master, and a real mapreduce job over loopback gRPC
// (Master over SQLite, two Workers through GrpcMasterClient).
#include "rpc/grpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli/local_runner.h"
#include "core/owner.h"
#include "master/master.h"
#include "master/submit.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/grpc_test_util.h"
#include "rpc/grpc/proto/taskgrid.grpc.pb.h"
#include "store/sqlite/sqlite_state_store.h"
#include "worker/worker.h"

namespace taskgrid {
namespace {

using namespace std::string_literals;  // NOLINT: "a\0b"s
using testing_grpc::FreePort;
using testing_grpc::Reparse;
using testing_grpc::RoundTrip;
using testing_grpc::TempTlsFiles;

// ---- conversion -------------------------------------------------------------

void ExpectRefEq(const TaskRef& a, const TaskRef& b) {
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.attempt, b.attempt);
}

void ExpectRefsEq(const std::vector<TaskRef>& a,
                  const std::vector<TaskRef>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ExpectRefEq(a[i], b[i]);
}

const std::string kNul = "pay\0load\xff"s;

TEST(GrpcConvertTest, JobDefinitionEveryModel) {
  for (Model m : {Model::kStandalone, Model::kBroadcast, Model::kMap,
                  Model::kMapReduce}) {
    JobDefinition in;
    in.job_id = 42;
    in.name = "name";
    in.processor = "proc";
    in.model = m;
    in.params = Params({{"a", "1"}, {"db.path", "x\0y"s}, {"empty", ""}});
    in.output = "/out/\xfe\0dir"s;
    in.timeout_ms = 1234;
    auto out = RoundTrip<pb::JobDefinition>(in);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->job_id, 42);
    EXPECT_EQ(out->name, "name");
    EXPECT_EQ(out->processor, "proc");
    EXPECT_EQ(out->model, m);
    EXPECT_EQ(out->params.values(), in.params.values());
    EXPECT_EQ(out->output, in.output);
    EXPECT_EQ(out->timeout_ms, 1234);
  }
  auto empty = RoundTrip<pb::JobDefinition>(JobDefinition{});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->params.values().empty());
}

TEST(GrpcConvertTest, UnknownModelIsInvalidArgument) {
  pb::JobDefinition p;
  p.set_job_id(7);
  p.set_model(static_cast<pb::Model>(99));
  auto out = FromProto(p);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("99"), std::string::npos);
}

TEST(GrpcConvertTest, WorkerInfo) {
  WorkerInfo in{"w-1", 8, "host.example", 4242};
  WorkerInfo out = RoundTrip<pb::WorkerInfo>(in);
  EXPECT_EQ(out.id, "w-1");
  EXPECT_EQ(out.slots, 8);
  EXPECT_EQ(out.host, "host.example");
  EXPECT_EQ(out.pid, 4242);
}

TEST(GrpcConvertTest, FetchRequestAndResponse) {
  FetchRequest rq{"w-2", 256, 500};
  FetchRequest rq2 = RoundTrip<pb::FetchRequest>(rq);
  EXPECT_EQ(rq2.worker_id, "w-2");
  EXPECT_EQ(rq2.max_tasks, 256);
  EXPECT_EQ(rq2.wait_ms, 500);

  FetchResponse rs;
  rs.tasks.push_back(TaskAssignment{{1, 2, 3}, "map", kNul});
  rs.tasks.push_back(TaskAssignment{{1, int64_t{1} << 40, 1}, "reduce", ""});
  rs.shutdown = true;
  FetchResponse rs2 = RoundTrip<pb::FetchResponse>(rs);
  ASSERT_EQ(rs2.tasks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ExpectRefEq(rs2.tasks[i].ref, rs.tasks[i].ref);
    EXPECT_EQ(rs2.tasks[i].stage, rs.tasks[i].stage);
    EXPECT_EQ(rs2.tasks[i].payload, rs.tasks[i].payload);
  }
  EXPECT_TRUE(rs2.shutdown);

  FetchResponse none = RoundTrip<pb::FetchResponse>(FetchResponse{});
  EXPECT_TRUE(none.tasks.empty());
  EXPECT_FALSE(none.shutdown);
}

TEST(GrpcConvertTest, TaskReportEveryField) {
  TaskReport in;
  in.ref = {5, 6, 7};
  in.ok = true;
  in.result = "res\0ult"s;
  in.error = "err\0or"s;
  in.started_ms = 1000;
  in.finished_ms = 2000;
  in.logs = {{11, 2, "line\0one"s}, {12, 0, ""}};
  in.children = {{"l1", {"a", "b\0c"s, ""}}, {"l2", {}}};
  in.outputs = {{"part-00000", 123, 0xdeadbeefu}, {"x\0y"s, 0, 0}};
  TaskReport out = RoundTrip<pb::TaskReport>(in);
  ExpectRefEq(out.ref, in.ref);
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.result, in.result);
  EXPECT_EQ(out.error, in.error);
  EXPECT_EQ(out.started_ms, 1000);
  EXPECT_EQ(out.finished_ms, 2000);
  ASSERT_EQ(out.logs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out.logs[i].ts_ms, in.logs[i].ts_ms);
    EXPECT_EQ(out.logs[i].level, in.logs[i].level);
    EXPECT_EQ(out.logs[i].line, in.logs[i].line);
  }
  ASSERT_EQ(out.children.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out.children[i].stage, in.children[i].stage);
    EXPECT_EQ(out.children[i].payloads, in.children[i].payloads);
  }
  ASSERT_EQ(out.outputs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out.outputs[i].name, in.outputs[i].name);
    EXPECT_EQ(out.outputs[i].bytes, in.outputs[i].bytes);
    EXPECT_EQ(out.outputs[i].crc32, in.outputs[i].crc32);
  }

  TaskReport empty = RoundTrip<pb::TaskReport>(TaskReport{});
  EXPECT_FALSE(empty.ok);
  EXPECT_TRUE(empty.logs.empty());
  EXPECT_TRUE(empty.children.empty());
  EXPECT_TRUE(empty.outputs.empty());
}

TEST(GrpcConvertTest, ReportResponse) {
  ReportResponse in{{true, false, true}};
  EXPECT_EQ((RoundTrip<pb::ReportResponse>(in).accepted), in.accepted);
  EXPECT_TRUE(
      (RoundTrip<pb::ReportResponse>(ReportResponse{}).accepted.empty()));
}

TEST(GrpcConvertTest, Heartbeat) {
  HeartbeatRequest rq{"w-3", {{1, 2, 3}, {4, 5, 6}}, {12, 40}};
  HeartbeatRequest rq2 = RoundTrip<pb::HeartbeatRequest>(rq);
  EXPECT_EQ(rq2.worker_id, "w-3");
  ExpectRefsEq(rq2.running, rq.running);
  EXPECT_EQ(rq2.shuffle_jobs, (std::vector<int64_t>{12, 40}));

  HeartbeatResponse rs{{{7, 8, 9}}, true, {40}};
  HeartbeatResponse rs2 = RoundTrip<pb::HeartbeatResponse>(rs);
  ExpectRefsEq(rs2.cancel, rs.cancel);
  EXPECT_TRUE(rs2.shutdown);
  EXPECT_EQ(rs2.drop_jobs, (std::vector<int64_t>{40}));

  HeartbeatResponse none =
      RoundTrip<pb::HeartbeatResponse>(HeartbeatResponse{});
  EXPECT_TRUE(none.cancel.empty());
  EXPECT_FALSE(none.shutdown);
  EXPECT_TRUE(none.drop_jobs.empty());
}

TEST(GrpcConvertTest, StatusCodesMapOneToOne) {
  for (int c = 0; c <= 16; ++c) {
    Status s(static_cast<StatusCode>(c), "msg");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    Status back = FromGrpcStatus(g);
    EXPECT_EQ(back.code(), s.code());
    EXPECT_EQ(back.message(), s.message());
  }
  EXPECT_EQ(static_cast<int>(grpc::StatusCode::UNAUTHENTICATED),
            static_cast<int>(StatusCode::kUnauthenticated));
}

// ---- auth and errors over a real server -------------------------------------

// Answers every call; counts them.
class FakeMaster : public MasterService {
 public:
  Status RegisterWorker(const WorkerInfo&) override { return Count(); }
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override {
    if (Status s = Count(); !s.ok()) return s;
    if (job_id != 1) return NotFoundError("no job " + std::to_string(job_id));
    JobDefinition d;
    d.job_id = 1;
    d.model = Model::kMapReduce;
    return d;
  }
  StatusOr<FetchResponse> Fetch(const FetchRequest&) override {
    if (Status s = Count(); !s.ok()) return s;
    return FetchResponse{};
  }
  Status Started(const std::string&, const std::vector<TaskRef>&) override {
    return Count();
  }
  StatusOr<ReportResponse> Report(const std::string&,
                                  std::vector<TaskReport> r) override {
    if (Status s = Count(); !s.ok()) return s;
    return ReportResponse{std::vector<bool>(r.size(), true)};
  }
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest&) override {
    if (Status s = Count(); !s.ok()) return s;
    return HeartbeatResponse{};
  }

  std::atomic<int> calls{0};

 private:
  Status Count() {
    ++calls;
    return OkStatus();
  }
};

// Every MasterService method, called once through `m`.
std::vector<std::pair<std::string, std::function<Status(MasterService*)>>>
AllCalls() {
  return {
      {"RegisterWorker",
       [](MasterService* m) {
         return m->RegisterWorker({"w", 1, "h", 1});
       }},
      {"GetJobDefinition",
       [](MasterService* m) { return m->GetJobDefinition(1).status(); }},
      {"Fetch",
       [](MasterService* m) {
         return m->Fetch({"w", 1, 0}).status();
       }},
      {"Started",
       [](MasterService* m) {
         return m->Started("w", {{1, 1, 1}});
       }},
      {"Report",
       [](MasterService* m) {
         return m->Report("w", {TaskReport{}}).status();
       }},
      {"Heartbeat",
       [](MasterService* m) {
         return m->Heartbeat({"w", {}}).status();
       }},
  };
}

// Every RPC, called through the raw stub with `setup` applied to the context.
std::vector<std::pair<std::string, grpc::Status>> RawCalls(
    pb::Master::Stub* stub,
    const std::function<void(grpc::ClientContext*)>& setup) {
  std::vector<std::pair<std::string, grpc::Status>> out;
  auto call = [&](const std::string& name, auto fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    setup(&ctx);
    out.emplace_back(name, fn(&ctx));
  };
  pb::Empty e;
  call("RegisterWorker", [&](grpc::ClientContext* c) {
    return stub->RegisterWorker(c, pb::RegisterWorkerRequest(), &e);
  });
  pb::JobDefinition d;
  pb::GetJobDefinitionRequest gr;
  gr.set_job_id(1);
  call("GetJobDefinition", [&](grpc::ClientContext* c) {
    return stub->GetJobDefinition(c, gr, &d);
  });
  pb::FetchResponse fr;
  call("Fetch", [&](grpc::ClientContext* c) {
    return stub->Fetch(c, pb::FetchRequest(), &fr);
  });
  call("Started", [&](grpc::ClientContext* c) {
    return stub->Started(c, pb::StartedRequest(), &e);
  });
  pb::ReportResponse rr;
  call("Report", [&](grpc::ClientContext* c) {
    return stub->Report(c, pb::ReportRequest(), &rr);
  });
  pb::HeartbeatResponse hr;
  call("Heartbeat", [&](grpc::ClientContext* c) {
    return stub->Heartbeat(c, pb::HeartbeatRequest(), &hr);
  });
  return out;
}

class GrpcAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = GrpcMasterServer::Start(&fake_, "127.0.0.1:0", "s3cret");
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_GT(server_->port(), 0);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    stub_ = pb::Master::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<GrpcMasterClient> Client(const std::string& token) {
    GrpcClientOptions o;
    o.address = address_;
    o.token = token;
    auto c = GrpcMasterClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  FakeMaster fake_;
  std::unique_ptr<GrpcMasterServer> server_;
  std::string address_;
  std::unique_ptr<pb::Master::Stub> stub_;
};

TEST_F(GrpcAuthTest, RightTokenReachesTheMaster) {
  auto client = Client("s3cret");
  for (const auto& [name, call] : AllCalls()) {
    EXPECT_TRUE(call(client.get()).ok()) << name;
  }
  EXPECT_EQ(fake_.calls.load(), 6);
  // The alternative header works too.
  for (const auto& [name, st] : RawCalls(stub_.get(), [](auto* c) {
         c->AddMetadata("x-taskgrid-token", "s3cret");
       })) {
    EXPECT_TRUE(st.ok()) << name << ": " << st.error_message();
  }
  EXPECT_EQ(fake_.calls.load(), 12);
}

TEST_F(GrpcAuthTest, MasterStatusPassesThroughUnchanged) {
  auto client = Client("s3cret");
  auto d = client->GetJobDefinition(99);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(d.status().message(), "no job 99");
  auto ok = client->GetJobDefinition(1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->model, Model::kMapReduce);
}

TEST_F(GrpcAuthTest, NoTokenIsUnauthenticatedOnEveryRpc) {
  auto calls = RawCalls(stub_.get(), [](auto*) {});
  ASSERT_EQ(calls.size(), 6u);
  for (const auto& [name, st] : calls) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
    EXPECT_NE(st.error_message().find("missing cluster token"),
              std::string::npos)
        << name << ": " << st.error_message();
  }
  // A non-Bearer authorization header is no token either.
  for (const auto& [name, st] : RawCalls(stub_.get(), [](auto* c) {
         c->AddMetadata("authorization", "Basic s3cret");
       })) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
  }
  EXPECT_EQ(fake_.calls.load(), 0);
}

TEST_F(GrpcAuthTest, WrongTokenIsUnauthenticatedOnEveryRpc) {
  for (const std::string bad : {"wrong", "s3cre", "s3cret2", "S3CRET"}) {
    auto client = Client(bad);
    for (const auto& [name, call] : AllCalls()) {
      Status s = call(client.get());
      EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << name << " " << s;
      EXPECT_NE(s.message().find("wrong cluster token"), std::string::npos)
          << s;
    }
  }
  for (const auto& [name, st] : RawCalls(stub_.get(), [](auto* c) {
         c->AddMetadata("x-taskgrid-token", "nope");
       })) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
  }
  EXPECT_EQ(fake_.calls.load(), 0);
}

TEST(GrpcTransportTest, EmptyTokenIsRefused) {
  FakeMaster fake;
  auto s = GrpcMasterServer::Start(&fake, "127.0.0.1:0", "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  auto c = GrpcMasterClient::Create({"127.0.0.1:1", ""});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcTransportTest, ConnectBeforeServeIsFailedPrecondition) {
  GrpcTransportOptions o;
  o.token = "t";
  GrpcTransport t(o);
  auto c = t.Connect();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
}

TEST(GrpcTransportTest, NobodyListeningIsUnavailableNamingTheAddress) {
  GrpcTransportOptions o;
  o.master_address = "127.0.0.1:" + std::to_string(FreePort());
  o.token = "t";
  o.call_timeout_ms = 5000;
  o.fetch_margin_ms = 5000;
  GrpcTransport t(o);
  auto c = t.Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  for (const auto& [name, call] : AllCalls()) {
    Status s = call(c->get());
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << name << " " << s;
    EXPECT_NE(s.message().find(o.master_address), std::string::npos) << s;
  }
}

// ---- TLS --------------------------------------------------------------------

class GrpcTlsTest : public ::testing::Test {
 protected:
  TempTlsFiles files_{"tg-grpc-tls"};
  const std::filesystem::path dir_ = files_.dir();
  const GrpcTlsOptions tls_ = files_.options();
};

TEST_F(GrpcTlsTest, CallsGoOverTlsWithTheToken) {
  FakeMaster fake;
  GrpcTransportOptions o;
  o.token = "tls-token";
  o.tls = tls_;
  GrpcTransport t(o);
  ASSERT_TRUE(t.Serve(&fake).ok());
  auto c = t.Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  for (const auto& [name, call] : AllCalls()) {
    Status s = call(c->get());
    EXPECT_TRUE(s.ok()) << name << " " << s;
  }
  EXPECT_EQ(fake.calls.load(), 6);

  // A plaintext client cannot talk to the TLS server.
  GrpcClientOptions plain;
  plain.address = "127.0.0.1:" + std::to_string(t.port());
  plain.token = "tls-token";
  plain.call_timeout_ms = 5000;
  auto pc = GrpcMasterClient::Create(plain);
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ((*pc)->RegisterWorker({"w", 1, "h", 1}).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(fake.calls.load(), 6);
}

TEST_F(GrpcTlsTest, MissingFilesAreInvalidArgumentNamingThem) {
  FakeMaster fake;
  GrpcTlsOptions bad = tls_;
  bad.key_path = (dir_ / "nope.pem").string();
  auto s = GrpcMasterServer::Start(&fake, "127.0.0.1:0", "t", bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("nope.pem"), std::string::npos);

  GrpcTlsOptions half;
  half.cert_path = tls_.cert_path;
  auto h = GrpcMasterServer::Start(&fake, "127.0.0.1:0", "t", half);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);

  GrpcClientOptions co;
  co.address = "127.0.0.1:1";
  co.token = "t";
  co.tls.ca_path = (dir_ / "missing-ca.pem").string();
  auto c = GrpcMasterClient::Create(co);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("missing-ca.pem"), std::string::npos);
}

// ---- a real job over gRPC ---------------------------------------------------

// Sums the ids of its range; Reduce totals (as LocalRunner's test does).
class GrpcSumProcessor : public MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    auto r = IdRange::Parse(ctx.payload());
    if (!r.ok()) return r.status();
    int64_t sum = 0;
    for (int64_t i = r->start; i < r->end; ++i) sum += i;
    ctx.Log("summed " + ctx.payload());
    ctx.SetResult(std::to_string(sum));
    return OkStatus();
  }
  Status Reduce(JobContext& ctx) override {
    int64_t total = 0;
    Status s = ctx.ForEachResult(
        [&](const TaskResult& r) { total += std::stoll(r.result); });
    if (!s.ok()) return s;
    ctx.SetResult(std::to_string(total));
    return OkStatus();
  }
};

const bool kRegistered = [] {
  ProcessorRegistry::Global()
      .Register("grpc-sum", [] { return std::make_unique<GrpcSumProcessor>(); })
      .IgnoreError();
  return true;
}();

TEST(GrpcTransportTest, MapReduceJobOverLoopbackIsExact) {
  ASSERT_TRUE(kRegistered);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-grpc-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto st = OpenSqliteStateStore((dir / "state.db").string());
  ASSERT_TRUE(st.ok()) << st.status();
  std::unique_ptr<StateStore> store = *std::move(st);

  const std::vector<std::string> ids = {"grpc-0", "grpc-1"};
  auto spec = ParseJobSpec(R"(
name: sum
processor: grpc-sum
model: mapreduce
input: {range: {start: 0, end: 100000, step: 997}}
)",
                           "test.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto sub = SubmitJob(store.get(), *spec, ids, false, Clock::Real());
  ASSERT_TRUE(sub.ok()) << sub.status();

  MasterOptions mo;
  mo.owner = ThisOwnerId();
  Master master(store.get(), &ProcessorRegistry::Global(), mo);
  ASSERT_TRUE(master.Start(sub->job_id, ids).ok());

  GrpcTransportOptions to;
  to.listen_address = "127.0.0.1:0";
  to.token = "cluster-token";
  auto transport = std::make_unique<GrpcTransport>(to);
  ASSERT_TRUE(transport->Serve(&master).ok());
  ASSERT_GT(transport->port(), 0);

  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& id : ids) {
    auto conn = transport->Connect();
    ASSERT_TRUE(conn.ok()) << conn.status();
    WorkerOptions wo;
    wo.id = id;
    wo.slots = 1;
    workers.push_back(std::make_unique<Worker>(wo, *std::move(conn),
                                               &ProcessorRegistry::Global()));
    ASSERT_TRUE(workers.back()->Start().ok());
  }
  StatusOr<JobOutcome> out = master.Wait();
  for (auto& w : workers) w->Stop();
  for (auto& w : workers) w->Join();
  workers.clear();
  transport.reset();  // the server stops before the master goes

  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->state, JobState::kSucceeded) << out->error;
  EXPECT_EQ(out->result, std::to_string(int64_t{99999} * 100000 / 2));
  auto job = store->GetJob(sub->job_id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kSucceeded);
  EXPECT_EQ(job->result, out->result);
  TaskFilter f;
  f.limit = 0;
  auto tasks = store->ListTasks(sub->job_id, f);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 101u + 1u);  // 101 pages + reduce
  for (const auto& t : *tasks) {
    EXPECT_EQ(t.state, TaskState::kSucceeded) << t.id;
    EXPECT_EQ(t.attempt, 1) << t.id;
  }

  // The same job through the in-process LocalRunner gives the same result.
  auto sub2 = SubmitJob(store.get(), *spec, {"local-0", "local-1"}, true,
                        Clock::Real());
  ASSERT_TRUE(sub2.ok()) << sub2.status();
  LocalRunnerOptions lo;
  lo.workers = 2;
  LocalRunner runner(store.get(), &ProcessorRegistry::Global(), lo);
  auto local = runner.Run(sub2->job_id);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->state, JobState::kSucceeded) << local->error;
  EXPECT_EQ(local->result, out->result);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace taskgrid
