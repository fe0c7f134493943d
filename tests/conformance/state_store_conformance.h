// The StateStore conformance suite (src/store/state_store.h): every backend
// runs these tests, so that the master behaves the same on each.
//
// A backend runs the suite by defining a backend type B and instantiating:
//
//   struct MyBackend {
//     // Optional. A non-empty reason skips every test (e.g. no server).
//     static std::string SkipReason();
//     // Opens a store on this test's own database, which is empty at the
//     // first call. Each further call opens another handle on the same
//     // database, as another process would.
//     StatusOr<std::unique_ptr<StateStore>> Open();
//   };
//   using MyBackends = ::testing::Types<MyBackend>;
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, StateStoreConformanceTest, MyBackends);
//
// B is default-constructed once per test and destroyed after every store
// it opened (so it may own a temporary directory or database).
//
// Header-only, and safe to include in several test files of one binary
// (each instantiates with its own prefix).
//
// Where state_store.h leaves a point open, the suite asserts the reading a
// durable job system needs:
// - Job-scoped reads (GetTask, ListTasks, CountTasks, ForEach*, GetLogs) of
//   an unknown job are NotFound; GetLogs of a task without logs is empty.
// - CreateJob: task ids must be >= 1 and distinct (else InvalidArgument,
//   nothing created); a task's job_id field is ignored; next_task_id is
//   max(job.next_task_id, highest id + 1).
// - Apply: a new task whose id exists is AlreadyExists and nothing of the
//   batch is applied; next_task_id also grows past the new tasks; an update
//   of a cancelled or missing task counts as fenced; job_finished_ms and
//   heartbeat_ms of 0 leave the field as is.
// - AcquireJob: the same owner may take the job again (new epoch); a
//   heartbeat exactly lease_ms old is stale; an empty owner_alive presumes
//   the holder alive; a pending job becomes running, others keep state.
// - RerunTasks: a listed dispatched/running task is FailedPrecondition; a
//   listed task that descends from another listed one is deleted and not
//   counted; repeated ids count once; when nothing is rerun nothing changes
//   (not the reset stage, not the job); the epoch is not bumped.
// - ForEachResult and ForEachPayload with exclude_stage "" exclude nothing.
// - ClaimLeadership: a heartbeat exactly lease_ms old is stale; the holder
//   renews (same epoch) even after its own lease ran out if nobody took
//   over; a holder that released and claims again gets a new epoch;
//   owner_alive is asked only about another holder with a fresh lease, and
//   runs with no lock held (the record is judged again if it changed in
//   between); an empty owner is InvalidArgument. ReleaseLeadership by a
//   non-holder, or of a released record, is a no-op.
#ifndef TASKGRID_TESTS_CONFORMANCE_STATE_STORE_CONFORMANCE_H_
#define TASKGRID_TESTS_CONFORMANCE_STATE_STORE_CONFORMANCE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/states.h"
#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {
namespace conformance {

inline constexpr int64_t kT0 = 1'700'000'000'000;  // a fixed "now", ms
inline constexpr int64_t kLeaseMs = 30'000;

inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const StatusOr<T>& s) {
  return s.status();
}

// EXPECT_TRUE(HasCode(store.GetJob(99), StatusCode::kNotFound, "99"));
template <typename S>
::testing::AssertionResult HasCode(const S& result, StatusCode code,
                                   const std::string& in_message = "") {
  Status s = ToStatus(result);
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "want " << StatusCodeName(code) << ", got " << s;
  }
  if (s.message().find(in_message) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message lacks \"" << in_message << "\": " << s;
  }
  return ::testing::AssertionSuccess();
}

#define TGC_ASSERT_OK(expr)                                        \
  do {                                                             \
    const ::taskgrid::Status tgc_status_ =                         \
        ::taskgrid::conformance::ToStatus(expr);                   \
    ASSERT_TRUE(tgc_status_.ok()) << #expr << ": " << tgc_status_; \
  } while (0)
#define TGC_CONCAT_INNER_(a, b) a##b
#define TGC_CONCAT_(a, b) TGC_CONCAT_INNER_(a, b)
#define TGC_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  TGC_AOA_IMPL_(TGC_CONCAT_(tgc_statusor_, __LINE__), lhs, expr)
#define TGC_AOA_IMPL_(var, lhs, expr)                     \
  auto var = (expr);                                      \
  ASSERT_TRUE(var.ok()) << #expr << ": " << var.status(); \
  lhs = std::move(var).value()

inline JobRecord MakeJob(const std::string& name = "job",
                         const std::string& key = "") {
  JobRecord j;
  j.name = name;
  j.key = key;
  j.spec_yaml = "processor: noop\n";
  j.created_ms = kT0;
  return j;
}

inline TaskRecord MakeTask(int64_t id, const std::string& stage = "page",
                           int64_t parent_id = 0,
                           TaskState state = TaskState::kPending) {
  TaskRecord t;
  t.id = id;
  t.parent_id = parent_id;
  t.stage = stage;
  t.payload = "payload-" + std::to_string(id);
  t.state = state;
  return t;
}

// Tasks 1..n of `stage`, pending.
inline std::vector<TaskRecord> MakeTasks(int64_t n,
                                         const std::string& stage = "page") {
  std::vector<TaskRecord> tasks;
  tasks.reserve(static_cast<size_t>(n));
  for (int64_t id = 1; id <= n; ++id) tasks.push_back(MakeTask(id, stage));
  return tasks;
}

// An update of task `id` from attempt `from` to `to`.
inline TaskUpdate MakeUpdate(int64_t id, int32_t from, int32_t to,
                             TaskState state) {
  TaskUpdate u;
  u.id = id;
  u.expected_attempt = from;
  u.attempt = to;
  u.state = state;
  u.worker = "w1";
  u.started_ms = kT0 + 1;
  if (IsTerminal(state)) u.finished_ms = kT0 + 2;
  return u;
}

inline std::vector<int64_t> Ids(const std::vector<TaskRecord>& tasks) {
  std::vector<int64_t> ids;
  for (const TaskRecord& t : tasks) ids.push_back(t.id);
  return ids;
}

template <typename B>
class StateStoreConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (requires {
                    { B::SkipReason() } -> std::convertible_to<std::string>;
                  }) {
      std::string why = B::SkipReason();
      if (!why.empty()) GTEST_SKIP() << why;
    }
    backend_.emplace();
    auto store = backend_->Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }

  StateStore& store() { return *store_; }
  // Another handle on the same database, as another process would have.
  StatusOr<std::unique_ptr<StateStore>> OpenAnother() {
    return backend_->Open();
  }
  // Closes store() and opens it again, as a restarted process would.
  void Reopen() {
    store_.reset();
    auto store = backend_->Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }

  // Creates a job; 0 (and a test failure) on error.
  int64_t NewJob(const std::vector<TaskRecord>& tasks,
                 const JobRecord& job = MakeJob()) {
    StatusOr<int64_t> id = store_->CreateJob(job, tasks);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }
  // Takes the job for "me"; returns the epoch, 0 on error.
  int64_t Own(int64_t job_id, int64_t now_ms = kT0) {
    StatusOr<int64_t> epoch =
        store_->AcquireJob(job_id, "me", now_ms, kLeaseMs,
                           [](const std::string&) { return true; });
    EXPECT_TRUE(epoch.ok()) << epoch.status();
    return epoch.ok() ? *epoch : 0;
  }
  TaskRecord Task(int64_t job_id, int64_t task_id) {
    StatusOr<TaskRecord> t = store_->GetTask(job_id, task_id);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : TaskRecord{};
  }
  JobRecord Job(int64_t job_id) {
    StatusOr<JobRecord> j = store_->GetJob(job_id);
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? *j : JobRecord{};
  }
  std::vector<TaskRecord> AllTasks(int64_t job_id) {
    TaskFilter all;
    all.limit = 0;
    StatusOr<std::vector<TaskRecord>> t = store_->ListTasks(job_id, all);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : std::vector<TaskRecord>{};
  }

 private:
  std::optional<B> backend_;  // outlives store_
  std::unique_ptr<StateStore> store_;
};

TYPED_TEST_SUITE_P(StateStoreConformanceTest);

// --------------------------------------------------------------------------
// Jobs.

TYPED_TEST_P(StateStoreConformanceTest, CreateJobStoresEveryField) {
  JobRecord in = MakeJob("hourly", "k-1");
  in.spec_yaml = "processor: logstats\ninputs: [a, b]\n";
  in.result = std::string("r\0s", 3);
  TaskRecord t = MakeTask(1, "root");
  t.payload = std::string("\x00\xff\x01 bytes", 9);  // arbitrary bytes
  t.state = TaskState::kFailed;
  t.attempt = 3;
  t.attempt_base = 1;
  t.worker = "w@host";
  t.started_ms = kT0 + 1;
  t.finished_ms = kT0 + 2;
  t.not_before_ms = kT0 + 3;
  t.result = std::string("\x00res", 4);
  t.error = "boom";
  TaskRecord t2 = MakeTask(2, "page", 1);
  t2.job_id = 12345;  // ignored: the store assigns the job id
  const int64_t id = this->NewJob({t, t2}, in);
  ASSERT_GT(id, 0);

  JobRecord j = this->Job(id);
  EXPECT_EQ(j.id, id);
  EXPECT_EQ(j.name, "hourly");
  EXPECT_EQ(j.key, "k-1");
  EXPECT_EQ(j.spec_yaml, in.spec_yaml);
  EXPECT_EQ(j.state, JobState::kPending);
  EXPECT_EQ(j.created_ms, kT0);
  EXPECT_EQ(j.finished_ms, 0);
  EXPECT_EQ(j.epoch, 0);
  EXPECT_EQ(j.owner, "");
  EXPECT_EQ(j.result, in.result);
  EXPECT_EQ(j.next_task_id, 3);

  TaskRecord got = this->Task(id, 1);
  EXPECT_EQ(got.job_id, id);
  EXPECT_EQ(got.id, 1);
  EXPECT_EQ(got.parent_id, 0);
  EXPECT_EQ(got.stage, "root");
  EXPECT_EQ(got.payload, t.payload);
  EXPECT_EQ(got.state, TaskState::kFailed);
  EXPECT_EQ(got.attempt, 3);
  EXPECT_EQ(got.attempt_base, 1);
  EXPECT_EQ(got.worker, "w@host");
  EXPECT_EQ(got.started_ms, kT0 + 1);
  EXPECT_EQ(got.finished_ms, kT0 + 2);
  EXPECT_EQ(got.not_before_ms, kT0 + 3);
  EXPECT_EQ(got.result, t.result);
  EXPECT_EQ(got.error, "boom");
  TaskRecord got2 = this->Task(id, 2);
  EXPECT_EQ(got2.job_id, id);
  EXPECT_EQ(got2.parent_id, 1);
  EXPECT_EQ(got2.stage, "page");
}

