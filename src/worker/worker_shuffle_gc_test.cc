// A worker removing finished jobs' shuffle data on the master's word
// (HeartbeatResponse::drop_jobs), against a fake master: heartbeats list the
// job directories under DATA_DIR/shuffle; a job with an attempt running here
// keeps its directory until the attempt is over; symlinks are removed, never
// followed; what a crash left half-removed goes too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/process.h"
#include "worker/shuffle_task.h"
#include "worker/worker.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using ::taskgrid::testing::ReadFile;
using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WaitUntil;
using ::taskgrid::testing::WriteFile;

// Blocks its task until released.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> entered{false};
};

class BlockingProcessor : public Processor {
 public:
  explicit BlockingProcessor(Gate* gate) : gate_(gate) {}
  Status Process(TaskContext&) override {
    gate_->entered = true;
    std::unique_lock<std::mutex> lock(gate_->mu);
    gate_->cv.wait(lock, [&] { return gate_->open; });
    return OkStatus();
  }

 private:
  Gate* const gate_;
};

// Hands out one task of job 5, then nothing; answers every heartbeat with
// drop_jobs = every job the worker listed (all "finished").
class FakeMaster : public MasterService {
 public:
  Status RegisterWorker(const WorkerInfo&) override { return OkStatus(); }
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override {
    JobDefinition def;
    def.job_id = job_id;
    def.processor = "gc-block";
    def.model = Model::kMap;
    return def;
  }
  StatusOr<FetchResponse> Fetch(const FetchRequest&) override {
    FetchResponse r;
    if (!handed_out_.exchange(true)) {
      TaskAssignment a;
      a.ref = {5, 1, 1};
      a.stage = "map";
      a.payload = "x";
      r.tasks.push_back(a);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return r;
  }
  Status Started(const std::string&, const std::vector<TaskRef>&) override {
    return OkStatus();
  }
  StatusOr<ReportResponse> Report(const std::string&,
                                  std::vector<TaskReport> reports) override {
    reported_ += static_cast<int>(reports.size());
    return ReportResponse{std::vector<bool>(reports.size(), true)};
  }
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override {
    // Counted when answered; the worker acts on the answer before its next
    // heartbeat.
    heartbeats_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    listed_.insert(req.shuffle_jobs.begin(), req.shuffle_jobs.end());
    HeartbeatResponse r;
    r.drop_jobs = req.shuffle_jobs;
    return r;
  }
  std::set<int64_t> listed() {
    std::lock_guard<std::mutex> lock(mu_);
    return listed_;
  }
  int reported() const { return reported_.load(); }
  int heartbeats() const { return heartbeats_.load(); }

 private:
  std::atomic<bool> handed_out_{false};
  std::atomic<int> reported_{0};
  std::atomic<int> heartbeats_{0};
  std::mutex mu_;
  std::set<int64_t> listed_;  // guarded by mu_
};

TEST(WorkerShuffleGcTest, DropsFinishedJobsDataButNotWhileItsTaskRuns) {
  TempDir tmp;
  const std::string data = tmp.Path("data");
  const std::string shuffle = data + "/shuffle";
  fs::create_directories(shuffle + "/job-5/map-1-a1");
  WriteFile(shuffle + "/job-5/map-1-a1/out.data", "five");
  fs::create_directories(shuffle + "/job-6/map-2-a1");
  WriteFile(shuffle + "/job-6/map-2-a1/out.data", "six");
  // A link inside job 6's tree to a directory outside: removed as a link.
  fs::create_directories(tmp.Path("outside"));
  WriteFile(tmp.Path("outside/keep.txt"), "keep");
  fs::create_directory_symlink(tmp.Path("outside"),
                               shuffle + "/job-6/map-2-a1/link");
  // job-7 is a symlink itself: not listed, not followed.
  fs::create_directory_symlink(tmp.Path("outside"), shuffle + "/job-7");
  // Left behind by a crash between rename and removal.
  fs::create_directories(shuffle + "/.drop-job-9-1-0/map-1-a1");
  // Not a job directory.
  fs::create_directories(shuffle + "/job-x");

  Gate gate;
  ProcessorRegistry registry;
  ASSERT_TRUE(
      registry
          .Register("gc-block",
                    [&] { return std::make_unique<BlockingProcessor>(&gate); })
          .ok());
  auto master = std::make_unique<FakeMaster>();
  FakeMaster* fake = master.get();
  WorkerOptions o;
  o.id = "w1";
  o.heartbeat_ms = 20;
  o.fetch_wait_ms = 20;
  o.data_dir = data;
  Worker worker(o, std::move(master), &registry);
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return gate.entered.load(); }, seconds(10)));

  // Job 6 goes, with its link but not what it points to; the crash's
  // leftover goes; job 5 stays while its task runs.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return !fs::exists(shuffle + "/job-6") &&
               !fs::exists(shuffle + "/.drop-job-9-1-0");
      },
      seconds(10)));
  EXPECT_EQ(ReadFile(tmp.Path("outside/keep.txt")), "keep");
  EXPECT_TRUE(fs::is_symlink(shuffle + "/job-7"));
  EXPECT_TRUE(fs::exists(shuffle + "/job-x"));
  EXPECT_EQ(fake->listed(), (std::set<int64_t>{5, 6}));
  // Five more heartbeats, each answered "drop 5": job 5 is still there,
  // as its attempt runs.
  const int seen = fake->heartbeats();
  ASSERT_TRUE(
      WaitUntil([&] { return fake->heartbeats() >= seen + 5; }, seconds(10)));
  EXPECT_EQ(ReadFile(shuffle + "/job-5/map-1-a1/out.data"), "five");

  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  ASSERT_TRUE(WaitUntil([&] { return fake->reported() == 1; }, seconds(10)));
  EXPECT_TRUE(
      WaitUntil([&] { return !fs::exists(shuffle + "/job-5"); }, seconds(10)));
  EXPECT_TRUE(fs::exists(shuffle));
  worker.Stop();
  worker.Join();
}

TEST(ShuffleJobsOnDiskTest, ListsJobDirectoriesOnly) {
  TempDir tmp;
  const std::string data = tmp.Path("data");
  EXPECT_TRUE(ShuffleJobsOnDisk(data).empty());  // no shuffle dir yet
  for (const char* d : {"job-12", "job-3", "job-", "job-4x", "job--1", "x-5"}) {
    fs::create_directories(data + "/shuffle/" + d);
  }
  WriteFile(data + "/shuffle/job-8", "a file");
  EXPECT_EQ(ShuffleJobsOnDisk(data), (std::vector<int64_t>{3, 12}));
  const std::string aside = DetachShuffleJob(data, 12);
  EXPECT_FALSE(aside.empty());
  EXPECT_TRUE(fs::exists(aside));
  EXPECT_EQ(ShuffleJobsOnDisk(data), (std::vector<int64_t>{3}));
  EXPECT_FALSE(fs::exists(aside));  // the listing removed the leftover
  EXPECT_EQ(DetachShuffleJob(data, 99), "");
}

}  // namespace
}  // namespace taskgrid
