#include "worker/data_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/status_macros.h"
#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/proto/data.grpc.pb.h"

namespace taskgrid {
namespace {

constexpr std::string_view kScheme = "tg://";

// The Status of a data call: transport failures become Unavailable naming
// the service; the server's own answers pass unchanged.
Status DataCallStatus(const grpc::Status& s, const std::string& address,
                      const char* method, int64_t timeout_ms) {
  if (s.ok()) return OkStatus();
  const std::string where = "data service at " + address + ": ";
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return UnavailableError(where + "unreachable: " + s.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return UnavailableError(where + method + ": no answer within " +
                              std::to_string(timeout_ms) + " ms");
    default:
      return FromGrpcStatus(s);
  }
}

Status CheckArgs(const std::string& address, const DataClientOptions& o) {
  if (address.empty()) {
    return InvalidArgumentError("data client: no data service address");
  }
  if (o.token.empty()) {
    return InvalidArgumentError("data client for " + address +
                                ": a cluster token is required");
  }
  return OkStatus();
}

StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(
    const std::string& address, const DataClientOptions& o) {
  RETURN_IF_ERROR(CheckArgs(address, o));
  GrpcClientOptions co;
  co.address = address;
  co.token = o.token;
  co.tls = o.tls;
  co.max_reconnect_backoff_ms = 1000;
  return grpc_internal::MakeClientChannel(co);
}

std::string Bearer(const DataClientOptions& o) {
  return std::string(grpc_internal::kBearer) + o.token;
}

// A Read call in progress: hands out the chunks as they arrive.
class RemoteFileStream final : public ReadStream {
 public:
  RemoteFileStream(std::string name, std::string address,
                   std::shared_ptr<grpc::Channel> channel,
                   const DataClientOptions& o, uint64_t offset, int64_t length)
      : name_(std::move(name)),
        address_(std::move(address)),
        channel_(std::move(channel)),
        stub_(pb::Data::NewStub(channel_)),
        pos_(offset),
        remaining_(length < 0 ? UINT64_MAX : static_cast<uint64_t>(length)) {
    ctx_.AddMetadata("authorization", Bearer(o));
  }
  ~RemoteFileStream() override {
    if (reader_ != nullptr && !finished_) {
      ctx_.TryCancel();
      while (reader_->Read(&chunk_)) {
      }
      reader_->Finish().ok();  // CANCELLED: we asked for it
    }
  }
  RemoteFileStream(const RemoteFileStream&) = delete;
  RemoteFileStream& operator=(const RemoteFileStream&) = delete;

  // Starts the call and waits for the first chunk (the server's answer to
  // opening the file).
  Status Open(const std::string& path) {
    pb::DataReadRequest req;
    req.set_path(path);
    req.set_offset(pos_);
    // 0 on the wire is "to the end"; an empty range reads nothing here.
    req.set_length(remaining_ == UINT64_MAX ? 0 : remaining_);
    reader_ = stub_->Read(&ctx_, req);
    if (!reader_->Read(&chunk_)) {
      Status s = Finish();
      if (!s.ok()) return s;
    }
    return OkStatus();
  }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (n == 0 || remaining_ == 0) return size_t{0};
    while (next_ >= chunk_.data().size()) {
      if (finished_) return size_t{0};
      if (!reader_->Read(&chunk_)) {
        Status s = Finish();
        if (!s.ok()) return s;
        return size_t{0};
      }
      next_ = 0;
      if (chunk_.offset() != pos_) {
        error_ = DataLossError(name_ + ": data service sent bytes at offset " +
                               std::to_string(chunk_.offset()) + ", expected " +
                               std::to_string(pos_));
        return error_;
      }
    }
    const size_t k = static_cast<size_t>(
        std::min<uint64_t>({n, chunk_.data().size() - next_, remaining_}));
    std::memcpy(buf, chunk_.data().data() + next_, k);
    next_ += k;
    pos_ += k;
    remaining_ -= k;
    return k;
  }