TYPED_TEST_P(StateStoreConformanceTest, CreateJobWithoutTasksAndIdsGrow) {
  const int64_t a = this->NewJob({});
  const int64_t b = this->NewJob(MakeTasks(3));
  EXPECT_GT(b, a);
  EXPECT_EQ(this->Job(a).next_task_id, 1);
  EXPECT_EQ(this->Job(b).next_task_id, 4);
  JobRecord ahead = MakeJob();
  ahead.next_task_id = 100;  // never lowered by the tasks
  EXPECT_EQ(this->Job(this->NewJob(MakeTasks(3), ahead)).next_task_id, 100);
}

TYPED_TEST_P(StateStoreConformanceTest, CreateJobRejectsBadTaskIds) {
  StateStore& s = this->store();
  std::vector<TaskRecord> long_list = MakeTasks(300);
  long_list[200].id = 77;  // 77 twice, far into a long list
  struct Case {
    const char* name;
    std::vector<TaskRecord> tasks;
    std::string in_message;
  };
  const Case cases[] = {
      {"zero id", {MakeTask(1), MakeTask(0)}, "0"},
      {"negative id", {MakeTask(-5)}, "-5"},
      {"duplicate id", {MakeTask(1), MakeTask(2), MakeTask(1)}, "1"},
      {"duplicate in a long list", long_list, "77"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(HasCode(s.CreateJob(MakeJob("bad", "bad-key"), c.tasks),
                        StatusCode::kInvalidArgument, c.in_message));
  }
  // Nothing was created, and the key is still free.
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<JobRecord> jobs, s.ListJobs(0));
  EXPECT_TRUE(jobs.empty());
  TGC_ASSERT_OK_AND_ASSIGN(std::optional<JobRecord> found,
                           s.FindJobByKey("bad-key"));
  EXPECT_FALSE(found.has_value());
}

TYPED_TEST_P(StateStoreConformanceTest, DuplicateKeyIsAlreadyExists) {
  StateStore& s = this->store();
  const int64_t first = this->NewJob(MakeTasks(2), MakeJob("a", "daily-1"));
  StatusOr<int64_t> again = s.CreateJob(MakeJob("b", "daily-1"), MakeTasks(5));
  EXPECT_TRUE(HasCode(again, StatusCode::kAlreadyExists,
                      "job " + std::to_string(first)));
  // Empty keys never conflict.
  this->NewJob({}, MakeJob("c", ""));
  this->NewJob({}, MakeJob("d", ""));

  TGC_ASSERT_OK_AND_ASSIGN(std::optional<JobRecord> found,
                           s.FindJobByKey("daily-1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, first);
  EXPECT_EQ(found->name, "a");
  TGC_ASSERT_OK_AND_ASSIGN(found, s.FindJobByKey("daily-2"));
  EXPECT_FALSE(found.has_value());
  TGC_ASSERT_OK_AND_ASSIGN(found, s.FindJobByKey(""));
  EXPECT_FALSE(found.has_value());
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<JobRecord> jobs, s.ListJobs(0));
  EXPECT_EQ(jobs.size(), 3u);
  EXPECT_EQ(this->AllTasks(first).size(), 2u);  // the failed create left none
}

TYPED_TEST_P(StateStoreConformanceTest, ListJobsNewestFirst) {
  StateStore& s = this->store();
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(this->NewJob({}, MakeJob("j" + std::to_string(i))));
  }
  struct Case {
    int64_t limit;
    std::vector<int64_t> want;
  };
  const Case cases[] = {
      {0, {ids[4], ids[3], ids[2], ids[1], ids[0]}},
      {-1, {ids[4], ids[3], ids[2], ids[1], ids[0]}},
      {2, {ids[4], ids[3]}},
      {10, {ids[4], ids[3], ids[2], ids[1], ids[0]}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("limit " + std::to_string(c.limit));
    TGC_ASSERT_OK_AND_ASSIGN(std::vector<JobRecord> jobs, s.ListJobs(c.limit));
    std::vector<int64_t> got;
    for (const JobRecord& j : jobs) got.push_back(j.id);
    EXPECT_EQ(got, c.want);
  }
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<JobRecord> jobs, s.ListJobs(1));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].name, "j4");
}

TYPED_TEST_P(StateStoreConformanceTest, UnknownJobIsNotFoundEverywhere) {
  StateStore& s = this->store();
  const int64_t real = this->NewJob(MakeTasks(1));
  const int64_t bad = real + 1000;
  const std::string name = std::to_string(bad);
  auto ignore_task = [](TaskRecord&&) {};
  auto ignore_result = [](int64_t, const std::string&, const std::string&) {};
  EXPECT_TRUE(HasCode(s.GetJob(bad), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.GetTask(bad, 1), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.ListTasks(bad, {}), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.CountTasks(bad), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.ForEachUnfinishedTask(bad, ignore_task),
                      StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.ForEachResult(bad, "", ignore_result),
                      StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.ForEachPayload(bad, "", ignore_result),
                      StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.GetLogs(bad, 1), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.AcquireJob(bad, "me", kT0, kLeaseMs, nullptr),
                      StatusCode::kNotFound, name));
  WriteBatch b;
  b.job_id = bad;
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kNotFound, name));
  EXPECT_TRUE(HasCode(s.CancelJob(bad, kT0), StatusCode::kNotFound, name));
  EXPECT_TRUE(
      HasCode(s.RerunTasks(bad, true, {}, ""), StatusCode::kNotFound, name));
  // An unknown task of a real job.
  EXPECT_TRUE(HasCode(s.GetTask(real, 7), StatusCode::kNotFound, "7"));
  // Known job, task without logs: empty, not an error.
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<LogLine> logs, s.GetLogs(real, 1));
  EXPECT_TRUE(logs.empty());
}

// --------------------------------------------------------------------------
// Ownership and fencing.

TYPED_TEST_P(StateStoreConformanceTest, AcquireJobLeaseRules) {
  struct Case {
    const char* name;
    std::string holder;  // "" = nobody acquired it before
    int64_t age_ms;      // of the holder's heartbeat when "me" asks
    bool holder_alive;   // what owner_alive says about the holder
    bool want_ok;
  };
  const Case cases[] = {
      {"free job", "", 0, true, true},
      {"alive holder, fresh heartbeat", "other@h", 1'000, true, false},
      {"dead holder, fresh heartbeat", "other@h", 1'000, false, true},
      {"alive holder, stale heartbeat", "other@h", kLeaseMs + 1, true, true},
      {"alive holder, heartbeat at lease end", "other@h", kLeaseMs, true, true},
      {"same owner again", "me", 1'000, true, true},
  };
  StateStore& s = this->store();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t job = this->NewJob(MakeTasks(1));
    int64_t epoch = 0;
    if (!c.holder.empty()) {
      TGC_ASSERT_OK_AND_ASSIGN(
          epoch, s.AcquireJob(job, c.holder, kT0, kLeaseMs, nullptr));
      EXPECT_EQ(epoch, 1);
    }
    std::vector<std::string> asked;
    auto alive = [&](const std::string& o) {
      asked.push_back(o);
      return c.holder_alive;
    };
    StatusOr<int64_t> got =
        s.AcquireJob(job, "me", kT0 + c.age_ms, kLeaseMs, alive);
    for (const std::string& o : asked) EXPECT_EQ(o, c.holder);
    JobRecord j = this->Job(job);
    if (c.want_ok) {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, epoch + 1);
      EXPECT_EQ(j.epoch, epoch + 1);
      EXPECT_EQ(j.owner, "me");
      EXPECT_EQ(j.heartbeat_ms, kT0 + c.age_ms);
      EXPECT_EQ(j.state, JobState::kRunning);  // pending -> running
    } else {
      EXPECT_TRUE(HasCode(got, StatusCode::kFailedPrecondition, c.holder));
      EXPECT_EQ(j.epoch, epoch);
      EXPECT_EQ(j.owner, c.holder);
      EXPECT_EQ(j.heartbeat_ms, kT0);
    }
  }
}

TYPED_TEST_P(StateStoreConformanceTest, AcquireJobKeepsStateAndRefusesEnded) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(1));
  EXPECT_EQ(this->Own(job), 1);
  // A later heartbeat through Apply keeps the lease fresh.
  WriteBatch hb;
  hb.job_id = job;
  hb.epoch = 1;
  hb.heartbeat_ms = kT0 + 2 * kLeaseMs;
  TGC_ASSERT_OK(s.Apply(hb));
  EXPECT_TRUE(HasCode(
      s.AcquireJob(job, "other", kT0 + 2 * kLeaseMs + 10, kLeaseMs, nullptr),
      StatusCode::kFailedPrecondition, "me"));
  // Running stays running on a takeover.
  EXPECT_EQ(this->Own(job, kT0 + 4 * kLeaseMs), 2);
  EXPECT_EQ(this->Job(job).state, JobState::kRunning);

  for (JobState end :
       {JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    SCOPED_TRACE(std::string(JobStateName(end)));
    JobRecord rec = MakeJob();
    rec.state = end;
    const int64_t done = this->NewJob({}, rec);
    EXPECT_TRUE(HasCode(s.AcquireJob(done, "me", kT0, kLeaseMs, nullptr),
                        StatusCode::kFailedPrecondition,
                        std::string(JobStateName(end))));
    EXPECT_EQ(this->Job(done).epoch, 0);
  }
}

