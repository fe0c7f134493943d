#include "testing/pg_test_db.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace taskgrid::testing {

std::string PgServerUrl() {
  const char* url = std::getenv("TASKGRID_TEST_PG_URL");
  return url != nullptr ? url : "";
}

std::string PgConninfoWithDb(const std::string& conninfo,
                             const std::string& db) {
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string out;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr);
  EXPECT_NE(opts, nullptr) << "bad conninfo " << conninfo;
  for (PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "dbname") continue;
    out += std::string(o->keyword) + "=" + quote(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + quote(db);
}

std::string PgQuery(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string v;
  if (PQstatus(c) != CONNECTION_OK) {
    ADD_FAILURE() << "connect: " << PQerrorMessage(c);
  } else {
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) {
      v = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(c);
  return v;
}

PgTestDatabase::PgTestDatabase() {
  static std::atomic<int> counter{0};
  name_ =
      "tg_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  PgQuery(PgServerUrl(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  PgQuery(PgServerUrl(), "CREATE DATABASE " + name_);
  conninfo_ = PgConninfoWithDb(PgServerUrl(), name_);
  // postgresql://user@host:port/db?params: swap the database.
  const std::string server = PgServerUrl();
  const size_t q = server.find('?');
  const std::string base = server.substr(0, q);
  const size_t scheme = base.find("://");
  const size_t slash =
      base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  url_ = base.substr(0, slash) + "/" + name_ +
         (q == std::string::npos ? "" : server.substr(q));
}

PgTestDatabase::~PgTestDatabase() {
  PgQuery(PgServerUrl(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

}  // namespace taskgrid::testing
