// Crash safety, end to end: `taskgrid run` is SIGKILLed in the middle of a
// job (no chance to flush or clean up), then `taskgrid resume` finishes it.
//
//   run ──(≥ N tasks done)── SIGKILL ── snapshot ── resume ── checks
//
// The "sum" processor of testbin.cc appends "TASK_ID ATTEMPT" to a journal
// (fsync'd) for every completed Process call, so the test can tell which
// executions happened before and after the kill. What must hold:
//   - the job succeeds with the exact sum, every map task succeeded once;
//   - a task the store held as succeeded at the kill keeps its attempt and
//     does not run again;
//   - a task in flight at the kill runs again with a higher attempt;
//   - resume runs each unfinished task once, and nothing else.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "integration/testbin_fixture.h"
#include "testing/process.h"

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using taskgrid::testing::CommandResult;
using taskgrid::testing::Process;
using taskgrid::testing::ReadLines;
using taskgrid::testing::RunCommand;
using taskgrid::testing::SpawnOptions;
using taskgrid::testing::TempDir;
using taskgrid::testing::WaitUntil;
using taskgrid::testing::WriteFile;

constexpr int64_t kEnd = 20000;
constexpr int64_t kStep = 100;
constexpr int64_t kMapTasks = kEnd / kStep;  // 200

struct TaskSnap {
  std::string stage;
  std::string state;
  int64_t attempt = 0;
};
using Snapshot = std::map<int64_t, TaskSnap>;  // by task id

struct JournalEntry {
  int64_t task_id = 0;
  int64_t attempt = 0;
};

// Task ids that broke a rule, reported as one failure per rule (so a broken
// resume gives a few readable lines, not hundreds).
class Violations {
 public:
  void Add(const std::string& rule, int64_t id) { ids_[rule].push_back(id); }
  void ExpectNone() const {
    for (const auto& [rule, ids] : ids_) {
      std::string list;
      for (size_t i = 0; i < ids.size() && i < 20; ++i) {
        list += (i == 0 ? "" : ", ") + std::to_string(ids[i]);
      }
      if (ids.size() > 20) list += ", ...";
      ADD_FAILURE() << ids.size() << " task(s) " << rule << ": " << list;
    }
  }

 private:
  std::map<std::string, std::vector<int64_t>> ids_;
};

class CrashResumeTest : public taskgrid::testing::TestbinTest {
 protected:
  void SetUp() override {
    spec_ = dir_.Path("sum.yaml");
    WriteFile(spec_,
              "name: crash-sum\n"
              "processor: sum\n"
              "model: mapreduce\n"
              "input:\n"
              "  range: {start: 0, end: " +
                  std::to_string(kEnd) + ", step: " + std::to_string(kStep) +
                  "}\n"
                  "params: {ms: 20, journal: '" +
                  journal_path() +
                  "'}\n"
                  "retry: {max_attempts: 3, backoff: 10ms}\n");
  }

  Snapshot Tasks() const {
    Snapshot snap;
    for (const json& t : TgJson({"tasks", "1", "--json", "--limit", "0"})) {
      TaskSnap s;
      s.stage = t.value("name", std::string());
      s.state = t.value("state", std::string());
      s.attempt = t.value("attempt", int64_t{-1});
      snap[t.value("id", int64_t{0})] = s;
    }
    return snap;
  }

  std::vector<JournalEntry> Journal() const {
    std::vector<JournalEntry> out;
    for (const std::string& line : ReadLines(journal_path())) {
      std::istringstream in(line);
      JournalEntry e;
      in >> e.task_id >> e.attempt;
      EXPECT_FALSE(in.fail()) << "bad journal line '" << line << "'";
      out.push_back(e);
    }
    return out;
  }

  // Starts `args` (run or resume), waits until the journal holds at least
  // `lines` lines, and SIGKILLs it. Returns false (with a test failure) if
  // the process ended on its own first.
  bool RunAndKillAt(const std::vector<std::string>& args, size_t lines) {
    auto p = StartTg(args);
    if (p == nullptr) return false;
    const bool reached = WaitUntil(
        [&] {
          return ReadLines(journal_path()).size() >= lines || !p->Running();
        },
        seconds(30));
    if (!reached || !p->Running()) {
      if (p->Running()) p->Kill();
      ADD_FAILURE() << "the job ended before the kill point (" << lines
                    << " journal lines); got "
                    << ReadLines(journal_path()).size() << "\n"
                    << p->result().Describe();
      return false;
    }
    // Kill() also reaps it: a zombie would still pass the lease's
    // is-the-owner-alive check.
    p->Kill();
    CommandResult r = p->result();
    EXPECT_FALSE(r.exited) << r.Describe();
    EXPECT_EQ(r.term_signal, SIGKILL) << r.Describe();
    return true;
  }