TYPED_TEST_P(StateStoreConformanceTest,
             ApplyStaleEpochIsAbortedNothingApplied) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(3));
  EXPECT_EQ(this->Own(job), 1);
  EXPECT_EQ(this->Own(job), 2);  // a newer master took over

  WriteBatch b;
  b.job_id = job;
  b.epoch = 1;
  b.new_tasks = {MakeTask(4, "page", 1)};
  b.updates = {MakeUpdate(1, 0, 1, TaskState::kDispatched)};
  b.logs = {LogLine{1, 1, kT0, 0, "hello"}};
  b.job_state = JobState::kSucceeded;
  b.job_result = "r";
  b.next_task_id = 10;
  b.heartbeat_ms = kT0 + 5;
  EXPECT_TRUE(
      HasCode(s.Apply(b), StatusCode::kAborted,
              "job " + std::to_string(job) + ": epoch 1 is stale (current 2)"));
  b.epoch = 3;  // from the future is stale too
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kAborted, "current 2"));

  JobRecord j = this->Job(job);
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.result, "");
  EXPECT_EQ(j.next_task_id, 4);
  EXPECT_EQ(j.heartbeat_ms, kT0);
  EXPECT_EQ(Ids(this->AllTasks(job)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(this->Task(job, 1).state, TaskState::kPending);
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<LogLine> logs, s.GetLogs(job, 1));
  EXPECT_TRUE(logs.empty());

  b.epoch = 2;  // the current master succeeds with the same batch
  TGC_ASSERT_OK_AND_ASSIGN(ApplyResult r, s.Apply(b));
  EXPECT_EQ(r.fenced, 0);
  EXPECT_EQ(this->Task(job, 1).state, TaskState::kDispatched);
}

TYPED_TEST_P(StateStoreConformanceTest, ApplyWritesTasksAndJobFields) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob({MakeTask(1, "root")});
  const int64_t epoch = this->Own(job);

  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.new_tasks = {MakeTask(2, "page", 1), MakeTask(3, "page", 1)};
  TaskUpdate u = MakeUpdate(1, 0, 1, TaskState::kSucceeded);
  u.result = "3 children";
  u.error = "";
  b.updates = {u};
  b.heartbeat_ms = kT0 + 100;
  TGC_ASSERT_OK_AND_ASSIGN(ApplyResult r, s.Apply(b));
  EXPECT_EQ(r.fenced, 0);
  JobRecord j = this->Job(job);
  EXPECT_EQ(j.next_task_id, 4);  // raised past the new tasks
  EXPECT_EQ(j.heartbeat_ms, kT0 + 100);
  EXPECT_EQ(j.state, JobState::kRunning);
  TaskRecord t1 = this->Task(job, 1);
  EXPECT_EQ(t1.state, TaskState::kSucceeded);
  EXPECT_EQ(t1.attempt, 1);
  EXPECT_EQ(t1.worker, "w1");
  EXPECT_EQ(t1.started_ms, kT0 + 1);
  EXPECT_EQ(t1.finished_ms, kT0 + 2);
  EXPECT_EQ(t1.result, "3 children");
  EXPECT_EQ(t1.payload, "payload-1");  // not touched by updates
  EXPECT_EQ(this->Task(job, 3).parent_id, 1);

  // Job fields: next_task_id only grows; heartbeat 0 leaves it.
  WriteBatch fin;
  fin.job_id = job;
  fin.epoch = epoch;
  fin.job_state = JobState::kSucceeded;
  fin.job_finished_ms = kT0 + 200;
  fin.job_result = std::string("sum\0=3", 6);
  fin.next_task_id = 2;
  TGC_ASSERT_OK(s.Apply(fin));
  j = this->Job(job);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  EXPECT_EQ(j.finished_ms, kT0 + 200);
  EXPECT_EQ(j.result, *fin.job_result);
  EXPECT_EQ(j.next_task_id, 4);
  EXPECT_EQ(j.heartbeat_ms, kT0 + 100);
  fin.next_task_id = 50;
  fin.job_state.reset();
  fin.job_result.reset();
  fin.job_finished_ms = 0;
  TGC_ASSERT_OK(s.Apply(fin));
  j = this->Job(job);
  EXPECT_EQ(j.next_task_id, 50);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  EXPECT_EQ(j.finished_ms, kT0 + 200);
  EXPECT_EQ(j.result, std::string("sum\0=3", 6));
}

TYPED_TEST_P(StateStoreConformanceTest, ApplyDuplicateNewTaskAbortsBatch) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(2));
  const int64_t epoch = this->Own(job);
  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.updates = {MakeUpdate(1, 0, 1, TaskState::kDispatched)};
  b.new_tasks = {MakeTask(3), MakeTask(2)};  // 2 exists
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kAlreadyExists, "2"));
  EXPECT_EQ(Ids(this->AllTasks(job)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(this->Task(job, 1).state, TaskState::kPending);
  // The same far into a long list of new tasks.
  b.new_tasks.clear();
  for (int64_t id = 3; id <= 200; ++id) b.new_tasks.push_back(MakeTask(id));
  b.new_tasks.insert(b.new_tasks.begin() + 150, MakeTask(1));
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kAlreadyExists, "1"));
  EXPECT_EQ(Ids(this->AllTasks(job)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(this->Job(job).next_task_id, 3);
  b.new_tasks = {MakeTask(0)};
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kInvalidArgument));
  // A valid long list goes in whole.
  b.new_tasks.clear();
  for (int64_t id = 3; id <= 200; ++id) b.new_tasks.push_back(MakeTask(id));
  TGC_ASSERT_OK(s.Apply(b));
  EXPECT_EQ(this->AllTasks(job).size(), 200u);
  EXPECT_EQ(this->Task(job, 137).payload, "payload-137");
  EXPECT_EQ(this->Job(job).next_task_id, 201);
}

TYPED_TEST_P(StateStoreConformanceTest, ApplyFencesStaleAttempts) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(4));
  const int64_t epoch = this->Own(job);
  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.updates = {MakeUpdate(1, 0, 1, TaskState::kDispatched),
               MakeUpdate(2, 0, 1, TaskState::kDispatched),
               MakeUpdate(3, 0, 1, TaskState::kDispatched)};
  TGC_ASSERT_OK(s.Apply(b));

  // Task 2 was retried (attempt 2); its attempt-1 worker reports late.
  b.updates = {MakeUpdate(2, 1, 2, TaskState::kDispatched)};
  TGC_ASSERT_OK(s.Apply(b));
  TaskUpdate late = MakeUpdate(2, 1, 1, TaskState::kSucceeded);
  late.result = "late";
  TaskUpdate ok1 = MakeUpdate(1, 1, 1, TaskState::kSucceeded);
  ok1.result = "fine";
  TaskUpdate never = MakeUpdate(4, 3, 3, TaskState::kFailed);  // attempt 0
  TaskUpdate gone = MakeUpdate(99, 0, 1, TaskState::kDispatched);
  b.updates = {late, ok1, never, gone};
  TGC_ASSERT_OK_AND_ASSIGN(ApplyResult r, s.Apply(b));
  EXPECT_EQ(r.fenced, 3);

  TaskRecord t2 = this->Task(job, 2);
  EXPECT_EQ(t2.attempt, 2);
  EXPECT_EQ(t2.state, TaskState::kDispatched);
  EXPECT_EQ(t2.result, "");
  EXPECT_EQ(this->Task(job, 1).result, "fine");
  EXPECT_EQ(this->Task(job, 4).state, TaskState::kPending);
  EXPECT_EQ(this->Task(job, 4).attempt, 0);
  EXPECT_EQ(Ids(this->AllTasks(job)), (std::vector<int64_t>{1, 2, 3, 4}));
}

TYPED_TEST_P(StateStoreConformanceTest, CancelledTaskIsNeverOverwritten) {
  StateStore& s = this->store();
  std::vector<TaskRecord> tasks = MakeTasks(2);
  tasks[0].state = TaskState::kCancelled;
  tasks[0].attempt = 1;
  const int64_t job = this->NewJob(tasks);
  const int64_t epoch = this->Own(job);
  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.updates = {MakeUpdate(1, 1, 1, TaskState::kSucceeded),
               MakeUpdate(1, 1, 2, TaskState::kPending),
               MakeUpdate(2, 0, 1, TaskState::kDispatched)};
  TGC_ASSERT_OK_AND_ASSIGN(ApplyResult r, s.Apply(b));
  EXPECT_EQ(r.fenced, 2);
  TaskRecord t1 = this->Task(job, 1);
  EXPECT_EQ(t1.state, TaskState::kCancelled);
  EXPECT_EQ(t1.attempt, 1);
  EXPECT_EQ(this->Task(job, 2).state, TaskState::kDispatched);
}

