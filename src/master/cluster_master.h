// ClusterMaster: the master of a cluster. Several may run on one store; one
// leads (StateStore::ClaimLeadership, a lease with an epoch that grows at
// every change of leader), the others stand by and answer every call with
// Unavailable naming the leader, so clients with a list of masters find it.
//
// The leader drives every job that is not finished, each with its own
// Master (master/master.h, the same code as embedded mode), and fronts them
// all as one MasterService for the workers: a fetch takes tasks from the
// jobs in turn, a report or heartbeat is split by job. It also answers the
// ControlService (submit, read, cancel, rerun).
//
// On taking over, the leader acquires each running job with take_over (the
// job's epoch grows, so writes of the old leader are rejected by the store
// itself) and continues it from the store: attempts that were in flight run
// again as attempt+1; succeeded tasks never run again.
//
// Workers: a worker must RegisterWorker first (FailedPrecondition
// otherwise, which the failover client answers by registering again). A
// worker silent for worker_timeout_ms is declared dead: its attempts in
// flight fail (Master::WorkerLost) and are retried or, out of attempts,
// dead — so a task that kills its worker every time ends dead, not looping.
//
// Thread-safety: every public method may be called from any thread.
#ifndef TASKGRID_MASTER_CLUSTER_MASTER_H_
#define TASKGRID_MASTER_CLUSTER_MASTER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "master/master.h"
#include "master/store_control.h"
#include "rpc/control.h"
#include "rpc/transport.h"

namespace taskgrid {

struct ClusterMasterOptions {
  std::string owner;    // unique per process; "" = ThisOwnerId()
  std::string address;  // where clients reach this master (shown to them)
  int64_t leader_lease_ms = 4'000;
  int64_t leader_renew_ms = 500;  // claim/renew period (standby: poll)
  int64_t worker_timeout_ms = 10'000;
  int64_t job_lease_ms = 10'000;
  StoreWriterOptions writer;
  Clock* clock = nullptr;  // nullptr = Clock::Real()
};

class ClusterMaster : public MasterService, public ControlService {
 public:
  // `store` and `registry` must outlive the master.
  ClusterMaster(StateStore* store, const ProcessorRegistry* registry,
                ClusterMasterOptions options);
  ~ClusterMaster() override;  // Stop()

  // Where clients reach this master, if only known once its server is up
  // (port 0). Call before Start().
  void SetAddress(std::string address);
  // Starts the leadership and worker-monitor threads.
  Status Start();
  // Stops every job (they stay resumable) and gives up leadership, so a
  // standby takes over at once.
  void Stop();
  bool is_leader() const;
  // Blocks until this master leads or `timeout_ms` passes.
  bool WaitForLeadership(int64_t timeout_ms) const;

  // MasterService (workers).
  Status RegisterWorker(const WorkerInfo& info) override;
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override;
  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override;
  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>& tasks) override;
  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override;
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override;

  // ControlService (people and programs).
  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& req) override;
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) override;
  StatusOr<JobStatus> GetJob(int64_t job_id) override;
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override;
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override;
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override;
  Status CancelJob(int64_t job_id) override;
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& task_ids) override;
  StatusOr<ClusterStatus> GetCluster() override;

 private:
  struct ActiveJob {
    std::shared_ptr<Master> master;
    std::thread waiter;  // runs Master::Wait()
    bool done = false;
  };
  struct KnownWorker {
    WorkerInfo info;
    int64_t last_seen_mono = 0;
    int64_t last_seen_ms = 0;
  };

  void LeaderLoop();
  void MonitorLoop();
  void BecomeLeader(int64_t epoch);
  void StepDown(const std::string& why);
  // Starts driving `job_id` unless already driven. Logs and skips a job
  // that cannot start.
  void StartJob(int64_t job_id);
  // Joins and forgets the jobs whose waiter has finished.
  void ReapJobs();
  // Unavailable unless this master leads.
  Status CheckLeader() const;
  // FailedPrecondition for a worker this master does not know; otherwise
  // notes that it is alive.
  Status Touch(const std::string& worker_id);
  // The registered workers' ids.
  std::vector<std::string> WorkerIds() const;
  std::vector<std::shared_ptr<Master>> ActiveMasters();
  std::shared_ptr<Master> FindMaster(int64_t job_id);
  void WakeFetchers();

  StateStore* const store_;
  const ProcessorRegistry* const registry_;
  const ClusterMasterOptions options_;
  Clock* const clock_;
  const std::string owner_;
  std::string address_;  // set before Start()
  StoreControl control_;

  mutable std::mutex mu_;
  mutable std::condition_variable leader_cv_;
  bool stop_ = false;                           // guarded by mu_
  bool leader_ = false;                         // guarded by mu_
  LeaderRecord leader_record_;                  // guarded by mu_
  std::map<int64_t, ActiveJob> jobs_;           // guarded by mu_
  std::map<std::string, KnownWorker> workers_;  // guarded by mu_
  uint64_t fetch_turn_ = 0;                     // guarded by mu_

  // Wakes waiting fetches when any job may have work; never held while
  // calling into a Master.
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wake_seq_ = 0;  // guarded by wake_mu_

  std::thread leader_thread_;
  std::thread monitor_thread_;

  // Heartbeat: jobs the store holds as finished, whose shuffle data workers
  // may remove (cleared when it grows past 100,000 ids).
  std::set<int64_t> finished_jobs_;  // guarded by mu_
};

}  // namespace taskgrid

#endif  // TASKGRID_MASTER_CLUSTER_MASTER_H_