  uint64_t file_offset() const override { return pos_; }
  const std::string& path() const override { return name_; }

 private:
  Status Finish() {
    finished_ = true;
    chunk_.Clear();
    next_ = 0;
    Status s = DataCallStatus(reader_->Finish(), address_, "Read", 0);
    if (!s.ok()) error_ = s.WithPrefix(name_);
    return error_;
  }

  // Constant after construction.
  const std::string name_;
  const std::string address_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<pb::Data::Stub> stub_;

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<pb::DataChunk>> reader_;
  pb::DataChunk chunk_;  // the chunk being handed out, from byte next_
  size_t next_ = 0;
  uint64_t pos_;        // file offset of the next byte we return
  uint64_t remaining_;  // bytes of the range still to return
  bool finished_ = false;
  Status error_;
};

StatusOr<std::unique_ptr<ReadStream>> OpenOn(
    std::shared_ptr<grpc::Channel> channel, const std::string& address,
    const DataClientOptions& o, const std::string& path, uint64_t offset,
    int64_t length, const std::string& name) {
  auto stream = std::make_unique<RemoteFileStream>(
      name.empty() ? std::string(kScheme) + address + path : name, address,
      std::move(channel), o, offset, length);
  RETURN_IF_ERROR(stream->Open(path));
  return std::unique_ptr<ReadStream>(std::move(stream));
}

StatusOr<std::vector<RemoteEntry>> ListOn(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& address,
    const DataClientOptions& o, const std::string& path) {
  auto stub = pb::Data::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", Bearer(o));
  ctx.set_deadline(grpc_internal::DeadlineIn(o.call_timeout_ms));
  pb::DataListRequest req;
  req.set_path(path);
  auto reader = stub->List(&ctx, req);
  std::vector<RemoteEntry> out;
  pb::DataListResponse batch;
  while (reader->Read(&batch)) {
    for (const pb::DataEntry& e : batch.entries()) {
      RemoteEntry r;
      r.name = e.name();
      r.is_dir = e.is_dir();
      r.is_symlink = e.is_symlink();
      r.size = e.size();
      r.mtime_ms = e.mtime_ms();
      out.push_back(std::move(r));
    }
  }
  RETURN_IF_ERROR(
      DataCallStatus(reader->Finish(), address, "List", o.call_timeout_ms));
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<ReadStream>> OpenRemoteFile(
    const std::string& address, const DataClientOptions& options,
    const std::string& path, uint64_t offset, int64_t length,
    const std::string& name) {
  ASSIGN_OR_RETURN(auto channel, NewChannel(address, options));
  return OpenOn(std::move(channel), address, options, path, offset, length,
                name);
}

StatusOr<std::vector<RemoteEntry>> ListRemoteDir(
    const std::string& address, const DataClientOptions& options,
    const std::string& path) {
  ASSIGN_OR_RETURN(auto channel, NewChannel(address, options));
  return ListOn(channel, address, options, path);
}

bool IsHostPort(std::string_view worker) {
  const size_t colon = worker.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = worker.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const std::string_view host = worker.substr(0, colon);
  if (host.find(':') == std::string_view::npos) return true;
  return host.front() == '[' && host.back() == ']';  // [::1]
}

StatusOr<TgUrl> ParseTgUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return InvalidArgumentError(std::string(url) + ": " + std::string(why) +
                                " (expected tg://WORKER/ABSOLUTE/PATH, "
                                "WORKER a worker id or HOST:PORT)");
  };
  if (url.substr(0, kScheme.size()) != kScheme) return bad("not a tg:// URL");
  const std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == 0) return bad("no worker");
  if (slash == std::string_view::npos) return bad("no path");
  TgUrl out;
  out.worker = std::string(rest.substr(0, slash));
  out.path = std::string(rest.substr(slash));
  return out;
}

TgResolver::TgResolver(std::unique_ptr<ControlService> control,
                       DataClientOptions options)
    : control_(std::move(control)), options_(std::move(options)) {}

TgResolver::~TgResolver() = default;

