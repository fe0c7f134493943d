// ControlService over gRPC: conversion of every struct (bytes with NULs and
// invalid UTF-8, out-of-range states from a peer), a round trip of every
// method through GrpcMasterServer + GrpcControlClient, statuses passing
// through, and the cluster token on every Control RPC.
#include "rpc/grpc/grpc_control.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rpc/grpc/grpc_control_convert.h"
#include "rpc/grpc/grpc_test_util.h"
#include "rpc/grpc/grpc_transport.h"
#include "rpc/grpc/proto/taskgrid.grpc.pb.h"

namespace taskgrid {
namespace {

using namespace std::string_literals;  // NOLINT: "a\0b"s
using testing_grpc::Reparse;
using testing_grpc::RoundTrip;

// Not UTF-8, and with NULs.
const std::string kBin = "a\0b\xff\xfe\x80z"s;

JobRecord SampleJob(int64_t id) {
  JobRecord j;
  j.id = id;
  j.name = "job " + kBin;
  j.key = "key\0"s + std::to_string(id);
  j.spec_yaml = "name: x\npayload: " + kBin;
  j.state = JobState::kFailed;
  j.created_ms = 1'700'000'000'001;
  j.finished_ms = 1'700'000'000'002;
  j.epoch = 7;
  j.owner = "123@host\xff"s;
  j.heartbeat_ms = 1'700'000'000'003;
  j.result = "result " + kBin;
  j.next_task_id = int64_t{1} << 40;
  return j;
}

TaskRecord SampleTask(int64_t job_id, int64_t id) {
  TaskRecord t;
  t.job_id = job_id;
  t.id = id;
  t.parent_id = id - 1;
  t.stage = "map\xff"s;
  t.payload = "payload " + kBin;
  t.state = TaskState::kDead;
  t.attempt = 3;
  t.attempt_base = 2;
  t.worker = "w-1\0x"s;
  t.started_ms = 11;
  t.finished_ms = 12;
  t.not_before_ms = 13;
  t.result = "r" + kBin;
  t.error = "error: " + kBin;
  return t;
}

void ExpectJobEq(const JobRecord& a, const JobRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.spec_yaml, b.spec_yaml);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.finished_ms, b.finished_ms);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.heartbeat_ms, b.heartbeat_ms);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.next_task_id, b.next_task_id);
}

void ExpectTaskEq(const TaskRecord& a, const TaskRecord& b) {
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.parent_id, b.parent_id);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.attempt_base, b.attempt_base);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.started_ms, b.started_ms);
  EXPECT_EQ(a.finished_ms, b.finished_ms);
  EXPECT_EQ(a.not_before_ms, b.not_before_ms);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.error, b.error);
}

// ---- conversion -------------------------------------------------------------

TEST(GrpcControlConvertTest, EveryTaskAndJobState) {
  for (int s = 0; s < kNumTaskStates; ++s) {
    TaskRecord t = SampleTask(1, 2);
    t.state = static_cast<TaskState>(s);
    auto out = RoundTrip<pb::TaskRecord>(t);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectTaskEq(*out, t);
  }
  for (JobState s :
       {JobState::kPending, JobState::kRunning, JobState::kSucceeded,
        JobState::kFailed, JobState::kCancelled}) {
    JobRecord j = SampleJob(5);
    j.state = s;
    auto out = RoundTrip<pb::JobRecord>(j);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectJobEq(*out, j);
  }
}

