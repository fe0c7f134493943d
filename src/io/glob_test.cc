#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/split.h"
#include "testing/process.h"

namespace taskgrid {
namespace {

namespace fs = std::filesystem;
using ::taskgrid::testing::TempDir;
using ::taskgrid::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A temp tree in the flagship job's layout, logs/<domain>/<hour>/*.log.gz,
// plus a few odd names.
class GlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {
             "logs/a.com/2024010100/x.log.gz",
             "logs/a.com/2024010100/y.log.gz",
             "logs/a.com/2024010100/notes.txt",
             "logs/a.com/2024010101/x.log.gz",
             "logs/b.com/2024010100/x.log.gz",
             "logs/b.com/2024010100/.hidden.log.gz",
             "logs/cc.org/2024010100/x.log.gz",
             "logs/.git/objects/x.log.gz",
             "top.log.gz",
         }) {
      Touch(f);
    }
  }

  void Touch(const std::string& rel, const std::string& content = "x\n") {
    const fs::path p = fs::path(dir_.path()) / rel;
    fs::create_directories(p.parent_path());
    WriteFile(p.string(), content);
  }
  std::string P(const std::string& rel) const { return dir_.Path(rel); }
  // Expands and strips the temp dir prefix from each result.
  std::vector<std::string> Rel(const std::vector<std::string>& patterns) {
    std::vector<std::string> full;
    for (const std::string& p : patterns) full.push_back(P(p));
    auto r = ExpandGlobs(full);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const std::string& f : *r) {
      EXPECT_EQ(f.rfind(dir_.path() + "/", 0), 0u) << f;
      out.push_back(f.substr(dir_.path().size() + 1));
    }
    return out;
  }

  TempDir dir_;
};

TEST_F(GlobTest, StarMatchesWithinOneComponent) {
  EXPECT_THAT(Rel({"logs/*/2024010100/*.log.gz"}),
              ElementsAre("logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010100/y.log.gz",
                          "logs/b.com/2024010100/x.log.gz",
                          "logs/cc.org/2024010100/x.log.gz"));
  EXPECT_THAT(Rel({"logs/a.com/*/x*"}),
              ElementsAre("logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010101/x.log.gz"));
}

TEST_F(GlobTest, QuestionMarkMatchesOneCharacter) {
  EXPECT_THAT(Rel({"logs/?.com/202401010?/x.log.gz"}),
              ElementsAre("logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010101/x.log.gz",
                          "logs/b.com/2024010100/x.log.gz"));
}

TEST_F(GlobTest, CharacterClass) {
  EXPECT_THAT(Rel({"logs/[ab].com/*/x.log.gz"}),
              ElementsAre("logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010101/x.log.gz",
                          "logs/b.com/2024010100/x.log.gz"));
  EXPECT_THAT(Rel({"logs/[!a]*/*/x.log.gz"}),
              ElementsAre("logs/b.com/2024010100/x.log.gz",
                          "logs/cc.org/2024010100/x.log.gz"));
}

TEST_F(GlobTest, DoubleStarMatchesZeroOrMoreDirectories) {
  // Zero directories (top.log.gz) and any depth; never hidden files, never
  // inside hidden directories.
  EXPECT_THAT(Rel({"**/*.log.gz"}),
              ElementsAre("logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010100/y.log.gz",
                          "logs/a.com/2024010101/x.log.gz",
                          "logs/b.com/2024010100/x.log.gz",
                          "logs/cc.org/2024010100/x.log.gz", "top.log.gz"));
  EXPECT_THAT(Rel({"logs/**/2024010101/*"}),
              ElementsAre("logs/a.com/2024010101/x.log.gz"));
  EXPECT_THAT(Rel({"logs/a.com/**/**/2024010100/y.log.gz"}),
              ElementsAre("logs/a.com/2024010100/y.log.gz"));
  // A literal component after ** is looked up at every level.
  EXPECT_THAT(Rel({"**/notes.txt"}),
              ElementsAre("logs/a.com/2024010100/notes.txt"));
}

TEST_F(GlobTest, TrailingDoubleStarMatchesEveryFileBelow) {
  EXPECT_THAT(Rel({"logs/a.com/**"}),
              ElementsAre("logs/a.com/2024010100/notes.txt",
                          "logs/a.com/2024010100/x.log.gz",
                          "logs/a.com/2024010100/y.log.gz",
                          "logs/a.com/2024010101/x.log.gz"));
}

