#include "store/sqlite/sqlite_state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "conformance/state_store_conformance.h"
#include "store/sqlite/sqlite_schema.h"

namespace taskgrid {
namespace {

using conformance::HasCode;
using conformance::kLeaseMs;
using conformance::kT0;
using conformance::MakeJob;
using conformance::MakeTasks;
using conformance::MakeUpdate;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/taskgrid-sqlite-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    } else {
      path_ = tmpl;
    }
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The conformance backend: one temporary file per test, in a directory the
// store has to create.
class SqliteBackend {
 public:
  StatusOr<std::unique_ptr<StateStore>> Open() {
    return OpenSqliteStateStore(dir_.path() + "/nested/state.db");
  }

 private:
  TempDir dir_;
};

}  // namespace

namespace conformance {
namespace {
using SqliteBackends = ::testing::Types<SqliteBackend>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StateStoreConformanceTest,
                               SqliteBackends);
}  // namespace
}  // namespace conformance

namespace {

// --------------------------------------------------------------------------
// SQLite-specific behaviour.

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.path() + "/state.db"; }

  std::unique_ptr<SqliteStateStore> OpenStore(
      const SqliteStoreOptions& options = {}) {
    auto s = SqliteStateStore::Open(DbPath(), options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // A raw connection, as another process (or an operator's sqlite3) has.
  sqlite3* RawOpen() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);
    return db;
  }
  static void RawExec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err != nullptr ? err : "");
    sqlite3_free(err);
  }
  static int64_t RawInt(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db);
    int64_t v = -1;
    if (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return v;
  }

  TempDir dir_;
};

TEST_F(SqliteStateStoreTest, CommittedWritesSurviveKill9) {
  // The child commits, then dies without closing anything.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = SqliteStateStore::Open(DbPath());
    if (!store.ok()) _exit(2);
    auto id = (*store)->CreateJob(MakeJob("crash", "crash-key"), MakeTasks(5));
    if (!id.ok()) _exit(3);
    auto epoch = (*store)->AcquireJob(*id, "child", kT0, kLeaseMs, nullptr);
    WriteBatch b;
    b.job_id = *id;
    b.epoch = epoch.ok() ? *epoch : -1;
    b.updates = {MakeUpdate(1, 0, 1, TaskState::kSucceeded)};
    if (!(*store)->Apply(b).ok()) _exit(4);
    raise(SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto j = store->FindJobByKey("crash-key");
  ASSERT_TRUE(j.ok() && j->has_value()) << j.status();
  EXPECT_EQ((*j)->owner, "child");
  auto t = store->GetTask((*j)->id, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state, TaskState::kSucceeded);
  auto counts = store->CountTasks((*j)->id);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kPending)], 4);
}

TEST_F(SqliteStateStoreTest, NewerSchemaIsFailedPrecondition) {
  ASSERT_NE(OpenStore(), nullptr);
  sqlite3* raw = RawOpen();
  RawExec(raw, "UPDATE schema_version SET version = 99");
  sqlite3_close(raw);
  auto s = SqliteStateStore::Open(DbPath());
  EXPECT_TRUE(HasCode(s, StatusCode::kFailedPrecondition, "version 99"));
  EXPECT_TRUE(
      HasCode(s, StatusCode::kFailedPrecondition,
              "version " + std::to_string(SqliteStateStore::kSchemaVersion)));
  EXPECT_TRUE(HasCode(s, StatusCode::kFailedPrecondition, DbPath()));
}

