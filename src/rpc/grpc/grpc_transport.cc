#include "rpc/grpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_control.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/proto/taskgrid.grpc.pb.h"

namespace taskgrid {

using grpc_internal::AuthorizeCall;
using grpc_internal::DeadlineIn;
using grpc_internal::kMaxMessageBytes;

// ---- server -----------------------------------------------------------------

class GrpcMasterServer::Service final : public pb::Master::Service {
 public:
  Service(MasterService* master, std::string token)
      : master_(master), token_(std::move(token)) {}

  grpc::Status RegisterWorker(grpc::ServerContext* ctx,
                              const pb::RegisterWorkerRequest* req,
                              pb::Empty*) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    return ToGrpcStatus(master_->RegisterWorker(FromProto(req->info())));
  }

  grpc::Status GetJobDefinition(grpc::ServerContext* ctx,
                                const pb::GetJobDefinitionRequest* req,
                                pb::JobDefinition* resp) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    StatusOr<JobDefinition> r = master_->GetJobDefinition(req->job_id());
    if (!r.ok()) return ToGrpcStatus(r.status());
    ToProto(*r, resp);
    return grpc::Status::OK;
  }

  grpc::Status Fetch(grpc::ServerContext* ctx, const pb::FetchRequest* req,
                     pb::FetchResponse* resp) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    StatusOr<FetchResponse> r = master_->Fetch(FromProto(*req));
    if (!r.ok()) return ToGrpcStatus(r.status());
    ToProto(*r, resp);
    return grpc::Status::OK;
  }

  grpc::Status Started(grpc::ServerContext* ctx, const pb::StartedRequest* req,
                       pb::Empty*) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    return ToGrpcStatus(
        master_->Started(req->worker_id(), FromProto(req->tasks())));
  }

  grpc::Status Report(grpc::ServerContext* ctx, const pb::ReportRequest* req,
                      pb::ReportResponse* resp) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    std::vector<TaskReport> reports;
    reports.reserve(req->reports_size());
    for (const auto& r : req->reports()) reports.push_back(FromProto(r));
    StatusOr<ReportResponse> r =
        master_->Report(req->worker_id(), std::move(reports));
    if (!r.ok()) return ToGrpcStatus(r.status());
    ToProto(*r, resp);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* ctx,
                         const pb::HeartbeatRequest* req,
                         pb::HeartbeatResponse* resp) override {
    if (grpc::Status a = Authorize(*ctx); !a.ok()) return a;
    StatusOr<HeartbeatResponse> r = master_->Heartbeat(FromProto(*req));
    if (!r.ok()) return ToGrpcStatus(r.status());
    ToProto(*r, resp);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Authorize(const grpc::ServerContext& ctx) const {
    return AuthorizeCall(ctx, token_);
  }

  MasterService* const master_;  // outlives the server
  const std::string token_;
};

StatusOr<std::unique_ptr<GrpcMasterServer>> GrpcMasterServer::Start(
    MasterService* master, const std::string& address, const std::string& token,
    const GrpcTlsOptions& tls, ControlService* control) {
  if (master == nullptr) return InvalidArgumentError("gRPC server: no master");
  if (token.empty()) {
    return InvalidArgumentError(
        "gRPC server on " + address +
        ": a cluster token is required (calls without it are rejected)");
  }
  auto creds = grpc_internal::ServerCredentialsFor(address, tls);
  if (!creds.ok()) return creds.status();

  auto service = std::make_unique<Service>(master, token);
  std::unique_ptr<grpc::Service> control_service;
  if (control != nullptr) {
    control_service = NewGrpcControlService(control, token);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, *creds, &port);
  builder.RegisterService(service.get());
  if (control_service != nullptr) {
    builder.RegisterService(control_service.get());
  }
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return FailedPreconditionError("gRPC server: cannot listen on " + address +
                                   " (bad address, or port in use)");
  }
  return std::unique_ptr<GrpcMasterServer>(new GrpcMasterServer(
      std::move(service), std::move(control_service), std::move(server), port));
}

GrpcMasterServer::GrpcMasterServer(
    std::unique_ptr<Service> service,
    std::unique_ptr<grpc::Service> control_service,
    std::unique_ptr<grpc::Server> server, int port)
    : service_(std::move(service)),
      control_service_(std::move(control_service)),
      server_(std::move(server)),
      port_(port) {}

GrpcMasterServer::~GrpcMasterServer() { Shutdown(); }

void GrpcMasterServer::Shutdown(int64_t grace_ms) {
  std::call_once(shutdown_once_, [&] {
    server_->Shutdown(DeadlineIn(grace_ms));
    server_->Wait();
  });
}

// ---- client -----------------------------------------------------------------

class GrpcMasterClient::Impl {
 public:
  Impl(GrpcClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        bearer_(std::string(grpc_internal::kBearer) + options_.token),
        stub_(pb::Master::NewStub(channel)) {}

  // Runs one call with the token and a deadline of `timeout_ms`; turns
  // transport failures into Unavailable naming the master.
  template <typename CallFn>
  Status Call(const char* method, int64_t timeout_ms, CallFn&& fn) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", bearer_);
    ctx.set_deadline(DeadlineIn(timeout_ms));
    return grpc_internal::ClientCallStatus(fn(&ctx), options_.address, method,
                                           timeout_ms);
  }

  const GrpcClientOptions options_;
  const std::string bearer_;
  const std::unique_ptr<pb::Master::Stub> stub_;
};

