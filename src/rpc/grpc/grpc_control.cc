#include "rpc/grpc/grpc_control.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_control_convert.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/proto/taskgrid.grpc.pb.h"

namespace taskgrid {
namespace {

using grpc_internal::AuthorizeCall;

// ---- server -----------------------------------------------------------------

class ControlHandler final : public pb::Control::Service {
 public:
  ControlHandler(ControlService* control, std::string token)
      : control_(control), token_(std::move(token)) {}

  grpc::Status SubmitJob(grpc::ServerContext* ctx,
                         const pb::SubmitJobRequest* req,
                         pb::SubmitJobResponse* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    return Answer(control_->SubmitJob(FromProto(*req)), resp);
  }

  grpc::Status ListJobs(grpc::ServerContext* ctx,
                        const pb::ListJobsRequest* req,
                        pb::ListJobsResponse* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    StatusOr<std::vector<JobStatus>> r = control_->ListJobs(req->limit());
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->mutable_jobs()->Reserve(static_cast<int>(r->size()));
    for (const auto& j : *r) ToProto(j, resp->add_jobs());
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext* ctx, const pb::GetJobRequest* req,
                      pb::JobStatus* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    return Answer(control_->GetJob(req->job_id()), resp);
  }

  grpc::Status ListTasks(grpc::ServerContext* ctx,
                         const pb::ListTasksRequest* req,
                         pb::ListTasksResponse* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    StatusOr<TaskFilter> filter = FromProto(req->filter());
    if (!filter.ok()) return ToGrpcStatus(filter.status());
    StatusOr<std::vector<TaskRecord>> r =
        control_->ListTasks(req->job_id(), *filter);
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->mutable_tasks()->Reserve(static_cast<int>(r->size()));
    for (const auto& t : *r) ToProto(t, resp->add_tasks());
    return grpc::Status::OK;
  }

  grpc::Status GetTask(grpc::ServerContext* ctx, const pb::GetTaskRequest* req,
                       pb::TaskRecord* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    return Answer(control_->GetTask(req->job_id(), req->task_id()), resp);
  }

  grpc::Status GetLogs(grpc::ServerContext* ctx, const pb::GetLogsRequest* req,
                       pb::GetLogsResponse* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    StatusOr<std::vector<LogLine>> r =
        control_->GetLogs(req->job_id(), req->task_id());
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->mutable_lines()->Reserve(static_cast<int>(r->size()));
    for (const auto& l : *r) ToProto(l, resp->add_lines());
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext* ctx,
                         const pb::CancelJobRequest* req, pb::Empty*) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    return ToGrpcStatus(control_->CancelJob(req->job_id()));
  }

  grpc::Status RerunTasks(grpc::ServerContext* ctx,
                          const pb::RerunTasksRequest* req,
                          pb::RerunTasksResponse* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    const std::vector<int64_t> ids(req->task_ids().begin(),
                                   req->task_ids().end());
    StatusOr<int64_t> r =
        control_->RerunTasks(req->job_id(), req->failed_only(), ids);
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->set_rerun(*r);
    return grpc::Status::OK;
  }

  grpc::Status GetCluster(grpc::ServerContext* ctx,
                          const pb::GetClusterRequest*,
                          pb::ClusterStatus* resp) override {
    if (grpc::Status a = AuthorizeCall(*ctx, token_); !a.ok()) return a;
    return Answer(control_->GetCluster(), resp);
  }

 private:
  template <typename T, typename P>
  static grpc::Status Answer(const StatusOr<T>& r, P* resp) {
    if (!r.ok()) return ToGrpcStatus(r.status());
    ToProto(*r, resp);
    return grpc::Status::OK;
  }

  ControlService* const control_;  // outlives the handler
  const std::string token_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewGrpcControlService(ControlService* control,
                                                     std::string token) {
  return std::make_unique<ControlHandler>(control, std::move(token));
}

// ---- client -----------------------------------------------------------------

class GrpcControlClient::Impl {
 public:
  Impl(GrpcClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        bearer_(std::string(grpc_internal::kBearer) + options_.token),
        stub_(pb::Control::NewStub(channel)) {}

  // Runs one call with the token and the call deadline; transport failures
  // become Unavailable naming the master.
  template <typename CallFn>
  Status Call(const char* method, CallFn&& fn) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", bearer_);
    ctx.set_deadline(grpc_internal::DeadlineIn(options_.call_timeout_ms));
    return grpc_internal::ClientCallStatus(fn(&ctx), options_.address, method,
                                           options_.call_timeout_ms);
  }

  // A bad state in the master's answer, named with the master and method.
  Status BadAnswer(const char* method, const Status& s) const {
    return s.WithPrefix("master at " + options_.address + ": " + method +
                        ": bad answer");
  }

