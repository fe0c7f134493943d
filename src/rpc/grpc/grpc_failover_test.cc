// Clients of several masters: ParseMasterList; the failover loop on fakes
// with a fake clock (backoff, timeout, sticking to the leader, token
// rejection, re-registration); and the same over real gRPC servers on
// loopback (a standby and a leader, a leader that goes away, unreachable
// masters, Fetch's long-poll deadline).
#include "rpc/grpc/grpc_failover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rpc/grpc/grpc_control.h"
#include "rpc/grpc/grpc_test_util.h"
#include "rpc/grpc/grpc_transport.h"

namespace taskgrid {
namespace {

using testing_grpc::FreePort;

// ---- ParseMasterList --------------------------------------------------------

TEST(ParseMasterListTest, Cases) {
  struct Case {
    std::string in;
    std::vector<std::string> want;  // empty: InvalidArgument
  };
  const std::vector<Case> cases = {
      {"h1:7700", {"h1:7700"}},
      {"h1:7700,h2:7700", {"h1:7700", "h2:7700"}},
      {" h1:7700 , h2:7701 ,", {"h1:7700", "h2:7701"}},
      {"h1:7700,,h2:7700,h1:7700", {"h1:7700", "h2:7700"}},
      {"10.0.0.1:1,[::1]:65535", {"10.0.0.1:1", "[::1]:65535"}},
      {"", {}},
      {" , ", {}},
      {"h1", {}},
      {"h1:7700,h2", {}},
      {"h1:", {}},
      {":7700", {}},
      {"h1:77x0", {}},
      {"h1:0", {}},
      {"h1:65536", {}},
      {"h1:123456", {}},
      {"::1:7700", {}},
  };
  for (const auto& c : cases) {
    auto got = ParseMasterList(c.in);
    if (c.want.empty()) {
      ASSERT_FALSE(got.ok()) << "'" << c.in << "'";
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << c.in;
    } else {
      ASSERT_TRUE(got.ok()) << "'" << c.in << "': " << got.status();
      EXPECT_EQ(*got, c.want) << c.in;
    }
  }
  auto bad = ParseMasterList("h1:7700,nohost");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nohost"), std::string::npos)
      << bad.status();
}

// ---- fakes ------------------------------------------------------------------

enum class Mode { kLeader, kStandby, kRejectToken };

// A master of a cluster: as leader it answers (and, with
// require_registration, refuses workers it does not know with
// FailedPrecondition); as standby it answers Unavailable. Counts calls.
class FakeClusterMaster : public MasterService {
 public:
  FakeClusterMaster(std::string name, Mode mode,
                    bool require_registration = false)
      : mode(mode),
        name_(std::move(name)),
        require_registration_(require_registration) {}

  Status RegisterWorker(const WorkerInfo& info) override {
    if (Status s = Gate(""); !s.ok()) return s;
    if (refuse_registration) return ResourceExhaustedError("too many workers");
    ++registers;
    if (amnesia) return OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    registered_.insert(info.id);
    return OkStatus();
  }
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override {
    if (Status s = Gate(""); !s.ok()) return s;
    if (job_id == 99) return NotFoundError("no job 99 at " + name_);
    JobDefinition d;
    d.job_id = job_id;
    d.name = name_;
    return d;
  }
  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override {
    if (Status s = Gate(req.worker_id); !s.ok()) return s;
    if (long_poll) {
      std::this_thread::sleep_for(std::chrono::milliseconds(req.wait_ms));
    }
    FetchResponse r;
    r.tasks.push_back(TaskAssignment{{1, 2, 3}, name_, "payload"});
    return r;
  }
  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>&) override {
    return Gate(worker_id);
  }
  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override {
    if (Status s = Gate(worker_id); !s.ok()) return s;
    return ReportResponse{std::vector<bool>(reports.size(), true)};
  }
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override {
    if (Status s = Gate(req.worker_id); !s.ok()) return s;
    return HeartbeatResponse{};
  }

  // Before any call.
  void set_name(std::string name) { name_ = std::move(name); }

  // Forgets every worker (as after declaring them dead).
  void Forget() {
    std::lock_guard<std::mutex> lock(mu_);
    registered_.clear();
  }