TYPED_TEST_P(StateStoreConformanceTest, CancelJob) {
  StateStore& s = this->store();
  std::vector<TaskRecord> tasks;
  for (int i = 0; i < kNumTaskStates; ++i) {
    tasks.push_back(MakeTask(i + 1));
    tasks.back().state = static_cast<TaskState>(i);
    tasks.back().attempt = 1;
  }
  const int64_t job = this->NewJob(tasks);
  const int64_t epoch = this->Own(job);
  TGC_ASSERT_OK(s.CancelJob(job, kT0 + 50));

  JobRecord j = this->Job(job);
  EXPECT_EQ(j.state, JobState::kCancelled);
  EXPECT_EQ(j.finished_ms, kT0 + 50);
  EXPECT_EQ(j.epoch, epoch + 1);
  for (const TaskRecord& t : this->AllTasks(job)) {
    const TaskState before = tasks[static_cast<size_t>(t.id - 1)].state;
    SCOPED_TRACE(std::string(TaskStateName(before)));
    EXPECT_EQ(t.state, IsTerminal(before) ? before : TaskState::kCancelled);
  }
  // The driving master is fenced.
  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.updates = {MakeUpdate(3, 1, 1, TaskState::kSucceeded)};
  EXPECT_TRUE(HasCode(s.Apply(b), StatusCode::kAborted));
  EXPECT_TRUE(HasCode(s.CancelJob(job, kT0 + 60),
                      StatusCode::kFailedPrecondition, "cancelled"));
  EXPECT_EQ(this->Job(job).finished_ms, kT0 + 50);
  EXPECT_TRUE(HasCode(s.AcquireJob(job, "me", kT0, kLeaseMs, nullptr),
                      StatusCode::kFailedPrecondition));

  JobRecord done = MakeJob();
  done.state = JobState::kSucceeded;
  EXPECT_TRUE(HasCode(s.CancelJob(this->NewJob({}, done), kT0),
                      StatusCode::kFailedPrecondition, "succeeded"));
}

// --------------------------------------------------------------------------
// Rerun. The tree (stage, state):
//
//   1 root    succeeded
//   ├─ 2 page succeeded
//   │  ├─ 4 sub  succeeded
//   │  │  └─ 6 leaf dead
//   │  └─ 5 sub  failed
//   └─ 3 page dead
//   7 reduce  succeeded (parent 0)
//   8 page    running   (parent 0)
inline std::vector<TaskRecord> RerunTree() {
  auto task = [](int64_t id, const char* stage, int64_t parent, TaskState st) {
    TaskRecord t = MakeTask(id, stage, parent, st);
    t.attempt = 2;
    t.attempt_base = 0;
    t.worker = "w";
    t.started_ms = kT0;
    if (IsTerminal(st) || st == TaskState::kFailed) {
      t.finished_ms = kT0 + 1;
      t.result = st == TaskState::kSucceeded ? "ok" : "";
      t.error = st == TaskState::kSucceeded ? "" : "bad";
    }
    if (st == TaskState::kFailed) t.not_before_ms = kT0 + 9;
    return t;
  };
  using S = TaskState;
  return {
      task(1, "root", 0, S::kSucceeded),   task(2, "page", 1, S::kSucceeded),
      task(3, "page", 1, S::kDead),        task(4, "sub", 2, S::kSucceeded),
      task(5, "sub", 2, S::kFailed),       task(6, "leaf", 4, S::kDead),
      task(7, "reduce", 0, S::kSucceeded), task(8, "page", 0, S::kRunning)};
}

inline JobRecord FailedJob() {
  JobRecord j = MakeJob("tree");
  j.state = JobState::kFailed;
  j.finished_ms = kT0 + 5;
  j.result = "partial";
  return j;
}

// A rerun task is pending with a fresh retry budget and no outcome.
inline void ExpectRerun(const TaskRecord& t) {
  SCOPED_TRACE("task " + std::to_string(t.id));
  EXPECT_EQ(t.state, TaskState::kPending);
  EXPECT_EQ(t.attempt, 2);       // kept: the next dispatch makes it 3
  EXPECT_EQ(t.attempt_base, 2);  // retry budget counts from here
  EXPECT_EQ(t.error, "");
  EXPECT_EQ(t.result, "");
  EXPECT_EQ(t.finished_ms, 0);
  EXPECT_EQ(t.not_before_ms, 0);
}

TYPED_TEST_P(StateStoreConformanceTest, RerunFailedOnly) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(RerunTree(), FailedJob());
  const int64_t epoch_before = this->Job(job).epoch;
  TGC_ASSERT_OK_AND_ASSIGN(int64_t n,
                           s.RerunTasks(job, true, {1, 2}, "reduce"));
  EXPECT_EQ(n, 3);  // 3, 5, 6; the listed ids are ignored
  for (int64_t id : {3, 5, 6, 7}) ExpectRerun(this->Task(job, id));
  for (int64_t id : {1, 2, 4}) {
    EXPECT_EQ(this->Task(job, id).state, TaskState::kSucceeded);
    EXPECT_EQ(this->Task(job, id).result, "ok");
  }
  EXPECT_EQ(this->Task(job, 8).state, TaskState::kRunning);
  EXPECT_EQ(Ids(this->AllTasks(job)).size(), 8u);
  JobRecord j = this->Job(job);
  EXPECT_EQ(j.state, JobState::kPending);
  EXPECT_EQ(j.finished_ms, 0);
  EXPECT_EQ(j.result, "");
  EXPECT_EQ(j.epoch, epoch_before);

  // Nothing left to rerun: nothing changes, not even the reset stage.
  WriteBatch b;
  b.job_id = job;
  b.epoch = this->Own(job);
  TaskUpdate u = MakeUpdate(7, 2, 3, TaskState::kSucceeded);
  u.result = "reduced";
  b.updates = {u};
  b.job_state = JobState::kSucceeded;
  TGC_ASSERT_OK(s.Apply(b));
  for (int64_t id : {3, 5, 6}) {
    WriteBatch ok;
    ok.job_id = job;
    ok.epoch = b.epoch;
    ok.updates = {MakeUpdate(id, 2, 3, TaskState::kSucceeded)};
    TGC_ASSERT_OK(s.Apply(ok));
  }
  TGC_ASSERT_OK_AND_ASSIGN(n, s.RerunTasks(job, true, {}, "reduce"));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(this->Task(job, 7).result, "reduced");
  EXPECT_EQ(this->Job(job).state, JobState::kSucceeded);
}

TYPED_TEST_P(StateStoreConformanceTest, RerunByIdsDeletesDescendants) {
  struct Case {
    const char* name;
    std::vector<int64_t> ids;
    int64_t want_count;
    std::vector<int64_t> want_rerun;  // besides reduce (7)
    std::vector<int64_t> want_left;   // every remaining task id
  };
  const Case cases[] = {
      {"inner node", {2}, 1, {2}, {1, 2, 3, 7, 8}},
      {"root", {1}, 1, {1}, {1, 7, 8}},
      {"leaf", {6}, 1, {6}, {1, 2, 3, 4, 5, 6, 7, 8}},
      {"listed descendant is deleted", {4, 2, 6}, 1, {2}, {1, 2, 3, 7, 8}},
      {"siblings, repeated", {3, 2, 3}, 2, {2, 3}, {1, 2, 3, 7, 8}},
      {"succeeded reduce itself", {7}, 1, {7}, {1, 2, 3, 4, 5, 6, 7, 8}},
  };
  StateStore& s = this->store();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t job = this->NewJob(RerunTree(), FailedJob());
    // Logs of every task, two attempts.
    WriteBatch logs;
    logs.job_id = job;
    for (int64_t id = 1; id <= 8; ++id) {
      logs.logs.push_back(LogLine{id, 1, kT0, 0, "a"});
      logs.logs.push_back(LogLine{id, 2, kT0, 0, "b"});
    }
    TGC_ASSERT_OK(s.Apply(logs));

    TGC_ASSERT_OK_AND_ASSIGN(int64_t n,
                             s.RerunTasks(job, false, c.ids, "reduce"));
    EXPECT_EQ(n, c.want_count);
    EXPECT_EQ(Ids(this->AllTasks(job)), c.want_left);
    for (int64_t id : c.want_rerun) ExpectRerun(this->Task(job, id));
    ExpectRerun(this->Task(job, 7));
    for (int64_t id = 1; id <= 8; ++id) {
      TGC_ASSERT_OK_AND_ASSIGN(std::vector<LogLine> l, s.GetLogs(job, id));
      const bool left = std::find(c.want_left.begin(), c.want_left.end(), id) !=
                        c.want_left.end();
      EXPECT_EQ(l.size(), left ? 2u : 0u) << "logs of task " << id;
    }
    EXPECT_EQ(this->Job(job).state, JobState::kPending);
  }
}

TYPED_TEST_P(StateStoreConformanceTest, RerunWithoutResetStageKeepsOthers) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(RerunTree(), FailedJob());
  TGC_ASSERT_OK_AND_ASSIGN(int64_t n, s.RerunTasks(job, false, {3}, ""));
  EXPECT_EQ(n, 1);
  ExpectRerun(this->Task(job, 3));
  EXPECT_EQ(this->Task(job, 7).state, TaskState::kSucceeded);
  EXPECT_EQ(this->Task(job, 7).result, "ok");
  // A stage with no tasks is no error.
  TGC_ASSERT_OK_AND_ASSIGN(n, s.RerunTasks(job, false, {5}, "no-such-stage"));
  EXPECT_EQ(n, 1);
}

TYPED_TEST_P(StateStoreConformanceTest, RerunErrorsChangeNothing) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(RerunTree(), FailedJob());
  EXPECT_TRUE(HasCode(s.RerunTasks(job, false, {2, 99, 98}, "reduce"),
                      StatusCode::kNotFound, "99"));
  EXPECT_TRUE(HasCode(s.RerunTasks(job, false, {2, 8}, "reduce"),
                      StatusCode::kFailedPrecondition, "8"));
  EXPECT_EQ(Ids(this->AllTasks(job)),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(this->Task(job, 2).state, TaskState::kSucceeded);
  EXPECT_EQ(this->Task(job, 7).state, TaskState::kSucceeded);
  EXPECT_EQ(this->Job(job).state, JobState::kFailed);
  EXPECT_EQ(this->Job(job).result, "partial");
}

