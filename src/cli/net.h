// The CLI's network parts: everything that needs gRPC, libpq or the HTTP
// server (cli_net.cc, cluster_commands.cc, data_commands.cc and what they
// call). The `taskgrid` binary is built without them and so loads none of
// those libraries (91 shared libraries made every start-up and exit ~20 ms
// longer, docs/benchmarks.md); net_stub.cc stands in for them there. A
// command that needs them runs as `taskgrid-net`, the complete binary
// installed beside it: Main execs it, with the same arguments and process
// id, before the command does anything (Main decides, once it has parsed the
// command line).
//
// Thread-safety: SetCommandLine is called once, first thing in Main; the
// rest may be called from any thread.
#ifndef TASKGRID_CLI_NET_H_
#define TASKGRID_CLI_NET_H_

#include <memory>
#include <string>

#include "cli/commands.h"
#include "rpc/control.h"
#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid {

class TgResolver;

// True in taskgrid-net (and in any program that links the whole library),
// false in the stock `taskgrid` binary.
bool NetLinked();

// Remembers the command line, for ExecNetBinary.
void SetCommandLine(int argc, char** argv);
// Replaces this process by taskgrid-net (the file of that name in the
// directory of this executable) with the remembered command line. Returns
// only if that fails: prints why (naming the file) and returns kExitUsage.
int ExecNetBinary();

// Opens a store by URL: postgresql://... or postgres://... is PostgreSQL
// (libpq connection string); anything else is a SQLite file path.
StatusOr<std::unique_ptr<StateStore>> OpenStoreUrl(const std::string& url);

// The resolver of tg:// URLs for `r`: the token is required (the data
// service checks it); the masters, if given, resolve worker ids.
StatusOr<std::unique_ptr<TgResolver>> MakeTgResolver(const RemoteOptions& r);

// The ControlService of the cluster that `o.remote` names; prints the error
// and returns nullptr.
std::unique_ptr<ControlService> ConnectClusterOrPrint(const CommonOptions& o);

// With a token (r.token_file), makes tg:// inputs open through the workers'
// data services until UninstallTgInputs. False (error printed) if the
// token or TLS files cannot be read; true without a token.
bool InstallTgInputs(const RemoteOptions& r);
void UninstallTgInputs();

}  // namespace taskgrid

#endif  // TASKGRID_CLI_NET_H_