  std::atomic<Mode> mode;
  std::atomic<bool> long_poll{false};  // Fetch waits out wait_ms
  std::atomic<bool> amnesia{false};    // RegisterWorker remembers nothing
  std::atomic<bool> refuse_registration{false};
  std::atomic<int> calls{0};
  std::atomic<int> registers{0};

 private:
  Status Gate(const std::string& worker_id) {
    ++calls;
    switch (mode.load()) {
      case Mode::kStandby:
        return UnavailableError("standby master " + name_ +
                                "; leader is elsewhere");
      case Mode::kRejectToken:
        return UnauthenticatedError("wrong cluster token");
      case Mode::kLeader:
        break;
    }
    if (!require_registration_ || worker_id.empty()) return OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    if (registered_.count(worker_id) == 0) {
      return FailedPreconditionError("unknown worker " + worker_id);
    }
    return OkStatus();
  }

  std::string name_;
  const bool require_registration_;
  std::mutex mu_;
  std::set<std::string> registered_;  // guarded by mu_
};

// ControlService with the same modes; GetCluster names the master.
class FakeClusterControl : public ControlService {
 public:
  FakeClusterControl(std::string name, Mode mode)
      : mode(mode), name_(std::move(name)) {}

  // Before any call.
  void set_name(std::string name) { name_ = std::move(name); }

  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest&) override {
    if (Status s = Gate(); !s.ok()) return s;
    return SubmitJobResponse{42, false};
  }
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t) override {
    if (Status s = Gate(); !s.ok()) return s;
    return std::vector<JobStatus>(2);
  }
  StatusOr<JobStatus> GetJob(int64_t job_id) override {
    if (Status s = Gate(); !s.ok()) return s;
    if (job_id == 99) return NotFoundError("no job 99");
    return JobStatus{};
  }
  StatusOr<std::vector<TaskRecord>> ListTasks(int64_t,
                                              const TaskFilter&) override {
    if (Status s = Gate(); !s.ok()) return s;
    return std::vector<TaskRecord>(1);
  }
  StatusOr<TaskRecord> GetTask(int64_t, int64_t) override {
    if (Status s = Gate(); !s.ok()) return s;
    return TaskRecord{};
  }
  StatusOr<std::vector<LogLine>> GetLogs(int64_t, int64_t) override {
    if (Status s = Gate(); !s.ok()) return s;
    return std::vector<LogLine>{};
  }
  Status CancelJob(int64_t) override { return Gate(); }
  StatusOr<int64_t> RerunTasks(int64_t, bool,
                               const std::vector<int64_t>&) override {
    if (Status s = Gate(); !s.ok()) return s;
    return int64_t{3};
  }
  StatusOr<ClusterStatus> GetCluster() override {
    if (Status s = Gate(); !s.ok()) return s;
    ClusterStatus c;
    c.leader.address = name_;
    return c;
  }

  std::atomic<Mode> mode;
  std::atomic<int> calls{0};

 private:
  Status Gate() {
    ++calls;
    switch (mode.load()) {
      case Mode::kStandby:
        return UnavailableError("standby master " + name_);
      case Mode::kRejectToken:
        return UnauthenticatedError("wrong cluster token");
      case Mode::kLeader:
        break;
    }
    return OkStatus();
  }

  std::string name_;
};

// Hands out in-process fakes by address; borrows them (they outlive the
// client). A sleep advances the fake clock and is recorded.
class InProcessCluster {
 public:
  FakeClusterMaster* AddMaster(const std::string& address, Mode mode,
                               bool require_registration = false) {
    masters_.push_back(std::make_unique<FakeClusterMaster>(
        address, mode, require_registration));
    by_address_.emplace_back(address, masters_.back().get());
    return masters_.back().get();
  }
  FakeClusterControl* AddControl(const std::string& address, Mode mode) {
    controls_.push_back(std::make_unique<FakeClusterControl>(address, mode));
    control_by_address_.emplace_back(address, controls_.back().get());
    return controls_.back().get();
  }

