#include "cli/local_runner.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "core/owner.h"
#include "rpc/inproc/inproc_transport.h"
#include "worker/worker.h"

namespace taskgrid {

LocalRunner::LocalRunner(StateStore* store, const ProcessorRegistry* registry,
                         LocalRunnerOptions options)
    : store_(store), registry_(registry), options_(std::move(options)) {
  MasterOptions mo = options_.master;
  if (mo.owner.empty()) mo.owner = ThisOwnerId();
  master_ = std::make_unique<Master>(store_, registry_, mo);
}

LocalRunner::~LocalRunner() = default;

StatusOr<JobOutcome> LocalRunner::Run(int64_t job_id) {
  std::vector<std::string> ids;
  for (int i = 0; i < options_.workers; ++i) {
    ids.push_back("local-" + std::to_string(i));
  }
  // One data directory for all the workers of this process.
  const std::string data_dir =
      !options_.data_dir.empty()
          ? options_.data_dir
          : (std::filesystem::temp_directory_path() /
             ("taskgrid-data-" + std::to_string(getpid())))
                .string();
  Status s = master_->Start(job_id, ids);
  if (!s.ok()) return s;
  InProcTransport transport;
  s = transport.Serve(master_.get());
  if (!s.ok()) return s;
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& id : ids) {
    auto conn = transport.Connect();
    if (!conn.ok()) return conn.status();
    WorkerOptions wo;
    wo.id = id;
    wo.slots = 1;
    wo.clock = options_.master.clock;
    wo.data_dir = data_dir;
    workers.push_back(
        std::make_unique<Worker>(wo, *std::move(conn), registry_));
    s = workers.back()->Start();
    if (!s.ok()) return s;
  }
  StatusOr<JobOutcome> outcome = master_->Wait();
  // Wait() has set the master's phase to done or stopping: workers see
  // shutdown on their next fetch.
  for (auto& w : workers) w->Stop();
  for (auto& w : workers) w->Join();
  if (outcome.ok() && IsTerminal(outcome->state)) {
    // Shuffle map outputs are only needed until the job is done.
    std::error_code ec;
    std::filesystem::remove_all(
        data_dir + "/shuffle/job-" + std::to_string(job_id), ec);
  }
  return outcome;
}

void LocalRunner::Interrupt() { master_->Interrupt(); }

Progress LocalRunner::progress() const { return master_->progress(); }

}  // namespace taskgrid
