// The CLI's network helpers (net.h): cluster clients, tg:// inputs, the web
// server and PostgreSQL stores. Linked into taskgrid-net only (the stock
// binary has net_stub.cc instead).
#include <iostream>
#include <memory>
#include <utility>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/net.h"
#include "core/status_macros.h"
#include "rpc/grpc/grpc_failover.h"
#include "store/postgres/pg_state_store.h"
#include "store/sqlite/sqlite_state_store.h"
#include "web/web_server.h"
#include "worker/data_client.h"

namespace taskgrid {

bool NetLinked() { return true; }

StatusOr<std::unique_ptr<StateStore>> OpenStoreUrl(const std::string& url) {
  if (IsPostgresUrl(url)) return OpenPostgresStateStore(url);
  if (url.empty()) return InvalidArgumentError("no state store given");
  return OpenSqliteStateStore(url);
}

std::unique_ptr<ControlService> ConnectClusterOrPrint(const CommonOptions& o) {
  auto token = ReadTokenFile(o.remote.token_file);
  auto addresses = ParseMasterList(o.remote.masters);
  if (!token.ok() || !addresses.ok()) {
    PrintError(!token.ok() ? token.status() : addresses.status());
    return nullptr;
  }
  ClusterClientOptions co;
  co.addresses = *std::move(addresses);
  co.token = *std::move(token);
  co.tls.ca_path = o.remote.tls_ca;
  co.tls.cert_path = o.remote.tls_cert;
  co.tls.key_path = o.remote.tls_key;
  co.failover_timeout_ms = 10'000;
  auto control = ConnectControlService(co);
  if (!control.ok()) {
    PrintError(control.status());
    return nullptr;
  }
  return *std::move(control);
}

StatusOr<std::unique_ptr<TgResolver>> MakeTgResolver(const RemoteOptions& r) {
  ASSIGN_OR_RETURN(std::string token, ReadTokenFile(r.token_file));
  GrpcTlsOptions tls;
  tls.ca_path = r.tls_ca;
  tls.cert_path = r.tls_cert;
  tls.key_path = r.tls_key;
  std::unique_ptr<ControlService> control;
  if (r.enabled()) {
    ClusterClientOptions co;
    ASSIGN_OR_RETURN(co.addresses, ParseMasterList(r.masters));
    co.token = token;
    co.tls = tls;
    co.failover_timeout_ms = 10'000;
    ASSIGN_OR_RETURN(control, ConnectControlService(co));
  }
  DataClientOptions dco;
  dco.token = std::move(token);
  dco.tls = tls;
  return std::make_unique<TgResolver>(std::move(control), std::move(dco));
}

bool InstallTgInputs(const RemoteOptions& r) {
  if (r.token_file.empty()) return true;
  auto resolver = MakeTgResolver(r);
  if (!resolver.ok()) {
    PrintError(resolver.status());
    return false;
  }
  InstallTgOpener(std::shared_ptr<TgResolver>(*std::move(resolver)));
  return true;
}

void UninstallTgInputs() { InstallTgOpener(nullptr); }

void WebServerDeleter::operator()(WebServer* server) const { delete server; }

HttpServer StartHttpOrPrint(const std::string& address, ControlService* control,
                            WebServerOptions options) {
  auto server = WebServer::Start(address, control, std::move(options));
  if (!server.ok()) {
    PrintError(server.status().WithPrefix("cannot serve --http"));
    return nullptr;
  }
  std::cerr << "taskgrid: dashboard and JSON API on " << (*server)->url()
            << "/\n";
  return HttpServer(server->release());
}

}  // namespace taskgrid