  FailoverHooks Hooks() {
    FailoverHooks h;
    h.clock = &clock;
    h.sleep = [this](int64_t ms) {
      {
        std::lock_guard<std::mutex> lock(mu);
        sleeps.push_back(ms);
      }
      clock.Advance(ms);
      if (on_sleep) on_sleep();
    };
    h.master_factory = [this](const std::string& address)
        -> StatusOr<std::unique_ptr<MasterService>> {
      for (auto& [a, m] : by_address_) {
        if (a == address) return std::unique_ptr<MasterService>(new Borrow(m));
      }
      return InvalidArgumentError("no fake at " + address);
    };
    h.control_factory = [this](const std::string& address)
        -> StatusOr<std::unique_ptr<ControlService>> {
      for (auto& [a, c] : control_by_address_) {
        if (a == address) {
          return std::unique_ptr<ControlService>(new BorrowControl(c));
        }
      }
      return InvalidArgumentError("no fake at " + address);
    };
    return h;
  }

  FakeClock clock;
  std::mutex mu;
  std::vector<int64_t> sleeps;  // guarded by mu
  std::function<void()> on_sleep;

 private:
  // Forwards to a fake it does not own.
  class Borrow : public MasterService {
   public:
    explicit Borrow(MasterService* m) : m_(m) {}
    Status RegisterWorker(const WorkerInfo& i) override {
      return m_->RegisterWorker(i);
    }
    StatusOr<JobDefinition> GetJobDefinition(int64_t id) override {
      return m_->GetJobDefinition(id);
    }
    StatusOr<FetchResponse> Fetch(const FetchRequest& r) override {
      return m_->Fetch(r);
    }
    Status Started(const std::string& w,
                   const std::vector<TaskRef>& t) override {
      return m_->Started(w, t);
    }
    StatusOr<ReportResponse> Report(const std::string& w,
                                    std::vector<TaskReport> r) override {
      return m_->Report(w, std::move(r));
    }
    StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& r) override {
      return m_->Heartbeat(r);
    }

   private:
    MasterService* const m_;
  };
  class BorrowControl : public ControlService {
   public:
    explicit BorrowControl(ControlService* c) : c_(c) {}
    StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& r) override {
      return c_->SubmitJob(r);
    }
    StatusOr<std::vector<JobStatus>> ListJobs(int64_t l) override {
      return c_->ListJobs(l);
    }
    StatusOr<JobStatus> GetJob(int64_t j) override { return c_->GetJob(j); }
    StatusOr<std::vector<TaskRecord>> ListTasks(int64_t j,
                                                const TaskFilter& f) override {
      return c_->ListTasks(j, f);
    }
    StatusOr<TaskRecord> GetTask(int64_t j, int64_t t) override {
      return c_->GetTask(j, t);
    }
    StatusOr<std::vector<LogLine>> GetLogs(int64_t j, int64_t t) override {
      return c_->GetLogs(j, t);
    }
    Status CancelJob(int64_t j) override { return c_->CancelJob(j); }
    StatusOr<int64_t> RerunTasks(int64_t j, bool f,
                                 const std::vector<int64_t>& ids) override {
      return c_->RerunTasks(j, f, ids);
    }
    StatusOr<ClusterStatus> GetCluster() override { return c_->GetCluster(); }

   private:
    ControlService* const c_;
  };

  std::vector<std::unique_ptr<FakeClusterMaster>> masters_;
  std::vector<std::unique_ptr<FakeClusterControl>> controls_;
  std::vector<std::pair<std::string, MasterService*>> by_address_;
  std::vector<std::pair<std::string, ControlService*>> control_by_address_;
};

ClusterClientOptions Options(std::vector<std::string> addresses,
                             int64_t failover_timeout_ms) {
  ClusterClientOptions o;
  o.addresses = std::move(addresses);
  o.token = "tok";
  o.call_timeout_ms = 5000;
  o.fetch_margin_ms = 5000;
  o.failover_timeout_ms = failover_timeout_ms;
  return o;
}

const WorkerInfo kWorker{"w-1", 4, "host", 123};

// ---- the failover loop, on in-process fakes ---------------------------------

TEST(FailoverTest, FindsTheLeaderAndSticksToIt) {
  InProcessCluster cl;
  FakeClusterMaster* standby = cl.AddMaster("a:1", Mode::kStandby);
  FakeClusterMaster* leader = cl.AddMaster("b:2", Mode::kLeader);
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 1000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  auto d = (*m)->GetJobDefinition(7);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "b:2");
  EXPECT_EQ(standby->calls.load(), 1);
  EXPECT_EQ(leader->calls.load(), 1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*m)->GetJobDefinition(7).ok());
  EXPECT_EQ(standby->calls.load(), 1);  // the leader is asked first now
  EXPECT_EQ(leader->calls.load(), 6);
  EXPECT_TRUE(cl.sleeps.empty());
}

