#include "processors/shell.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "taskgrid/processor.h"

namespace taskgrid {
namespace {

// A minimal TaskContext for running one processor call directly.
class FakeContext : public TaskContext {
 public:
  FakeContext(std::string payload, Params params)
      : payload_(std::move(payload)), params_(std::move(params)) {}
  int64_t job_id() const override { return 1; }
  int64_t task_id() const override { return 1; }
  const std::string& stage() const override { return stage_; }
  const std::string& payload() const override { return payload_; }
  int attempt() const override { return 1; }
  const Params& params() const override { return params_; }
  const std::string& worker_id() const override { return stage_; }
  const std::string& output_dir() const override { return output_dir_; }
  void Log(LogLevel, std::string_view line) override {
    logs.emplace_back(line);
  }
  bool cancelled() const override { return cancel.load(); }
  bool SleepFor(std::chrono::milliseconds) override { return !cancel; }
  void SetResult(std::string r) override { result = std::move(r); }
  void Map(std::vector<std::string>, std::string_view) override {}

  std::vector<std::string> logs;
  std::string result;
  std::atomic<bool> cancel{false};

 private:
  std::string stage_ = "root";
  std::string output_dir_;  // none: stdout is the result
  std::string payload_;
  Params params_;
};

Params Command(std::string cmd) {
  return Params(std::map<std::string, std::string, std::less<>>{
      {"command", std::move(cmd)}});
}

TEST(ShellTemplate, QuotesThePlaceholderInEveryContext) {
  EXPECT_EQ(ShellTemplateToScript("wc -l {}"), "wc -l \"$1\"");
  EXPECT_EQ(ShellTemplateToScript("cat '{}'"), "cat ''\"$1\"''");
  EXPECT_EQ(ShellTemplateToScript("echo \"x {}\""), "echo \"x $1\"");
  EXPECT_EQ(ShellTemplateToScript("echo"), "echo \"$1\"");
  EXPECT_EQ(ShellTemplateToScript("echo \\{}"), "echo \\{} \"$1\"");
}

TEST(ShellProcessor, StdoutIsTheResultAndStderrTheLog) {
  auto p = NewShellProcessor();
  FakeContext ctx("hello world", Command("printf '%s|' {}; echo oops >&2"));
  ASSERT_TRUE(p->Process(ctx).ok());
  EXPECT_EQ(ctx.result, "hello world|");
  ASSERT_EQ(ctx.logs.size(), 1u);
  EXPECT_EQ(ctx.logs[0], "oops");
}

TEST(ShellProcessor, NonZeroExitFailsTheAttempt) {
  auto p = NewShellProcessor();
  FakeContext ctx("x", Command("exit 3"));
  Status s = p->Process(ctx);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("status 3"), std::string::npos) << s;
}

TEST(ShellProcessor, HostilePayloadsAreOnlyData) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-shell-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string marker = (dir / "pwned").string();
  const std::vector<std::string> payloads = {
      "a; touch " + marker,
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "' ; touch " + marker + " ; '",
      "\" ; touch " + marker + " ; \"",
      "x\ntouch " + marker,
  };
  for (const auto& cmd :
       {"printf %s {}", "printf %s '{}'", "printf %s \"{}\""}) {
    for (const auto& payload : payloads) {
      auto p = NewShellProcessor();
      FakeContext ctx(payload, Command(cmd));
      ASSERT_TRUE(p->Process(ctx).ok()) << cmd << " " << payload;
      EXPECT_EQ(ctx.result, payload) << cmd;
      EXPECT_FALSE(std::filesystem::exists(marker))
          << "payload ran a command: " << payload << " via " << cmd;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ShellProcessor, CancelKillsTheCommand) {
  auto p = NewShellProcessor();
  FakeContext ctx("", Command("sleep 30"));
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctx.cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  Status s = p->Process(ctx);
  canceller.join();
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ShellProcessor, MissingCommandIsAClearError) {
  auto p = NewShellProcessor();
  FakeContext ctx("", Params());
  Status s = p->Process(ctx);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("params.command"), std::string::npos);
}

}  // namespace
}  // namespace taskgrid
