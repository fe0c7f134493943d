#include "store/postgres/pg_state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/state_store_conformance.h"
#include "store/postgres/pg_conn.h"
#include "testing/pg_test_db.h"

namespace taskgrid {
namespace {

using conformance::HasCode;
using conformance::kLeaseMs;
using conformance::kT0;
using conformance::MakeJob;
using conformance::MakeTask;
using conformance::MakeTasks;
using conformance::MakeUpdate;
using ::taskgrid::testing::PgConninfoWithDb;
using ::taskgrid::testing::PgServerUrl;
using ::taskgrid::testing::PgTestDatabase;

std::string NoServerReason() {
  return PgServerUrl().empty() ? "TASKGRID_TEST_PG_URL not set" : "";
}

// A plain libpq connection, as an operator's psql has.
class RawConn {
 public:
  explicit RawConn(const std::string& conninfo)
      : c_(PQconnectdb(conninfo.c_str())) {
    EXPECT_EQ(PQstatus(c_), CONNECTION_OK) << PQerrorMessage(c_);
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
  }
  ~RawConn() { PQfinish(c_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  // Runs `sql`; the first column of its first row as text, "" if none.
  std::string Query(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(r);
    std::string v =
        st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0
            ? PQgetvalue(r, 0, 0)
            : "";
    PQclear(r);
    return v;
  }
  int64_t Int(const std::string& sql) {
    return std::strtoll(Query(sql).c_str(), nullptr, 10);
  }

 private:
  PGconn* c_;
};

// The conformance backend: one database per test.
class PostgresBackend {
 public:
  static std::string SkipReason() { return NoServerReason(); }
  StatusOr<std::unique_ptr<StateStore>> Open() {
    return OpenPostgresStateStore(db_.conninfo());
  }

 private:
  PgTestDatabase db_;
};

}  // namespace

namespace conformance {
namespace {
using PostgresBackends = ::testing::Types<PostgresBackend>;
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StateStoreConformanceTest,
                               PostgresBackends);
}  // namespace
}  // namespace conformance

namespace {

// --------------------------------------------------------------------------
// Without a server.

TEST(PgStatusTest, MapsSqlStates) {
  struct Case {
    const char* sqlstate;
    StatusCode want;
  };
  const Case cases[] = {
      {"", StatusCode::kUnavailable},         // libpq: connection lost
      {"08006", StatusCode::kUnavailable},    // connection failure
      {"57P01", StatusCode::kUnavailable},    // admin shutdown
      {"57P03", StatusCode::kUnavailable},    // cannot connect now
      {"40001", StatusCode::kUnavailable},    // serialization failure
      {"40P01", StatusCode::kUnavailable},    // deadlock
      {"53300", StatusCode::kUnavailable},    // too many connections
      {"25006", StatusCode::kUnavailable},    // read-only: a standby
      {"23505", StatusCode::kAlreadyExists},  // unique violation
      {"22021", StatusCode::kInvalidArgument},
      {"54000", StatusCode::kInvalidArgument},
      {"53100", StatusCode::kResourceExhausted},  // disk full
      {"57014", StatusCode::kDeadlineExceeded},   // statement timeout
      {"28P01", StatusCode::kPermissionDenied},
      {"42501", StatusCode::kPermissionDenied},
      {"XX001", StatusCode::kDataLoss},
      {"42P01", StatusCode::kInternal},  // undefined table
      {"23503", StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    Status s = pg_internal::PgStatus(c.sqlstate, "msg");
    EXPECT_EQ(s.code(), c.want) << "'" << c.sqlstate << "': " << s;
    EXPECT_EQ(s.message(), "msg");
  }
}

TEST(PgStatusTest, ValidUtf8KeepsValidTextAndReplacesTheRest) {
  const std::string kBad = "\xef\xbf\xbd";
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "caf\xc3\xa9 \xe2\x82\xac "
       "\xf0\x9f\x98\x80"},
      {std::string("a\0b", 3), "a" + kBad + "b"},
      {"\xff", kBad},
      {"x\xc3", "x" + kBad},                            // truncated sequence
      {"\xc0\xaf", kBad + kBad},                        // overlong
      {"\xed\xa0\x80", kBad + kBad + kBad},             // surrogate
      {"\xf4\x90\x80\x80", kBad + kBad + kBad + kBad},  // above U+10FFFF
  };
  for (const Case& c : cases) {
    EXPECT_EQ(pg_internal::ValidUtf8(c.in), c.want) << c.in;
  }
}

TEST(PgStatusTest, OneLineJoinsLibpqMessages) {
  EXPECT_EQ(pg_internal::OneLine(nullptr), "");
  EXPECT_EQ(pg_internal::OneLine("refused\n\tIs the server running?\n"),
            "refused Is the server running?");
  EXPECT_EQ(pg_internal::OneLine("FATAL:  not yet\nDETAIL:  recovery\n"),
            "FATAL: not yet DETAIL: recovery");
}

TEST(PostgresOpenTest, BadConnectionStringIsInvalidArgument) {
  EXPECT_TRUE(HasCode(OpenPostgresStateStore(""), StatusCode::kInvalidArgument,
                      "postgresql://"));
  EXPECT_TRUE(HasCode(OpenPostgresStateStore("host=a port"),
                      StatusCode::kInvalidArgument, "connection string"));
  EXPECT_TRUE(HasCode(OpenPostgresStateStore("postgresql://h/db?nosuch=1"),
                      StatusCode::kInvalidArgument, "nosuch"));
}

TEST(PostgresOpenTest, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: refused at once. The message names the server but
  // never the password.
  auto s = OpenPostgresStateStore(
      "postgresql://tg:secret@127.0.0.1:1/somedb?connect_timeout=5");
  EXPECT_TRUE(HasCode(s, StatusCode::kUnavailable, "tg@127.0.0.1:1/somedb"));
  EXPECT_THAT(s.status().message(),
              ::testing::Not(::testing::HasSubstr("secret")));
}

// --------------------------------------------------------------------------
// With a server.

class PostgresStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NoServerReason().empty()) GTEST_SKIP() << NoServerReason();
    db_.emplace();
  }

  std::unique_ptr<StateStore> OpenStore() {
    auto s = OpenPostgresStateStore(db_->conninfo());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  const std::string& conninfo() const { return db_->conninfo(); }

  std::optional<PgTestDatabase> db_;
};

