#include "master/cluster_master.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/metrics.h"
#include "core/owner.h"
#include "core/status_macros.h"
#include "store/store_errors.h"

namespace taskgrid {
namespace {

// The longest a waiting fetch sleeps before looking again (a task's retry
// backoff may expire meanwhile without anyone waking it).
constexpr int64_t kFetchRecheckMs = 50;

// taskgrid_workers: the workers this master knows (called with mu_ held
// whenever the set changes).
void PublishWorkerCount(size_t n) {
  static Gauge* const workers = Metrics().workers;
  workers->Set(static_cast<int64_t>(n));
}

}  // namespace

ClusterMaster::ClusterMaster(StateStore* store,
                             const ProcessorRegistry* registry,
                             ClusterMasterOptions options)
    : store_(store),
      registry_(registry),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::Real()),
      owner_(options_.owner.empty() ? ThisOwnerId() : options_.owner),
      address_(options_.address),
      control_(store,
               StoreControlOptions{
                   .workers = [this] { return WorkerIds(); },
                   .is_running =
                       [this](const JobRecord& job) {
                         std::lock_guard<std::mutex> lock(mu_);
                         return jobs_.count(job.id) > 0;
                       },
                   .live = [this](int64_t id) -> std::optional<Progress> {
                     auto m = FindMaster(id);
                     if (!m) return std::nullopt;
                     return m->progress();
                   },
                   .clock = options_.clock}) {}

ClusterMaster::~ClusterMaster() { Stop(); }

void ClusterMaster::SetAddress(std::string address) {
  address_ = std::move(address);
}

Status ClusterMaster::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_thread_.joinable()) {
    return FailedPreconditionError("ClusterMaster::Start called twice");
  }
  leader_thread_ = std::thread([this] { LeaderLoop(); });
  monitor_thread_ = std::thread([this] { MonitorLoop(); });
  return OkStatus();
}

void ClusterMaster::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  leader_cv_.notify_all();
  if (leader_thread_.joinable()) leader_thread_.join();
  if (monitor_thread_.joinable()) monitor_thread_.join();
  bool was_leader;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_leader = leader_;
  }
  StepDown("master stopping");
  // Wait for every job to stop (each stays resumable).
  std::map<int64_t, ActiveJob> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs) {
    if (job.waiter.joinable()) job.waiter.join();
  }
  if (was_leader) store_->ReleaseLeadership(owner_).IgnoreError();
  WakeFetchers();
}

bool ClusterMaster::is_leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

bool ClusterMaster::WaitForLeadership(int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return leader_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return leader_; });
}

void ClusterMaster::LeaderLoop() {
  int64_t last_renewed = 0;  // monotonic ms of the last successful claim
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto rec = store_->ClaimLeadership(owner_, address_, clock_->NowMs(),
                                       options_.leader_lease_ms, OwnerIsAlive);
    const int64_t now = clock_->MonoMs();
    lock.lock();
    const bool was_leader = leader_;
    const int64_t epoch = leader_record_.epoch;
    lock.unlock();
    if (!rec.ok()) {
      // The store is unreachable. Nobody else can take over meanwhile
      // (they claim through the same store) until our lease runs out.
      spdlog::warn("leadership claim failed: {}", rec.status().ToString());
      if (was_leader && now - last_renewed >= options_.leader_lease_ms) {
        StepDown("could not renew leadership: " + rec.status().ToString());
      }
    } else if (rec->owner == owner_) {
      last_renewed = now;
      if (was_leader && rec->epoch != epoch) {
        StepDown("leadership was lost and regained");
      }
      {
        std::lock_guard<std::mutex> g(mu_);
        leader_record_ = *rec;
      }
      if (!was_leader || rec->epoch != epoch) BecomeLeader(rec->epoch);
    } else {
      if (was_leader) {
        StepDown("leadership taken over by " + rec->owner + " (epoch " +
                 std::to_string(rec->epoch) + ")");
      }
      std::lock_guard<std::mutex> g(mu_);
      leader_record_ = *rec;
    }
    lock.lock();
    leader_cv_.wait_for(lock,
                        std::chrono::milliseconds(options_.leader_renew_ms),
                        [&] { return stop_; });
  }
}