  const GrpcClientOptions options_;
  const std::string bearer_;
  const std::unique_ptr<pb::Control::Stub> stub_;
};

StatusOr<std::unique_ptr<GrpcControlClient>> GrpcControlClient::Create(
    GrpcClientOptions options) {
  if (options.address.empty()) {
    return InvalidArgumentError("gRPC control client: no master address");
  }
  if (options.token.empty()) {
    return InvalidArgumentError("gRPC control client for " + options.address +
                                ": a cluster token is required");
  }
  auto channel = grpc_internal::MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<GrpcControlClient>(new GrpcControlClient(
      std::make_unique<Impl>(std::move(options), *std::move(channel))));
}

GrpcControlClient::GrpcControlClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

GrpcControlClient::~GrpcControlClient() = default;

StatusOr<SubmitJobResponse> GrpcControlClient::SubmitJob(
    const SubmitJobRequest& req) {
  pb::SubmitJobRequest preq;
  ToProto(req, &preq);
  pb::SubmitJobResponse resp;
  Status s = impl_->Call("SubmitJob", [&](grpc::ClientContext* c) {
    return impl_->stub_->SubmitJob(c, preq, &resp);
  });
  if (!s.ok()) return s;
  return FromProto(resp);
}

StatusOr<std::vector<JobStatus>> GrpcControlClient::ListJobs(int64_t limit) {
  pb::ListJobsRequest req;
  req.set_limit(limit);
  pb::ListJobsResponse resp;
  Status s = impl_->Call("ListJobs", [&](grpc::ClientContext* c) {
    return impl_->stub_->ListJobs(c, req, &resp);
  });
  if (!s.ok()) return s;
  std::vector<JobStatus> out;
  out.reserve(resp.jobs_size());
  for (const auto& pj : resp.jobs()) {
    StatusOr<JobStatus> j = FromProto(pj);
    if (!j.ok()) return impl_->BadAnswer("ListJobs", j.status());
    out.push_back(*std::move(j));
  }
  return out;
}

StatusOr<JobStatus> GrpcControlClient::GetJob(int64_t job_id) {
  pb::GetJobRequest req;
  req.set_job_id(job_id);
  pb::JobStatus resp;
  Status s = impl_->Call("GetJob", [&](grpc::ClientContext* c) {
    return impl_->stub_->GetJob(c, req, &resp);
  });
  if (!s.ok()) return s;
  StatusOr<JobStatus> j = FromProto(resp);
  if (!j.ok()) return impl_->BadAnswer("GetJob", j.status());
  return j;
}

StatusOr<std::vector<TaskRecord>> GrpcControlClient::ListTasks(
    int64_t job_id, const TaskFilter& filter) {
  pb::ListTasksRequest req;
  req.set_job_id(job_id);
  ToProto(filter, req.mutable_filter());
  pb::ListTasksResponse resp;
  Status s = impl_->Call("ListTasks", [&](grpc::ClientContext* c) {
    return impl_->stub_->ListTasks(c, req, &resp);
  });
  if (!s.ok()) return s;
  std::vector<TaskRecord> out;
  out.reserve(resp.tasks_size());
  for (const auto& pt : resp.tasks()) {
    StatusOr<TaskRecord> t = FromProto(pt);
    if (!t.ok()) return impl_->BadAnswer("ListTasks", t.status());
    out.push_back(*std::move(t));
  }
  return out;
}

StatusOr<TaskRecord> GrpcControlClient::GetTask(int64_t job_id,
                                                int64_t task_id) {
  pb::GetTaskRequest req;
  req.set_job_id(job_id);
  req.set_task_id(task_id);
  pb::TaskRecord resp;
  Status s = impl_->Call("GetTask", [&](grpc::ClientContext* c) {
    return impl_->stub_->GetTask(c, req, &resp);
  });
  if (!s.ok()) return s;
  StatusOr<TaskRecord> t = FromProto(resp);
  if (!t.ok()) return impl_->BadAnswer("GetTask", t.status());
  return t;
}

StatusOr<std::vector<LogLine>> GrpcControlClient::GetLogs(int64_t job_id,
                                                          int64_t task_id) {
  pb::GetLogsRequest req;
  req.set_job_id(job_id);
  req.set_task_id(task_id);
  pb::GetLogsResponse resp;
  Status s = impl_->Call("GetLogs", [&](grpc::ClientContext* c) {
    return impl_->stub_->GetLogs(c, req, &resp);
  });
  if (!s.ok()) return s;
  std::vector<LogLine> out;
  out.reserve(resp.lines_size());
  for (const auto& pl : resp.lines()) out.push_back(FromProto(pl));
  return out;
}

Status GrpcControlClient::CancelJob(int64_t job_id) {
  pb::CancelJobRequest req;
  req.set_job_id(job_id);
  pb::Empty resp;
  return impl_->Call("CancelJob", [&](grpc::ClientContext* c) {
    return impl_->stub_->CancelJob(c, req, &resp);
  });
}

StatusOr<int64_t> GrpcControlClient::RerunTasks(
    int64_t job_id, bool failed_only, const std::vector<int64_t>& task_ids) {
  pb::RerunTasksRequest req;
  req.set_job_id(job_id);
  req.set_failed_only(failed_only);
  req.mutable_task_ids()->Reserve(static_cast<int>(task_ids.size()));
  for (int64_t id : task_ids) req.add_task_ids(id);
  pb::RerunTasksResponse resp;
  Status s = impl_->Call("RerunTasks", [&](grpc::ClientContext* c) {
    return impl_->stub_->RerunTasks(c, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.rerun();
}

StatusOr<ClusterStatus> GrpcControlClient::GetCluster() {
  pb::GetClusterRequest req;
  pb::ClusterStatus resp;
  Status s = impl_->Call("GetCluster", [&](grpc::ClientContext* c) {
    return impl_->stub_->GetCluster(c, req, &resp);
  });
  if (!s.ok()) return s;
  return FromProto(resp);
}

}  // namespace taskgrid
