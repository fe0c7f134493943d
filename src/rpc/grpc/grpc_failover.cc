#include "rpc/grpc/grpc_failover.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "rpc/grpc/grpc_control.h"

namespace taskgrid {
namespace {

constexpr int64_t kFirstBackoffMs = 20;
constexpr int64_t kMaxBackoffMs = 1000;
// A master that was down and comes back (or a standby that was never
// reached) must be reachable again within about a second, not after gRPC's
// reconnect backoff of up to two minutes.
constexpr int64_t kMaxReconnectBackoffMs = 1000;

Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const StatusOr<T>& s) {
  return s.status();
}

// The failover loop, shared by both services. Service is MasterService or
// ControlService.
//
// Thread-safety: thread-safe. current_ is shared by all calls; clients_ is
// filled lazily under mu_, and a client once made is never replaced, so its
// pointer stays valid without the lock for the life of the Failover.
template <typename Service>
class Failover {
 public:
  using Factory =
      std::function<StatusOr<std::unique_ptr<Service>>(const std::string&)>;

  Failover(ClusterClientOptions options, Factory factory, Clock* clock,
           std::function<void(int64_t)> sleep)
      : options_(std::move(options)),
        factory_(std::move(factory)),
        clock_(clock),
        sleep_(std::move(sleep)),
        clients_(options_.addresses.size()) {}

  // Makes the client of the first address now, so a bad configuration (an
  // unreadable TLS file) shows up at connect time.
  Status Prime() { return Client(0).status(); }

  // Runs fn(Service*) (returning Status or StatusOr<T>) against the current
  // master, failing over as the header describes.
  template <typename Fn>
  std::invoke_result_t<Fn&, Service*> Call(const char* method, Fn&& fn) {
    using R = std::invoke_result_t<Fn&, Service*>;
    const size_t n = options_.addresses.size();
    const int64_t start = clock_->MonoMs();
    size_t i = current_.load(std::memory_order_relaxed) % n;
    std::vector<bool> tried(n, false);
    std::string tried_list;
    Status last;
    int64_t backoff = kFirstBackoffMs;
    size_t failed_in_round = 0;
    for (;;) {
      StatusOr<Service*> client = Client(i);
      if (!client.ok()) return R(client.status());
      R r = fn(*client);
      const Status s = StatusOf(r);
      const std::string& address = options_.addresses[i];
      if (s.code() == StatusCode::kUnauthenticated) {
        return R(UnauthenticatedError(
            "master at " + address +
            " rejected the cluster token: " + s.message()));
      }
      if (s.code() != StatusCode::kUnavailable) {
        current_.store(i, std::memory_order_relaxed);
        return r;
      }
      if (!tried[i]) {
        tried[i] = true;
        if (!tried_list.empty()) tried_list += ", ";
        tried_list += address;
      }
      last = s;
      i = (i + 1) % n;
      if (++failed_in_round < n) continue;
      // Every master was unavailable in this round.
      failed_in_round = 0;
      const int64_t elapsed = clock_->MonoMs() - start;
      if (elapsed >= options_.failover_timeout_ms) {
        return R(UnavailableError(std::string("no master available for ") +
                                  method + " after " + std::to_string(elapsed) +
                                  " ms; tried " + tried_list +
                                  "; last error: " + last.message()));
      }
      sleep_(std::min(backoff, options_.failover_timeout_ms - elapsed));
      backoff = std::min(backoff * 2, kMaxBackoffMs);
    }
  }

 private:
  StatusOr<Service*> Client(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    if (clients_[i] == nullptr) {
      StatusOr<std::unique_ptr<Service>> c = factory_(options_.addresses[i]);
      if (!c.ok()) return c.status();
      clients_[i] = *std::move(c);
    }
    return clients_[i].get();
  }

  // Constant after construction.
  const ClusterClientOptions options_;
  const Factory factory_;
  Clock* const clock_;
  const std::function<void(int64_t)> sleep_;

  std::atomic<size_t> current_{0};  // the master that answered last

  std::mutex mu_;
  std::vector<std::unique_ptr<Service>> clients_;  // guarded by mu_
};

class FailoverMasterService : public MasterService {
 public:
  explicit FailoverMasterService(std::unique_ptr<Failover<MasterService>> f)
      : failover_(std::move(f)) {}

  Status Prime() { return failover_->Prime(); }

