#include "worker/data_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/status_macros.h"
#include "io/split.h"
#include "rpc/grpc/grpc_common.h"
#include "rpc/grpc/grpc_convert.h"
#include "rpc/grpc/proto/data.grpc.pb.h"

namespace taskgrid {
namespace {

constexpr std::string_view kScheme = "tg://";

RemoteEntry FromProto(const pb::DataEntry& e);

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
  co.keepalive_ms = o.keepalive_ms;
  co.keepalive_timeout_ms = o.keepalive_timeout_ms;
  return grpc_internal::MakeClientChannel(co);
}

std::string Bearer(const DataClientOptions& o) {
  return std::string(grpc_internal::kBearer) + o.token;
}

// One Read call, driven through gRPC's callback API so that the reader can
// wait for the next chunk with a time limit (a blocking ClientReader::Read
// cannot be given one). One chunk is read ahead: the next read starts as
// soon as a chunk is handed out.
class ReadCall final : public grpc::ClientReadReactor<pb::DataChunk> {
 public:
  enum class Next { kChunk, kEnd, kTimeout };

  ReadCall(pb::Data::Stub* stub, pb::DataReadRequest req,
           const std::string& bearer)
      : req_(std::move(req)) {
    ctx_.AddMetadata("authorization", bearer);
    stub->async()->Read(&ctx_, &req_, this);
    // Reads start from the reader's thread, outside the reactions: the
    // hold keeps the call open for them until Close.
    AddHold();
    read_pending_ = true;
    StartRead(&incoming_);
    StartCall();
  }
  ~ReadCall() override { Close(/*cancel=*/true); }
  ReadCall(const ReadCall&) = delete;
  ReadCall& operator=(const ReadCall&) = delete;

  // Waits up to `timeout_ms` (<= 0: no limit) for the next chunk. kChunk:
  // it is in *out. kEnd: the server ended the call; status() says how.
  // kTimeout: nothing came in time; the call has been cancelled.
  Next Wait(int64_t timeout_ms, pb::DataChunk* out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return Next::kEnd;
    const auto arrived = [&] { return !read_pending_; };
    if (timeout_ms > 0) {
      if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), arrived)) {
        lock.unlock();
        Close(/*cancel=*/true);
        return Next::kTimeout;
      }
    } else {
      cv_.wait(lock, arrived);
    }
    if (read_ok_) {
      out->Swap(&incoming_);
      read_pending_ = true;
      lock.unlock();
      StartRead(&incoming_);
      return Next::kChunk;
    }
    lock.unlock();
    Close(/*cancel=*/false);
    return Next::kEnd;
  }

  // The call's final status, once Wait returned kEnd.
  grpc::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    read_pending_ = false;
    read_ok_ = ok;
    cv_.notify_all();
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    done_ = true;
    cv_.notify_all();
  }

 private:
  // Ends the call (cancelling it first if `cancel` and it is still open)
  // and waits for OnDone, after which gRPC no longer touches this object.
  void Close(bool cancel) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (cancel && !done_) {
      lock.unlock();
      ctx_.TryCancel();
      lock.lock();
    }
    cv_.wait(lock, [&] { return !read_pending_; });
    lock.unlock();
    RemoveHold();
    lock.lock();
    cv_.wait(lock, [&] { return done_; });
  }

  grpc::ClientContext ctx_;
  const pb::DataReadRequest req_;
  pb::DataChunk incoming_;  // written by gRPC while read_pending_

  std::mutex mu_;
  std::condition_variable cv_;
  bool read_pending_ = false;  // guarded by mu_
  bool read_ok_ = false;       // guarded by mu_
  bool done_ = false;          // guarded by mu_: OnDone ran
  bool closed_ = false;        // guarded by mu_
  grpc::Status status_;        // guarded by mu_
};

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
        bearer_(Bearer(o)),
        idle_timeout_ms_(o.read_idle_timeout_ms),
        pos_(offset),
        remaining_(length < 0 ? UINT64_MAX : static_cast<uint64_t>(length)) {}
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
    call_ = std::make_unique<ReadCall>(stub_.get(), std::move(req), bearer_);
    if (!NextChunk()) return error_;
    return CheckOffset();
  }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (n == 0 || remaining_ == 0) return size_t{0};
    while (next_ >= chunk_.data().size()) {
      if (finished_) return size_t{0};
      if (!NextChunk()) {
        if (!error_.ok()) return error_;
        return size_t{0};
      }
      RETURN_IF_ERROR(CheckOffset());
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
  // Waits for the next chunk into chunk_. False at the end of the call or
  // on an error (then error_ is set).
  bool NextChunk() {
    chunk_.Clear();
    next_ = 0;
    switch (call_->Wait(idle_timeout_ms_, &chunk_)) {
      case ReadCall::Next::kChunk:
        return true;
      case ReadCall::Next::kTimeout:
        finished_ = true;
        error_ = UnavailableError(name_ + ": data service at " + address_ +
                                  ": Read: no data for " +
                                  std::to_string(idle_timeout_ms_) +
                                  " ms (the worker is gone, stopped or stuck)");
        return false;
      case ReadCall::Next::kEnd:
        break;
    }
    finished_ = true;
    Status s = DataCallStatus(call_->status(), address_, "Read", 0);
    if (!s.ok()) error_ = s.WithPrefix(name_);
    return false;
  }

  Status CheckOffset() {
    if (finished_ || chunk_.offset() == pos_) return OkStatus();
    error_ = DataLossError(name_ + ": data service sent bytes at offset " +
                           std::to_string(chunk_.offset()) + ", expected " +
                           std::to_string(pos_));
    return error_;
  }

  // Constant after construction.
  const std::string name_;
  const std::string address_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<pb::Data::Stub> stub_;
  const std::string bearer_;
  const int64_t idle_timeout_ms_;

  std::unique_ptr<ReadCall> call_;
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
      out.push_back(FromProto(e));
    }
  }
  RETURN_IF_ERROR(
      DataCallStatus(reader->Finish(), address, "List", o.call_timeout_ms));
  return out;
}

