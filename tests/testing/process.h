// Test helpers for end-to-end tests that run real processes: spawn a
// program with arguments and extra environment, capture its stdout and
// stderr to files, wait for it with a deadline, signal or kill it; a
// temporary directory that removes itself; and WaitUntil, which waits for a
// condition with a deadline (tests never sleep to wait for something).
//
//   TempDir dir;
//   auto p = Process::Start({TASKGRID_TESTBIN, "run", spec}, {});
//   ASSERT_TRUE(WaitUntil([&] { return CountLines(journal) >= 10; }, 10s));
//   p->Kill();
//   CommandResult r = RunCommand({TASKGRID_TESTBIN, "resume", "1"}, 30s);
//   EXPECT_EQ(r.exit_code, 0) << r.Describe();
//
// Thread-safety: a Process is used from one thread; distinct objects are
// independent.
#ifndef TASKGRID_TESTS_TESTING_PROCESS_H_
#define TASKGRID_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace taskgrid::testing {

// A directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless $TASKGRID_KEEP_TEST_DIRS is set (for debugging).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Path(const std::string& name) const;

 private:
  std::string path_;
};

// Whole-file helpers; ReadFile returns "" for a missing file.
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);
// Splits on '\n'; a trailing partial line (no '\n') is left out, so a line
// being written concurrently is never seen half-done.
std::vector<std::string> ReadLines(const std::string& path);
// The part-* files of `dir` concatenated in name order (a job's output).
std::string ConcatParts(const std::string& dir);

struct SpawnOptions {
  // Extra environment entries, "NAME=VALUE"; they override inherited ones.
  std::vector<std::string> env;
  // Working directory of the child; "" = inherit.
  std::string cwd;
  // Where stdout / stderr go; "" = a private temporary file, read back with
  // Process::Stdout() / Stderr() and removed with the Process.
  std::string stdout_path;
  std::string stderr_path;
};

// How a process ended.
struct CommandResult {
  bool exited = false;     // exited normally: exit_code is valid
  int exit_code = -1;      // WEXITSTATUS
  int term_signal = 0;     // the signal that ended it, if !exited
  bool timed_out = false;  // RunCommand killed it at its deadline
  std::string out;
  std::string err;

  // "exit 1" / "signal 9" / "timed out", then stdout and stderr, for
  // assertion messages.
  std::string Describe() const;
};

// One child process. stdin is /dev/null; the child runs in a process group
// of its own (so a signal to the test's group does not reach it).
// The destructor kills (SIGKILL) and reaps a child that is still running.
class Process {
 public:
  // Starts argv[0] (a path, not searched in $PATH) with `argv`. Returns
  // nullptr and sets *error if the spawn failed.
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv,
                                        const SpawnOptions& options = {},
                                        std::string* error = nullptr);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the child if it has exited; true while it is still running.
  bool Running();
  // Waits until the child exits or `timeout` passes; true if it exited
  // (and was reaped).
  bool WaitFor(std::chrono::milliseconds timeout);
  // Sends `sig` to the child (no-op once it has been reaped).
  void Signal(int sig);
  // SIGKILL and reap: when this returns, the pid is gone (no zombie).
  void Kill();

  // Valid once the child was reaped (Running() false or WaitFor true).
  CommandResult result() const;
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  Process() = default;
  void Reaped(int wstatus);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int wstatus_ = 0;
  std::string stdout_path_;
  std::string stderr_path_;
  std::unique_ptr<TempDir> own_dir_;  // holds private stdout/stderr files
};

// Runs argv to completion with a deadline; on timeout the child is killed
// and result.timed_out is set. A failed spawn gives exited=false with the
// reason in `err`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout,
                         const SpawnOptions& options = {});

// Evaluates `condition` every `poll` until it is true (returns true) or
// `timeout` has passed (returns false after one last evaluation).
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(5));

}  // namespace taskgrid::testing

#endif  // TASKGRID_TESTS_TESTING_PROCESS_H_
