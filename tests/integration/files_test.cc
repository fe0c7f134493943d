// File inputs and exactly-once output, end to end with the real `taskgrid`
// binary: `run --shell` over files with hostile names, globs, injected
// crashes between sealing and reporting and in the middle of the job
// commit, and a full disk.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "testing/process.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::SpawnOptions;
using testing::TempDir;
using testing::WriteFile;

constexpr auto kTimeout = std::chrono::seconds(60);

// A small tmpfs at `path` for the life of the object (needs root).
class TmpfsMount {
 public:
  TmpfsMount(std::string path, const char* options) : path_(std::move(path)) {
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, options) == 0) {
      mounted_ = true;
    } else {
      why_ = std::string("cannot mount a tmpfs here (needs root): ") +
             std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

class FilesTest : public ::testing::Test {
 protected:
  std::string State() const { return tmp_.Path("state.db"); }

  CommandResult Taskgrid(std::vector<std::string> args,
                         std::vector<std::string> env = {}) {
    args.insert(args.begin(), TASKGRID_BINARY);
    args.push_back("--state");
    args.push_back(State());
    SpawnOptions o;
    o.env = std::move(env);
    return RunCommand(args, kTimeout, o);
  }

  // Input files with names a shell would love to misread.
  std::vector<std::string> HostileInputs() {
    const std::string in = tmp_.Path("in");
    fs::create_directories(in);
    marker_ = tmp_.Path("PWNED");
    const std::vector<std::string> names = {
        "plain.txt",
        "with space.txt",
        "quote'single.txt",
        "quote\"double.txt",
        "semi;touch " + marker_ + ";.txt",
        "$(touch " + marker_ + ").txt",
        "`touch " + marker_ + "`.txt",
        "-dash-first.txt",
        "new\nline.txt",
    };
    std::vector<std::string> paths;
    for (size_t i = 0; i < names.size(); ++i) {
      // A name holding '/' would be a path: flatten it for this test.
      std::string n = names[i];
      std::replace(n.begin(), n.end(), '/', '_');
      const std::string p = in + "/" + n;
      WriteFile(p, "content of file " + std::to_string(i) + "\n");
      paths.push_back(p);
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  // Every part-NNNNN in `out`, by name.
  static std::map<std::string, std::string> Parts(const std::string& out) {
    std::map<std::string, std::string> parts;
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("part-", 0) == 0) parts[name] = ReadFile(e.path());
    }
    return parts;
  }

  // Checks `out` holds exactly one part per input, in input order, with the
  // input's content, a manifest naming each input once, _SUCCESS, and no
  // temporary files.
  void ExpectExactlyOnce(const std::string& out,
                         const std::vector<std::string>& inputs) {
    auto parts = Parts(out);
    ASSERT_EQ(parts.size(), inputs.size());
    size_t i = 0;
    for (const auto& [name, content] : parts) {
      char want[32];
      std::snprintf(want, sizeof(want), "part-%05zu", i);
      EXPECT_EQ(name, want);
      EXPECT_EQ(content, ReadFile(inputs[i])) << name;
      ++i;
    }
    EXPECT_TRUE(fs::exists(out + "/_SUCCESS"));
    EXPECT_FALSE(fs::exists(out + "/_temporary"));
    const std::string manifest = ReadFile(out + "/_manifest.csv");
    EXPECT_EQ(manifest.rfind("file,task,input,bytes,crc32\n", 0), 0u);
    for (size_t k = 0; k < inputs.size(); ++k) {
      char part[32];
      std::snprintf(part, sizeof(part), "part-%05zu,", k);
      EXPECT_NE(manifest.find(part), std::string::npos) << part;
    }
  }

  TempDir tmp_;
  std::string marker_;
};

TEST_F(FilesTest, ShellOverHostileFileNamesRunsNoInjectedCommand) {
  const auto inputs = HostileInputs();
  const std::string out = tmp_.Path("out");
  std::vector<std::string> args = {"run", "--shell",   "cat {}", "--output",
                                   out,   "--workers", "3"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(fs::exists(marker_)) << "a file name ran a command";
  ExpectExactlyOnce(out, inputs);
  // The same through a glob and the quoted forms of the placeholder.
  for (const char* cmd : {"cat '{}'", "cat \"{}\""}) {
    const std::string out2 =
        tmp_.Path(std::string("out-") + (cmd[4] == '\'' ? "sq" : "dq"));
    r = Taskgrid(
        {"run", "--shell", cmd, "--output", out2, tmp_.Path("in") + "/*"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_FALSE(fs::exists(marker_)) << cmd;
    ExpectExactlyOnce(out2, inputs);
  }
}

TEST_F(FilesTest, GlobMatchingNothingIsASpecError) {
  CommandResult r = Taskgrid({"run", "--shell", "cat {}", "--output",
                              tmp_.Path("out"), tmp_.Path("nothing/*.gz")});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("nothing/*.gz"), std::string::npos) << r.err;
}

TEST_F(FilesTest, FailingCommandFailsItsTaskAndCommitsNothing) {
  const auto inputs = HostileInputs();
  const std::string out = tmp_.Path("out");
  std::vector<std::string> args = {
      "run",      "--shell", "case {} in *plain*) exit 3;; esac; cat {}",
      "--output", out,       "--max-attempts",
      "2"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Parts(out).empty()) << "a failed job must not publish output";
  EXPECT_FALSE(fs::exists(out + "/_SUCCESS"));
  r = Taskgrid({"tasks", "1", "--status", "dead", "--json"});
  EXPECT_NE(r.out.find("status 3"), std::string::npos) << r.out;
}

TEST_F(FilesTest, CrashAfterSealBeforeReportStillCommitsOnce) {
  const auto inputs = HostileInputs();
  const std::string out = tmp_.Path("out");
  std::vector<std::string> args = {"run", "--shell",   "cat {}", "--output",
                                   out,   "--workers", "2"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args, {"TASKGRID_FAULT=after-seal:4"});
  ASSERT_EQ(r.exit_code, 86) << r.Describe();  // the injected crash
  EXPECT_TRUE(Parts(out).empty());
  r = Taskgrid({"resume", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ExpectExactlyOnce(out, inputs);
}

TEST_F(FilesTest, CrashDuringJobCommitIsRepairedByResume) {
  const auto inputs = HostileInputs();
  const std::string out = tmp_.Path("out");
  std::vector<std::string> args = {"run", "--shell", "cat {}", "--output", out};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args, {"TASKGRID_FAULT=job-commit-move:3"});
  ASSERT_EQ(r.exit_code, 86) << r.Describe();
  EXPECT_EQ(Parts(out).size(), 3u);  // moved before the crash
  EXPECT_FALSE(fs::exists(out + "/_SUCCESS"));
  r = Taskgrid({"resume", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ExpectExactlyOnce(out, inputs);
  // No task ran twice: every task succeeded at its first attempt.
  r = Taskgrid({"tasks", "1", "--json", "--limit", "0"});
  EXPECT_EQ(r.out.find("\"attempt\": 2"), std::string::npos) << r.out;
}

TEST_F(FilesTest, DiskFullFailsCleanlyAndRerunCompletes) {
  const std::string out = tmp_.Path("small");
  fs::create_directories(out);
  TmpfsMount mount_point(out, "size=256k");
  if (!mount_point.ok()) GTEST_SKIP() << mount_point.why();
  // Three inputs of 100 KiB: the tmpfs holds two.
  std::vector<std::string> inputs;
  for (int i = 0; i < 3; ++i) {
    const std::string p = tmp_.Path("big" + std::to_string(i));
    WriteFile(p, std::string(100 << 10, static_cast<char>('a' + i)));
    inputs.push_back(p);
  }
  std::vector<std::string> args = {
      "run",       "--shell", "cat {}",         "--output", out,
      "--workers", "1",       "--max-attempts", "1"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Parts(out).empty());
  // With one worker, the third file is the one that did not fit.
  r = Taskgrid({"logs", "1", "3"});
  EXPECT_NE(r.out.find("No space left"), std::string::npos) << r.out;
  // Free space, then rerun what failed.
  ASSERT_EQ(mount("tmpfs", out.c_str(), "tmpfs", MS_REMOUNT, "size=4m"), 0)
      << std::strerror(errno);
  r = Taskgrid({"rerun", "1", "--failed"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ExpectExactlyOnce(out, inputs);
}

TEST_F(FilesTest, ReadOnlyOutputFailsCleanlyAndRerunCompletes) {
  const std::string out = tmp_.Path("ro");
  fs::create_directories(out);
  TmpfsMount mount_point(out, "size=4m");
  if (!mount_point.ok()) GTEST_SKIP() << mount_point.why();
  ASSERT_EQ(
      mount("tmpfs", out.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=4m"),
      0)
      << std::strerror(errno);
  const auto inputs = HostileInputs();
  std::vector<std::string> args = {
      "run", "--shell", "cat {}", "--output", out, "--max-attempts", "1"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  CommandResult r = Taskgrid(args);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  r = Taskgrid({"tasks", "1", "--status", "dead", "--json"});
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  ASSERT_EQ(mount("tmpfs", out.c_str(), "tmpfs", MS_REMOUNT, "size=4m"), 0)
      << std::strerror(errno);
  r = Taskgrid({"rerun", "1", "--failed"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ExpectExactlyOnce(out, inputs);
}

}  // namespace
}  // namespace taskgrid