TEST(GrpcControlConvertTest, OutOfRangeStatesAreInvalidArgument) {
  struct Case {
    std::string name;
    std::function<Status()> convert;
    std::string want;  // in the message
  };
  const std::vector<Case> cases = {
      {"task state 7",
       [] {
         pb::TaskRecord p;
         p.set_job_id(3);
         p.set_id(4);
         p.set_state(static_cast<pb::TaskState>(7));
         return FromProto(Reparse(p)).status();
       },
       "task 3/4: unknown task state value 7"},
      {"task state -1",
       [] {
         pb::TaskRecord p;
         p.set_state(static_cast<pb::TaskState>(-1));
         return FromProto(Reparse(p)).status();
       },
       "-1"},
      {"job state 5",
       [] {
         pb::JobRecord p;
         p.set_id(9);
         p.set_state(static_cast<pb::JobState>(5));
         return FromProto(Reparse(p)).status();
       },
       "job 9: unknown job state value 5"},
      {"job state in a JobStatus",
       [] {
         pb::JobStatus p;
         p.mutable_job()->set_state(static_cast<pb::JobState>(1000));
         return FromProto(Reparse(p)).status();
       },
       "1000"},
      {"too many counts",
       [] {
         pb::JobStatus p;
         for (int i = 0; i < kNumTaskStates + 1; ++i) p.add_counts(i);
         return FromProto(Reparse(p)).status();
       },
       "8 task counts"},
      {"filter state 99",
       [] {
         pb::TaskFilter p;
         p.set_state(static_cast<pb::TaskState>(99));
         return FromProto(Reparse(p)).status();
       },
       "task filter: unknown task state value 99"},
  };
  for (const auto& c : cases) {
    Status s = c.convert();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name << " " << s;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << c.name << s;
  }
}

TEST(GrpcControlConvertTest, TaskFilterKeepsAbsentAndPresentFields) {
  TaskFilter any;
  any.limit = 0;
  auto a = RoundTrip<pb::TaskFilter>(any);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->state.has_value());
  EXPECT_FALSE(a->stage.has_value());
  EXPECT_EQ(a->after_id, 0);
  EXPECT_EQ(a->limit, 0);

  TaskFilter f;
  f.state = TaskState::kPending;  // value 0: present all the same
  f.stage = "";                   // empty, yet present
  f.after_id = 41;
  f.limit = 7;
  auto b = RoundTrip<pb::TaskFilter>(f);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->state.has_value());
  EXPECT_EQ(*b->state, TaskState::kPending);
  ASSERT_TRUE(b->stage.has_value());
  EXPECT_EQ(*b->stage, "");
  EXPECT_EQ(b->after_id, 41);
  EXPECT_EQ(b->limit, 7);
}

TEST(GrpcControlConvertTest, ShortCountsAreZeroFilled) {
  pb::JobStatus p;
  p.add_counts(5);
  p.add_counts(6);
  auto out = FromProto(Reparse(p));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->counts[0], 5);
  EXPECT_EQ(out->counts[1], 6);
  for (int i = 2; i < kNumTaskStates; ++i) EXPECT_EQ(out->counts[i], 0);
}

// ---- over a real server -----------------------------------------------------

// Records what each call received and answers with fixed data, or with
// `fail` when set.
class FakeControl : public ControlService {
 public:
  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& req) override {
    Record("SubmitJob");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    submitted = req;
    return SubmitJobResponse{int64_t{1} << 33, true};
  }
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) override {
    Record("ListJobs");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    limit_seen = limit;
    return jobs;
  }
  StatusOr<JobStatus> GetJob(int64_t job_id) override {
    Record("GetJob");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    return jobs.at(0);
  }
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override {
    Record("ListTasks");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    filter_seen = filter;
    return tasks;
  }
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override {
    Record("GetTask");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    task_seen = task_id;
    return tasks.at(0);
  }
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override {
    Record("GetLogs");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    task_seen = task_id;
    return logs;
  }
  Status CancelJob(int64_t job_id) override {
    Record("CancelJob");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    return OkStatus();
  }
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& ids) override {
    Record("RerunTasks");
    if (fail) return *fail;
    std::lock_guard<std::mutex> lock(mu);
    job_seen = job_id;
    failed_only_seen = failed_only;
    ids_seen = ids;
    return int64_t{12345};
  }
  StatusOr<ClusterStatus> GetCluster() override {
    Record("GetCluster");
    if (fail) return *fail;
    return cluster;
  }

  std::atomic<int> calls{0};
  std::optional<Status> fail;  // set before serving calls

  // Answers (set before serving calls).
  std::vector<JobStatus> jobs;
  std::vector<TaskRecord> tasks;
  std::vector<LogLine> logs;
  ClusterStatus cluster;

  // What the calls received.
  std::mutex mu;
  std::vector<std::string> methods;
  SubmitJobRequest submitted;
  int64_t limit_seen = 0;
  int64_t job_seen = 0;
  int64_t task_seen = 0;
  TaskFilter filter_seen;
  bool failed_only_seen = false;
  std::vector<int64_t> ids_seen;

 private:
  void Record(const char* method) {
    ++calls;
    std::lock_guard<std::mutex> lock(mu);
    methods.push_back(method);
  }
};