TEST_F(GlobTest, LeadingDotOnlyMatchedExplicitly) {
  EXPECT_THAT(Rel({"logs/b.com/*/*"}),
              ElementsAre("logs/b.com/2024010100/x.log.gz"));
  EXPECT_THAT(Rel({"logs/b.com/*/.*"}),
              ElementsAre("logs/b.com/2024010100/.hidden.log.gz"));
  EXPECT_THAT(Rel({"logs/.git/**/*.gz"}),
              ElementsAre("logs/.git/objects/x.log.gz"));
  EXPECT_THAT(Rel({"**/.hidden.log.gz"}),
              ElementsAre("logs/b.com/2024010100/.hidden.log.gz"));
}

TEST_F(GlobTest, LiteralWildcardCharactersViaClasses) {
  Touch("odd/a*b.log");
  Touch("odd/axb.log");
  Touch("odd/q?.log");
  Touch("odd/back\\slash.log");
  EXPECT_THAT(Rel({"odd/a[*]b.log"}), ElementsAre("odd/a*b.log"));
  // A pattern that is an existing file's exact name means that file; a
  // class still matches the rest.
  EXPECT_THAT(Rel({"odd/a*b.log"}), ElementsAre("odd/a*b.log"));
  EXPECT_THAT(Rel({"odd/a[*x]b.log"}),
              ElementsAre("odd/a*b.log", "odd/axb.log"));
  EXPECT_THAT(Rel({"odd/q[?].log"}), ElementsAre("odd/q?.log"));
  // A backslash is an ordinary character, not an escape.
  EXPECT_THAT(Rel({"odd/back\\sl*"}), ElementsAre("odd/back\\slash.log"));
}

TEST_F(GlobTest, OutputIsSortedInByteOrderAndDeduplicated) {
  Touch("s/b.log");
  Touch("s/B.log");
  Touch("s/a.log");
  Touch("s/\xc3\xa9.log");
  EXPECT_THAT(Rel({"s/*.log", "s/[ab].log", "s/a.log", "s/**/*"}),
              ElementsAre("s/B.log", "s/a.log", "s/b.log", "s/\xc3\xa9.log"));
  // Order of the patterns does not matter.
  EXPECT_THAT(Rel({"s/a.log", "s/*"}),
              ElementsAre("s/B.log", "s/a.log", "s/b.log", "s/\xc3\xa9.log"));
}