void ClusterMaster::BecomeLeader(int64_t epoch) {
  spdlog::info("leading the cluster as {} (epoch {}) at {}", owner_, epoch,
               address_);
  // Jobs of an earlier term (all interrupted when it ended) must have
  // stopped before they start again.
  std::map<int64_t, ActiveJob> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(jobs_);
  }
  for (auto& [id, job] : old) {
    if (job.waiter.joinable()) job.waiter.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    leader_ = true;
    workers_.clear();  // workers register again with the new leader
    PublishWorkerCount(0);
  }
  leader_cv_.notify_all();
  // Continue every job that is not finished.
  auto jobs = store_->ListJobs(0);
  if (!jobs.ok()) {
    spdlog::error("cannot list jobs to resume: {}", jobs.status().ToString());
    return;
  }
  for (const JobRecord& job : *jobs) {
    if (!IsTerminal(job.state)) StartJob(job.id);
  }
}

void ClusterMaster::StepDown(const std::string& why) {
  std::vector<std::shared_ptr<Master>> masters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leader_ && jobs_.empty()) return;
    if (leader_) spdlog::warn("standing down: {}", why);
    leader_ = false;
    workers_.clear();
    PublishWorkerCount(0);
    for (auto& [id, job] : jobs_) masters.push_back(job.master);
  }
  for (auto& m : masters) m->Interrupt();
  WakeFetchers();
}

void ClusterMaster::StartJob(int64_t job_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leader_ || stop_ || jobs_.count(job_id) > 0) return;
    jobs_[job_id];  // reserved: nobody else starts it meanwhile
  }
  MasterOptions mo;
  mo.owner = owner_;
  mo.lease_ms = options_.job_lease_ms;
  mo.writer = options_.writer;
  mo.clock = options_.clock;
  mo.take_over = true;
  mo.durable_dispatch = true;
  mo.on_work = [this] { WakeFetchers(); };
  auto master = std::make_shared<Master>(store_, registry_, mo);
  Status s = master->Start(job_id, WorkerIds());
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.ok()) {
    spdlog::error("cannot run job {}: {}", job_id, s.ToString());
    jobs_.erase(job_id);
    return;
  }
  ActiveJob& job = jobs_[job_id];
  job.master = master;
  job.waiter = std::thread([this, master, job_id] {
    StatusOr<JobOutcome> out = master->Wait();
    if (!out.ok()) {
      spdlog::error("job {} stopped: {}", job_id, out.status().ToString());
    } else if (out->state == JobState::kRunning) {
      spdlog::info("job {} paused ({})", job_id, out->error);
    } else {
      spdlog::info("job {} {}{}{}", job_id, JobStateName(out->state),
                   out->error.empty() ? "" : ": ", out->error);
    }
    // A chain's next stage (made before this one succeeded; a new leader
    // would find it among the unfinished jobs).
    if (out.ok() && out->next_job != 0) StartJob(out->next_job);
    std::lock_guard<std::mutex> g(mu_);
    auto it = jobs_.find(job_id);
    if (it != jobs_.end()) it->second.done = true;
  });
  spdlog::info("running job {}", job_id);
  if (stop_ || !leader_) master->Interrupt();
  // Its tasks became ready before it was listed: wake the waiting fetches
  // now that they can see it.
  WakeFetchers();
}

void ClusterMaster::ReapJobs() {
  std::vector<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second.done) {
        finished.push_back(std::move(it->second.waiter));
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : finished) t.join();
}

