// The stock `taskgrid` binary's stand-ins for the CLI's network parts
// (net.h). Main execs taskgrid-net before any command that needs them, so
// none of these runs; if one does (a command Main's check missed), it execs
// taskgrid-net too. Linked ahead of the library, these definitions keep
// cli_net.cc, cluster_commands.cc and data_commands.cc, and with them gRPC,
// protobuf, libpq and the HTTP server, out of the binary.
#include <cstdlib>

#include "cli/commands.h"
#include "cli/net.h"
#include "web/web_server.h"  // WebServerOptions (no code of it is linked)

namespace taskgrid {
namespace {

[[noreturn]] void RunAsNet() { std::exit(ExecNetBinary()); }

}  // namespace

bool NetLinked() { return false; }

std::unique_ptr<ControlService> ConnectClusterOrPrint(const CommonOptions&) {
  RunAsNet();
}
bool InstallTgInputs(const RemoteOptions& r) {
  if (r.token_file.empty()) return true;
  RunAsNet();
}
void UninstallTgInputs() {}
void WebServerDeleter::operator()(WebServer*) const {}
HttpServer StartHttpOrPrint(const std::string&, ControlService*,
                            WebServerOptions) {
  RunAsNet();
}

int CmdMaster(const MasterCmdOptions&) { RunAsNet(); }
int CmdWorker(const WorkerCmdOptions&) { RunAsNet(); }
int CmdSubmit(const SubmitCmdOptions&, const std::string&) { RunAsNet(); }
int CmdRerunRemote(const CommonOptions&, int64_t, bool,
                   const std::vector<int64_t>&) {
  RunAsNet();
}
int CmdCat(const CommonOptions&, const CatCmdOptions&, const std::string&) {
  RunAsNet();
}
int CmdLs(const CommonOptions&, const std::string&) { RunAsNet(); }

}  // namespace taskgrid