TYPED_TEST_P(StateStoreConformanceTest, RerunDeepChain) {
  // A chain 1 <- 2 <- ... <- 2000: every level is found.
  std::vector<TaskRecord> tasks;
  for (int64_t id = 1; id <= 2000; ++id) {
    tasks.push_back(MakeTask(id, "x", id - 1, TaskState::kSucceeded));
  }
  const int64_t job = this->NewJob(tasks);
  TGC_ASSERT_OK_AND_ASSIGN(int64_t n,
                           this->store().RerunTasks(job, false, {3}, ""));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(Ids(this->AllTasks(job)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(this->Task(job, 3).state, TaskState::kPending);
}

// --------------------------------------------------------------------------
// Reads.

TYPED_TEST_P(StateStoreConformanceTest, ListTasksFiltersAndPages) {
  // Ids 1..10; odd ids stage "a", even "b"; ids 1-4 succeeded, 5-7 failed,
  // 8-10 pending.
  std::vector<TaskRecord> tasks;
  for (int64_t id = 1; id <= 10; ++id) {
    TaskState st = id <= 4   ? TaskState::kSucceeded
                   : id <= 7 ? TaskState::kFailed
                             : TaskState::kPending;
    tasks.push_back(MakeTask(id, id % 2 ? "a" : "b", 0, st));
  }
  const int64_t job = this->NewJob(tasks);
  this->NewJob(MakeTasks(5, "a"));  // another job's tasks never show

  struct Case {
    const char* name;
    TaskFilter filter;
    std::vector<int64_t> want;
  };
  auto filter = [](int64_t after, int64_t limit,
                   std::optional<TaskState> state = std::nullopt,
                   std::optional<std::string> stage = std::nullopt) {
    TaskFilter f;
    f.after_id = after;
    f.limit = limit;
    f.state = state;
    f.stage = stage;
    return f;
  };
  const Case cases[] = {
      {"default", TaskFilter{}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
      {"no limit", filter(0, 0), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
      {"limit", filter(0, 3), {1, 2, 3}},
      {"page 2", filter(3, 3), {4, 5, 6}},
      {"last page", filter(9, 3), {10}},
      {"past the end", filter(10, 3), {}},
      {"state", filter(0, 0, TaskState::kFailed), {5, 6, 7}},
      {"state, paged", filter(5, 1, TaskState::kFailed), {6}},
      {"stage", filter(0, 0, std::nullopt, "b"), {2, 4, 6, 8, 10}},
      {"stage and state", filter(0, 0, TaskState::kSucceeded, "a"), {1, 3}},
      {"no match", filter(0, 0, TaskState::kDead), {}},
      {"unknown stage", filter(0, 0, std::nullopt, "zzz"), {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TGC_ASSERT_OK_AND_ASSIGN(std::vector<TaskRecord> got,
                             this->store().ListTasks(job, c.filter));
    EXPECT_EQ(Ids(got), c.want);
    for (const TaskRecord& t : got) EXPECT_EQ(t.job_id, job);
  }
  // Keyset paging through everything.
  std::vector<int64_t> seen;
  TaskFilter page = filter(0, 4);
  while (true) {
    TGC_ASSERT_OK_AND_ASSIGN(std::vector<TaskRecord> got,
                             this->store().ListTasks(job, page));
    if (got.empty()) break;
    for (const TaskRecord& t : got) seen.push_back(t.id);
    page.after_id = got.back().id;
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TYPED_TEST_P(StateStoreConformanceTest, ListTasksSortedByDurationAndAttempts) {
  // id: duration ms (-: never finished), attempt, state.
  struct Row {
    int64_t duration;
    int32_t attempt;
    TaskState state;
  };
  const Row rows[] = {
      {50, 1, TaskState::kSucceeded}, {-1, 0, TaskState::kPending},
      {90, 3, TaskState::kDead},      {50, 2, TaskState::kSucceeded},
      {10, 3, TaskState::kFailed},    {-1, 1, TaskState::kRunning},
      {70, 1, TaskState::kDead},      {0, 1, TaskState::kSucceeded},
  };
  std::vector<TaskRecord> tasks;
  for (size_t i = 0; i < std::size(rows); ++i) {
    TaskRecord t = MakeTask(static_cast<int64_t>(i) + 1, i % 2 ? "b" : "a", 0,
                            rows[i].state);
    t.attempt = rows[i].attempt;
    if (rows[i].attempt > 0) t.started_ms = 1000;
    if (rows[i].duration >= 0) t.finished_ms = 1000 + rows[i].duration;
    tasks.push_back(t);
  }
  const int64_t job = this->NewJob(tasks);
  auto sorted = [](TaskOrder order, int64_t offset, int64_t limit,
                   std::optional<TaskState> state = std::nullopt,
                   std::optional<std::string> stage = std::nullopt) {
    TaskFilter f;
    f.order = order;
    f.offset = offset;
    f.limit = limit;
    f.state = state;
    f.stage = stage;
    f.after_id = 99;  // ignored by sorted orders
    return f;
  };
  struct Case {
    const char* name;
    TaskFilter filter;
    std::vector<int64_t> want;
  };
  const auto kDur = TaskOrder::kDurationDesc;
  const auto kAtt = TaskOrder::kAttemptsDesc;
  const Case cases[] = {
      {"duration", sorted(kDur, 0, 0), {3, 7, 1, 4, 5, 8, 2, 6}},
      {"duration page", sorted(kDur, 2, 3), {1, 4, 5}},
      {"duration past end", sorted(kDur, 8, 3), {}},
      {"duration dead", sorted(kDur, 0, 0, TaskState::kDead), {3, 7}},
      {"duration failed", sorted(kDur, 0, 0, TaskState::kFailed), {5}},
      {"duration stage b", sorted(kDur, 0, 0, std::nullopt, "b"), {4, 8, 2, 6}},
      {"attempts", sorted(kAtt, 0, 0), {3, 5, 4, 1, 6, 7, 8, 2}},
      {"attempts page", sorted(kAtt, 1, 2), {5, 4}},
      {"attempts succeeded",
       sorted(kAtt, 0, 0, TaskState::kSucceeded),
       {4, 1, 8}},
      {"attempts dead in a", sorted(kAtt, 0, 0, TaskState::kDead, "a"), {3, 7}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TGC_ASSERT_OK_AND_ASSIGN(std::vector<TaskRecord> got,
                             this->store().ListTasks(job, c.filter));
    EXPECT_EQ(Ids(got), c.want);
  }
  // The by-id order with a state of the partial index pages by id.
  TaskFilter dead;
  dead.state = TaskState::kDead;
  dead.after_id = 3;
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<TaskRecord> got,
                           this->store().ListTasks(job, dead));
  EXPECT_EQ(Ids(got), (std::vector<int64_t>{7}));
}

TYPED_TEST_P(StateStoreConformanceTest, CountTasksByStageInFirstIdOrder) {
  // Stages first seen at ids 1 (root), 2 (page), 5 (reduce); "page" has a
  // task before "root"'s second one.
  std::vector<TaskRecord> tasks = {
      MakeTask(1, "root", 0, TaskState::kSucceeded),
      MakeTask(2, "page", 1, TaskState::kSucceeded),
      MakeTask(3, "page", 1, TaskState::kDead),
      MakeTask(4, "page", 1, TaskState::kSucceeded),
      MakeTask(5, "reduce", 0, TaskState::kPending),
      MakeTask(6, "root", 0, TaskState::kFailed),
  };
  const int64_t job = this->NewJob(tasks);
  this->NewJob(MakeTasks(3, "other"));
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<StageCounts> got,
                           this->store().CountTasksByStage(job));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].stage, "root");
  EXPECT_EQ(got[1].stage, "page");
  EXPECT_EQ(got[2].stage, "reduce");
  auto n = [](const StageCounts& c, TaskState st) {
    return c.counts[static_cast<size_t>(st)];
  };
  EXPECT_EQ(n(got[0], TaskState::kSucceeded), 1);
  EXPECT_EQ(n(got[0], TaskState::kFailed), 1);
  EXPECT_EQ(n(got[1], TaskState::kSucceeded), 2);
  EXPECT_EQ(n(got[1], TaskState::kDead), 1);
  EXPECT_EQ(n(got[2], TaskState::kPending), 1);
  int64_t total = 0;
  for (const StageCounts& c : got) {
    for (int64_t k : c.counts) total += k;
  }
  EXPECT_EQ(total, 6);
  const int64_t empty = this->NewJob({});
  TGC_ASSERT_OK_AND_ASSIGN(got, this->store().CountTasksByStage(empty));
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(HasCode(this->store().CountTasksByStage(999999),
                      StatusCode::kNotFound, "999999"));
}

TYPED_TEST_P(StateStoreConformanceTest, CountTasksByState) {
  std::vector<TaskRecord> tasks;
  int64_t id = 1;
  for (int st = 0; st < kNumTaskStates; ++st) {
    for (int i = 0; i < st + 1; ++i) {  // state k has k+1 tasks
      tasks.push_back(MakeTask(id++, "a", 0, static_cast<TaskState>(st)));
    }
  }
  const int64_t job = this->NewJob(tasks);
  this->NewJob(MakeTasks(9));
  TGC_ASSERT_OK_AND_ASSIGN(TaskCounts counts, this->store().CountTasks(job));
  for (int st = 0; st < kNumTaskStates; ++st) {
    EXPECT_EQ(counts[static_cast<size_t>(st)], st + 1)
        << TaskStateName(static_cast<TaskState>(st));
  }
  const int64_t empty = this->NewJob({});
  TGC_ASSERT_OK_AND_ASSIGN(counts, this->store().CountTasks(empty));
  EXPECT_EQ(counts, TaskCounts{});
}

TYPED_TEST_P(StateStoreConformanceTest, ForEachUnfinishedTaskInIdOrder) {
  // States in a shuffled order over ids 1..14, two tasks per state.
  const TaskState order[] = {TaskState::kSucceeded, TaskState::kRunning,
                             TaskState::kDead,      TaskState::kPending,
                             TaskState::kCancelled, TaskState::kFailed,
                             TaskState::kDispatched};
  std::vector<TaskRecord> tasks;
  std::vector<int64_t> want;
  for (int64_t id = 1; id <= 14; ++id) {
    TaskState st = order[(id - 1) % 7];
    tasks.push_back(MakeTask(id, "s", 0, st));
    if (!IsTerminal(st)) want.push_back(id);
  }
  const int64_t job = this->NewJob(tasks);
  this->NewJob(MakeTasks(3));
  std::vector<int64_t> got;
  TGC_ASSERT_OK(this->store().ForEachUnfinishedTask(job, [&](TaskRecord&& t) {
    EXPECT_EQ(t.job_id, job);
    EXPECT_EQ(t.payload, "payload-" + std::to_string(t.id));
    got.push_back(t.id);
  }));
  EXPECT_EQ(got, want);
  const int64_t none = this->NewJob({});
  got.clear();
  TGC_ASSERT_OK(this->store().ForEachUnfinishedTask(
      none, [&](TaskRecord&& t) { got.push_back(t.id); }));
  EXPECT_TRUE(got.empty());
}

TYPED_TEST_P(StateStoreConformanceTest, ForEachPayloadOrderAndExclusion) {
  std::vector<TaskRecord> tasks;
  for (int64_t id = 1; id <= 8; ++id) {
    const char* stage = id == 1 ? "root" : id >= 7 ? "reduce" : "map";
    // Every state: a payload is listed whatever its task's state.
    const TaskState st = static_cast<TaskState>(id % 7);
    TaskRecord t = MakeTask(id, stage, id == 1 ? 0 : 1, st);
    t.payload = std::string("p\0", 2) + std::to_string(id);
    t.result = "result " + std::to_string(id);
    tasks.push_back(t);
  }
  const int64_t job = this->NewJob(tasks);
  const std::pair<std::string, std::vector<int64_t>> cases[] = {
      {"reduce", {1, 2, 3, 4, 5, 6}},
      {"map", {1, 7, 8}},
      {"", {1, 2, 3, 4, 5, 6, 7, 8}},
  };
  for (const auto& [exclude, want] : cases) {
    SCOPED_TRACE("exclude '" + exclude + "'");
    std::vector<int64_t> got;
    TGC_ASSERT_OK(this->store().ForEachPayload(
        job, exclude,
        [&](int64_t id, const std::string& stage, const std::string& payload) {
          EXPECT_EQ(stage, tasks[static_cast<size_t>(id - 1)].stage);
          EXPECT_EQ(payload, tasks[static_cast<size_t>(id - 1)].payload);
          got.push_back(id);
        }));
    EXPECT_EQ(got, want);
  }
}

TYPED_TEST_P(StateStoreConformanceTest, ForEachResultOrderAndExclusion) {
  std::vector<TaskRecord> tasks;
  for (int64_t id = 1; id <= 12; ++id) {
    const char* stage = id == 1 ? "root" : id >= 11 ? "reduce" : "map";
    TaskState st = id == 5   ? TaskState::kFailed
                   : id == 6 ? TaskState::kDead
                             : TaskState::kSucceeded;
    TaskRecord t = MakeTask(id, stage, id == 1 ? 0 : 1, st);
    t.result = std::string("r\0", 2) + std::to_string(id);
    tasks.push_back(t);
  }
  const int64_t job = this->NewJob(tasks);
  struct Case {
    std::string exclude;
    std::vector<int64_t> want;
  };
  const Case cases[] = {
      {"reduce", {1, 2, 3, 4, 7, 8, 9, 10}},
      {"map", {1, 11, 12}},
      {"", {1, 2, 3, 4, 7, 8, 9, 10, 11, 12}},
      {"nothing", {1, 2, 3, 4, 7, 8, 9, 10, 11, 12}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("exclude '" + c.exclude + "'");
    std::vector<int64_t> got;
    TGC_ASSERT_OK(this->store().ForEachResult(
        job, c.exclude,
        [&](int64_t id, const std::string& stage, const std::string& result) {
          EXPECT_EQ(stage, tasks[static_cast<size_t>(id - 1)].stage);
          EXPECT_EQ(result, tasks[static_cast<size_t>(id - 1)].result);
          got.push_back(id);
        }));
    EXPECT_EQ(got, c.want);
  }
}

TYPED_TEST_P(StateStoreConformanceTest,
             OutputsOfSucceededTasksReplaceAndRerun) {
  StateStore& s = this->store();
  std::vector<TaskRecord> tasks = {MakeTask(1, "map", 0, TaskState::kSucceeded),
                                   MakeTask(2, "map", 0, TaskState::kSucceeded),
                                   MakeTask(3, "map", 0, TaskState::kDead)};
  tasks[0].payload = "in/a.log";
  tasks[1].payload = std::string(
      "in/b.log\0"
      "0\0"
      "10",
      13);
  for (auto& t : tasks) t.attempt = 1;
  const int64_t job = this->NewJob(tasks);
  const int64_t epoch = this->Own(job);
  auto apply = [&](std::vector<OutputRecord> outs) {
    WriteBatch b;
    b.job_id = job;
    b.epoch = epoch;
    b.outputs = std::move(outs);
    return s.Apply(b);
  };
  TGC_ASSERT_OK(apply({{1, 1, {"part-00000", 5, 0xdeadbeef}},
                       {1, 1, {"extra", 1, 2}},
                       {2, 1, {"part-00001", 7, 3}},
                       {3, 1, {"part-00002", 9, 4}}}));  // task 3 is dead
  // A later success of task 1 replaces its files as a whole.
  TGC_ASSERT_OK(apply({{1, 2, {"part-00000", 6, 5}}}));
  struct Row {
    int64_t task;
    int32_t attempt;
    std::string name;
    int64_t bytes;
    uint32_t crc;
    std::string payload;
  };
  auto rows = [&] {
    std::vector<Row> got;
    EXPECT_TRUE(s.ForEachOutput(job, [&](const OutputRecord& o,
                                         const std::string& payload) {
                   got.push_back({o.task_id, o.attempt, o.file.name,
                                  o.file.bytes, o.file.crc32, payload});
                 }).ok());
    return got;
  };
  auto got = rows();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].task, 1);
  EXPECT_EQ(got[0].attempt, 2);
  EXPECT_EQ(got[0].name, "part-00000");
  EXPECT_EQ(got[0].bytes, 6);
  EXPECT_EQ(got[0].crc, 5u);
  EXPECT_EQ(got[0].payload, "in/a.log");
  EXPECT_EQ(got[1].task, 2);
  EXPECT_EQ(got[1].crc, 3u);
  EXPECT_EQ(got[1].payload, tasks[1].payload);
  // A rerun task's outputs are forgotten.
  TGC_ASSERT_OK(s.RerunTasks(job, false, {1}, "").status());
  got = rows();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task, 2);
  EXPECT_EQ(
      s.ForEachOutput(job + 100, [](const OutputRecord&, const std::string&) {})
          .code(),
      StatusCode::kNotFound);
}

TYPED_TEST_P(StateStoreConformanceTest, LogsByAttemptThenWriteOrder) {
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(2));
  const int64_t epoch = this->Own(job);
  auto apply = [&](std::vector<LogLine> lines) {
    WriteBatch b;
    b.job_id = job;
    b.epoch = epoch;
    b.logs = std::move(lines);
    return s.Apply(b);
  };
  // Interleaved attempts and tasks, over several batches; timestamps out of
  // order on purpose (order is the order of writing, not ts).
  TGC_ASSERT_OK(apply({{1, 2, kT0 + 9, 1, "2a"},
                       {1, 1, kT0 + 5, 0, "1a"},
                       {2, 1, kT0, 0, "other"},
                       {1, 2, kT0 + 1, 2, "2b"}}));
  TGC_ASSERT_OK(apply({{1, 1, kT0 + 3, 0, "1b"}, {1, 2, kT0, 0, "2c"}}));
  TGC_ASSERT_OK(apply({{1, 1, kT0, 3, std::string("1c\0x", 4)}}));
  TGC_ASSERT_OK_AND_ASSIGN(std::vector<LogLine> logs, s.GetLogs(job, 1));
  std::vector<std::string> lines;
  for (const LogLine& l : logs) {
    EXPECT_EQ(l.task_id, 1);
    lines.push_back(l.line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "1a", "1b", std::string("1c\0x", 4), "2a", "2b", "2c"}));
  ASSERT_EQ(logs.size(), 6u);
  EXPECT_EQ(logs[0].attempt, 1);
  EXPECT_EQ(logs[0].ts_ms, kT0 + 5);
  EXPECT_EQ(logs[2].level, 3);
  EXPECT_EQ(logs[3].attempt, 2);
  EXPECT_EQ(logs[4].level, 2);
  TGC_ASSERT_OK_AND_ASSIGN(logs, s.GetLogs(job, 2));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].line, "other");
}

