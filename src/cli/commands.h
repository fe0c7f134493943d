// The CLI's commands, each a function from parsed options to an exit code.
// main.cc parses the command line (CLI11) and dispatches here.
#ifndef TASKGRID_CLI_COMMANDS_H_
#define TASKGRID_CLI_COMMANDS_H_

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace taskgrid {

class ControlService;
class WebServer;
struct WebServerOptions;

// Exit codes (README and `taskgrid --help` list them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitJobFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

// How to reach a cluster (`--master`, `--token-file`, `--tls-*`).
struct RemoteOptions {
  std::string masters;     // "host:port[,host:port...]"; "" = local state
  std::string token_file;  // the cluster token, one line
  std::string tls_ca;      // PEM files; all empty = plaintext
  std::string tls_cert;
  std::string tls_key;
  bool enabled() const { return !masters.empty(); }
};

struct CommonOptions {
  std::string state_path = ".taskgrid/state.db";
  bool json = false;
  RemoteOptions remote;  // when enabled, commands go to the cluster
};

struct RunOptions {
  CommonOptions common;
  int workers = 0;  // 0 = number of cores
  bool force = false;
  bool progress = true;  // shown only when stderr is a terminal
  std::string http;      // --http ADDR: serve the API while the job runs
  std::string memory;    // --memory SIZE: shuffle tasks' budget ("" = spec's)
};

struct ShellOptions {
  std::string command;
  std::string output;
  int max_attempts = 3;
};

int CmdRun(const RunOptions& o, const std::string& spec_path);
// `run --shell CMD FILES...`: a map job of the shell processor over files.
int CmdRunShell(const RunOptions& o, const ShellOptions& shell,
                const std::vector<std::string>& inputs);
int CmdResume(const RunOptions& o, int64_t job_id);
int CmdRerun(const RunOptions& o, int64_t job_id, bool failed,
             const std::vector<int64_t>& task_ids);
struct DemoOptions {
  std::string dir = "demo-data";
  std::string size;                 // "" = the generator's default
  std::vector<std::string> codecs;  // empty = the generator's mix
  bool generate_only = false;
};
int CmdDemo(const RunOptions& o, const DemoOptions& d);

int CmdJobs(const CommonOptions& o, int64_t limit);
int CmdStatus(const CommonOptions& o, int64_t job_id);
int CmdTasks(const CommonOptions& o, int64_t job_id,
             const std::optional<std::string>& state,
             const std::optional<std::string>& stage, int64_t after,
             int64_t limit, const std::string& sort, int64_t offset);
int CmdLogs(const CommonOptions& o, int64_t job_id, int64_t task_id);
int CmdCancel(const CommonOptions& o, int64_t job_id);

// `dashboard`: serves the web API and page over the local state file until
// SIGINT/SIGTERM (run_commands.cc).
inline constexpr char kDefaultHttpAddress[] = "127.0.0.1:7780";
int CmdDashboard(const CommonOptions& o, const std::string& http);
// A running web server; destroying it stops it.
struct WebServerDeleter {
  void operator()(WebServer* server) const;  // cli_net.cc
};
using HttpServer = std::unique_ptr<WebServer, WebServerDeleter>;
// Starts the web server (web/web_server.h) on `address` over `control` and
// prints its URL to stderr; prints the error and returns nullptr if it
// cannot. `control` must outlive the server. (cli_net.cc)
HttpServer StartHttpOrPrint(const std::string& address, ControlService* control,
                            WebServerOptions options);

// Cluster mode (cluster_commands.cc; net.h: they need taskgrid-net).
struct MasterCmdOptions {
  std::string store;  // postgresql://... or a SQLite file path
  std::string listen = "0.0.0.0:7700";
  std::string advertise;  // address shown to clients; "" = listen address
  std::string token_file;
  std::string tls_cert, tls_key;
  int64_t worker_timeout_ms = 10'000;
  int64_t leader_lease_ms = 4'000;
  std::string http;  // --http ADDR: the web API, with the cluster token
};
int CmdMaster(const MasterCmdOptions& o);

struct WorkerCmdOptions {
  RemoteOptions remote;
  int slots = 0;   // 0 = number of cores
  std::string id;  // "" = HOST-PID
  std::string data_dir;
  // The data service (worker/data_service.h): where it listens (loopback by
  // default: a cluster spanning machines must give a reachable address),
  // the address registered for tg:// URLs ("" = the bound one), and TLS.
  std::string data_listen = "127.0.0.1:0";
  std::string data_advertise;
  std::string data_tls_cert, data_tls_key;
};
int CmdWorker(const WorkerCmdOptions& o);

struct SubmitCmdOptions {
  CommonOptions common;
  std::string memory;  // --memory SIZE, as for run
  bool wait = false;
  bool force = false;
  bool progress = true;
};
int CmdSubmit(const SubmitCmdOptions& o, const std::string& spec_path);
// `rerun` against a cluster: the leader runs the job again.
int CmdRerunRemote(const CommonOptions& o, int64_t job_id, bool failed,
                   const std::vector<int64_t>& task_ids);

// Remote file access (data_commands.cc): `cat` and `ls` of tg://WORKER/PATH
// URLs (worker/data_client.h) through the workers' data services; `cat`
// also reads local paths. WORKER ids are resolved through o.remote's
// masters.
struct CatCmdOptions {
  uint64_t offset = 0;
  int64_t length = -1;  // < 0: to the end
  bool decode = false;  // decode by extension (.gz, .zst, ...)
};
int CmdCat(const CommonOptions& o, const CatCmdOptions& cat,
           const std::string& url);
int CmdLs(const CommonOptions& o, const std::string& url);

}  // namespace taskgrid

#endif  // TASKGRID_CLI_COMMANDS_H_