StatusOr<std::string> TgResolver::DataAddress(std::string_view worker,
                                              bool refresh) {
  if (IsHostPort(worker)) return std::string(worker);
  if (control_ == nullptr) {
    return InvalidArgumentError(
        "worker '" + std::string(worker) +
        "' is a worker id: give the cluster's masters (--master or "
        "TASKGRID_MASTER) to find it, or use tg://HOST:PORT/... with its "
        "data address");
  }
  if (!refresh) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = addresses_.find(worker);
    if (it != addresses_.end()) return it->second;
  }
  StatusOr<ClusterStatus> cluster = control_->GetCluster();
  if (!cluster.ok()) {
    return cluster.status().WithPrefix("cannot look up worker '" +
                                       std::string(worker) + "'");
  }
  std::string known;
  const WorkerStatus* found = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const WorkerStatus& w : cluster->workers) {
      if (!w.data_address.empty()) addresses_[w.id] = w.data_address;
      if (w.id == worker) found = &w;
      if (!known.empty()) known += ", ";
      known += w.id;
    }
  }
  if (found == nullptr) {
    return NotFoundError("no worker '" + std::string(worker) +
                         "' in the cluster (registered: " +
                         (known.empty() ? "none" : known) + ")");
  }
  if (found->data_address.empty()) {
    return FailedPreconditionError(
        "worker '" + std::string(worker) +
        "' serves no data (it registered without a data address)");
  }
  return found->data_address;
}

StatusOr<std::shared_ptr<grpc::Channel>> TgResolver::Channel(
    const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = channels_.find(address);
  if (it != channels_.end()) return it->second;
  ASSIGN_OR_RETURN(auto channel, NewChannel(address, options_));
  channels_.emplace(address, channel);
  return channel;
}

template <typename Fn>
auto TgResolver::WithAddress(const std::string& url, Fn&& fn)
    -> decltype(fn("")) {
  StatusOr<TgUrl> parsed = ParseTgUrl(url);
  if (!parsed.ok()) return parsed.status();
  StatusOr<std::string> address = DataAddress(parsed->worker);
  if (!address.ok()) return address.status().WithPrefix(url);
  auto result = fn(*address);
  if (!result.ok() && result.status().code() == StatusCode::kUnavailable &&
      !IsHostPort(parsed->worker)) {
    // The worker may have come back on another port: ask the masters.
    StatusOr<std::string> again = DataAddress(parsed->worker, true);
    if (again.ok() && *again != *address) result = fn(*again);
  }
  return result;
}

StatusOr<std::unique_ptr<ReadStream>> TgResolver::Open(const std::string& url,
                                                       uint64_t offset,
                                                       int64_t length) {
  const std::string path = ParseTgUrl(url).ok() ? ParseTgUrl(url)->path : "";
  return WithAddress(
      url,
      [&](const std::string& address) -> StatusOr<std::unique_ptr<ReadStream>> {
        ASSIGN_OR_RETURN(auto channel, Channel(address));
        return OpenOn(std::move(channel), address, options_, path, offset,
                      length, url);
      });
}

StatusOr<std::vector<RemoteEntry>> TgResolver::List(const std::string& url) {
  const std::string path = ParseTgUrl(url).ok() ? ParseTgUrl(url)->path : "";
  return WithAddress(
      url,
      [&](const std::string& address) -> StatusOr<std::vector<RemoteEntry>> {
        ASSIGN_OR_RETURN(auto channel, Channel(address));
        StatusOr<std::vector<RemoteEntry>> r =
            ListOn(channel, address, options_, path);
        if (!r.ok()) return r.status().WithPrefix(url);
        return r;
      });
}

void InstallTgOpener(std::shared_ptr<TgResolver> resolver) {
  if (resolver == nullptr) {
    SetRemoteOpener(nullptr);
    return;
  }
  SetRemoteOpener(
      [resolver](const std::string& url, uint64_t offset, int64_t length) {
        return resolver->Open(url, offset, length);
      });
}

}  // namespace taskgrid