// Answers nothing on service Master (Control is what these tests use).
class NullMaster : public MasterService {
 public:
  Status RegisterWorker(const WorkerInfo&) override {
    ++calls;
    return OkStatus();
  }
  StatusOr<JobDefinition> GetJobDefinition(int64_t) override {
    return UnimplementedError("null master");
  }
  StatusOr<FetchResponse> Fetch(const FetchRequest&) override {
    return UnimplementedError("null master");
  }
  Status Started(const std::string&, const std::vector<TaskRef>&) override {
    return UnimplementedError("null master");
  }
  StatusOr<ReportResponse> Report(const std::string&,
                                  std::vector<TaskReport>) override {
    return UnimplementedError("null master");
  }
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest&) override {
    return UnimplementedError("null master");
  }
  std::atomic<int> calls{0};
};

// Every ControlService method, called once through `c`.
std::vector<std::pair<std::string, std::function<Status(ControlService*)>>>
AllControlCalls() {
  return {
      {"SubmitJob",
       [](ControlService* c) {
         return c->SubmitJob({"name: x", true}).status();
       }},
      {"ListJobs", [](ControlService* c) { return c->ListJobs(3).status(); }},
      {"GetJob", [](ControlService* c) { return c->GetJob(1).status(); }},
      {"ListTasks",
       [](ControlService* c) {
         return c->ListTasks(1, TaskFilter{}).status();
       }},
      {"GetTask", [](ControlService* c) { return c->GetTask(1, 2).status(); }},
      {"GetLogs", [](ControlService* c) { return c->GetLogs(1, 2).status(); }},
      {"CancelJob", [](ControlService* c) { return c->CancelJob(1); }},
      {"RerunTasks",
       [](ControlService* c) { return c->RerunTasks(1, false, {2}).status(); }},
      {"GetCluster",
       [](ControlService* c) { return c->GetCluster().status(); }},
  };
}

// Every Control RPC through the raw stub, `setup` applied to the context.
std::vector<std::pair<std::string, grpc::Status>> RawControlCalls(
    pb::Control::Stub* stub,
    const std::function<void(grpc::ClientContext*)>& setup) {
  std::vector<std::pair<std::string, grpc::Status>> out;
  auto call = [&](const std::string& name, auto fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    setup(&ctx);
    out.emplace_back(name, fn(&ctx));
  };
  call("SubmitJob", [&](grpc::ClientContext* c) {
    pb::SubmitJobResponse r;
    return stub->SubmitJob(c, pb::SubmitJobRequest(), &r);
  });
  call("ListJobs", [&](grpc::ClientContext* c) {
    pb::ListJobsResponse r;
    return stub->ListJobs(c, pb::ListJobsRequest(), &r);
  });
  call("GetJob", [&](grpc::ClientContext* c) {
    pb::JobStatus r;
    return stub->GetJob(c, pb::GetJobRequest(), &r);
  });
  call("ListTasks", [&](grpc::ClientContext* c) {
    pb::ListTasksResponse r;
    return stub->ListTasks(c, pb::ListTasksRequest(), &r);
  });
  call("GetTask", [&](grpc::ClientContext* c) {
    pb::TaskRecord r;
    return stub->GetTask(c, pb::GetTaskRequest(), &r);
  });
  call("GetLogs", [&](grpc::ClientContext* c) {
    pb::GetLogsResponse r;
    return stub->GetLogs(c, pb::GetLogsRequest(), &r);
  });
  call("CancelJob", [&](grpc::ClientContext* c) {
    pb::Empty r;
    return stub->CancelJob(c, pb::CancelJobRequest(), &r);
  });
  call("RerunTasks", [&](grpc::ClientContext* c) {
    pb::RerunTasksResponse r;
    return stub->RerunTasks(c, pb::RerunTasksRequest(), &r);
  });
  call("GetCluster", [&](grpc::ClientContext* c) {
    pb::ClusterStatus r;
    return stub->GetCluster(c, pb::GetClusterRequest(), &r);
  });
  return out;
}

class GrpcControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JobStatus js;
    js.job = SampleJob(5);
    for (int i = 0; i < kNumTaskStates; ++i) js.counts[i] = 100 + i;
    JobStatus js2;
    js2.job = SampleJob(4);
    js2.job.state = JobState::kRunning;
    fake_.jobs = {js, js2};
    fake_.tasks = {SampleTask(5, 1), SampleTask(5, 2)};
    fake_.tasks[1].state = TaskState::kRunning;
    fake_.tasks[1].payload = "";
    fake_.logs = {LogLine{1, 2, 3, 4, "line " + kBin}, LogLine{1, 3, 5, 0, ""}};
    fake_.cluster.leader = {9, "owner\xff"s, "10.0.0.1:7700", 77};
    fake_.cluster.workers = {WorkerStatus{"w\0a"s, "h1", 11, 4, 12, 3},
                             WorkerStatus{"w-2", "h\xfe"s, 21, 1, 22, 0}};
    fake_.cluster.active_jobs = {5, int64_t{1} << 50};
  }

  void Serve(const std::string& token = "tok") {
    auto s =
        GrpcMasterServer::Start(&master_, "127.0.0.1:0", token, {}, &fake_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  std::unique_ptr<GrpcControlClient> Client(const std::string& token = "tok") {
    GrpcClientOptions o;
    o.address = address_;
    o.token = token;
    o.call_timeout_ms = 10'000;
    auto c = GrpcControlClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  FakeControl fake_;
  NullMaster master_;
  std::unique_ptr<GrpcMasterServer> server_;
  std::string address_;
};

TEST_F(GrpcControlTest, EveryMethodRoundTrips) {
  Serve();
  auto c = Client();
  ASSERT_NE(c, nullptr);

  auto sub = c->SubmitJob({"spec: " + kBin, true});
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->job_id, int64_t{1} << 33);
  EXPECT_TRUE(sub->existed);
  EXPECT_EQ(fake_.submitted.spec_yaml, "spec: " + kBin);
  EXPECT_TRUE(fake_.submitted.force);

  auto jobs = c->ListJobs(-1);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(fake_.limit_seen, -1);
  ASSERT_EQ(jobs->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ExpectJobEq((*jobs)[i].job, fake_.jobs[i].job);
    EXPECT_EQ((*jobs)[i].counts, fake_.jobs[i].counts);
  }

  auto job = c->GetJob(5);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(fake_.job_seen, 5);
  ExpectJobEq(job->job, fake_.jobs[0].job);
  EXPECT_EQ(job->counts, fake_.jobs[0].counts);

  TaskFilter f;
  f.state = TaskState::kFailed;
  f.stage = "st\0age\xff"s;
  f.after_id = 17;
  f.limit = -3;
  auto tasks = c->ListTasks(6, f);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_EQ(fake_.job_seen, 6);
  EXPECT_EQ(fake_.filter_seen.state, f.state);
  EXPECT_EQ(fake_.filter_seen.stage, f.stage);
  EXPECT_EQ(fake_.filter_seen.after_id, 17);
  EXPECT_EQ(fake_.filter_seen.limit, -3);
  ASSERT_EQ(tasks->size(), 2u);
  for (size_t i = 0; i < 2; ++i) ExpectTaskEq((*tasks)[i], fake_.tasks[i]);
  // No filter at all arrives as no filter.
  ASSERT_TRUE(c->ListTasks(6, TaskFilter{}).ok());
  EXPECT_FALSE(fake_.filter_seen.state.has_value());
  EXPECT_FALSE(fake_.filter_seen.stage.has_value());
  EXPECT_EQ(fake_.filter_seen.limit, 100);

  auto task = c->GetTask(7, int64_t{1} << 41);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(fake_.job_seen, 7);
  EXPECT_EQ(fake_.task_seen, int64_t{1} << 41);
  ExpectTaskEq(*task, fake_.tasks[0]);

  auto logs = c->GetLogs(8, 9);
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(fake_.job_seen, 8);
  EXPECT_EQ(fake_.task_seen, 9);
  ASSERT_EQ(logs->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*logs)[i].task_id, fake_.logs[i].task_id);
    EXPECT_EQ((*logs)[i].attempt, fake_.logs[i].attempt);
    EXPECT_EQ((*logs)[i].ts_ms, fake_.logs[i].ts_ms);
    EXPECT_EQ((*logs)[i].level, fake_.logs[i].level);
    EXPECT_EQ((*logs)[i].line, fake_.logs[i].line);
  }

  ASSERT_TRUE(c->CancelJob(10).ok());
  EXPECT_EQ(fake_.job_seen, 10);

  auto rerun = c->RerunTasks(11, true, {1, 2, int64_t{1} << 42});
  ASSERT_TRUE(rerun.ok()) << rerun.status();
  EXPECT_EQ(*rerun, 12345);
  EXPECT_EQ(fake_.job_seen, 11);
  EXPECT_TRUE(fake_.failed_only_seen);
  EXPECT_EQ(fake_.ids_seen, (std::vector<int64_t>{1, 2, int64_t{1} << 42}));

  auto cl = c->GetCluster();
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->leader.epoch, 9);
  EXPECT_EQ(cl->leader.owner, "owner\xff"s);
  EXPECT_EQ(cl->leader.address, "10.0.0.1:7700");
  EXPECT_EQ(cl->leader.heartbeat_ms, 77);
  ASSERT_EQ(cl->workers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const WorkerStatus& a = cl->workers[i];
    const WorkerStatus& b = fake_.cluster.workers[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.pid, b.pid);
    EXPECT_EQ(a.slots, b.slots);
    EXPECT_EQ(a.last_seen_ms, b.last_seen_ms);
    EXPECT_EQ(a.running, b.running);
  }
  EXPECT_EQ(cl->active_jobs, fake_.cluster.active_jobs);
  EXPECT_EQ(fake_.calls.load(), 10);

  // Empty answers are empty, not errors.
  fake_.logs.clear();
  fake_.cluster = ClusterStatus{};
  auto none = c->GetLogs(1, 1);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  auto empty_cluster = c->GetCluster();
  ASSERT_TRUE(empty_cluster.ok()) << empty_cluster.status();
  EXPECT_TRUE(empty_cluster->workers.empty());
  EXPECT_EQ(empty_cluster->leader.epoch, 0);
}