// --------------------------------------------------------------------------
// Cluster leadership.

// The owner_alive of a claim: says `alive` and records whom it was asked
// about.
struct AliveProbe {
  bool alive = true;
  std::vector<std::string> asked;
  std::function<bool(const std::string&)> Fn() {
    return [this](const std::string& o) {
      asked.push_back(o);
      return alive;
    };
  }
};

inline void ExpectLeader(const LeaderRecord& got, int64_t epoch,
                         const std::string& owner, const std::string& address,
                         int64_t heartbeat_ms) {
  EXPECT_EQ(got.epoch, epoch);
  EXPECT_EQ(got.owner, owner);
  EXPECT_EQ(got.address, address);
  EXPECT_EQ(got.heartbeat_ms, heartbeat_ms);
}

TYPED_TEST_P(StateStoreConformanceTest, LeaderOfAFreshStoreIsNobody) {
  TGC_ASSERT_OK_AND_ASSIGN(LeaderRecord l, this->store().GetLeader());
  ExpectLeader(l, 0, "", "", 0);
  // Releasing what nobody holds changes nothing.
  TGC_ASSERT_OK(this->store().ReleaseLeadership("a"));
  TGC_ASSERT_OK_AND_ASSIGN(l, this->store().GetLeader());
  ExpectLeader(l, 0, "", "", 0);
}