void ClusterMaster::MonitorLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    leader_cv_.wait_for(lock, std::chrono::milliseconds(100),
                        [&] { return stop_; });
    if (stop_) break;
    // Workers silent past the timeout are dead.
    const int64_t now = clock_->MonoMs();
    std::vector<std::string> dead;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (now - it->second.last_seen_mono > options_.worker_timeout_ms) {
        dead.push_back(it->first);
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    if (!dead.empty()) PublishWorkerCount(workers_.size());
    std::vector<std::shared_ptr<Master>> masters;
    for (auto& [id, job] : jobs_) {
      if (job.master) masters.push_back(job.master);
    }
    lock.unlock();
    for (const std::string& w : dead) {
      const std::string why = "worker " + w + " lost: no contact for over " +
                              std::to_string(options_.worker_timeout_ms) +
                              " ms";
      spdlog::warn("{}", why);
      for (auto& m : masters) m->WorkerLost(w, why);
    }
    ReapJobs();
    lock.lock();
  }
}

Status ClusterMaster::CheckLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_) return OkStatus();
  if (stop_) return UnavailableError("master " + owner_ + " is stopping");
  std::string msg = "master " + owner_ + " is a standby";
  if (!leader_record_.owner.empty() && leader_record_.heartbeat_ms != 0) {
    msg += "; the leader is " + leader_record_.owner + " at " +
           leader_record_.address + " (epoch " +
           std::to_string(leader_record_.epoch) + ")";
  }
  return UnavailableError(msg);
}

Status ClusterMaster::Touch(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leader_) return UnavailableError("master " + owner_ + " is a standby");
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) {
    return FailedPreconditionError("worker " + worker_id +
                                   " is not registered with master " + owner_);
  }
  it->second.last_seen_mono = clock_->MonoMs();
  it->second.last_seen_ms = clock_->NowMs();
  return OkStatus();
}

std::vector<std::string> ClusterMaster::WorkerIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  ids.reserve(workers_.size());
  for (const auto& [id, w] : workers_) ids.push_back(id);
  return ids;
}

std::vector<std::shared_ptr<Master>> ClusterMaster::ActiveMasters() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Master>> out;
  out.reserve(jobs_.size());
  for (auto& [id, job] : jobs_) {
    if (job.master && !job.done) out.push_back(job.master);
  }
  // Take turns: each fetch starts at the next job, so one big job does not
  // starve the others.
  if (!out.empty()) {
    std::rotate(out.begin(), out.begin() + (fetch_turn_++ % out.size()),
                out.end());
  }
  return out;
}

std::shared_ptr<Master> ClusterMaster::FindMaster(int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.done) return nullptr;
  return it->second.master;
}

void ClusterMaster::WakeFetchers() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    ++wake_seq_;
  }
  wake_cv_.notify_all();
}

// ---- MasterService ----------------------------------------------------------

Status ClusterMaster::RegisterWorker(const WorkerInfo& info) {
  RETURN_IF_ERROR(CheckLeader());
  if (info.id.empty()) return InvalidArgumentError("worker id is empty");
  std::lock_guard<std::mutex> lock(mu_);
  KnownWorker& w = workers_[info.id];
  const bool fresh = w.info.id.empty();
  w.info = info;
  w.last_seen_mono = clock_->MonoMs();
  w.last_seen_ms = clock_->NowMs();
  if (fresh) {
    PublishWorkerCount(workers_.size());
    spdlog::info("worker {} registered ({} slots, pid {} on {})", info.id,
                 info.slots, info.pid, info.host);
  }
  return OkStatus();
}

StatusOr<JobDefinition> ClusterMaster::GetJobDefinition(int64_t job_id) {
  RETURN_IF_ERROR(CheckLeader());
  auto m = FindMaster(job_id);
  if (!m) {
    return NotFoundError(store_errors::JobName(job_id) +
                         " is not running on this master");
  }
  return m->GetJobDefinition(job_id);
}