  // Checks what must hold between a snapshot taken right after a kill and
  // the final state: `journal_at_kill` is how many journal lines existed
  // at the kill.
  void CheckResumedFrom(const Snapshot& at_kill, size_t journal_at_kill,
                        const Snapshot& final_tasks,
                        const std::vector<JournalEntry>& journal) {
    std::map<int64_t, int> runs_after;  // by task id
    for (size_t i = journal_at_kill; i < journal.size(); ++i) {
      ++runs_after[journal[i].task_id];
    }
    std::set<std::pair<int64_t, int64_t>> before;  // (id, attempt)
    for (size_t i = 0; i < journal_at_kill && i < journal.size(); ++i) {
      before.insert({journal[i].task_id, journal[i].attempt});
    }
    int64_t unfinished = 0;
    Violations v;
    for (const auto& [id, t] : at_kill) {
      if (t.stage != "map") continue;
      auto it = final_tasks.find(id);
      if (it == final_tasks.end()) {
        v.Add("disappeared", id);
        continue;
      }
      const TaskSnap& f = it->second;
      if (t.state == "succeeded") {
        if (f.attempt != t.attempt) {
          v.Add("succeeded before the kill but changed attempt", id);
        }
        if (runs_after.count(id) != 0) {
          v.Add("succeeded before the kill but ran again", id);
        }
        if (before.count({id, t.attempt}) == 0) {
          v.Add("succeeded before the kill at an attempt that never completed",
                id);
        }
      } else {
        ++unfinished;
        if (runs_after[id] != 1) {
          v.Add("unfinished at the kill did not run exactly once after it", id);
        }
        if ((t.state == "running" || t.state == "dispatched") &&
            (f.attempt < t.attempt + 1 || f.attempt < 2)) {
          v.Add("in flight at the kill did not get a higher attempt", id);
        }
      }
    }
    v.ExpectNone();
    // Resume ran the unfinished tasks and nothing else.
    EXPECT_EQ(static_cast<int64_t>(journal.size() - journal_at_kill),
              unfinished)
        << "executions after the kill vs tasks unfinished at the kill";
  }

  // The final state every test ends with.
  void CheckFinished() {
    json st = TgJson({"status", "1", "--json"});
    EXPECT_EQ(st["state"], "succeeded") << st.dump(2);
    EXPECT_EQ(st["result"], std::to_string(kEnd * (kEnd - 1) / 2))
        << st.dump(2);
    const Snapshot final_tasks = Tasks();
    int64_t map_tasks = 0;
    // The attempt the store holds as succeeded is one that completed.
    std::set<std::pair<int64_t, int64_t>> ran;
    for (const JournalEntry& e : Journal()) ran.insert({e.task_id, e.attempt});
    Violations v;
    for (const auto& [id, t] : final_tasks) {
      if (t.state != "succeeded") v.Add("not succeeded at the end", id);
      if (t.stage != "map") continue;
      ++map_tasks;
      if (ran.count({id, t.attempt}) == 0) {
        v.Add("succeeded at an attempt missing from the journal", id);
      }
    }
    v.ExpectNone();
    EXPECT_EQ(map_tasks, kMapTasks);
  }

  // Checks a snapshot was taken mid-job, and returns it.
  Snapshot MidJobSnapshot() {
    json st = TgJson({"status", "1", "--json"});
    EXPECT_TRUE(st["state"] == "running" || st["state"] == "pending")
        << st.dump(2);
    Snapshot snap = Tasks();
    int64_t succeeded = 0;
    for (const auto& [id, t] : snap) {
      if (t.stage == "map" && t.state == "succeeded") ++succeeded;
    }
    EXPECT_GT(succeeded, 0) << "nothing was durable at the kill";
    EXPECT_LT(succeeded, kMapTasks) << "the job had finished at the kill";
    return snap;
  }

  std::string spec_;
};

TEST_F(CrashResumeTest, SigkillMidJobThenResumeRunsEachTaskOnce) {
  ASSERT_TRUE(
      RunAndKillAt({"run", spec_, "--workers", "4", "--no-progress"}, 40));
  const size_t journal_at_kill = Journal().size();
  const Snapshot at_kill = MidJobSnapshot();

  CommandResult r = Tg({"resume", "1", "--workers", "4", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();

  CheckFinished();
  CheckResumedFrom(at_kill, journal_at_kill, Tasks(), Journal());
}

TEST_F(CrashResumeTest, TwoSigkillsAtDifferentPoints) {
  ASSERT_TRUE(
      RunAndKillAt({"run", spec_, "--workers", "4", "--no-progress"}, 30));
  const size_t journal_at_kill1 = Journal().size();
  const Snapshot at_kill1 = MidJobSnapshot();

  ASSERT_TRUE(RunAndKillAt({"resume", "1", "--workers", "4", "--no-progress"},
                           journal_at_kill1 + 60));
  const size_t journal_at_kill2 = Journal().size();
  const Snapshot at_kill2 = MidJobSnapshot();

  CommandResult r = Tg({"resume", "1", "--workers", "4", "--no-progress"});
  ASSERT_TRUE(r.exited) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();

  CheckFinished();
  const Snapshot final_tasks = Tasks();
  const std::vector<JournalEntry> journal = Journal();
  // Tasks that succeeded before kill 1 never ran again, whatever happened
  // after; tasks in flight at kill 1 ended with a higher attempt.
  std::set<int64_t> ran_after_kill1;
  for (size_t i = journal_at_kill1; i < journal.size(); ++i) {
    ran_after_kill1.insert(journal[i].task_id);
  }
  Violations v;
  for (const auto& [id, t] : at_kill1) {
    if (t.stage != "map") continue;
    auto it = final_tasks.find(id);
    if (it == final_tasks.end()) {
      v.Add("disappeared", id);
      continue;
    }
    const int64_t final_attempt = it->second.attempt;
    if (t.state == "succeeded") {
      if (final_attempt != t.attempt) {
        v.Add("succeeded before kill 1 but changed attempt", id);
      }
      if (ran_after_kill1.count(id) != 0) {
        v.Add("succeeded before kill 1 but ran again", id);
      }
    } else if ((t.state == "running" || t.state == "dispatched") &&
               final_attempt < t.attempt + 1) {
      v.Add("in flight at kill 1 did not get a higher attempt", id);
    }
  }
  v.ExpectNone();
  // And from kill 2 on, the same rules against the second snapshot.
  CheckResumedFrom(at_kill2, journal_at_kill2, final_tasks, journal);
}

}  // namespace