RemoteEntry FromProto(const pb::DataEntry& e) {
  RemoteEntry r;
  r.name = e.name();
  r.is_dir = e.is_dir();
  r.is_symlink = e.is_symlink();
  r.size = e.size();
  r.mtime_ms = e.mtime_ms();
  return r;
}

StatusOr<RemoteEntry> StatOn(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& address,
                             const DataClientOptions& o,
                             const std::string& path) {
  auto stub = pb::Data::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", Bearer(o));
  ctx.set_deadline(grpc_internal::DeadlineIn(o.call_timeout_ms));
  pb::DataStatRequest req;
  req.set_path(path);
  pb::DataEntry resp;
  RETURN_IF_ERROR(DataCallStatus(stub->Stat(&ctx, req, &resp), address, "Stat",
                                 o.call_timeout_ms));
  return FromProto(resp);
}

// What io's glob expansion needs to know of an entry. A symlink whose
// target lies outside the served roots comes without type, size or mtime
// (reading it is refused): it is neither a file nor a directory.
RemoteFileInfo ToFileInfo(const RemoteEntry& e) {
  RemoteFileInfo f;
  f.name = e.name;
  f.is_dir = e.is_dir;
  f.is_symlink = e.is_symlink;
  f.is_file = !e.is_dir && !(e.is_symlink && e.mtime_ms == 0);
  f.size = e.size;
  return f;
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

StatusOr<RemoteEntry> StatRemoteFile(const std::string& address,
                                     const DataClientOptions& options,
                                     const std::string& path) {
  ASSIGN_OR_RETURN(auto channel, NewChannel(address, options));
  return StatOn(channel, address, options, path);
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
    : owned_control_(std::move(control)),
      control_(owned_control_.get()),
      options_(std::move(options)) {}

TgResolver::TgResolver(ControlService* control, DataClientOptions options)
    : control_(control), options_(std::move(options)) {}

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

StatusOr<RemoteEntry> TgResolver::Stat(const std::string& url) {
  const std::string path = ParseTgUrl(url).ok() ? ParseTgUrl(url)->path : "";
  return WithAddress(
      url, [&](const std::string& address) -> StatusOr<RemoteEntry> {
        ASSIGN_OR_RETURN(auto channel, Channel(address));
        StatusOr<RemoteEntry> r = StatOn(channel, address, options_, path);
        if (!r.ok()) return r.status().WithPrefix(url);
        return r;
      });
}

void InstallTgOpener(std::shared_ptr<TgResolver> resolver) {
  if (resolver == nullptr) {
    SetRemoteOpener(nullptr);
    SetRemoteCatalog({});
    return;
  }
  SetRemoteOpener(
      [resolver](const std::string& url, uint64_t offset, int64_t length) {
        return resolver->Open(url, offset, length);
      });
  RemoteCatalog catalog;
  catalog.stat =
      [resolver](const std::string& url) -> StatusOr<RemoteFileInfo> {
    ASSIGN_OR_RETURN(RemoteEntry e, resolver->Stat(url));
    return ToFileInfo(e);
  };
  catalog.list =
      [resolver](
          const std::string& url) -> StatusOr<std::vector<RemoteFileInfo>> {
    ASSIGN_OR_RETURN(std::vector<RemoteEntry> entries, resolver->List(url));
    std::vector<RemoteFileInfo> out;
    out.reserve(entries.size());
    for (const RemoteEntry& e : entries) out.push_back(ToFileInfo(e));
    return out;
  };
  SetRemoteCatalog(std::move(catalog));
}

}  // namespace taskgrid