TEST_F(PostgresStateStoreTest, NewerSchemaIsFailedPrecondition) {
  ASSERT_NE(OpenStore(), nullptr);
  {
    RawConn raw(conninfo());
    raw.Query("UPDATE schema_version SET version = 99");
  }
  auto s = OpenPostgresStateStore(conninfo());
  EXPECT_TRUE(HasCode(s, StatusCode::kFailedPrecondition, "version 99"));
  EXPECT_TRUE(
      HasCode(s, StatusCode::kFailedPrecondition,
              "version " + std::to_string(PostgresStateStore::kSchemaVersion)));
}

TEST_F(PostgresStateStoreTest, SchemaIsPlainSqlForOperators) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto job = store->CreateJob(MakeJob("ops"), MakeTasks(4));
  ASSERT_TRUE(job.ok()) << job.status();
  RawConn raw(conninfo());
  EXPECT_EQ(raw.Int("SELECT version FROM schema_version"),
            PostgresStateStore::kSchemaVersion);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM schema_version"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pg_tables WHERE schemaname = "
                    "current_schema() AND tablename IN ('jobs', 'tasks', "
                    "'task_logs', 'task_outputs', 'cluster_leader', "
                    "'schema_version')"),
            6);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM cluster_leader"), 1);
  // Only primary keys on tasks and task_logs, and the partial index of
  // failed and dead tasks: a state change of a healthy task touches no
  // index.
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pg_indexes WHERE tablename IN "
                    "('tasks', 'task_logs')"),
            3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pg_indexes WHERE indexname = "
                    "'tasks_unhealthy' AND indexdef LIKE '%WHERE%'"),
            1);
  // What an operator would type.
  EXPECT_EQ(
      raw.Query("SELECT name FROM jobs WHERE id = " + std::to_string(*job)),
      "ops");
  EXPECT_EQ(raw.Int("SELECT count(*) FROM tasks WHERE job_id = " +
                    std::to_string(*job) + " AND state = 0"),
            4);
  EXPECT_EQ(raw.Query("SELECT convert_from(payload, 'UTF8') FROM tasks "
                      "WHERE job_id = " +
                      std::to_string(*job) + " AND id = 2"),
            "payload-2");
}

TEST_F(PostgresStateStoreTest, MigratesAVersion2Database) {
  int64_t job = 0;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto id = store->CreateJob(MakeJob("old", "k-old"), MakeTasks(2));
    ASSERT_TRUE(id.ok()) << id.status();
    job = *id;
  }
  {
    // What a binary of schema version 2 left behind.
    RawConn raw(conninfo());
    raw.Query("DROP TABLE cluster_leader");
    raw.Query("DROP INDEX tasks_unhealthy");
    raw.Query("UPDATE schema_version SET version = 2");
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto leader = store->GetLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(leader->epoch, 0);
  EXPECT_EQ(leader->owner, "");
  auto claimed = store->ClaimLeadership("a", "a:1", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->epoch, 1);
  auto j = store->GetJob(job);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->name, "old");

  RawConn raw(conninfo());
  EXPECT_EQ(raw.Int("SELECT version FROM schema_version"),
            PostgresStateStore::kSchemaVersion);
  EXPECT_EQ(raw.Query("SELECT owner FROM cluster_leader"), "a");
}

