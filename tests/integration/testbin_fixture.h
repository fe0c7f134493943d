// A fixture for end-to-end tests that run taskgrid_testbin (the taskgrid
// CLI plus test processors, testbin.cc) as real processes against a state
// file in a private temp dir.
#ifndef TASKGRID_TESTS_INTEGRATION_TESTBIN_FIXTURE_H_
#define TASKGRID_TESTS_INTEGRATION_TESTBIN_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/process.h"

namespace taskgrid::testing {

class TestbinTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  std::string state_path() const { return dir_.Path("state.db"); }
  std::string journal_path() const { return dir_.Path("journal"); }

  // taskgrid_testbin ARGS --state DIR/state.db
  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {TASKGRID_TESTBIN};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--state");
    argv.push_back(state_path());
    return argv;
  }
  SpawnOptions Options() const {
    SpawnOptions o;
    o.cwd = dir_.path();
    return o;
  }

  // Runs it to completion (or the deadline).
  CommandResult Tg(
      const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    return RunCommand(Argv(args), timeout, Options());
  }

  // Starts it and returns at once.
  std::unique_ptr<Process> StartTg(const std::vector<std::string>& args) const {
    std::string error;
    auto p = Process::Start(Argv(args), Options(), &error);
    EXPECT_NE(p, nullptr) << error;
    return p;
  }

  // Runs a command that prints JSON; a failure to run or parse is a test
  // failure and gives a null value.
  json TgJson(const std::vector<std::string>& args) const {
    CommandResult r = Tg(args);
    EXPECT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.Describe();
    return j.is_discarded() ? json() : j;
  }

  TempDir dir_;
};

}  // namespace taskgrid::testing

#endif  // TASKGRID_TESTS_INTEGRATION_TESTBIN_FIXTURE_H_
