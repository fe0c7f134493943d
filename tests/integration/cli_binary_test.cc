// The stock `taskgrid` binary and taskgrid-net (src/cli/net.h): the stock
// binary loads none of the network libraries, runs local commands on its
// own, and hands the commands that need the network to taskgrid-net (or
// says which file it lacks).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/process.h"

namespace {

using taskgrid::testing::CommandResult;
using taskgrid::testing::RunCommand;
using taskgrid::testing::TempDir;

constexpr std::chrono::seconds kTimeout(60);

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string NetBinary() {
  return (std::filesystem::path(TASKGRID_BINARY).parent_path() / "taskgrid-net")
      .string();
}

// The shared libraries `binary` names in its dynamic section.
std::string Needed(const std::string& binary) {
  const CommandResult r = RunCommand({"/usr/bin/readelf", "-d", binary}, kTimeout);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  std::string needed;
  size_t at = 0;
  while ((at = r.out.find("(NEEDED)", at)) != std::string::npos) {
    const size_t end = r.out.find('\n', at);
    needed += r.out.substr(at, end - at) + "\n";
    at = end;
  }
  return needed;
}

TEST(CliBinaryTest, StockBinaryLoadsNoNetworkLibrary) {
  const std::string stock = Needed(TASKGRID_BINARY);
  ASSERT_TRUE(Contains(stock, "libsqlite3")) << stock;
  for (const char* lib : {"libgrpc", "libprotobuf", "libpq", "libcpp-httplib",
                          "libabsl", "libssl"}) {
    EXPECT_FALSE(Contains(stock, lib)) << lib << " in\n" << stock;
  }
  // The check can fail: the complete binary does load them.
  const std::string net = Needed(NetBinary());
  EXPECT_TRUE(Contains(net, "libgrpc")) << net;
  EXPECT_TRUE(Contains(net, "libpq")) << net;
}

TEST(CliBinaryTest, NetworkCommandRunsAsTaskgridNet) {
  TempDir dir;
  // Only taskgrid-net's cluster client reads the token file: its error
  // shows that the command ran there.
  const CommandResult r =
      RunCommand({TASKGRID_BINARY, "jobs", "--master", "127.0.0.1:1",
                  "--token-file", dir.Path("no-token")},
                 kTimeout);
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "cannot read token file " + dir.Path("no-token")))
      << r.Describe();
}

TEST(CliBinaryTest, WithoutTaskgridNetLocalCommandsRunAndOthersNameIt) {
  TempDir dir;
  const std::string alone = dir.Path("taskgrid");
  std::filesystem::copy_file(TASKGRID_BINARY, alone);
  std::filesystem::permissions(alone, std::filesystem::perms::owner_all);

  const std::string state = dir.Path("state.db");
  const CommandResult jobs =
      RunCommand({alone, "jobs", "--state", state}, kTimeout);
  EXPECT_EQ(jobs.exit_code, 0) << jobs.Describe();

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {alone, "worker", "--master", "127.0.0.1:1"},
           {alone, "jobs", "--state", state, "--master", "127.0.0.1:1"},
           {alone, "dashboard", "--state", state}}) {
    const CommandResult r = RunCommand(args, kTimeout);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.Describe();
    EXPECT_TRUE(Contains(r.err, dir.Path("taskgrid-net")) &&
                Contains(r.err, "No such file or directory"))
        << args[1] << ": " << r.Describe();
  }
}

}  // namespace