TEST_F(SqliteStateStoreTest, SchemaAsDesigned) {
  ASSERT_NE(OpenStore(), nullptr);
  sqlite3* raw = RawOpen();
  EXPECT_EQ(RawInt(raw, "SELECT version FROM schema_version"),
            SqliteStateStore::kSchemaVersion);
  EXPECT_EQ(RawInt(raw, "SELECT count(*) FROM schema_version"), 1);
  // No secondary index on tasks but the partial one of failed and dead
  // tasks: a state change of a healthy task touches one b-tree.
  EXPECT_EQ(RawInt(raw,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                   "AND tbl_name IN ('tasks', 'task_logs')"),
            1);
  EXPECT_EQ(RawInt(raw,
                   "SELECT count(*) FROM sqlite_master WHERE name = 'tasks' "
                   "AND sql LIKE '%WITHOUT ROWID%'"),
            1);
  EXPECT_EQ(RawInt(raw,
                   "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_key' "
                   "AND sql LIKE '%WHERE%'"),
            1);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  // Lookups by key use the partial index.
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "EXPLAIN QUERY PLAN SELECT id FROM jobs "
                               "WHERE key = ?1 AND key <> ''",
                               -1, &s, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(s) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
  }
  sqlite3_finalize(s);
  EXPECT_THAT(plan, ::testing::HasSubstr("jobs_key"));
  // A task list filtered by a state of that index uses it.
  ASSERT_EQ(
      sqlite3_prepare_v2(
          raw,
          (std::string("EXPLAIN QUERY PLAN ") +
           sqlite_internal::kListTasksSql[static_cast<int>(TaskOrder::kId)][1])
              .c_str(),
          -1, &s, nullptr),
      SQLITE_OK);
  plan.clear();
  while (sqlite3_step(s) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
  }
  sqlite3_finalize(s);
  EXPECT_THAT(plan, ::testing::HasSubstr("tasks_unhealthy"));
  sqlite3_close(raw);
}

TEST_F(SqliteStateStoreTest, MigratesAVersion2File) {
  int64_t job = 0;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto id = store->CreateJob(MakeJob("old", "k-old"), MakeTasks(2));
    ASSERT_TRUE(id.ok()) << id.status();
    job = *id;
  }
  // What a binary of schema version 2 left behind.
  sqlite3* raw = RawOpen();
  RawExec(raw,
          "DROP TABLE cluster_leader; DROP INDEX tasks_unhealthy; "
          "UPDATE schema_version SET version = 2");
  sqlite3_close(raw);

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

  raw = RawOpen();
  EXPECT_EQ(RawInt(raw, "SELECT version FROM schema_version"),
            SqliteStateStore::kSchemaVersion);
  // One row, and no second one can be added.
  EXPECT_EQ(RawInt(raw, "SELECT count(*) FROM cluster_leader"), 1);
  EXPECT_NE(
      sqlite3_exec(raw, "INSERT INTO cluster_leader VALUES (2, 0, '', '', 0)",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(raw);
}

TEST_F(SqliteStateStoreTest, OpenChecksPathAndCreatesDirectories) {
  for (const char* bad : {"", ":memory:", "file:x.db?mode=memory"}) {
    EXPECT_TRUE(
        HasCode(SqliteStateStore::Open(bad), StatusCode::kInvalidArgument))
        << bad;
  }
  const std::string deep = dir_.path() + "/a/b/c/state.db";
  auto s = OpenSqliteStateStore(deep);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(std::filesystem::exists(deep));
  // A directory where the file should be.
  std::filesystem::create_directories(dir_.path() + "/isdir");
  EXPECT_FALSE(SqliteStateStore::Open(dir_.path() + "/isdir").ok());
}

TEST_F(SqliteStateStoreTest, NotADatabaseIsDataLoss) {
  {
    std::ofstream f(DbPath(), std::ios::binary);
    f << std::string(4096, 'x');
  }
  auto s = SqliteStateStore::Open(DbPath());
  EXPECT_TRUE(HasCode(s, StatusCode::kDataLoss, DbPath()));
}

TEST_F(SqliteStateStoreTest, OpeningConcurrentlyMigratesOnce) {
  constexpr int kOpeners = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&] {
      auto s = SqliteStateStore::Open(DbPath());
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

TEST_F(SqliteStateStoreTest, WaitsForAnotherProcessHoldingTheLock) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto job = store->CreateJob(MakeJob(), MakeTasks(2));
  ASSERT_TRUE(job.ok());
  sqlite3* raw = RawOpen();
  RawExec(raw, "BEGIN IMMEDIATE");
  // The other "process" finishes its transaction a little later; the cancel
  // waits for it instead of failing.
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RawExec(raw, "COMMIT");
  });
  EXPECT_TRUE(store->CancelJob(*job, kT0).ok());
  other.join();
  sqlite3_close(raw);
  auto j = store->GetJob(*job);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, JobState::kCancelled);
}

