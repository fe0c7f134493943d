#include "testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace taskgrid::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
      "/taskgrid-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    // Nothing sensible to return: the test cannot run without a directory.
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("TASKGRID_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Path(const std::string& name) const {
  return path_ + "/" + name;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ConcatParts(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("part-", 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::string all;
  for (const std::string& n : names) all += ReadFile(dir + "/" + n);
  return all;
}

std::vector<std::string> ReadLines(const std::string& path) {
  const std::string text = ReadFile(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string CommandResult::Describe() const {
  std::string s;
  if (timed_out) {
    s = "timed out (killed)";
  } else if (exited) {
    s = "exit " + std::to_string(exit_code);
  } else if (term_signal != 0) {
    s = "signal " + std::to_string(term_signal) + " (" +
        strsignal(term_signal) + ")";
  } else {
    s = "did not run";
  }
  return s + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
}

namespace {

// environ with `overrides` ("NAME=VALUE") replacing entries of the same name.
std::vector<std::string> MergedEnv(const std::vector<std::string>& overrides) {
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const std::string& o : overrides) {
      if (name_of(o) == name_of(entry)) replaced = true;
    }
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::unique_ptr<Process> Process::Start(const std::vector<std::string>& argv,
                                        const SpawnOptions& options,
                                        std::string* error) {
  auto fail = [&](const std::string& what, int err) {
    if (error != nullptr) *error = what + ": " + std::strerror(err);
    return nullptr;
  };
  if (argv.empty()) return fail("empty argv", EINVAL);
  std::unique_ptr<Process> p(new Process());
  p->stdout_path_ = options.stdout_path;
  p->stderr_path_ = options.stderr_path;
  if (p->stdout_path_.empty() || p->stderr_path_.empty()) {
    p->own_dir_ = std::make_unique<TempDir>();
    if (p->stdout_path_.empty()) p->stdout_path_ = p->own_dir_->Path("stdout");
    if (p->stderr_path_.empty()) p->stderr_path_ = p->own_dir_->Path("stderr");
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, p->stdout_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, p->stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A process group of its own, default dispositions and an empty mask for
  // the signals tests send, whatever the test runner inherited (a shell
  // starts background jobs with SIGINT ignored).
  sigset_t mask;
  sigemptyset(&mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = argv;
  std::vector<std::string> env = MergedEnv(options.env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &fa, &attr, c_args.data(),
                             c_env.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail("posix_spawn " + args[0], rc);
  p->pid_ = pid;
  return p;
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) Kill();
}

void Process::Reaped(int wstatus) {
  reaped_ = true;
  wstatus_ = wstatus;
}

bool Process::Running() {
  if (reaped_ || pid_ <= 0) return false;
  int wstatus = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &wstatus, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    Reaped(wstatus);
    return false;
  }
  if (r < 0) {
    // ECHILD: somebody else reaped it; treat as gone.
    reaped_ = true;
    return false;
  }
  return true;
}

bool Process::WaitFor(std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return !Running(); }, timeout,
                   std::chrono::milliseconds(2));
}

void Process::Signal(int sig) {
  if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

void Process::Kill() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &wstatus, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    Reaped(wstatus);
  } else {
    reaped_ = true;
  }
}

CommandResult Process::result() const {
  CommandResult r;
  if (reaped_) {
    if (WIFEXITED(wstatus_)) {
      r.exited = true;
      r.exit_code = WEXITSTATUS(wstatus_);
    } else if (WIFSIGNALED(wstatus_)) {
      r.term_signal = WTERMSIG(wstatus_);
    }
  }
  r.out = Stdout();
  r.err = Stderr();
  return r;
}

std::string Process::Stdout() const { return ReadFile(stdout_path_); }
std::string Process::Stderr() const { return ReadFile(stderr_path_); }

CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const SpawnOptions& options) {
  std::string error;
  std::unique_ptr<Process> p = Process::Start(argv, options, &error);
  if (p == nullptr) {
    CommandResult r;
    r.err = error;
    return r;
  }
  if (!p->WaitFor(timeout)) {
    p->Kill();
    CommandResult r = p->result();
    r.timed_out = true;
    return r;
  }
  return p->result();
}

bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

}  // namespace taskgrid::testing