TEST_F(GrpcControlTest, ErrorsPassThroughWithCodeAndMessage) {
  Serve();
  auto c = Client();
  ASSERT_NE(c, nullptr);
  for (StatusCode code :
       {StatusCode::kNotFound, StatusCode::kInvalidArgument,
        StatusCode::kFailedPrecondition, StatusCode::kAlreadyExists,
        StatusCode::kAborted, StatusCode::kInternal}) {
    fake_.fail = Status(code, "job 5: bad \0thing \xff\xfe"s + kBin);
    for (const auto& [name, call] : AllControlCalls()) {
      Status s = call(c.get());
      EXPECT_EQ(s.code(), code) << name << " " << s;
      EXPECT_EQ(s.message(), fake_.fail->message()) << name;
    }
  }
  // The master's own Unavailable (a standby) stays Unavailable and keeps
  // its message.
  fake_.fail = UnavailableError("standby master; leader is 10.0.0.1:7700");
  Status s = c->CancelJob(1);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("leader is 10.0.0.1:7700"), std::string::npos)
      << s;
}

TEST_F(GrpcControlTest, MasterServiceStillServedOnTheSamePort) {
  Serve();
  GrpcClientOptions o;
  o.address = address_;
  o.token = "tok";
  auto m = GrpcMasterClient::Create(o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE((*m)->RegisterWorker({"w", 1, "h", 1}).ok());
  EXPECT_EQ(master_.calls.load(), 1);
  auto c = Client();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->CancelJob(1).ok());
}

TEST_F(GrpcControlTest, NoControlServiceIsUnimplemented) {
  auto s = GrpcMasterServer::Start(&master_, "127.0.0.1:0", "tok");
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = *std::move(s);
  address_ = "127.0.0.1:" + std::to_string(server_->port());
  auto c = Client();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->GetCluster().status().code(), StatusCode::kUnimplemented);
}

