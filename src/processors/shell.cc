#include "processors/shell.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "taskgrid/processor.h"

extern char** environ;

namespace taskgrid {

std::string ShellTemplateToScript(std::string_view command) {
  // Track the quoting context so that `{}`, `'{}'` and `"{}"` all become a
  // correctly quoted "$1".
  enum { kNone, kSingle, kDouble } q = kNone;
  std::string out;
  bool replaced = false;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (q != kSingle && c == '\\' && i + 1 < command.size()) {
      out += c;
      out += command[++i];
      continue;
    }
    if (c == '{' && i + 1 < command.size() && command[i + 1] == '}') {
      out += q == kNone ? "\"$1\"" : q == kSingle ? "'\"$1\"'" : "$1";
      ++i;
      replaced = true;
      continue;
    }
    if (c == '\'' && q != kDouble) q = q == kSingle ? kNone : kSingle;
    if (c == '"' && q != kSingle) q = q == kDouble ? kNone : kDouble;
    out += c;
  }
  if (!replaced) out += " \"$1\"";
  return out;
}

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  friend void swap(Fd& a, Fd& b) { std::swap(a.fd_, b.fd_); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string Errno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

class ShellProcessor : public Processor {
 public:
  Status Process(TaskContext& ctx) override {
    auto command = ctx.params().String("command");
    if (!command.ok()) {
      return InvalidArgumentError("shell: params.command is required");
    }
    std::string script =
        ctx.payload().empty() && command->find("{}") == std::string::npos
            ? *command
            : ShellTemplateToScript(*command);
    // With an output directory, stdout goes straight into this task's
    // output file (part-NNNNN, numbered in input order); otherwise it is
    // captured as the task's result.
    int out_pipe[2], err_pipe[2];
    Fd out_r(-1), out_w(-1);
    const bool to_file = !ctx.output_dir().empty();
    if (to_file) {
      char name[32];
      std::snprintf(name, sizeof(name), "part-%05lld",
                    static_cast<long long>(ctx.task_id() - 1));
      auto path = ctx.OutputPath(name);
      if (!path.ok()) return path.status();
      Fd file(
          open(path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (file.get() < 0) {
        return Status(errno == ENOSPC ? StatusCode::kResourceExhausted
                                      : StatusCode::kPermissionDenied,
                      Errno("create " + *path));
      }
      swap(out_w, file);
    } else {
      if (pipe2(out_pipe, O_CLOEXEC) != 0) return InternalError(Errno("pipe"));
      Fd r(out_pipe[0]), w(out_pipe[1]);
      swap(out_r, r);
      swap(out_w, w);
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) return InternalError(Errno("pipe"));
    Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    std::string arg0 = "sh";
    std::string payload = ctx.payload();
    std::vector<char*> argv = {arg0.data(),    const_cast<char*>("-c"),
                               script.data(),  const_cast<char*>("taskgrid-sh"),
                               payload.data(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      errno = rc;
      return InternalError(Errno("spawn /bin/sh"));
    }
    out_w.Reset();
    err_w.Reset();

    std::string out, err_partial;
    bool too_big = false;
    auto flush_err = [&](bool all) {
      size_t pos;
      while ((pos = err_partial.find('\n')) != std::string::npos) {
        ctx.Log(LogLevel::kWarn, err_partial.substr(0, pos));
        err_partial.erase(0, pos + 1);
      }
      if (all && !err_partial.empty()) {
        ctx.Log(LogLevel::kWarn, err_partial);
        err_partial.clear();
      }
    };
    bool out_open = !to_file, err_open = true;
    bool killed = false;
    auto kill_deadline = std::chrono::steady_clock::time_point::max();
    char buf[65536];
    while (out_open || err_open) {
      if (!killed && (ctx.cancelled() || too_big)) {
        kill(-pid, SIGTERM);
        killed = true;
        kill_deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(2000);
      }
      if (killed && std::chrono::steady_clock::now() > kill_deadline) {
        kill(-pid, SIGKILL);
        kill_deadline = std::chrono::steady_clock::time_point::max();
      }
      pollfd fds[2];
      int n = 0;
      if (out_open) fds[n++] = {out_r.get(), POLLIN, 0};
      if (err_open) fds[n++] = {err_r.get(), POLLIN, 0};
      int pr = poll(fds, n, 50);
      if (pr < 0 && errno != EINTR) break;
      for (int i = 0; i < n && pr > 0; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t r = read(fds[i].fd, buf, sizeof(buf));
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        bool is_out = fds[i].fd == out_r.get();
        if (r <= 0) {
          (is_out ? out_open : err_open) = false;
          continue;
        }
        if (is_out) {
          if (out.size() + r > kMaxShellResult) {
            too_big = true;
          } else {
            out.append(buf, r);
          }
        } else {
          err_partial.append(buf, r);
          flush_err(false);
        }
      }
    }
    flush_err(true);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (too_big) {
      return ResourceExhaustedError("shell: stdout exceeds " +
                                    std::to_string(kMaxShellResult >> 20) +
                                    " MiB; write large output to a file");
    }
    if (killed || ctx.cancelled()) return CancelledError("shell: cancelled");
    if (WIFSIGNALED(wstatus)) {
      return AbortedError("shell: command killed by signal " +
                          std::to_string(WTERMSIG(wstatus)));
    }
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
      return UnknownError("shell: command exited with status " +
                          std::to_string(WEXITSTATUS(wstatus)));
    }
    if (!to_file) ctx.SetResult(std::move(out));
    return OkStatus();
  }
};

}  // namespace

std::unique_ptr<Processor> NewShellProcessor() {
  return std::make_unique<ShellProcessor>();
}

}  // namespace taskgrid
