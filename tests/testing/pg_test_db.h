// PostgreSQL for tests: the server named by $TASKGRID_TEST_PG_URL (e.g.
// from scripts/pg-test-server.sh, which .ci/run starts) and a database of
// its own per test. Without the variable, tests that need a server skip.
#ifndef TASKGRID_TESTS_TESTING_PG_TEST_DB_H_
#define TASKGRID_TESTS_TESTING_PG_TEST_DB_H_

#include <string>

namespace taskgrid::testing {

// $TASKGRID_TEST_PG_URL, or "" when unset.
std::string PgServerUrl();

// `conninfo` with its database replaced by `db`, as a key=value string.
std::string PgConninfoWithDb(const std::string& conninfo,
                             const std::string& db);

// Runs `sql` on `conninfo`; the first column of the first row as text ("" if
// none). A failure is a test failure (and returns "").
std::string PgQuery(const std::string& conninfo, const std::string& sql);

// A database of its own for one test, created on the server of
// PgServerUrl() and dropped (with any connection left to it) at the end.
class PgTestDatabase {
 public:
  PgTestDatabase();
  ~PgTestDatabase();
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  // The same as a postgresql:// URL (PgServerUrl() must be one).
  const std::string& url() const { return url_; }

 private:
  std::string name_;
  std::string conninfo_;
  std::string url_;
};

}  // namespace taskgrid::testing

#endif  // TASKGRID_TESTS_TESTING_PG_TEST_DB_H_
