#include "rpc/inproc/inproc_transport.h"

namespace taskgrid {
namespace {

// Forwards every call to the master.
class InProcClient : public MasterService {
 public:
  explicit InProcClient(MasterService* master) : master_(master) {}
  Status RegisterWorker(const WorkerInfo& info) override {
    return master_->RegisterWorker(info);
  }
  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override {
    return master_->GetJobDefinition(job_id);
  }
  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override {
    return master_->Fetch(req);
  }
  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>& tasks) override {
    return master_->Started(worker_id, tasks);
  }
  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override {
    return master_->Report(worker_id, std::move(reports));
  }
  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override {
    return master_->Heartbeat(req);
  }

 private:
  MasterService* const master_;  // outlives this client (Transport contract)
};

}  // namespace

Status InProcTransport::Serve(MasterService* master) {
  master_.store(master);
  return OkStatus();
}

StatusOr<std::unique_ptr<MasterService>> InProcTransport::Connect() {
  MasterService* m = master_.load();
  if (m == nullptr) {
    return FailedPreconditionError("in-process transport: no master serving");
  }
  return std::unique_ptr<MasterService>(std::make_unique<InProcClient>(m));
}

}  // namespace taskgrid