TYPED_TEST_P(StateStoreConformanceTest, ClaimLeadershipFirstThenRenew) {
  StateStore& s = this->store();
  AliveProbe probe;
  TGC_ASSERT_OK_AND_ASSIGN(
      LeaderRecord l,
      s.ClaimLeadership("a", "host-a:7000", kT0, kLeaseMs, probe.Fn()));
  ExpectLeader(l, 1, "a", "host-a:7000", kT0);
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "host-a:7000", kT0);

  // Renewing keeps the epoch and records the new heartbeat and address.
  TGC_ASSERT_OK_AND_ASSIGN(l, s.ClaimLeadership("a", "host-a:7001", kT0 + 500,
                                                kLeaseMs, probe.Fn()));
  ExpectLeader(l, 1, "a", "host-a:7001", kT0 + 500);
  // Even after its own lease ran out, if nobody took over meanwhile.
  TGC_ASSERT_OK_AND_ASSIGN(
      l, s.ClaimLeadership("a", "host-a:7001", kT0 + 500 + 3 * kLeaseMs,
                           kLeaseMs, nullptr));
  ExpectLeader(l, 1, "a", "host-a:7001", kT0 + 500 + 3 * kLeaseMs);
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "host-a:7001", kT0 + 500 + 3 * kLeaseMs);
  EXPECT_THAT(probe.asked, ::testing::IsEmpty());  // never about itself

  EXPECT_TRUE(HasCode(s.ClaimLeadership("", "x", kT0, kLeaseMs, nullptr),
                      StatusCode::kInvalidArgument, "owner"));
}

TYPED_TEST_P(StateStoreConformanceTest, ClaimLeadershipLeaseRules) {
  struct Case {
    const char* name;
    int64_t age_ms;     // of the holder's heartbeat when "me" claims
    bool liveness;      // whether "me" passes an owner_alive
    bool holder_alive;  // what it says about the holder
    bool want_taken;
  };
  const Case cases[] = {
      {"alive holder, fresh heartbeat", 1'000, true, true, false},
      {"dead holder, fresh heartbeat", 1'000, true, false, true},
      {"alive holder, stale heartbeat", kLeaseMs + 1, true, true, true},
      {"alive holder, heartbeat at lease end", kLeaseMs, true, true, true},
      {"no liveness check, fresh heartbeat", kLeaseMs - 1, false, true, false},
      {"no liveness check, stale heartbeat", kLeaseMs, false, true, true},
  };
  StateStore& s = this->store();
  int64_t epoch = 0;
  int64_t t = kT0;
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // A new holder takes over from whoever led before (long stale by now).
    t += 10 * kLeaseMs;
    const std::string holder = "holder-" + std::to_string(++n);
    TGC_ASSERT_OK_AND_ASSIGN(
        LeaderRecord l,
        s.ClaimLeadership(holder, holder + ":1", t, kLeaseMs, nullptr));
    ExpectLeader(l, epoch + 1, holder, holder + ":1", t);
    epoch = l.epoch;

    AliveProbe probe;
    probe.alive = c.holder_alive;
    TGC_ASSERT_OK_AND_ASSIGN(
        l, s.ClaimLeadership("me", "me:2", t + c.age_ms, kLeaseMs,
                             c.liveness ? probe.Fn() : nullptr));
    for (const std::string& o : probe.asked) EXPECT_EQ(o, holder);
    TGC_ASSERT_OK_AND_ASSIGN(LeaderRecord stored, s.GetLeader());
    if (c.want_taken) {
      ExpectLeader(l, epoch + 1, "me", "me:2", t + c.age_ms);
      ExpectLeader(stored, epoch + 1, "me", "me:2", t + c.age_ms);
      epoch = l.epoch;
    } else {
      // Refused: the record is the holder's, untouched.
      ExpectLeader(l, epoch, holder, holder + ":1", t);
      ExpectLeader(stored, epoch, holder, holder + ":1", t);
      EXPECT_NE(l.owner, "me");
    }
  }
}

TYPED_TEST_P(StateStoreConformanceTest, ReleaseLetsAnotherTakeOverAtOnce) {
  StateStore& s = this->store();
  TGC_ASSERT_OK_AND_ASSIGN(
      LeaderRecord l, s.ClaimLeadership("a", "a:1", kT0, kLeaseMs, nullptr));
  ASSERT_EQ(l.epoch, 1);
  // Only the holder's release counts.
  TGC_ASSERT_OK(s.ReleaseLeadership("b"));
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "a:1", kT0);

  TGC_ASSERT_OK(s.ReleaseLeadership("a"));
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "a:1", 0);  // owner and epoch stay
  // Releasing again changes nothing.
  TGC_ASSERT_OK(s.ReleaseLeadership("a"));
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "a:1", 0);

  // b takes over at once, lease or not, and nobody is asked about a.
  AliveProbe probe;
  TGC_ASSERT_OK_AND_ASSIGN(
      l, s.ClaimLeadership("b", "b:1", kT0 + 1, kLeaseMs, probe.Fn()));
  ExpectLeader(l, 2, "b", "b:1", kT0 + 1);
  EXPECT_THAT(probe.asked, ::testing::IsEmpty());
  EXPECT_TRUE(s.ReleaseLeadership("a").ok());  // a no longer holds it
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 2, "b", "b:1", kT0 + 1);

  // A holder that released and claims again starts a new epoch.
  TGC_ASSERT_OK(s.ReleaseLeadership("b"));
  TGC_ASSERT_OK_AND_ASSIGN(
      l, s.ClaimLeadership("b", "b:1", kT0 + 2, kLeaseMs, probe.Fn()));
  ExpectLeader(l, 3, "b", "b:1", kT0 + 2);
}

TYPED_TEST_P(StateStoreConformanceTest, ClaimJudgesAgainIfTheLeaderChanged) {
  StateStore& s = this->store();
  TGC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateStore> a, this->OpenAnother());
  TGC_ASSERT_OK(a->ClaimLeadership("a", "a:1", kT0, kLeaseMs, nullptr));
  // While "b" asks whether a runs, a renews from its own handle (so the
  // question must be asked with no lock held) and the answer that came
  // back first is stale: b must look again, not take over.
  int calls = 0;
  auto alive = [&](const std::string& o) {
    EXPECT_EQ(o, "a");
    if (++calls == 1) {
      EXPECT_TRUE(
          a->ClaimLeadership("a", "a:2", kT0 + 200, kLeaseMs, nullptr).ok());
      return false;
    }
    return true;
  };
  TGC_ASSERT_OK_AND_ASSIGN(
      LeaderRecord l,
      s.ClaimLeadership("b", "b:1", kT0 + 100, kLeaseMs, alive));
  EXPECT_EQ(calls, 2);
  ExpectLeader(l, 1, "a", "a:2", kT0 + 200);
  TGC_ASSERT_OK_AND_ASSIGN(l, s.GetLeader());
  ExpectLeader(l, 1, "a", "a:2", kT0 + 200);
}

TYPED_TEST_P(StateStoreConformanceTest, LeadershipSurvivesReopen) {
  TGC_ASSERT_OK(
      this->store().ClaimLeadership("a", "a:1", kT0, kLeaseMs, nullptr));
  this->Reopen();
  StateStore& s = this->store();
  TGC_ASSERT_OK_AND_ASSIGN(LeaderRecord l, s.GetLeader());
  ExpectLeader(l, 1, "a", "a:1", kT0);
  TGC_ASSERT_OK_AND_ASSIGN(
      l, s.ClaimLeadership("b", "b:1", kT0 + 1, kLeaseMs, nullptr));
  ExpectLeader(l, 1, "a", "a:1", kT0);
  TGC_ASSERT_OK_AND_ASSIGN(
      l, s.ClaimLeadership("a", "a:1", kT0 + 2, kLeaseMs, nullptr));
  ExpectLeader(l, 1, "a", "a:1", kT0 + 2);
}