TEST_F(PostgresStateStoreTest, LeadershipSurvivesLostConnections) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto claimed = store->ClaimLeadership("a", "a:1", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    RawConn admin(conninfo());
    const std::string others =
        "FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'taskgrid'";
    EXPECT_GE(admin.Int("SELECT count(pg_terminate_backend(pid)) " + others),
              2);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (admin.Int("SELECT count(*) " + others) > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(admin.Int("SELECT count(*) " + others), 0);
    // Each first call after it reconnects by itself: a read, then a
    // renewal (a read and a transaction) or the release.
    auto l = store->GetLeader();
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->owner, "a");
    const int64_t now = kT0 + 1 + round;
    if (round < 2) {
      l = store->ClaimLeadership("a", "a:1", now, kLeaseMs, nullptr);
      ASSERT_TRUE(l.ok()) << l.status();
      EXPECT_EQ(l->epoch, 1);
      EXPECT_EQ(l->heartbeat_ms, now);
    } else {
      Status released = store->ReleaseLeadership("a");
      ASSERT_TRUE(released.ok()) << released;
      l = store->GetLeader();
      ASSERT_TRUE(l.ok()) << l.status();
      EXPECT_EQ(l->heartbeat_ms, 0);
    }
  }
}

TEST_F(PostgresStateStoreTest, OpeningConcurrentlyMigratesOnce) {
  constexpr int kOpeners = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&] {
      auto s = OpenPostgresStateStore(conninfo());
      if (!s.ok()) {
        ++failures;
        ADD_FAILURE() << s.status();
        return;
      }
      if (!(*s)->CreateJob(MakeJob(), MakeTasks(2)).ok()) ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto jobs = store->ListJobs(0);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), static_cast<size_t>(kOpeners));
}

TEST_F(PostgresStateStoreTest, ReconnectsAfterItsBackendsAreTerminated) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto job = store->CreateJob(MakeJob(), MakeTasks(3));
  ASSERT_TRUE(job.ok()) << job.status();
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok()) << epoch.status();

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // What an administrator (or a server restart) does to every connection
    // of the store: the writer and the pooled readers.
    RawConn admin(conninfo());
    const std::string others =
        "FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'taskgrid'";
    EXPECT_GE(admin.Int("SELECT count(pg_terminate_backend(pid)) " + others),
              2);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (admin.Int("SELECT count(*) " + others) > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(admin.Int("SELECT count(*) " + others), 0);

    // Each first call after it reconnects by itself.
    auto j = store->GetJob(*job);
    ASSERT_TRUE(j.ok()) << j.status();
    WriteBatch b;
    b.job_id = *job;
    b.epoch = *epoch;
    b.updates = {MakeUpdate(1, round, round + 1, TaskState::kRunning)};
    auto applied = store->Apply(b);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(applied->fenced, 0);
  }
  auto t = store->GetTask(*job, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->attempt, 2);
}

TEST_F(PostgresStateStoreTest, CallbacksMayWriteWhileAStreamIsOpen) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<TaskRecord> tasks = MakeTasks(50);
  for (TaskRecord& t : tasks) t.state = TaskState::kSucceeded;
  auto job = store->CreateJob(MakeJob(), tasks);
  ASSERT_TRUE(job.ok()) << job.status();
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());
  int64_t n = 0;
  Status s = store->ForEachResult(
      *job, "", [&](int64_t id, const std::string&, const std::string&) {
        ++n;
        WriteBatch b;
        b.job_id = *job;
        b.epoch = *epoch;
        b.heartbeat_ms = kT0 + id;
        EXPECT_TRUE(store->Apply(b).ok());
        EXPECT_TRUE(store->GetJob(*job).ok());
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(n, 50);
  EXPECT_EQ(store->GetJob(*job)->heartbeat_ms, kT0 + 50);
}

TEST_F(PostgresStateStoreTest, BatchesSpanManyStatementsInOrder) {
  // More rows than one statement carries, with one task updated twice.
  constexpr int64_t kN = 2500;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto job = store->CreateJob(MakeJob(), MakeTasks(kN));
  ASSERT_TRUE(job.ok()) << job.status();
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());
  WriteBatch b;
  b.job_id = *job;
  b.epoch = *epoch;
  for (int64_t id = 1; id <= kN; ++id) {
    b.updates.push_back(MakeUpdate(id, 0, 1, TaskState::kRunning));
    b.new_tasks.push_back(MakeTask(kN + id, "more", id));
    b.logs.push_back(LogLine{7, 1, kT0 - id, 0, std::to_string(id)});
  }
  // Task 7 dispatched and finished in one batch; then a stale report.
  TaskUpdate done = MakeUpdate(7, 1, 1, TaskState::kSucceeded);
  done.result = "seven";
  b.updates.push_back(done);
  b.updates.push_back(MakeUpdate(7, 0, 1, TaskState::kFailed));
  auto r = store->Apply(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fenced, 1);
  auto t7 = store->GetTask(*job, 7);
  ASSERT_TRUE(t7.ok());
  EXPECT_EQ(t7->state, TaskState::kSucceeded);
  EXPECT_EQ(t7->result, "seven");
  auto counts = store->CountTasks(*job);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kRunning)], kN - 1);
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kPending)], kN);
  EXPECT_EQ(store->GetJob(*job)->next_task_id, 2 * kN + 1);
  auto logs = store->GetLogs(*job, 7);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), static_cast<size_t>(kN));
  for (int64_t i = 0; i < kN; ++i) {
    ASSERT_EQ((*logs)[static_cast<size_t>(i)].line, std::to_string(i + 1));
  }
}