StatusOr<FetchResponse> ClusterMaster::Fetch(const FetchRequest& req) {
  RETURN_IF_ERROR(Touch(req.worker_id));
  const int64_t deadline = clock_->MonoMs() + req.wait_ms;
  FetchRequest now_req = req;
  now_req.wait_ms = 0;
  FetchResponse resp;
  while (true) {
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      seq = wake_seq_;
    }
    for (auto& m : ActiveMasters()) {
      auto r = m->Fetch(now_req);
      if (!r.ok() || r->tasks.empty()) continue;
      // Declared dead while this call waited? Then nobody would ever fail
      // these attempts over: hand them back at once.
      if (Status alive = Touch(req.worker_id); !alive.ok()) {
        m->WorkerLost(req.worker_id,
                      "worker " + req.worker_id + " lost during dispatch");
        return alive;
      }
      resp.tasks = std::move(r->tasks);
      return resp;
    }
    // A worker waiting here is alive.
    RETURN_IF_ERROR(Touch(req.worker_id));
    const int64_t left = deadline - clock_->MonoMs();
    if (left <= 0) return resp;
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(
        lock, std::chrono::milliseconds(std::min(left, kFetchRecheckMs)),
        [&] { return wake_seq_ != seq; });
  }
}

Status ClusterMaster::Started(const std::string& worker_id,
                              const std::vector<TaskRef>& tasks) {
  RETURN_IF_ERROR(Touch(worker_id));
  std::map<int64_t, std::vector<TaskRef>> by_job;
  for (const TaskRef& t : tasks) by_job[t.job_id].push_back(t);
  for (auto& [job_id, refs] : by_job) {
    if (auto m = FindMaster(job_id)) m->Started(worker_id, refs).IgnoreError();
  }
  return OkStatus();
}

StatusOr<ReportResponse> ClusterMaster::Report(
    const std::string& worker_id, std::vector<TaskReport> reports) {
  RETURN_IF_ERROR(Touch(worker_id));
  ReportResponse resp;
  resp.accepted.assign(reports.size(), false);
  // Split by job, keeping each report's position for the answer.
  std::map<int64_t, std::vector<size_t>> by_job;
  for (size_t i = 0; i < reports.size(); ++i) {
    by_job[reports[i].ref.job_id].push_back(i);
  }
  for (auto& [job_id, idx] : by_job) {
    auto m = FindMaster(job_id);
    if (!m) continue;  // finished or not ours: the report is stale
    std::vector<TaskReport> part;
    part.reserve(idx.size());
    for (size_t i : idx) part.push_back(std::move(reports[i]));
    auto r = m->Report(worker_id, std::move(part));
    if (!r.ok()) return r.status();
    for (size_t k = 0; k < idx.size() && k < r->accepted.size(); ++k) {
      resp.accepted[idx[k]] = r->accepted[k];
    }
  }
  return resp;
}

StatusOr<HeartbeatResponse> ClusterMaster::Heartbeat(
    const HeartbeatRequest& req) {
  RETURN_IF_ERROR(Touch(req.worker_id));
  HeartbeatResponse resp;
  std::map<int64_t, std::vector<TaskRef>> by_job;
  for (const TaskRef& t : req.running) by_job[t.job_id].push_back(t);
  for (auto& [job_id, refs] : by_job) {
    auto m = FindMaster(job_id);
    if (!m) {
      // Not a job this master runs (finished, cancelled, or taken over):
      // the worker should stop those attempts.
      resp.cancel.insert(resp.cancel.end(), refs.begin(), refs.end());
      continue;
    }
    HeartbeatRequest part{req.worker_id, std::move(refs)};
    auto r = m->Heartbeat(part);
    if (!r.ok()) return r.status();
    resp.cancel.insert(resp.cancel.end(), r->cancel.begin(), r->cancel.end());
  }
  // The worker's shuffle data of finished jobs may go. A job driven here
  // is not finished (and a rerun one is forgotten as finished); any other
  // is looked up in the store once it is finished, then answered from
  // finished_jobs_. A job the store does not know, or cannot say, stays.
  constexpr size_t kMaxFinishedJobs = 100'000;
  for (int64_t job_id : req.shuffle_jobs) {
    if (FindMaster(job_id) != nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      finished_jobs_.erase(job_id);
      continue;
    }
    bool known;
    {
      std::lock_guard<std::mutex> lock(mu_);
      known = finished_jobs_.count(job_id) > 0;
    }
    if (!known) {
      auto job = store_->GetJob(job_id);
      if (!job.ok() || !IsTerminal(job->state)) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_jobs_.size() >= kMaxFinishedJobs) finished_jobs_.clear();
      finished_jobs_.insert(job_id);
    }
    resp.drop_jobs.push_back(job_id);
  }
  return resp;
}

