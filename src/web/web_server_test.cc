// The HTTP API against a running WebServer on a loopback port, reading a
// real SQLite store through StoreControl (the CLI's local ControlService),
// with cpp-httplib's client.
#include "web/web_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "cli/local_runner.h"
#include "master/cluster_master.h"
#include "master/store_control.h"
#include "master/submit.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr char kToken[] = "s3cret-token";

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tg-web-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = OpenSqliteStateStore((dir_ / "state.db").string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    control_ =
        std::make_unique<StoreControl>(store_.get(), StoreControlOptions{});
    MakeJobs();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    control_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Job 1 "alpha" (failed): tasks 1-20 stage map, 21-25 stage extra; 23
  // and 24 dead after two attempts (with logs and an error that is not
  // UTF-8), the rest succeeded; task 2's payload is binary.
  // Job 2 "beta" (running): three pending tasks.
  void MakeJobs() {
    JobRecord job;
    job.name = "alpha";
    job.spec_yaml = "name: alpha\n";
    job.created_ms = kT0;
    std::vector<TaskRecord> tasks;
    for (int64_t id = 1; id <= 25; ++id) {
      TaskRecord t;
      t.id = id;
      t.stage = id <= 20 ? "map" : "extra";
      t.payload = id == 2 ? std::string("bin\0\xff\xfe", 6)
                          : "input-" + std::to_string(id);
      tasks.push_back(std::move(t));
    }
    auto j1 = store_->CreateJob(job, tasks);
    ASSERT_TRUE(j1.ok()) << j1.status();
    auto epoch = store_->AcquireJob(*j1, "test@host", kT0, 10'000, nullptr);
    ASSERT_TRUE(epoch.ok()) << epoch.status();
    // Attempt 1 of every task: dispatched; then each one's outcome.
    WriteBatch b1{.job_id = *j1, .epoch = *epoch};
    for (int64_t id = 1; id <= 25; ++id) {
      b1.updates.push_back(TaskUpdate{.id = id,
                                      .expected_attempt = 0,
                                      .state = TaskState::kDispatched,
                                      .attempt = 1,
                                      .worker = "w1"});
    }
    ASSERT_TRUE(store_->Apply(b1).ok());
    WriteBatch b2{.job_id = *j1, .epoch = *epoch};
    for (int64_t id = 1; id <= 25; ++id) {
      const bool dead = id == 23 || id == 24;
      b2.updates.push_back(
          TaskUpdate{.id = id,
                     .expected_attempt = 1,
                     .state = dead ? TaskState::kFailed : TaskState::kSucceeded,
                     .attempt = 1,
                     .worker = "w1",
                     .started_ms = kT0 + 100,
                     .finished_ms = kT0 + 350,
                     .result = dead ? "" : "r" + std::to_string(id),
                     .error = dead ? "boom 1" : ""});
      if (dead) {
        b2.logs.push_back(LogLine{id, 1, kT0 + 200, 2, "first try failed"});
      }
    }
    ASSERT_TRUE(store_->Apply(b2).ok());
    WriteBatch b3{.job_id = *j1, .epoch = *epoch};
    for (int64_t id : {23, 24}) {
      b3.updates.push_back(TaskUpdate{.id = id,
                                      .expected_attempt = 1,
                                      .state = TaskState::kDead,
                                      .attempt = 2,
                                      .worker = "w2",
                                      .started_ms = kT0 + 400,
                                      .finished_ms = kT0 + 900,
                                      .error = "boom \xff\xfe 2"});
      b3.logs.push_back(LogLine{id, 2, kT0 + 500, 0, "retrying \xc3"});
      b3.logs.push_back(LogLine{id, 2, kT0 + 600, 2, "dead"});
    }
    b3.job_state = JobState::kFailed;
    b3.job_finished_ms = kT0 + 1000;
    ASSERT_TRUE(store_->Apply(b3).ok());

    JobRecord beta;
    beta.name = "beta";
    beta.spec_yaml = "name: beta\n";
    beta.created_ms = kT0 + 5000;
    std::vector<TaskRecord> three(3);
    for (int i = 0; i < 3; ++i) {
      three[i].id = i + 1;
      three[i].stage = "root";
    }
    auto j2 = store_->CreateJob(beta, three);
    ASSERT_TRUE(j2.ok()) << j2.status();
  }

  void Serve(WebServerOptions o = {}) {
    auto s = WebServer::Start("127.0.0.1:0", control_.get(), std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_GT(server_->port(), 0);
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }

  // GET `path`; fails the test unless the status is `status`.
  json Get(const std::string& path, int status = 200,
           const httplib::Headers& headers = {}) {
    auto r = Client().Get(path, headers);
    EXPECT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    if (!r) return nullptr;
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body, nullptr, false);
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       httplib::Headers headers = {}) {
    return Client().Post(path, headers, body, "application/json");
  }

  static httplib::Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  std::vector<int64_t> Ids(const json& tasks) {
    std::vector<int64_t> ids;
    for (const json& t : tasks) ids.push_back(t["id"].get<int64_t>());
    return ids;
  }

  TaskState StoredState(int64_t job, int64_t task) {
    auto t = store_->GetTask(job, task);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->state : TaskState::kCancelled;
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<StoreControl> control_;
  std::unique_ptr<WebServer> server_;
};

TEST_F(WebServerTest, ListsAndGetsJobs) {
  Serve();
  json jobs = Get("/api/jobs");
  ASSERT_EQ(jobs["jobs"].size(), 2u);
  EXPECT_EQ(jobs["jobs"][0]["name"], "beta");  // newest first
  const json& alpha = jobs["jobs"][1];
  EXPECT_EQ(alpha["id"], 1);
  EXPECT_EQ(alpha["state"], "failed");
  EXPECT_EQ(alpha["tasks"], 25);
  EXPECT_EQ(alpha["counts"]["succeeded"], 23);
  EXPECT_EQ(alpha["counts"]["dead"], 2);
  EXPECT_EQ(alpha["counts"]["pending"], 0);
  EXPECT_EQ(alpha["created"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(alpha["finished"], "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(Get("/api/jobs?limit=1")["jobs"].size(), 1u);

  json one = Get("/api/jobs/1");
  EXPECT_EQ(one["name"], "alpha");
  EXPECT_EQ(one["owner"], "test@host");
  EXPECT_EQ(one["spec"], "name: alpha\n");
  EXPECT_EQ(one["counts"]["dead"], 2);
  EXPECT_EQ(Get("/api/jobs/2")["state"], "pending");
}

TEST_F(WebServerTest, FiltersTasksByStateAndStage) {
  Serve();
  json dead = Get("/api/jobs/1/tasks?state=dead");
  EXPECT_EQ(Ids(dead["tasks"]), (std::vector<int64_t>{23, 24}));
  EXPECT_EQ(dead["tasks"][0]["error"], "boom \xEF\xBF\xBD\xEF\xBF\xBD 2");
  EXPECT_EQ(dead["tasks"][0]["worker"], "w2");
  EXPECT_EQ(dead["tasks"][0]["attempt"], 2);
  EXPECT_EQ(dead["tasks"][0]["duration_ms"], 500);
  EXPECT_TRUE(dead["next_after"].is_null());

  json extra = Get("/api/jobs/1/tasks?stage=extra");
  EXPECT_EQ(Ids(extra["tasks"]), (std::vector<int64_t>{21, 22, 23, 24, 25}));
  EXPECT_EQ(extra["tasks"][0]["stage"], "extra");
  json both = Get("/api/jobs/1/tasks?stage=extra&state=succeeded");
  EXPECT_EQ(Ids(both["tasks"]), (std::vector<int64_t>{21, 22, 25}));
  EXPECT_TRUE(Get("/api/jobs/1/tasks?state=failed")["tasks"].empty());

  json bad = Get("/api/jobs/1/tasks?state=bogus", 400);
  EXPECT_EQ(bad["code"], "INVALID_ARGUMENT");
  EXPECT_NE(bad["error"].get<std::string>().find("bogus"), std::string::npos);
}

TEST_F(WebServerTest, PagesTasksByKeysetAndOffset) {
  Serve();
  json p1 = Get("/api/jobs/1/tasks?limit=10");
  ASSERT_EQ(p1["tasks"].size(), 10u);
  EXPECT_EQ(p1["tasks"][0]["id"], 1);
  EXPECT_EQ(p1["next_after"], 10);
  // Binary payloads come out with U+FFFD, never as a failed dump.
  EXPECT_EQ(p1["tasks"][1]["payload"].get<std::string>(),
            std::string("bin\0\xEF\xBF\xBD\xEF\xBF\xBD", 10));
  json p2 = Get("/api/jobs/1/tasks?limit=10&after=10");
  EXPECT_EQ(p2["tasks"][0]["id"], 11);
  EXPECT_EQ(p2["next_after"], 20);
  json p3 = Get("/api/jobs/1/tasks?limit=10&after=20");
  EXPECT_EQ(Ids(p3["tasks"]), (std::vector<int64_t>{21, 22, 23, 24, 25}));
  EXPECT_TRUE(p3["next_after"].is_null());
  // Default page: 100.
  EXPECT_EQ(Get("/api/jobs/1/tasks")["tasks"].size(), 25u);

  // Keyset paging under a filter: after= is the previous next_after.
  json s1 = Get("/api/jobs/1/tasks?state=succeeded&limit=4&after=19");
  EXPECT_EQ(Ids(s1["tasks"]), (std::vector<int64_t>{20, 21, 22, 25}));
  EXPECT_EQ(s1["next_after"], 25);

  json off = Get("/api/jobs/1/tasks?offset=20&limit=3");
  EXPECT_EQ(Ids(off["tasks"]), (std::vector<int64_t>{21, 22, 23}));
  EXPECT_EQ(off["next_after"], 23);
  EXPECT_EQ(Get("/api/jobs/1/tasks?offset=5&state=dead", 400)["code"],
            "INVALID_ARGUMENT");
  EXPECT_EQ(Get("/api/jobs/1/tasks?offset=5&after=5", 400)["code"],
            "INVALID_ARGUMENT");
  for (const char* bad : {"limit=0", "limit=10001", "limit=x", "after=-1",
                          "after=1e3", "offset="}) {
    EXPECT_EQ(Get(std::string("/api/jobs/1/tasks?") + bad, 400)["code"],
              "INVALID_ARGUMENT")
        << bad;
  }
}

TEST_F(WebServerTest, SortsTasksByDurationAndAttempts) {
  Serve();
  // Every task ran 250 ms in one attempt, except 23 and 24 (500 ms, 2).
  json a = Get("/api/jobs/1/tasks?sort=attempts&limit=3");
  EXPECT_EQ(Ids(a["tasks"]), (std::vector<int64_t>{23, 24, 1}));
  EXPECT_EQ(a["sort"], "attempts");
  EXPECT_EQ(a["next_offset"], 3);
  EXPECT_FALSE(a.contains("next_after"));
  json d = Get("/api/jobs/1/tasks?sort=duration&offset=1&limit=2");
  EXPECT_EQ(Ids(d["tasks"]), (std::vector<int64_t>{24, 1}));
  EXPECT_EQ(d["next_offset"], 3);
  // A sorted list pages by offset under a filter too.
  json last = Get("/api/jobs/1/tasks?sort=duration&state=succeeded&offset=22");
  EXPECT_EQ(Ids(last["tasks"]), (std::vector<int64_t>{25}));
  EXPECT_TRUE(last["next_offset"].is_null());
  json dead = Get("/api/jobs/1/tasks?sort=attempts&state=dead&stage=extra");
  EXPECT_EQ(Ids(dead["tasks"]), (std::vector<int64_t>{23, 24}));
  EXPECT_EQ(Ids(Get("/api/jobs/1/tasks?sort=id&limit=2")["tasks"]),
            (std::vector<int64_t>{1, 2}));

  json bad = Get("/api/jobs/1/tasks?sort=size", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("size"), std::string::npos);
  EXPECT_EQ(Get("/api/jobs/1/tasks?sort=duration&after=3", 400)["code"],
            "INVALID_ARGUMENT");
}

TEST_F(WebServerTest, JobCountsByStage) {
  Serve();
  json stages = Get("/api/jobs/1")["stages"];
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0]["stage"], "map");
  EXPECT_EQ(stages[0]["tasks"], 20);
  EXPECT_EQ(stages[0]["counts"]["succeeded"], 20);
  EXPECT_EQ(stages[1]["stage"], "extra");
  EXPECT_EQ(stages[1]["tasks"], 5);
  EXPECT_EQ(stages[1]["counts"]["succeeded"], 3);
  EXPECT_EQ(stages[1]["counts"]["dead"], 2);
  // The list of jobs has no stages (they cost a count per job).
  EXPECT_FALSE(Get("/api/jobs")["jobs"][1].contains("stages"));
}

TEST_F(WebServerTest, TaskDetailGroupsLogsByAttempt) {
  Serve();
  json d = Get("/api/jobs/1/tasks/23");
  EXPECT_EQ(d["task"]["id"], 23);
  EXPECT_EQ(d["task"]["state"], "dead");
  EXPECT_EQ(d["task"]["payload"], "input-23");
  EXPECT_EQ(d["task"]["result"], "");
  ASSERT_EQ(d["attempts"].size(), 2u);
  const json& a1 = d["attempts"][0];
  EXPECT_EQ(a1["attempt"], 1);
  EXPECT_EQ(a1["current"], false);
  ASSERT_EQ(a1["logs"].size(), 1u);
  EXPECT_EQ(a1["logs"][0]["line"], "first try failed");
  EXPECT_EQ(a1["logs"][0]["level"], "ERROR");
  const json& a2 = d["attempts"][1];
  EXPECT_EQ(a2["attempt"], 2);
  EXPECT_EQ(a2["current"], true);
  EXPECT_EQ(a2["worker"], "w2");
  EXPECT_EQ(a2["duration_ms"], 500);
  ASSERT_EQ(a2["logs"].size(), 2u);
  EXPECT_EQ(a2["logs"][0]["line"], "retrying \xEF\xBF\xBD");
  EXPECT_EQ(a2["logs"][0]["level"], "INFO");
  EXPECT_EQ(a2["logs"][1]["line"], "dead");

  json ok = Get("/api/jobs/1/tasks/5");
  EXPECT_EQ(ok["task"]["result"], "r5");
  EXPECT_EQ(ok["task"]["result_size"], 2);
  ASSERT_EQ(ok["attempts"].size(), 1u);
  EXPECT_TRUE(ok["attempts"][0]["logs"].empty());
}

TEST_F(WebServerTest, UnknownThingsAre404InJson) {
  Serve();
  for (const char* path :
       {"/api/jobs/99", "/api/jobs/99/tasks", "/api/jobs/1/tasks/999",
        "/api/jobs/99/tasks/1", "/api/nope", "/api/jobs/abc",
        "/api/jobs/99999999999999999999999"}) {
    json e = Get(path, 404);
    EXPECT_EQ(e["code"], "NOT_FOUND") << path;
    EXPECT_TRUE(e["error"].is_string()) << path;
  }
  auto r = Post("/api/jobs/99/cancel", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(WebServerTest, RerunFailedAndListedTasks) {
  Serve();
  auto r = Post("/api/jobs/1/rerun", R"({"failed": true})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["rerun"], 2);
  EXPECT_EQ(StoredState(1, 23), TaskState::kPending);
  EXPECT_EQ(StoredState(1, 24), TaskState::kPending);
  EXPECT_EQ(StoredState(1, 22), TaskState::kSucceeded);

  r = Post("/api/jobs/1/rerun", R"({"tasks": [5, 7]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["rerun"], 2);
  EXPECT_EQ(StoredState(1, 5), TaskState::kPending);
  EXPECT_EQ(StoredState(1, 7), TaskState::kPending);
  EXPECT_EQ(Get("/api/jobs/1")["counts"]["pending"], 4);

  for (const char* bad :
       {"", "not json", "[1]", "{}", R"({"failed": false})",
        R"({"failed": "yes"})", R"({"tasks": []})", R"({"tasks": [0]})",
        R"({"tasks": ["3"]})", R"({"failed": true, "tasks": [3]})"}) {
    r = Post("/api/jobs/1/rerun", bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
  }
  r = Post("/api/jobs/1/rerun", R"({"tasks": [999]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
}

TEST_F(WebServerTest, RerunOfADrivenJobIsAConflict) {
  control_ = std::make_unique<StoreControl>(
      store_.get(),
      StoreControlOptions{.is_running = [](const JobRecord&) { return true; }});
  Serve();
  // Job 2 is not finished, and (as the option says) driven right now.
  auto r = Post("/api/jobs/2/rerun", R"({"tasks": [1]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(json::parse(r->body)["code"], "FAILED_PRECONDITION");
}

TEST_F(WebServerTest, CancelJob) {
  Serve();
  auto r = Post("/api/jobs/2/cancel", "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["state"], "cancelled");
  json job = Get("/api/jobs/2");
  EXPECT_EQ(job["state"], "cancelled");
  EXPECT_EQ(job["counts"]["cancelled"], 3);
  r = Post("/api/jobs/2/cancel", "");  // already ended
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(json::parse(r->body)["code"], "FAILED_PRECONDITION");
}

TEST_F(WebServerTest, PostsNeedTheTokenWhenOneIsSet) {
  Serve(WebServerOptions{.token = kToken});
  for (const httplib::Headers& h :
       {httplib::Headers{}, Bearer("wrong"), Bearer(""),
        httplib::Headers{{"Authorization", std::string("Basic ") + kToken}}}) {
    auto r = Post("/api/jobs/2/cancel", "", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(json::parse(r->body)["code"], "UNAUTHENTICATED");
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
    r = Post("/api/jobs/1/rerun", R"({"failed": true})", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
  }
  EXPECT_EQ(StoredState(2, 1), TaskState::kPending);
  EXPECT_EQ(StoredState(1, 23), TaskState::kDead);
  // Reads need no token.
  EXPECT_EQ(Get("/api/jobs")["jobs"].size(), 2u);

  auto r = Post("/api/jobs/2/cancel", "", Bearer(kToken));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(StoredState(2, 1), TaskState::kCancelled);
}

TEST_F(WebServerTest, RefusesCrossSiteOrigins) {
  Serve(WebServerOptions{.token = kToken});
  httplib::Headers h = Bearer(kToken);
  h.emplace("Origin", "http://evil.example");
  auto r = Post("/api/jobs/2/cancel", "", h);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_EQ(json::parse(r->body)["code"], "PERMISSION_DENIED");
  EXPECT_EQ(StoredState(2, 1), TaskState::kPending);
  EXPECT_EQ(Get("/api/jobs", 403, {{"Origin", "null"}})["code"],
            "PERMISSION_DENIED");

  // A page this server served may post.
  httplib::Headers same = Bearer(kToken);
  same.emplace("Origin", "http://127.0.0.1:" + std::to_string(server_->port()));
  r = Post("/api/jobs/2/cancel", "", same);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(WebServerTest, RefusesForeignHostHeaders) {
  Serve();
  const std::string port = std::to_string(server_->port());
  for (const std::string& host :
       {std::string("evil.example:7780"), "evil.example:" + port,
        "127.0.0.1:" + std::to_string(server_->port() + 1)}) {
    json e = Get("/api/jobs", 403, {{"Host", host}});
    EXPECT_EQ(e["code"], "PERMISSION_DENIED") << host;
    auto r = Post("/api/jobs/2/cancel", "", {{"Host", host}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << host;
    auto m = Client().Get("/metrics", {{"Host", host}});
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 403) << host;
  }
  EXPECT_EQ(StoredState(2, 1), TaskState::kPending);
  for (const std::string& host : {"localhost:" + port, "LocalHost:" + port,
                                  "127.0.0.1:" + port, "[::1]:" + port}) {
    EXPECT_EQ(Get("/api/jobs", 200, {{"Host", host}})["jobs"].size(), 2u)
        << host;
  }
}

TEST_F(WebServerTest, WorkersOfAStoreAreEmpty) {
  Serve();
  json w = Get("/api/workers");
  EXPECT_TRUE(w["workers"].is_array());
  EXPECT_TRUE(w["workers"].empty());
  EXPECT_TRUE(w["active_jobs"].empty());
  EXPECT_TRUE(w["leader"].is_object());
}

TEST_F(WebServerTest, MetricsAreValidPrometheusText) {
  // Something in the histograms and counters (process-wide).
  Metrics().task_duration->Observe(0.02);
  Metrics().store_commit->Observe(0.003);
  Metrics().tasks_dispatched->Add(1);
  Serve();
  auto r = Client().Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = r->body;
  for (const char* name :
       {"\ntaskgrid_tasks{state=\"pending\"} 3\n",  // job 2 only: job 1 ended
        "\ntaskgrid_tasks{state=\"dead\"} 0\n",
        "\ntaskgrid_jobs{state=\"failed\"} 1\n", "\ntaskgrid_control_up 1\n",
        "\ntaskgrid_tasks_dispatched_total ",
        "\ntaskgrid_tasks_completed_total{outcome=\"succeeded\"} ",
        "\ntaskgrid_tasks_completed_total{outcome=\"failed\"} ",
        "\ntaskgrid_tasks_completed_total{outcome=\"dead\"} ",
        "\ntaskgrid_task_duration_seconds_bucket{le=\"0.05\"} ",
        "\ntaskgrid_task_duration_seconds_bucket{le=\"+Inf\"} ",
        "\ntaskgrid_task_duration_seconds_sum ",
        "\ntaskgrid_task_duration_seconds_count ", "\ntaskgrid_workers ",
        "\ntaskgrid_store_commit_seconds_bucket{le=\"0.005\"} ",
        "\n# TYPE taskgrid_store_commit_seconds histogram\n"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
  // Every line: a comment (# HELP / # TYPE) or `name{labels} value`.
  const std::regex comment(
      R"(# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)))");
  const std::regex sample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN))");
  std::istringstream lines(text);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(text.back(), '\n');
}

TEST_F(WebServerTest, ServesAPageWithoutExternalResources) {
  Serve();
  auto r = Client().Get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("/api/jobs"), std::string::npos);
  EXPECT_EQ(r->body.find("http://"), std::string::npos);
  EXPECT_EQ(r->body.find("https://"), std::string::npos);
}

TEST_F(WebServerTest, StartRejectsBadAddressesAndBusyPorts) {
  auto bad = WebServer::Start("nonsense", control_.get(), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  Serve();
  auto busy = WebServer::Start("127.0.0.1:" + std::to_string(server_->port()),
                               control_.get(), {});
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_->url(),
            "http://127.0.0.1:" + std::to_string(server_->port()));
  server_->Stop();
  server_->Stop();  // idempotent
  EXPECT_FALSE(Client().Get("/api/jobs"));
}

// `taskgrid master --http`: the ClusterMaster is the ControlService; one
// that does not lead answers 503, and /metrics still serves.
TEST_F(WebServerTest, AStandbyMasterIsUnavailable) {
  ClusterMaster standby(store_.get(), &ProcessorRegistry::Global(), {});
  auto s = WebServer::Start("127.0.0.1:0", &standby, {});
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = *std::move(s);
  for (const char* path : {"/api/jobs", "/api/jobs/1", "/api/workers"}) {
    EXPECT_EQ(Get(path, 503)["code"], "UNAVAILABLE") << path;
  }
  auto r = Client().Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\ntaskgrid_control_up 0\n"), std::string::npos);
  EXPECT_EQ(r->body.find("taskgrid_tasks{"), std::string::npos);
  server_->Stop();
}

// What `taskgrid run --http` does: serve the job's store while a
// LocalRunner drives it; the master's metrics count its attempts.
TEST_F(WebServerTest, ServesARunningJobAndCountsItsAttempts) {
  auto spec = ParseJobSpec(R"(
name: counted
processor: sleep
model: map
input: {range: {start: 0, end: 10, step: 1}}
params: {ms: 20, fail_attempts: 1}
retry: {max_attempts: 2, backoff: 1ms}
)",
                           "counted.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto job = SubmitJob(store_.get(), *spec, {"local-0", "local-1"}, false,
                       Clock::Real());
  ASSERT_TRUE(job.ok()) << job.status();
  const int64_t id = job->job_id;
  Serve();

  const TaskgridMetrics& m = Metrics();
  const uint64_t dispatched = m.tasks_dispatched->value();
  const uint64_t succeeded = m.completed_succeeded->value();
  const uint64_t failed = m.completed_failed->value();
  const uint64_t dead = m.completed_dead->value();
  const uint64_t durations = m.task_duration->count();
  const uint64_t commits = m.store_commit->count();

  LocalRunnerOptions lo;
  lo.workers = 2;
  LocalRunner runner(store_.get(), &ProcessorRegistry::Global(), lo);
  auto outcome = std::async(std::launch::async, [&] { return runner.Run(id); });
  // While it runs (each attempt sleeps 20 ms), the API answers.
  json during = Get("/api/jobs/" + std::to_string(id));
  EXPECT_EQ(during["tasks"], 10);
  EXPECT_EQ(
      Get("/api/jobs/" + std::to_string(id) + "/tasks?limit=5")["tasks"].size(),
      5u);
  auto out = outcome.get();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->state, JobState::kSucceeded);

  json done = Get("/api/jobs/" + std::to_string(id));
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["counts"]["succeeded"], 10);
  json t = Get("/api/jobs/" + std::to_string(id) + "/tasks/1");
  ASSERT_EQ(t["attempts"].size(), 2u);
  EXPECT_EQ(t["attempts"][0]["logs"][0]["level"], "ERROR");

  // Every task: attempt 1 failed, attempt 2 succeeded.
  EXPECT_EQ(m.tasks_dispatched->value() - dispatched, 20u);
  EXPECT_EQ(m.completed_succeeded->value() - succeeded, 10u);
  EXPECT_EQ(m.completed_failed->value() - failed, 10u);
  EXPECT_EQ(m.completed_dead->value() - dead, 0u);
  EXPECT_EQ(m.task_duration->count() - durations, 20u);
  EXPECT_GT(m.store_commit->count(), commits);
}

}  // namespace
}  // namespace taskgrid