TEST_F(PostgresStateStoreTest, DuplicateAcrossCreateChunksIsNamed) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // A source that yields two tasks per call: {1, 2}, {3, 1}.
  const std::vector<std::vector<int64_t>> chunks = {{1, 2}, {3, 1}};
  size_t next = 0;
  auto s = store->CreateJobFrom(MakeJob("dup", "dup-key"),
                                [&](size_t, std::vector<TaskRecord>* out) {
                                  for (int64_t id : chunks[next])
                                    out->push_back(MakeTask(id));
                                  return ++next < chunks.size();
                                });
  EXPECT_TRUE(HasCode(s, StatusCode::kInvalidArgument, "task id 1"));
  auto found = store->FindJobByKey("dup-key");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(PostgresStateStoreTest, TextColumnsAndInvalidUtf8) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // A job name is ours to validate: refused, with the server's reason (a
  // SQL_ASCII database takes any byte but NUL).
  const bool utf8 = RawConn(conninfo()).Query("SHOW server_encoding") == "UTF8";
  EXPECT_TRUE(HasCode(
      store->CreateJob(MakeJob(utf8 ? "bad\xff" : std::string("bad\0", 4)), {}),
      StatusCode::kInvalidArgument));
  // A task's error is free text from a processor: stored, made valid.
  auto job = store->CreateJob(MakeJob(), MakeTasks(1));
  ASSERT_TRUE(job.ok()) << job.status();
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());
  WriteBatch b;
  b.job_id = *job;
  b.epoch = *epoch;
  TaskUpdate u = MakeUpdate(1, 0, 1, TaskState::kFailed);
  u.error = std::string("exit 1: \xff\0", 10);
  b.updates = {u};
  b.logs = {LogLine{1, 1, kT0, 2, std::string("\xff\0raw", 5)}};
  ASSERT_TRUE(store->Apply(b).ok());
  EXPECT_EQ(store->GetTask(*job, 1)->error, "exit 1: \xef\xbf\xbd\xef\xbf\xbd");
  auto logs = store->GetLogs(*job, 1);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].line, std::string("\xff\0raw", 5));  // byte for byte
}

TEST_F(PostgresStateStoreTest, OutputsOfALaterRunReplaceAnEarlierOne) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<TaskRecord> tasks = MakeTasks(2);
  for (TaskRecord& t : tasks) t.state = TaskState::kSucceeded;
  auto job = store->CreateJob(MakeJob(), tasks);
  ASSERT_TRUE(job.ok());
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());
  WriteBatch b;
  b.job_id = *job;
  b.epoch = *epoch;
  // As SQLite applies them one by one: task 1's second run replaces its
  // first; within a run a repeated name keeps its last record.
  b.outputs = {{1, 1, {"a", 1, 1}},
               {2, 1, {"b", 2, 2}},
               {1, 1, {"c", 3, 3}},
               {1, 1, {"c", 4, 4}}};
  ASSERT_TRUE(store->Apply(b).ok());
  std::vector<std::string> got;
  ASSERT_TRUE(store
                  ->ForEachOutput(
                      *job,
                      [&](const OutputRecord& o, const std::string&) {
                        got.push_back(std::to_string(o.task_id) + o.file.name +
                                      std::to_string(o.file.bytes));
                      })
                  .ok());
  EXPECT_EQ(got, (std::vector<std::string>{"1c4", "2b2"}));
}

}  // namespace
}  // namespace taskgrid