  Status RegisterWorker(const WorkerInfo& info) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      worker_ = info;
    }
    return failover_->Call("RegisterWorker", [&](MasterService* m) {
      return m->RegisterWorker(info);
    });
  }

  StatusOr<JobDefinition> GetJobDefinition(int64_t job_id) override {
    return Registered("GetJobDefinition", [&](MasterService* m) {
      return m->GetJobDefinition(job_id);
    });
  }

  StatusOr<FetchResponse> Fetch(const FetchRequest& req) override {
    return Registered("Fetch", [&](MasterService* m) { return m->Fetch(req); });
  }

  Status Started(const std::string& worker_id,
                 const std::vector<TaskRef>& tasks) override {
    return Registered("Started", [&](MasterService* m) {
      return m->Started(worker_id, tasks);
    });
  }

  StatusOr<ReportResponse> Report(const std::string& worker_id,
                                  std::vector<TaskReport> reports) override {
    // Each try sends a copy: a retry needs the reports again.
    return Registered("Report", [&](MasterService* m) {
      return m->Report(worker_id, reports);
    });
  }

  StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& req) override {
    return Registered("Heartbeat",
                      [&](MasterService* m) { return m->Heartbeat(req); });
  }

 private:
  // Runs the call; on FailedPrecondition (the master does not know this
  // worker), registers again with the remembered info and retries once.
  template <typename Fn>
  std::invoke_result_t<Fn&, MasterService*> Registered(const char* method,
                                                       Fn&& fn) {
    using R = std::invoke_result_t<Fn&, MasterService*>;
    R r = failover_->Call(method, fn);
    const Status s = StatusOf(r);
    if (s.code() != StatusCode::kFailedPrecondition) return r;
    std::optional<WorkerInfo> info;
    {
      std::lock_guard<std::mutex> lock(mu_);
      info = worker_;
    }
    if (!info.has_value()) return r;  // never registered: nothing to redo
    Status reg = failover_->Call("RegisterWorker", [&](MasterService* m) {
      return m->RegisterWorker(*info);
    });
    if (!reg.ok()) {
      return R(reg.WithPrefix("registering worker " + info->id + " again (" +
                              method + " was refused: " + s.message() + ")"));
    }
    return failover_->Call(method, fn);
  }

  const std::unique_ptr<Failover<MasterService>> failover_;

  std::mutex mu_;
  std::optional<WorkerInfo> worker_;  // guarded by mu_
};

class FailoverControlService : public ControlService {
 public:
  explicit FailoverControlService(std::unique_ptr<Failover<ControlService>> f)
      : failover_(std::move(f)) {}

  Status Prime() { return failover_->Prime(); }

  StatusOr<SubmitJobResponse> SubmitJob(const SubmitJobRequest& req) override {
    return failover_->Call(
        "SubmitJob", [&](ControlService* c) { return c->SubmitJob(req); });
  }
  StatusOr<std::vector<JobStatus>> ListJobs(int64_t limit) override {
    return failover_->Call(
        "ListJobs", [&](ControlService* c) { return c->ListJobs(limit); });
  }
  StatusOr<JobStatus> GetJob(int64_t job_id) override {
    return failover_->Call(
        "GetJob", [&](ControlService* c) { return c->GetJob(job_id); });
  }
  StatusOr<std::vector<TaskRecord>> ListTasks(
      int64_t job_id, const TaskFilter& filter) override {
    return failover_->Call("ListTasks", [&](ControlService* c) {
      return c->ListTasks(job_id, filter);
    });
  }
  StatusOr<TaskRecord> GetTask(int64_t job_id, int64_t task_id) override {
    return failover_->Call("GetTask", [&](ControlService* c) {
      return c->GetTask(job_id, task_id);
    });
  }
  StatusOr<std::vector<LogLine>> GetLogs(int64_t job_id,
                                         int64_t task_id) override {
    return failover_->Call("GetLogs", [&](ControlService* c) {
      return c->GetLogs(job_id, task_id);
    });
  }
  Status CancelJob(int64_t job_id) override {
    return failover_->Call(
        "CancelJob", [&](ControlService* c) { return c->CancelJob(job_id); });
  }
  StatusOr<int64_t> RerunTasks(int64_t job_id, bool failed_only,
                               const std::vector<int64_t>& task_ids) override {
    return failover_->Call("RerunTasks", [&](ControlService* c) {
      return c->RerunTasks(job_id, failed_only, task_ids);
    });
  }
  StatusOr<ClusterStatus> GetCluster() override {
    return failover_->Call("GetCluster",
                           [&](ControlService* c) { return c->GetCluster(); });
  }

 private:
  const std::unique_ptr<Failover<ControlService>> failover_;
};