TEST_F(GrpcControlTest, EveryRpcRejectsAMissingOrWrongToken) {
  Serve("s3cret");
  auto stub = pb::Control::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  auto none = RawControlCalls(stub.get(), [](grpc::ClientContext*) {});
  ASSERT_EQ(none.size(), 9u);
  for (const auto& [name, st] : none) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
    EXPECT_NE(st.error_message().find("missing cluster token"),
              std::string::npos)
        << name << ": " << st.error_message();
  }
  for (const char* header : {"authorization", "x-taskgrid-token"}) {
    for (const auto& [name, st] :
         RawControlCalls(stub.get(), [&](grpc::ClientContext* c) {
           c->AddMetadata(header, std::string(header) == "authorization"
                                      ? "Bearer s3cret-not"
                                      : "s3cre");
         })) {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << header << " " << name;
      EXPECT_NE(st.error_message().find("wrong cluster token"),
                std::string::npos)
          << name << ": " << st.error_message();
    }
  }
  for (const std::string bad : {"wrong", "s3cre", "s3cret2", "S3CRET"}) {
    auto c = Client(bad);
    ASSERT_NE(c, nullptr);
    for (const auto& [name, call] : AllControlCalls()) {
      Status s = call(c.get());
      EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << name << " " << s;
    }
  }
  EXPECT_EQ(fake_.calls.load(), 0);

  // The right token, either header, gets through.
  for (const auto& [name, st] :
       RawControlCalls(stub.get(), [](grpc::ClientContext* c) {
         c->AddMetadata("x-taskgrid-token", "s3cret");
       })) {
    EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
  }
  EXPECT_EQ(fake_.calls.load(), 9);
}

TEST_F(GrpcControlTest, BadStatesFromAPeerAreInvalidArgument) {
  Serve();
  // A request with an unknown state never reaches the service.
  auto stub = pb::Control::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer tok");
  pb::ListTasksRequest req;
  req.set_job_id(1);
  req.mutable_filter()->set_state(static_cast<pb::TaskState>(42));
  pb::ListTasksResponse resp;
  grpc::Status st = stub->ListTasks(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("42"), std::string::npos)
      << st.error_message();
  EXPECT_EQ(fake_.calls.load(), 0);

  // An answer with one is refused by the client, naming the master.
  fake_.tasks[0].state = static_cast<TaskState>(200);
  fake_.jobs[0].job.state = static_cast<JobState>(9);
  auto c = Client();
  ASSERT_NE(c, nullptr);
  for (Status s : {c->GetTask(1, 1).status(), c->ListTasks(1, {}).status(),
                   c->GetJob(1).status(), c->ListJobs(0).status()}) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(address_), std::string::npos) << s;
  }
}

TEST(GrpcControlTlsTest, ControlGoesOverTlsWithTheToken) {
  testing_grpc::TempTlsFiles files("tg-grpc-control-tls");
  FakeControl fake;
  NullMaster master;
  auto s = GrpcMasterServer::Start(&master, "127.0.0.1:0", "t", files.options(),
                                   &fake);
  ASSERT_TRUE(s.ok()) << s.status();
  GrpcClientOptions o;
  o.address = "127.0.0.1:" + std::to_string((*s)->port());
  o.token = "t";
  o.tls = files.options();
  auto c = GrpcControlClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->CancelJob(3).ok());
  EXPECT_EQ(fake.job_seen, 3);

  // Plaintext cannot talk to it.
  GrpcClientOptions plain = o;
  plain.tls = {};
  plain.call_timeout_ms = 5000;
  auto pc = GrpcControlClient::Create(plain);
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ((*pc)->CancelJob(4).code(), StatusCode::kUnavailable);
  EXPECT_EQ(fake.calls.load(), 1);
}

TEST(GrpcControlClientTest, CreateNeedsAddressAndToken) {
  GrpcClientOptions o;
  o.token = "t";
  auto a = GrpcControlClient::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  o.address = "127.0.0.1:1";
  o.token = "";
  auto b = GrpcControlClient::Create(o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcControlClientTest, UnreachableMasterIsUnavailableNamingIt) {
  GrpcClientOptions o;
  o.address = "127.0.0.1:" + std::to_string(testing_grpc::FreePort());
  o.token = "t";
  o.call_timeout_ms = 5000;
  auto c = GrpcControlClient::Create(o);
  ASSERT_TRUE(c.ok());
  for (const auto& [name, call] : AllControlCalls()) {
    Status s = call(c->get());
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << name << " " << s;
    EXPECT_NE(s.message().find(o.address), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace taskgrid