TEST_F(SqliteStateStoreTest, LockedPastTimeoutIsUnavailable) {
  SqliteStoreOptions quick;
  quick.busy_timeout_ms = 50;
  auto store = OpenStore(quick);
  ASSERT_NE(store, nullptr);
  auto job = store->CreateJob(MakeJob(), MakeTasks(2));
  ASSERT_TRUE(job.ok());
  sqlite3* raw = RawOpen();
  RawExec(raw, "BEGIN IMMEDIATE");
  WriteBatch b;
  b.job_id = *job;
  b.updates = {MakeUpdate(1, 0, 1, TaskState::kDispatched)};
  EXPECT_TRUE(HasCode(store->Apply(b), StatusCode::kUnavailable, DbPath()));
  // Reads are not blocked by a writer (WAL).
  auto t = store->GetTask(*job, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state, TaskState::kPending);
  RawExec(raw, "ROLLBACK");
  sqlite3_close(raw);
  EXPECT_TRUE(store->Apply(b).ok());  // retrying the same call works
}

TEST_F(SqliteStateStoreTest, CancelFromSecondHandleFencesRunningWriter) {
  auto master = OpenStore();
  auto cli = OpenStore();
  ASSERT_NE(master, nullptr);
  ASSERT_NE(cli, nullptr);
  constexpr int64_t kTasks = 20'000;
  auto job = master->CreateJob(MakeJob(), MakeTasks(kTasks));
  ASSERT_TRUE(job.ok());
  auto epoch = master->AcquireJob(*job, "master", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());

  // The master writes batches until fenced; the CLI cancels meanwhile.
  std::atomic<int64_t> applied{0};
  std::atomic<bool> started{false};
  Status end;
  std::thread writer([&] {
    for (int64_t id = 1; id <= kTasks; id += 100) {
      WriteBatch b;
      b.job_id = *job;
      b.epoch = *epoch;
      for (int64_t k = id; k < id + 100; ++k) {
        b.updates.push_back(MakeUpdate(k, 0, 1, TaskState::kSucceeded));
      }
      Status s = master->Apply(b).status();
      started = true;
      if (!s.ok()) {
        end = s;
        return;
      }
      applied += 100;
    }
  });
  while (!started) std::this_thread::yield();
  Status cancel = cli->CancelJob(*job, kT0 + 1);
  writer.join();
  ASSERT_TRUE(cancel.ok()) << cancel;
  auto counts = cli->CountTasks(*job);
  ASSERT_TRUE(counts.ok());
  const int64_t succeeded =
      (*counts)[static_cast<size_t>(TaskState::kSucceeded)];
  EXPECT_EQ(succeeded, applied.load());
  EXPECT_EQ((*counts)[static_cast<size_t>(TaskState::kCancelled)],
            kTasks - succeeded);
  if (applied < kTasks) {  // the cancel landed before the last batch
    EXPECT_TRUE(HasCode(end, StatusCode::kAborted, "stale"));
  }
  WriteBatch late;
  late.job_id = *job;
  late.epoch = *epoch;
  EXPECT_TRUE(HasCode(master->Apply(late), StatusCode::kAborted));
}

TEST_F(SqliteStateStoreTest, CallbacksMayCallBackIntoTheStore) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<TaskRecord> tasks = MakeTasks(50);
  for (TaskRecord& t : tasks) t.state = TaskState::kSucceeded;
  auto job = store->CreateJob(MakeJob(), tasks);
  ASSERT_TRUE(job.ok());
  auto epoch = store->AcquireJob(*job, "me", kT0, kLeaseMs, nullptr);
  ASSERT_TRUE(epoch.ok());
  int64_t seen = 0;
  Status s = store->ForEachResult(
      *job, "", [&](int64_t id, const std::string&, const std::string&) {
        ++seen;
        EXPECT_TRUE(store->GetTask(*job, id).ok());
        WriteBatch b;  // a write while the read is open
        b.job_id = *job;
        b.epoch = *epoch;
        b.logs = {LogLine{id, 0, kT0, 0, "reduced"}};
        EXPECT_TRUE(store->Apply(b).ok());
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, 50);
  auto logs = store->GetLogs(*job, 50);
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(logs->size(), 1u);
}

}  // namespace
}  // namespace taskgrid