Status CheckOptions(const ClusterClientOptions& o) {
  if (o.addresses.empty()) {
    return InvalidArgumentError("cluster client: no master addresses");
  }
  for (const auto& a : o.addresses) {
    if (a.empty()) {
      return InvalidArgumentError("cluster client: an empty master address");
    }
  }
  if (o.token.empty()) {
    return InvalidArgumentError("cluster client: a cluster token is required");
  }
  if (o.call_timeout_ms <= 0 || o.fetch_margin_ms < 0 ||
      o.failover_timeout_ms < 0) {
    return InvalidArgumentError(
        "cluster client: call_timeout_ms must be > 0, fetch_margin_ms and "
        "failover_timeout_ms >= 0");
  }
  return OkStatus();
}

GrpcClientOptions ClientOptionsFor(const ClusterClientOptions& o,
                                   const std::string& address) {
  GrpcClientOptions c;
  c.address = address;
  c.token = o.token;
  c.tls = o.tls;
  c.call_timeout_ms = o.call_timeout_ms;
  c.fetch_margin_ms = o.fetch_margin_ms;
  c.max_reconnect_backoff_ms = kMaxReconnectBackoffMs;
  return c;
}

Clock* ClockOf(const FailoverHooks& hooks) {
  return hooks.clock != nullptr ? hooks.clock : Clock::Real();
}

std::function<void(int64_t)> SleepOf(const FailoverHooks& hooks) {
  if (hooks.sleep) return hooks.sleep;
  return [](int64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  };
}

// "[::1]:7700" / "host:7700" → OK; otherwise why not.
Status CheckAddress(const std::string& a) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgumentError("master address '" + a + "': " + why +
                                " (want host:port)");
  };
  const size_t colon = a.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  const std::string host = a.substr(0, colon);
  const std::string port = a.substr(colon + 1);
  if (host.empty()) return bad("no host");
  if (host.find(':') != std::string::npos &&
      !(host.size() > 2 && host.front() == '[' && host.back() == ']')) {
    return bad("an IPv6 host needs brackets, as [::1]:7700");
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return bad("no port");
  }
  const int p = std::stoi(port);
  if (p < 1 || p > 65535) return bad("port out of range 1..65535");
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<std::string>> ParseMasterList(const std::string& list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    size_t b = pos;
    size_t e = comma;
    while (b < e && std::isspace(static_cast<unsigned char>(list[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(list[e - 1]))) --e;
    pos = comma + 1;
    if (b == e) continue;
    std::string entry = list.substr(b, e - b);
    if (Status s = CheckAddress(entry); !s.ok()) return s;
    if (std::find(out.begin(), out.end(), entry) == out.end()) {
      out.push_back(std::move(entry));
    }
  }
  if (out.empty()) {
    return InvalidArgumentError("master list '" + list +
                                "': no addresses (want host:port,...)");
  }
  return out;
}

StatusOr<std::unique_ptr<MasterService>> ConnectMasterService(
    const ClusterClientOptions& options, const FailoverHooks& hooks) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  Failover<MasterService>::Factory factory = hooks.master_factory;
  if (!factory) {
    factory = [options](const std::string& address)
        -> StatusOr<std::unique_ptr<MasterService>> {
      auto c = GrpcMasterClient::Create(ClientOptionsFor(options, address));
      if (!c.ok()) return c.status();
      return std::unique_ptr<MasterService>(*std::move(c));
    };
  }
  auto service = std::make_unique<FailoverMasterService>(
      std::make_unique<Failover<MasterService>>(
          options, std::move(factory), ClockOf(hooks), SleepOf(hooks)));
  if (Status s = service->Prime(); !s.ok()) return s;
  return std::unique_ptr<MasterService>(std::move(service));
}

StatusOr<std::unique_ptr<ControlService>> ConnectControlService(
    const ClusterClientOptions& options, const FailoverHooks& hooks) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  Failover<ControlService>::Factory factory = hooks.control_factory;
  if (!factory) {
    factory = [options](const std::string& address)
        -> StatusOr<std::unique_ptr<ControlService>> {
      auto c = GrpcControlClient::Create(ClientOptionsFor(options, address));
      if (!c.ok()) return c.status();
      return std::unique_ptr<ControlService>(*std::move(c));
    };
  }
  auto service = std::make_unique<FailoverControlService>(
      std::make_unique<Failover<ControlService>>(
          options, std::move(factory), ClockOf(hooks), SleepOf(hooks)));
  if (Status s = service->Prime(); !s.ok()) return s;
  return std::unique_ptr<ControlService>(std::move(service));
}

}  // namespace taskgrid
