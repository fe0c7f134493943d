// cat and ls: a worker's files through its data service (tg://WORKER/PATH,
// worker/data_client.h), streamed chunk by chunk to stdout.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/net.h"
#include "core/status_macros.h"
#include "io/read_stream.h"
#include "rpc/grpc/grpc_failover.h"
#include "worker/data_client.h"

namespace taskgrid {
namespace {

using nlohmann::json;

constexpr std::string_view kTgScheme = "tg://";

bool IsTgUrl(std::string_view url) {
  return url.substr(0, kTgScheme.size()) == kTgScheme;
}

// Exit code for a failed command: 2 for what the user must fix (a refused
// or missing path, a bad token or URL), 1 otherwise.
int ExitFor(const Status& s) {
  PrintError(s);
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kFailedPrecondition:
      return kExitUsage;
    default:
      return kExitJobFailed;
  }
}

}  // namespace

int CmdCat(const CommonOptions& o, const CatCmdOptions& cat,
           const std::string& url) {
  if (cat.decode && (cat.offset != 0 || cat.length >= 0)) {
    std::cerr << "taskgrid cat: --decode reads a whole file; it does not go "
                 "with --offset or --length\n";
    return kExitUsage;
  }
  std::unique_ptr<TgResolver> resolver;
  StatusOr<std::unique_ptr<ReadStream>> stream =
      InvalidArgumentError("no stream");
  if (IsTgUrl(url)) {
    auto r = MakeTgResolver(o.remote);
    if (!r.ok()) return ExitFor(r.status());
    resolver = *std::move(r);
    stream = resolver->Open(url, cat.offset, cat.length);
  } else if (cat.offset != 0 || cat.length >= 0) {
    stream = OpenFileRange(url, cat.offset, cat.length);
  } else {
    stream = OpenFileStream(url);
  }
  if (stream.ok() && cat.decode) {
    stream = WrapDecoder(CodecForPath(url), *std::move(stream));
  }
  if (!stream.ok()) return ExitFor(stream.status());
  const size_t kBuffer = size_t{1} << 20;
  auto buf = std::make_unique<char[]>(kBuffer);
  while (true) {
    StatusOr<size_t> n = (*stream)->Read(buf.get(), kBuffer);
    if (!n.ok()) {
      std::fflush(stdout);
      return ExitFor(n.status());
    }
    if (*n == 0) break;
    if (std::fwrite(buf.get(), 1, *n, stdout) != *n) {
      std::cerr << "taskgrid cat: cannot write to stdout\n";
      return kExitJobFailed;
    }
  }
  if (std::fflush(stdout) != 0) {
    std::cerr << "taskgrid cat: cannot write to stdout\n";
    return kExitJobFailed;
  }
  return kExitOk;
}

int CmdLs(const CommonOptions& o, const std::string& url) {
  if (!IsTgUrl(url)) {
    std::cerr << "taskgrid ls: give a tg://WORKER/PATH URL (for a local "
                 "directory, use ls)\n";
    return kExitUsage;
  }
  auto resolver = MakeTgResolver(o.remote);
  if (!resolver.ok()) return ExitFor(resolver.status());
  StatusOr<std::vector<RemoteEntry>> entries = (*resolver)->List(url);
  if (!entries.ok()) return ExitFor(entries.status());
  if (o.json) {
    json out = json::array();
    for (const RemoteEntry& e : *entries) {
      out.push_back(
          {{"name", e.name},
           {"type", e.is_dir ? "dir" : "file"},
           {"symlink", e.is_symlink},
           {"size", e.size},
           {"mtime",
            e.mtime_ms == 0 ? json(nullptr) : json(FormatTime(e.mtime_ms))}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const RemoteEntry& e : *entries) {
    const char* type = e.is_symlink ? "link" : e.is_dir ? "dir" : "file";
    std::cout << fmt::format("{:<4} {:>14}  {:<24}  {}{}\n", type, e.size,
                             FormatTime(e.mtime_ms), e.name,
                             e.is_dir ? "/" : "");
  }
  return kExitOk;
}

}  // namespace taskgrid