TEST(FailoverTest, OtherErrorsPassThroughWithoutFailover) {
  InProcessCluster cl;
  FakeClusterMaster* first = cl.AddMaster("a:1", Mode::kLeader);
  FakeClusterMaster* second = cl.AddMaster("b:2", Mode::kLeader);
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 1000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  auto d = (*m)->GetJobDefinition(99);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(d.status().message(), "no job 99 at a:1");
  EXPECT_EQ(first->calls.load(), 1);
  EXPECT_EQ(second->calls.load(), 0);
}

TEST(FailoverTest, BacksOffThenGivesUpNamingEveryAddress) {
  InProcessCluster cl;
  FakeClusterMaster* a = cl.AddMaster("a:1", Mode::kStandby);
  FakeClusterMaster* b = cl.AddMaster("b:2", Mode::kStandby);
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 3000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  const int64_t start = cl.clock.MonoMs();
  Status s = (*m)->Heartbeat({"w", {}}).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_EQ(cl.clock.MonoMs() - start, 3000);
  EXPECT_EQ(cl.sleeps,
            (std::vector<int64_t>{20, 40, 80, 160, 320, 640, 1000, 740}));
  EXPECT_EQ(a->calls.load(), 9);  // one round per pause, and one more
  EXPECT_EQ(b->calls.load(), 9);
  EXPECT_NE(s.message().find("tried a:1, b:2"), std::string::npos) << s;
  EXPECT_NE(s.message().find("after 3000 ms"), std::string::npos) << s;
  EXPECT_NE(s.message().find("standby master b:2"), std::string::npos) << s;
}

TEST(FailoverTest, ZeroTimeoutTriesEachAddressOnce) {
  InProcessCluster cl;
  FakeClusterMaster* a = cl.AddMaster("a:1", Mode::kStandby);
  FakeClusterMaster* b = cl.AddMaster("b:2", Mode::kStandby);
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 0), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->Started("w", {}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(a->calls.load(), 1);
  EXPECT_EQ(b->calls.load(), 1);
  EXPECT_TRUE(cl.sleeps.empty());
}

TEST(FailoverTest, StandbyThatTakesOverIsFoundWithinTheTimeout) {
  InProcessCluster cl;
  FakeClusterMaster* a = cl.AddMaster("a:1", Mode::kStandby);
  FakeClusterMaster* b = cl.AddMaster("b:2", Mode::kStandby);
  cl.on_sleep = [&] {
    if (cl.clock.MonoMs() - 1'700'000'000'000 >= 100) b->mode = Mode::kLeader;
  };
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 30'000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  auto d = (*m)->GetJobDefinition(1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "b:2");
  EXPECT_EQ(cl.sleeps, (std::vector<int64_t>{20, 40, 80}));
  EXPECT_EQ(a->calls.load(), 4);
  EXPECT_EQ(b->calls.load(), 4);
}