TYPED_TEST_P(StateStoreConformanceTest, RacingClaimsElectExactlyOneLeader) {
  // Masters on two handles (as two processes) claim at once from threads,
  // round after round; each round starts with the last leader's lease run
  // out, so all of them try to take over.
  constexpr int kMasters = 4;
  constexpr int kRounds = 25;
  TGC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateStore> other,
                           this->OpenAnother());
  StateStore* handles[2] = {&this->store(), other.get()};
  // got[r][m]: what master m's claim of round r returned.
  std::vector<std::vector<LeaderRecord>> got(
      kRounds, std::vector<LeaderRecord>(kMasters));
  std::atomic<int> errors{0};
  std::barrier sync(kMasters);
  std::vector<std::thread> threads;
  for (int m = 0; m < kMasters; ++m) {
    threads.emplace_back([&, m] {
      StateStore* s = handles[m % 2];
      const std::string me = "m" + std::to_string(m);
      int64_t last_epoch = 0;
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();
        const int64_t now = kT0 + r * 2 * kLeaseMs;
        StatusOr<LeaderRecord> l =
            s->ClaimLeadership(me, me + ":1", now, kLeaseMs,
                               [](const std::string&) { return true; });
        if (!l.ok()) {
          ++errors;
          ADD_FAILURE() << me << " round " << r << ": " << l.status();
          continue;
        }
        if (l->epoch < last_epoch) ++errors;  // epochs never go back
        last_epoch = l->epoch;
        got[static_cast<size_t>(r)][static_cast<size_t>(m)] = *l;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);
  LeaderRecord before;  // the record as the round found it
  for (int r = 0; r < kRounds; ++r) {
    SCOPED_TRACE("round " + std::to_string(r));
    const std::vector<LeaderRecord>& round = got[static_cast<size_t>(r)];
    const LeaderRecord& won = round[0];
    int leaders = 0;
    for (int m = 0; m < kMasters; ++m) {
      const LeaderRecord& l = round[static_cast<size_t>(m)];
      if (l.owner == "m" + std::to_string(m)) ++leaders;
      // Everyone sees the one winner of this round.
      EXPECT_EQ(l.epoch, won.epoch);
      EXPECT_EQ(l.owner, won.owner);
      EXPECT_EQ(l.heartbeat_ms, kT0 + r * 2 * kLeaseMs);
    }
    EXPECT_EQ(leaders, 1);
    // A new leader starts a new epoch; the last one, if it won again,
    // renewed its own (nobody led in between).
    EXPECT_EQ(won.epoch, before.epoch + (won.owner != before.owner ? 1 : 0));
    before = won;
  }
  TGC_ASSERT_OK_AND_ASSIGN(LeaderRecord last, other->GetLeader());
  EXPECT_EQ(last.epoch, before.epoch);
  EXPECT_EQ(last.owner, before.owner);
}

// --------------------------------------------------------------------------
// Scale, handles, threads.

TYPED_TEST_P(StateStoreConformanceTest, LargeBatchCreateAndUpdate) {
  constexpr int64_t kN = 200'000;
  StateStore& s = this->store();
  const int64_t job = this->NewJob(MakeTasks(kN));
  const int64_t epoch = this->Own(job);
  EXPECT_EQ(this->Job(job).next_task_id, kN + 1);

  WriteBatch b;
  b.job_id = job;
  b.epoch = epoch;
  b.updates.reserve(kN);
  for (int64_t id = 1; id <= kN; ++id) {
    TaskUpdate u = MakeUpdate(id, 0, 1, TaskState::kSucceeded);
    u.result = std::to_string(id * 2);
    b.updates.push_back(std::move(u));
  }
  TGC_ASSERT_OK_AND_ASSIGN(ApplyResult r, s.Apply(b));
  EXPECT_EQ(r.fenced, 0);
  TGC_ASSERT_OK_AND_ASSIGN(r, s.Apply(b));  // every attempt is stale now
  EXPECT_EQ(r.fenced, kN);

  TGC_ASSERT_OK_AND_ASSIGN(TaskCounts counts, s.CountTasks(job));
  EXPECT_EQ(counts[static_cast<size_t>(TaskState::kSucceeded)], kN);
  EXPECT_EQ(counts[static_cast<size_t>(TaskState::kPending)], 0);
  int64_t n = 0;
  int64_t last = 0;
  bool all_right = true;
  TGC_ASSERT_OK(s.ForEachResult(
      job, "", [&](int64_t id, const std::string&, const std::string& res) {
        all_right =
            all_right && id == last + 1 && res == std::to_string(id * 2);
        last = id;
        ++n;
      }));
  EXPECT_EQ(n, kN);
  EXPECT_TRUE(all_right);
  TaskRecord t = this->Task(job, kN / 2);
  EXPECT_EQ(t.payload, "payload-" + std::to_string(kN / 2));
  EXPECT_EQ(t.attempt, 1);
  int64_t unfinished = 0;
  TGC_ASSERT_OK(
      s.ForEachUnfinishedTask(job, [&](TaskRecord&&) { ++unfinished; }));
  EXPECT_EQ(unfinished, 0);
}

TYPED_TEST_P(StateStoreConformanceTest, DataSurvivesCloseAndReopen) {
  int64_t job = 0;
  int64_t epoch = 0;
  {
    StateStore& store = this->store();
    auto id = store.CreateJob(MakeJob("keep", "k1"), MakeTasks(3));
    ASSERT_TRUE(id.ok()) << id.status();
    job = *id;
    auto e = store.AcquireJob(job, "me", kT0, kLeaseMs, nullptr);
    ASSERT_TRUE(e.ok()) << e.status();
    epoch = *e;
    WriteBatch b;
    b.job_id = job;
    b.epoch = epoch;
    b.updates = {MakeUpdate(2, 0, 1, TaskState::kSucceeded)};
    b.logs = {LogLine{2, 1, kT0, 0, "kept"}};
    ASSERT_TRUE(store.Apply(b).ok());
  }
  this->Reopen();
  StateStore& store = this->store();
  auto j = store.FindJobByKey("k1");
  ASSERT_TRUE(j.ok() && j->has_value()) << j.status();
  EXPECT_EQ((*j)->id, job);
  EXPECT_EQ((*j)->epoch, epoch);
  EXPECT_EQ((*j)->owner, "me");
  auto t = store.GetTask(job, 2);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state, TaskState::kSucceeded);
  auto logs = store.GetLogs(job, 2);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].line, "kept");
  // Job ids are never reused.
  auto next = store.CreateJob(MakeJob(), {});
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, job);
}

TYPED_TEST_P(StateStoreConformanceTest, TwoHandlesShareStateAndFence) {
  StateStore& a = this->store();
  TGC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateStore> b, this->OpenAnother());
  const int64_t job = this->NewJob(MakeTasks(3), MakeJob("shared", "k"));
  TGC_ASSERT_OK_AND_ASSIGN(JobRecord seen, b->GetJob(job));
  EXPECT_EQ(seen.name, "shared");
  EXPECT_TRUE(HasCode(b->CreateJob(MakeJob("dup", "k"), {}),
                      StatusCode::kAlreadyExists));

  const int64_t epoch = this->Own(job);  // handle a drives the job
  WriteBatch w;
  w.job_id = job;
  w.epoch = epoch;
  w.updates = {MakeUpdate(1, 0, 1, TaskState::kRunning)};
  TGC_ASSERT_OK(a.Apply(w));
  TGC_ASSERT_OK_AND_ASSIGN(TaskRecord t, b->GetTask(job, 1));
  EXPECT_EQ(t.state, TaskState::kRunning);

  TGC_ASSERT_OK(b->CancelJob(job, kT0 + 1));  // e.g. `taskgrid cancel`
  w.updates = {MakeUpdate(1, 1, 1, TaskState::kSucceeded)};
  EXPECT_TRUE(HasCode(a.Apply(w), StatusCode::kAborted));
  EXPECT_EQ(this->Job(job).state, JobState::kCancelled);
  EXPECT_EQ(this->Task(job, 1).state, TaskState::kCancelled);
}

TYPED_TEST_P(StateStoreConformanceTest, ConcurrentCallsFromThreads) {
  constexpr int kThreads = 4;
  constexpr int kTasks = 200;
  StateStore& s = this->store();
  std::vector<int64_t> jobs;
  std::vector<int64_t> epochs;
  for (int i = 0; i < kThreads; ++i) {
    jobs.push_back(this->NewJob(MakeTasks(kTasks)));
    epochs.push_back(this->Own(jobs.back()));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int64_t id = 1; id <= kTasks; id += 10) {
        WriteBatch b;
        b.job_id = jobs[static_cast<size_t>(i)];
        b.epoch = epochs[static_cast<size_t>(i)];
        for (int64_t k = id; k < id + 10; ++k) {
          b.updates.push_back(MakeUpdate(k, 0, 1, TaskState::kSucceeded));
          b.logs.push_back(LogLine{k, 1, kT0, 0, "done"});
        }
        if (!s.Apply(b).ok()) ++errors;
        if (!s.CountTasks(b.job_id).ok()) ++errors;
        if (!s.ListTasks(b.job_id, {}).ok()) ++errors;
        if (!s.ListJobs(0).ok()) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  for (int64_t job : jobs) {
    TGC_ASSERT_OK_AND_ASSIGN(TaskCounts c, s.CountTasks(job));
    EXPECT_EQ(c[static_cast<size_t>(TaskState::kSucceeded)], kTasks);
  }
}

REGISTER_TYPED_TEST_SUITE_P(
    StateStoreConformanceTest, CreateJobStoresEveryField,
    OutputsOfSucceededTasksReplaceAndRerun, CreateJobWithoutTasksAndIdsGrow,
    CreateJobRejectsBadTaskIds, DuplicateKeyIsAlreadyExists,
    ListJobsNewestFirst, UnknownJobIsNotFoundEverywhere, AcquireJobLeaseRules,
    AcquireJobKeepsStateAndRefusesEnded, ApplyStaleEpochIsAbortedNothingApplied,
    ApplyWritesTasksAndJobFields, ApplyDuplicateNewTaskAbortsBatch,
    ApplyFencesStaleAttempts, CancelledTaskIsNeverOverwritten, CancelJob,
    RerunFailedOnly, RerunByIdsDeletesDescendants,
    RerunWithoutResetStageKeepsOthers, RerunErrorsChangeNothing, RerunDeepChain,
    ListTasksFiltersAndPages, ListTasksSortedByDurationAndAttempts,
    CountTasksByStageInFirstIdOrder, CountTasksByState,
    ForEachUnfinishedTaskInIdOrder, ForEachResultOrderAndExclusion,
    ForEachPayloadOrderAndExclusion, LogsByAttemptThenWriteOrder,
    LargeBatchCreateAndUpdate, DataSurvivesCloseAndReopen,
    TwoHandlesShareStateAndFence, ConcurrentCallsFromThreads,
    LeaderOfAFreshStoreIsNobody, ClaimLeadershipFirstThenRenew,
    ClaimLeadershipLeaseRules, ReleaseLetsAnotherTakeOverAtOnce,
    ClaimJudgesAgainIfTheLeaderChanged, LeadershipSurvivesReopen,
    RacingClaimsElectExactlyOneLeader);

}  // namespace conformance
}  // namespace taskgrid

#endif  // TASKGRID_TESTS_CONFORMANCE_STATE_STORE_CONFORMANCE_H_