// ---- ControlService ---------------------------------------------------------

StatusOr<SubmitJobResponse> ClusterMaster::SubmitJob(
    const SubmitJobRequest& req) {
  RETURN_IF_ERROR(CheckLeader());
  ASSIGN_OR_RETURN(SubmitJobResponse r, control_.SubmitJob(req));
  auto job = store_->GetJob(r.job_id);
  if (job.ok() && !IsTerminal(job->state)) StartJob(r.job_id);
  return r;
}

StatusOr<std::vector<JobStatus>> ClusterMaster::ListJobs(int64_t limit) {
  RETURN_IF_ERROR(CheckLeader());
  return control_.ListJobs(limit);
}

StatusOr<JobStatus> ClusterMaster::GetJob(int64_t job_id) {
  RETURN_IF_ERROR(CheckLeader());
  // A job running here answers from its master's memory (options.live):
  // counting a big job's rows on every poll of `submit --wait` would load
  // the store.
  return control_.GetJob(job_id);
}

StatusOr<std::vector<TaskRecord>> ClusterMaster::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  RETURN_IF_ERROR(CheckLeader());
  return control_.ListTasks(job_id, filter);
}

StatusOr<TaskRecord> ClusterMaster::GetTask(int64_t job_id, int64_t task_id) {
  RETURN_IF_ERROR(CheckLeader());
  return control_.GetTask(job_id, task_id);
}

StatusOr<std::vector<LogLine>> ClusterMaster::GetLogs(int64_t job_id,
                                                      int64_t task_id) {
  RETURN_IF_ERROR(CheckLeader());
  return control_.GetLogs(job_id, task_id);
}

Status ClusterMaster::CancelJob(int64_t job_id) {
  RETURN_IF_ERROR(CheckLeader());
  // The job's epoch moves on: its Master's next write (within a heartbeat
  // interval) is rejected, it rereads the job, sees `cancelled` and stops.
  return control_.CancelJob(job_id);
}

StatusOr<int64_t> ClusterMaster::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids) {
  RETURN_IF_ERROR(CheckLeader());
  ASSIGN_OR_RETURN(int64_t n,
                   control_.RerunTasks(job_id, failed_only, task_ids));
  if (n > 0) StartJob(job_id);
  return n;
}

StatusOr<ClusterStatus> ClusterMaster::GetCluster() {
  RETURN_IF_ERROR(CheckLeader());
  ClusterStatus c;
  std::vector<std::shared_ptr<Master>> masters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c.leader = leader_record_;
    for (const auto& [id, w] : workers_) {
      WorkerStatus s;
      s.id = id;
      s.host = w.info.host;
      s.pid = w.info.pid;
      s.slots = w.info.slots;
      s.last_seen_ms = w.last_seen_ms;
      s.data_address = w.info.data_address;
      c.workers.push_back(std::move(s));
    }
    for (const auto& [id, job] : jobs_) {
      if (job.master && !job.done) {
        c.active_jobs.push_back(id);
        masters.push_back(job.master);
      }
    }
  }
  for (WorkerStatus& w : c.workers) {
    for (auto& m : masters) {
      w.running += static_cast<int64_t>(m->InFlightCount(w.id));
    }
  }
  return c;
}

}  // namespace taskgrid
