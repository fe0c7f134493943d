#include "cli/cli_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "master/store_control.h"
#include "store/sqlite/sqlite_state_store.h"

namespace taskgrid {
namespace {

std::string Spec(const std::string& name, const std::string& key) {
  std::string yaml = "name: " + name +
                     "\nprocessor: noop\nmodel: map\n"
                     "input: {range: {start: 0, end: 1, step: 1}}\n";
  if (!key.empty()) yaml += "key: \"" + key + "\"\n";
  return yaml;
}

// The next stage of a chain is found by its key even when more than a page
// of jobs came after it; a job without a successor gives 0.
TEST(FindNextStageTest, FindsTheStageBehindManyNewerJobs) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tg-cli-util-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = OpenSqliteStateStore((dir / "state.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  StoreControl control(store->get(), StoreControlOptions());
  const auto submit = [&](const std::string& name, const std::string& key) {
    auto r = control.SubmitJob({Spec(name, key), false});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->job_id : int64_t{0};
  };
  const auto next = [&](int64_t job) -> int64_t {
    auto n = FindNextStage(&control, job);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  };
  const int64_t first = submit("stage-1", "");
  const int64_t lonely = submit("alone", "");
  const int64_t second = submit("stage-2", NextStageKey(first));
  ASSERT_GT(second, 0);
  EXPECT_EQ(next(first), second);
  for (int i = 0; i < 1005; ++i) submit("other-" + std::to_string(i), "");
  EXPECT_EQ(next(first), second);
  EXPECT_EQ(next(lonely), 0);
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace taskgrid