TEST(FailoverTest, UnauthenticatedReturnsAtOnce) {
  InProcessCluster cl;
  FakeClusterMaster* rejecting = cl.AddMaster("a:1", Mode::kRejectToken);
  FakeClusterMaster* leader = cl.AddMaster("b:2", Mode::kLeader);
  auto m = ConnectMasterService(Options({"a:1", "b:2"}, 30'000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  Status s = (*m)->RegisterWorker(kWorker);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s;
  EXPECT_NE(s.message().find("master at a:1 rejected the cluster token"),
            std::string::npos)
      << s;
  EXPECT_EQ(rejecting->calls.load(), 1);
  EXPECT_EQ(leader->calls.load(), 0);
  EXPECT_TRUE(cl.sleeps.empty());

  // Also when a standby comes first.
  InProcessCluster cl2;
  FakeClusterMaster* standby = cl2.AddMaster("a:1", Mode::kStandby);
  FakeClusterMaster* rejecting2 = cl2.AddMaster("b:2", Mode::kRejectToken);
  auto m2 = ConnectMasterService(Options({"a:1", "b:2"}, 30'000), cl2.Hooks());
  ASSERT_TRUE(m2.ok()) << m2.status();
  Status s2 = (*m2)->Heartbeat({"w", {}}).status();
  EXPECT_EQ(s2.code(), StatusCode::kUnauthenticated) << s2;
  EXPECT_NE(s2.message().find("b:2"), std::string::npos) << s2;
  EXPECT_EQ(standby->calls.load(), 1);
  EXPECT_EQ(rejecting2->calls.load(), 1);
  EXPECT_TRUE(cl2.sleeps.empty());
}

TEST(FailoverTest, ReRegistersOnFailedPreconditionAndRetriesOnce) {
  InProcessCluster cl;
  FakeClusterMaster* leader =
      cl.AddMaster("a:1", Mode::kLeader, /*require_registration=*/true);
  auto m = ConnectMasterService(Options({"a:1"}, 1000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->RegisterWorker(kWorker).ok());
  EXPECT_EQ(leader->registers.load(), 1);

  // Every call of a worker, after the master forgot it.
  const std::vector<std::pair<std::string, std::function<Status()>>> calls = {
      {"Fetch",
       [&] {
         return (*m)->Fetch({"w-1", 1, 0}).status();
       }},
      {"Started",
       [&] {
         return (*m)->Started("w-1", {{1, 2, 3}});
       }},
      {"Report", [&] { return (*m)->Report("w-1", {TaskReport{}}).status(); }},
      {"Heartbeat",
       [&] {
         return (*m)->Heartbeat({"w-1", {}}).status();
       }},
  };
  int registers = 1;
  for (const auto& [name, call] : calls) {
    leader->Forget();
    const int before = leader->calls.load();
    Status s = call();
    EXPECT_TRUE(s.ok()) << name << " " << s;
    EXPECT_EQ(leader->registers.load(), ++registers) << name;
    EXPECT_EQ(leader->calls.load() - before, 3) << name;  // call, reg, call
  }
}

TEST(FailoverTest, ReRegistersOnlyOnce) {
  InProcessCluster cl;
  FakeClusterMaster* leader = cl.AddMaster("a:1", Mode::kLeader, true);

  // Never registered: nothing to redo, the error comes back as it is.
  auto fresh = ConnectMasterService(Options({"a:1"}, 1000), cl.Hooks());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  Status s0 = (*fresh)->Heartbeat({"w-1", {}}).status();
  EXPECT_EQ(s0.code(), StatusCode::kFailedPrecondition) << s0;
  EXPECT_EQ(leader->calls.load(), 1);
  EXPECT_EQ(leader->registers.load(), 0);

  // A master that forgets the worker again at once: one more try, no loop.
  auto m = ConnectMasterService(Options({"a:1"}, 1000), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  leader->amnesia = true;
  ASSERT_TRUE((*m)->RegisterWorker(kWorker).ok());
  const int before = leader->calls.load();
  Status s = (*m)->Heartbeat({"w-1", {}}).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(s.message(), "unknown worker w-1");
  EXPECT_EQ(leader->calls.load() - before, 3);  // call, register, call
  EXPECT_EQ(leader->registers.load(), 2);
}

TEST(FailoverTest, FailedReRegistrationReturnsItsError) {
  InProcessCluster cl;
  FakeClusterMaster* leader = cl.AddMaster("a:1", Mode::kLeader, true);
  auto m = ConnectMasterService(Options({"a:1"}, 0), cl.Hooks());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->RegisterWorker(kWorker).ok());
  leader->Forget();
  leader->refuse_registration = true;
  Status s = (*m)->Heartbeat({"w-1", {}}).status();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("registering worker w-1 again (Heartbeat was "
                             "refused: unknown worker w-1)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("too many workers"), std::string::npos) << s;
}

TEST(FailoverTest, ControlServiceFailsOverToo) {
  InProcessCluster cl;
  FakeClusterControl* standby = cl.AddControl("a:1", Mode::kStandby);
  FakeClusterControl* leader = cl.AddControl("b:2", Mode::kLeader);
  auto c = ConnectControlService(Options({"a:1", "b:2"}, 1000), cl.Hooks());
  ASSERT_TRUE(c.ok()) << c.status();
  auto cs = (*c)->GetCluster();
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(cs->leader.address, "b:2");
  EXPECT_TRUE((*c)->CancelJob(1).ok());
  EXPECT_EQ((*c)->GetJob(99).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(standby->calls.load(), 1);
  EXPECT_EQ(leader->calls.load(), 3);

  leader->mode = Mode::kRejectToken;
  Status s = (*c)->ListJobs(0).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("b:2"), std::string::npos) << s;
  EXPECT_EQ(standby->calls.load(), 1);
}

TEST(FailoverTest, BadOptionsAreInvalidArgument) {
  const std::vector<std::pair<std::string, ClusterClientOptions>> cases = [] {
    std::vector<std::pair<std::string, ClusterClientOptions>> v;
    v.emplace_back("no addresses", Options({}, 0));
    v.emplace_back("empty address", Options({"a:1", ""}, 0));
    auto no_token = Options({"a:1"}, 0);
    no_token.token = "";
    v.emplace_back("no token", no_token);
    auto bad_timeout = Options({"a:1"}, -1);
    v.emplace_back("negative failover timeout", bad_timeout);
    auto zero_call = Options({"a:1"}, 0);
    zero_call.call_timeout_ms = 0;
    v.emplace_back("zero call timeout", zero_call);
    auto bad_tls = Options({"a:1"}, 0);
    bad_tls.tls.ca_path = "/nonexistent/ca.pem";
    v.emplace_back("unreadable TLS file", bad_tls);
    return v;
  }();
  for (const auto& [name, o] : cases) {
    auto m = ConnectMasterService(o);
    ASSERT_FALSE(m.ok()) << name;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << name;
    auto c = ConnectControlService(o);
    ASSERT_FALSE(c.ok()) << name;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << name;
  }
}

// ---- over real gRPC servers -------------------------------------------------

// A cluster of real servers on loopback, each serving a FakeClusterMaster and
// a FakeClusterControl.
class GrpcFailoverTest : public ::testing::Test {
 protected:
  struct Node {
    std::unique_ptr<FakeClusterMaster> master;
    std::unique_ptr<FakeClusterControl> control;
    std::unique_ptr<GrpcMasterServer> server;
    std::string address;
  };

  Node* Start(Mode mode, const std::string& token = "tok",
              bool require_registration = false) {
    auto n = std::make_unique<Node>();
    n->master =
        std::make_unique<FakeClusterMaster>("", mode, require_registration);
    n->control = std::make_unique<FakeClusterControl>("", mode);
    auto s = GrpcMasterServer::Start(n->master.get(), "127.0.0.1:0", token, {},
                                     n->control.get());
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    n->server = *std::move(s);
    // The fakes answer with their address, known once bound.
    n->address = "127.0.0.1:" + std::to_string(n->server->port());
    n->master->set_name(n->address);
    n->control->set_name(n->address);
    nodes_.push_back(std::move(n));
    return nodes_.back().get();
  }

  static int64_t MsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - t)
        .count();
  }

  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(GrpcFailoverTest, CallsReachTheLeaderWhicheverOrder) {
  Node* standby = Start(Mode::kStandby);
  Node* leader = Start(Mode::kLeader);
  ASSERT_NE(standby, nullptr);
  ASSERT_NE(leader, nullptr);
  for (const auto& list :
       {std::vector<std::string>{standby->address, leader->address},
        std::vector<std::string>{leader->address, standby->address}}) {
    auto m = ConnectMasterService(Options(list, 2000));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE((*m)->RegisterWorker(kWorker).ok());
    auto f = (*m)->Fetch({"w-1", 1, 0});
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_EQ(f->tasks.size(), 1u);
    EXPECT_EQ(f->tasks[0].stage, leader->address);
    EXPECT_TRUE((*m)->Started("w-1", {{1, 2, 3}}).ok());
    EXPECT_TRUE((*m)->Report("w-1", {TaskReport{}}).ok());
    EXPECT_TRUE((*m)->Heartbeat({"w-1", {}}).ok());

    auto c = ConnectControlService(Options(list, 2000));
    ASSERT_TRUE(c.ok()) << c.status();
    auto cs = (*c)->GetCluster();
    ASSERT_TRUE(cs.ok()) << cs.status();
    EXPECT_EQ(cs->leader.address, leader->address);
    EXPECT_TRUE((*c)->CancelJob(1).ok());
  }
  // The standby was asked at most once per client.
  EXPECT_LE(standby->master->calls.load(), 1);
  EXPECT_LE(standby->control->calls.load(), 1);
  EXPECT_EQ(leader->master->calls.load(), 10);
  EXPECT_EQ(leader->control->calls.load(), 4);
}

TEST_F(GrpcFailoverTest, LeaderGoesAwayStandbyTakesOverWorkersReRegister) {
  Node* a = Start(Mode::kLeader, "tok", /*require_registration=*/true);
  Node* b = Start(Mode::kStandby, "tok", /*require_registration=*/true);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto m = ConnectMasterService(Options({a->address, b->address}, 5000));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->RegisterWorker(kWorker).ok());
  ASSERT_TRUE((*m)->Heartbeat({"w-1", {}}).ok());
  EXPECT_EQ(a->master->registers.load(), 1);

  // The leader goes away; the standby takes over 200 ms later.
  a->server->Shutdown(0);
  std::thread takeover([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    b->master->mode = Mode::kLeader;
  });
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> slots;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    slots.emplace_back([&, i] {
      Status s = i % 2 == 0 ? (*m)->Heartbeat({"w-1", {}}).status()
                            : (*m)->Fetch({"w-1", 1, 0}).status();
      if (s.ok()) {
        ++ok;
      } else {
        ADD_FAILURE() << s;
      }
    });
  }
  for (auto& t : slots) t.join();
  takeover.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_LT(MsSince(start), 5000);
  // The new leader did not know the worker: it registered again there.
  EXPECT_GE(b->master->registers.load(), 1);
  // And later calls go straight to it.
  const int before = b->master->calls.load();
  ASSERT_TRUE((*m)->Heartbeat({"w-1", {}}).ok());
  EXPECT_EQ(b->master->calls.load(), before + 1);
}

TEST_F(GrpcFailoverTest, AWrongTokenReturnsAtOnce) {
  Node* other = Start(Mode::kLeader, "another-cluster");
  Node* leader = Start(Mode::kLeader);
  ASSERT_NE(other, nullptr);
  ASSERT_NE(leader, nullptr);
  auto m =
      ConnectMasterService(Options({other->address, leader->address}, 10'000));
  ASSERT_TRUE(m.ok()) << m.status();
  const auto start = std::chrono::steady_clock::now();
  Status s = (*m)->RegisterWorker(kWorker);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s;
  EXPECT_NE(s.message().find("master at " + other->address +
                             " rejected the cluster token"),
            std::string::npos)
      << s;
  EXPECT_LT(MsSince(start), 2000);
  EXPECT_EQ(other->master->calls.load(), 0);   // the server refused it
  EXPECT_EQ(leader->master->calls.load(), 0);  // and it went nowhere else

  auto c =
      ConnectControlService(Options({other->address, leader->address}, 10'000));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->GetCluster().status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(leader->control->calls.load(), 0);
}

TEST_F(GrpcFailoverTest, NobodyReachableIsUnavailableNamingEveryAddress) {
  const std::string a = "127.0.0.1:" + std::to_string(FreePort());
  const std::string b = "127.0.0.1:" + std::to_string(FreePort());
  auto m = ConnectMasterService(Options({a, b}, 300));
  ASSERT_TRUE(m.ok()) << m.status();
  const auto start = std::chrono::steady_clock::now();
  Status s = (*m)->Heartbeat({"w-1", {}}).status();
  const int64_t took = MsSince(start);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("tried " + a + ", " + b), std::string::npos) << s;
  EXPECT_GE(took, 295);  // whole ms of two clocks, each truncated
  EXPECT_LT(took, 3000);

  auto c = ConnectControlService(Options({a, b}, 300));
  ASSERT_TRUE(c.ok()) << c.status();
  Status cs = (*c)->GetCluster().status();
  EXPECT_EQ(cs.code(), StatusCode::kUnavailable) << cs;
  EXPECT_NE(cs.message().find(a), std::string::npos) << cs;
  EXPECT_NE(cs.message().find(b), std::string::npos) << cs;
}

TEST_F(GrpcFailoverTest, FetchLongPollOutlastsTheCallTimeout) {
  Node* leader = Start(Mode::kLeader);
  ASSERT_NE(leader, nullptr);
  leader->master->long_poll = true;
  auto o = Options({leader->address}, 0);
  o.call_timeout_ms = 100;
  o.fetch_margin_ms = 2000;
  auto m = ConnectMasterService(o);
  ASSERT_TRUE(m.ok()) << m.status();
  auto f = (*m)->Fetch({"w-1", 1, 400});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->tasks.size(), 1u);
}

}  // namespace
}  // namespace taskgrid