TEST_F(GlobTest, NoMatchIsInvalidArgumentNamingThePattern) {
  const std::string pattern = P("logs/**/*.zst");
  auto r = ExpandGlobs({P("top.log.gz"), pattern});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "input glob '" + pattern + "' matches no file");
  // A wildcard in a directory that does not exist is no match, not an
  // error of its own.
  r = ExpandGlobs({P("nothere/*/x")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // Directories never match.
  r = ExpandGlobs({P("logs/*")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GlobTest, LiteralPathMustExist) {
  EXPECT_THAT(Rel({"top.log.gz"}), ElementsAre("top.log.gz"));
  auto r = ExpandGlobs({P("missing.log")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(P("missing.log")));
  r = ExpandGlobs({P("logs")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("not a regular file"));
  r = ExpandGlobs({""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GlobTest, EmptyPatternListIsEmpty) {
  auto r = ExpandGlobs({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, IsEmpty());
}

TEST_F(GlobTest, RelativePatternsStayRelative) {
  const fs::path old = fs::current_path();
  fs::current_path(dir_.path());
  auto r = ExpandGlobs(
      {"logs/b.com/**/*.gz", "*.gz", "./top.log.gz", "**/y.log.gz"});
  fs::current_path(old);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("./top.log.gz", "logs/a.com/2024010100/y.log.gz",
                              "logs/b.com/2024010100/x.log.gz", "top.log.gz"));
}

TEST_F(GlobTest, FollowsSymlinksToFilesAndDirectories) {
  TempDir other;
  fs::create_directories(other.Path("d/e"));
  WriteFile(other.Path("d/e/far.log.gz"), "x\n");
  fs::create_directory_symlink(other.Path("d"), P("logs/linked"));
  fs::create_symlink(P("top.log.gz"), P("logs/top-link.log.gz"));
  fs::create_symlink(P("does-not-exist"), P("logs/dangling.log.gz"));
  EXPECT_THAT(Rel({"logs/*.log.gz", "logs/linked/**/*.gz"}),
              ElementsAre("logs/linked/e/far.log.gz", "logs/top-link.log.gz"));
}

TEST_F(GlobTest, SymlinkLoopsTerminate) {
  fs::create_directory_symlink("..", P("logs/a.com/up"));  // -> logs
  fs::create_directory_symlink(".", P("logs/b.com/here"));
  fs::create_symlink("self", P("logs/self"));  // ELOOP when followed
  auto r = Rel({"logs/**/x.log.gz"});
  // Each directory is walked once, so nothing is found twice through a loop.
  EXPECT_THAT(r, ElementsAre("logs/a.com/2024010100/x.log.gz",
                             "logs/a.com/2024010101/x.log.gz",
                             "logs/b.com/2024010100/x.log.gz",
                             "logs/cc.org/2024010100/x.log.gz"));
  // Without **, depth is bounded by the pattern: the link is just a path.
  EXPECT_THAT(Rel({"logs/a.com/up/cc.org/*/x.log.gz"}),
              ElementsAre("logs/a.com/up/cc.org/2024010100/x.log.gz"));
}

// Runs ExpandGlobs({pattern}) as an unprivileged user in a child process when
// we are root (root reads every directory). Returns false if that is not
// possible here.
bool ExpandAsNobody(const std::string& pattern, StatusCode* code,
                    std::string* message) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    int rc = 2;
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      auto r = ExpandGlobs({pattern});
      std::string out = std::to_string(static_cast<int>(r.status().code())) +
                        "\n" + r.status().message();
      if (write(fds[1], out.data(), out.size()) ==
          static_cast<ssize_t>(out.size())) {
        rc = 0;
      }
    }
    _exit(rc);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  const size_t nl = out.find('\n');
  if (nl == std::string::npos) return false;
  *code = static_cast<StatusCode>(std::stoi(out.substr(0, nl)));
  *message = out.substr(nl + 1);
  return true;
}

TEST_F(GlobTest, UnreadableDirectoryIsPermissionDeniedNamingIt) {
  Touch("logs/locked/2024010100/x.log.gz");
  const std::string locked = P("logs/locked");
  const bool root = geteuid() == 0;
  if (root) {
    // The child drops to nobody: make the tree walkable for it.
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      fs::permissions(e.path(), fs::perms::others_read | fs::perms::others_exec,
                      fs::perm_options::add);
    }
    fs::permissions(dir_.path(),
                    fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::add);
  }
  fs::permissions(locked, fs::perms::none);

  for (const std::string& pattern :
       {P("logs/**/*.gz"), P("logs/*/2024010100/x.log.gz"),
        P("logs/locked/*/x.log.gz"), P("logs/locked/2024010100/x.log.gz")}) {
    SCOPED_TRACE(pattern);
    StatusCode code;
    std::string message;
    if (root) {
      if (!ExpandAsNobody(pattern, &code, &message)) {
        fs::permissions(locked, fs::perms::owner_all);
        GTEST_SKIP() << "cannot drop privileges to test an unreadable dir";
      }
    } else {
      auto r = ExpandGlobs({pattern});
      ASSERT_FALSE(r.ok());
      code = r.status().code();
      message = r.status().message();
    }
    EXPECT_EQ(code, StatusCode::kPermissionDenied) << message;
    EXPECT_THAT(message, HasSubstr("'" + locked + "'"));
  }
  fs::permissions(locked, fs::perms::owner_all);  // so TempDir can clean up
}

}  // namespace
}  // namespace taskgrid

namespace taskgrid {
namespace {

TEST(GlobLiteral, AnExistingFileNameIsTakenLiterally) {
  testing::TempDir dir;
  testing::WriteFile(dir.Path("a[1].log"), "x\n");
  testing::WriteFile(dir.Path("a1.log"), "y\n");
  auto got = ExpandGlobs({dir.Path("a[1].log")});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::vector<std::string>{dir.Path("a[1].log")});
  // Still a pattern when no file has that exact name.
  got = ExpandGlobs({dir.Path("a[12].log")});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::vector<std::string>{dir.Path("a1.log")});
}

}  // namespace
}  // namespace taskgrid