StatusOr<std::unique_ptr<GrpcMasterClient>> GrpcMasterClient::Create(
    GrpcClientOptions options) {
  if (options.address.empty()) {
    return InvalidArgumentError("gRPC client: no master address");
  }
  if (options.token.empty()) {
    return InvalidArgumentError("gRPC client for " + options.address +
                                ": a cluster token is required");
  }
  auto channel = grpc_internal::MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<GrpcMasterClient>(new GrpcMasterClient(
      std::make_unique<Impl>(std::move(options), *std::move(channel))));
}

GrpcMasterClient::GrpcMasterClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

GrpcMasterClient::~GrpcMasterClient() = default;

Status GrpcMasterClient::RegisterWorker(const WorkerInfo& info) {
  pb::RegisterWorkerRequest req;
  ToProto(info, req.mutable_info());
  pb::Empty resp;
  return impl_->Call("RegisterWorker", impl_->options_.call_timeout_ms,
                     [&](grpc::ClientContext* c) {
                       return impl_->stub_->RegisterWorker(c, req, &resp);
                     });
}

StatusOr<JobDefinition> GrpcMasterClient::GetJobDefinition(int64_t job_id) {
  pb::GetJobDefinitionRequest req;
  req.set_job_id(job_id);
  pb::JobDefinition resp;
  Status s = impl_->Call("GetJobDefinition", impl_->options_.call_timeout_ms,
                         [&](grpc::ClientContext* c) {
                           return impl_->stub_->GetJobDefinition(c, req, &resp);
                         });
  if (!s.ok()) return s;
  return FromProto(resp);
}

StatusOr<FetchResponse> GrpcMasterClient::Fetch(const FetchRequest& req) {
  pb::FetchRequest preq;
  ToProto(req, &preq);
  pb::FetchResponse resp;
  const int64_t wait = req.wait_ms > 0 ? req.wait_ms : 0;
  Status s = impl_->Call("Fetch", wait + impl_->options_.fetch_margin_ms,
                         [&](grpc::ClientContext* c) {
                           return impl_->stub_->Fetch(c, preq, &resp);
                         });
  if (!s.ok()) return s;
  return FromProto(resp);
}

Status GrpcMasterClient::Started(const std::string& worker_id,
                                 const std::vector<TaskRef>& tasks) {
  pb::StartedRequest req;
  req.set_worker_id(worker_id);
  for (const auto& t : tasks) ToProto(t, req.add_tasks());
  pb::Empty resp;
  return impl_->Call("Started", impl_->options_.call_timeout_ms,
                     [&](grpc::ClientContext* c) {
                       return impl_->stub_->Started(c, req, &resp);
                     });
}

StatusOr<ReportResponse> GrpcMasterClient::Report(
    const std::string& worker_id, std::vector<TaskReport> reports) {
  pb::ReportRequest req;
  req.set_worker_id(worker_id);
  req.mutable_reports()->Reserve(static_cast<int>(reports.size()));
  for (const auto& r : reports) ToProto(r, req.add_reports());
  pb::ReportResponse resp;
  Status s = impl_->Call("Report", impl_->options_.call_timeout_ms,
                         [&](grpc::ClientContext* c) {
                           return impl_->stub_->Report(c, req, &resp);
                         });
  if (!s.ok()) return s;
  return FromProto(resp);
}

StatusOr<HeartbeatResponse> GrpcMasterClient::Heartbeat(
    const HeartbeatRequest& req) {
  pb::HeartbeatRequest preq;
  ToProto(req, &preq);
  pb::HeartbeatResponse resp;
  Status s = impl_->Call("Heartbeat", impl_->options_.call_timeout_ms,
                         [&](grpc::ClientContext* c) {
                           return impl_->stub_->Heartbeat(c, preq, &resp);
                         });
  if (!s.ok()) return s;
  return FromProto(resp);
}

// ---- transport --------------------------------------------------------------

namespace {

// "host:port" → the address a local client dials to reach a server that
// listens on `listen` and bound `port`: wildcard hosts become loopback.
std::string LoopbackFor(const std::string& listen, int port) {
  std::string host = "127.0.0.1";
  const size_t colon = listen.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    std::string h = listen.substr(0, colon);
    if (h == "[::]") {
      host = "[::1]";
    } else if (h != "0.0.0.0" && h != "*") {
      host = h;
    }
  }
  return host + ":" + std::to_string(port);
}

}  // namespace

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : options_(std::move(options)) {}

GrpcTransport::~GrpcTransport() = default;

Status GrpcTransport::Serve(MasterService* master) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_ != nullptr) {
    return FailedPreconditionError("gRPC transport: already serving on port " +
                                   std::to_string(server_->port()));
  }
  auto server = GrpcMasterServer::Start(master, options_.listen_address,
                                        options_.token, options_.tls);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  return OkStatus();
}

StatusOr<std::unique_ptr<MasterService>> GrpcTransport::Connect() {
  GrpcClientOptions o;
  o.address = options_.master_address;
  if (o.address.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_ == nullptr) {
      return FailedPreconditionError(
          "gRPC transport: no master address and not serving");
    }
    o.address = LoopbackFor(options_.listen_address, server_->port());
  }
  o.token = options_.token;
  o.tls = options_.tls;
  o.call_timeout_ms = options_.call_timeout_ms;
  o.fetch_margin_ms = options_.fetch_margin_ms;
  auto client = GrpcMasterClient::Create(std::move(o));
  if (!client.ok()) return client.status();
  return std::unique_ptr<MasterService>(*std::move(client));
}

int GrpcTransport::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ == nullptr ? 0 : server_->port();
}

}  // namespace taskgrid
