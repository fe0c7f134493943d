// tablescan: page through a SQLite table by id range, the SchedulerX way.
//
//                    +--> page [min, min+P)      --+
//   root             |                             |
//   SELECT min(id),  +--> page [min+P, min+2P)   --+-->  reduce
//          max(id)   |        ...                  |     rows=<n> sum=<s>
//                    +--> page [.., max+1)       --+
//
// The root task reads the table's id bounds and fans out one "page" task per
// `page_size` ids (ids may have gaps: a page may hold fewer rows, or none).
// Each page task counts its rows and sums their `amount` column; Reduce totals
// the pages. Pages run in parallel on the workers, and a failed page is
// retried on its own (`tablescan rerun JOB --failed`), not the whole scan.
//
// The table needs an INTEGER `id` (ideally the primary key, so each page is an
// index range scan) and an INTEGER `amount` (e.g. cents).
//
// Run it:
//   sqlite3 orders.db "CREATE TABLE orders(id INTEGER PRIMARY KEY,
//                                          amount INTEGER NOT NULL)"
//   ... fill it ...
//   tablescan run examples/tablescan/job.yaml --state /tmp/ts.db
//   tablescan status 1 --state /tmp/ts.db
//
// The binary is a full taskgrid CLI (run, status, tasks, logs, rerun, ...)
// that also knows the "tablescan" processor. It uses the public API only.
#include <sqlite3.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "taskgrid/taskgrid.h"

namespace {

using taskgrid::IdRange;
using taskgrid::JobContext;
using taskgrid::Status;
using taskgrid::StatusOr;
using taskgrid::TaskContext;
using taskgrid::TaskResult;

// Refuse to fan out more pages than this: a sparse id space with a small
// page_size would otherwise create millions of nearly empty tasks.
constexpr int64_t kMaxPages = 1'000'000;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Table names cannot be bound as SQL parameters, so the name is spliced into
// the query text: accept plain identifiers only, never arbitrary text.
bool IsPlainIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  const auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// A Status carrying SQLite's own message; busy/locked are transient.
Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return taskgrid::UnavailableError(msg);
    case SQLITE_CANTOPEN:
      return taskgrid::NotFoundError(msg);
    default:
      return taskgrid::FailedPreconditionError(msg);
  }
}

bool ParseInt(std::string_view s, int64_t* v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

// A page task's result is "<rows>,<sum>".
bool ParsePageResult(std::string_view result, int64_t* rows, int64_t* sum) {
  const size_t comma = result.find(',');
  return comma != std::string_view::npos &&
         ParseInt(result.substr(0, comma), rows) &&
         ParseInt(result.substr(comma + 1), sum);
}

class TableScan : public taskgrid::MapReduceProcessor {
 public:
  Status Process(TaskContext& ctx) override {
    auto table = ctx.params().String("table");
    if (!table.ok()) return table.status().WithPrefix("params.table");
    if (!IsPlainIdentifier(*table)) {
      return taskgrid::InvalidArgumentError(
          "params.table '" + *table +
          "' is not a plain SQL identifier (letters, digits and _ only)");
    }
    Status s = OpenOnce(ctx);
    if (!s.ok()) return s;
    if (ctx.stage() == "root") return Root(ctx, *table);
    return Page(ctx, *table);
  }

  Status Reduce(JobContext& ctx) override {
    int64_t rows = 0;
    int64_t sum = 0;
    Status bad;
    Status s = ctx.ForEachResult([&](const TaskResult& r) {
      if (r.stage == "root" || !bad.ok()) return;  // root has no result
      int64_t n = 0;
      int64_t v = 0;
      if (!ParsePageResult(r.result, &n, &v)) {
        bad = taskgrid::DataLossError("task " + std::to_string(r.task_id) +
                                      ": bad page result '" + r.result + "'");
      } else if (__builtin_add_overflow(rows, n, &rows) ||
                 __builtin_add_overflow(sum, v, &sum)) {
        bad = taskgrid::OutOfRangeError("row count or sum overflows int64");
      }
    });
    if (!s.ok()) return s;
    if (!bad.ok()) return bad;
    ctx.SetResult("rows=" + std::to_string(rows) +
                  " sum=" + std::to_string(sum));
    return taskgrid::OkStatus();
  }

 private:
  // One read-only connection per instance (one instance per worker slot and
  // job, called sequentially), opened by the first task this slot runs.
  Status OpenOnce(TaskContext& ctx) {
    if (db_) return taskgrid::OkStatus();
    auto path = ctx.params().String("db");
    if (!path.ok()) return path.status().WithPrefix("params.db");
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path->c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) {
      return SqliteError(db.get(), rc, "open database '" + *path + "'");
    }
    sqlite3_busy_timeout(db.get(), 5000);
    db_ = std::move(db);
    return taskgrid::OkStatus();
  }

  StatusOr<Stmt> Prepare(const std::string& sql, const std::string& table) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(
        db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    Stmt st(raw);
    if (rc != SQLITE_OK) {
      return SqliteError(db_.get(), rc, "table '" + table + "'");
    }
    return st;
  }

  Status Root(TaskContext& ctx, const std::string& table) {
    auto page_size = ctx.params().Int("page_size");
    if (!page_size.ok()) return page_size.status().WithPrefix("params");
    if (*page_size < 1) {
      return taskgrid::InvalidArgumentError("params.page_size must be >= 1");
    }
    auto st = Prepare("SELECT min(id), max(id) FROM " + table, table);
    if (!st.ok()) return st.status();
    const int rc = sqlite3_step(st->get());
    if (rc != SQLITE_ROW) return SqliteError(db_.get(), rc, "min/max of id");
    if (sqlite3_column_type(st->get(), 0) == SQLITE_NULL) {
      ctx.Log("table " + table + " is empty: no pages");
      return taskgrid::OkStatus();
    }
    const int64_t lo = sqlite3_column_int64(st->get(), 0);
    const int64_t hi = sqlite3_column_int64(st->get(), 1);
    if (hi == std::numeric_limits<int64_t>::max()) {
      return taskgrid::OutOfRangeError("max(id) of " + table +
                                       " is INT64_MAX; pages are [start,end)");
    }
    // Pages of [lo, hi]: unsigned arithmetic, as hi - lo may exceed INT64_MAX.
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    const uint64_t step = static_cast<uint64_t>(*page_size);
    const uint64_t pages = span / step + 1;
    if (pages > static_cast<uint64_t>(kMaxPages)) {
      return taskgrid::InvalidArgumentError(
          "ids " + std::to_string(lo) + ".." + std::to_string(hi) + " in " +
          std::to_string(pages) + " pages is more than " +
          std::to_string(kMaxPages) + ": raise params.page_size");
    }
    std::vector<std::string> payloads;
    payloads.reserve(pages);
    for (uint64_t i = 0; i < pages; ++i) {
      const int64_t start = static_cast<int64_t>(lo + i * step);
      const int64_t end =
          i + 1 == pages ? hi + 1 : static_cast<int64_t>(lo + (i + 1) * step);
      payloads.push_back(IdRange{start, end}.ToPayload());
    }
    ctx.Log("table " + table + ": ids " + std::to_string(lo) + ".." +
            std::to_string(hi) + ", " + std::to_string(pages) + " pages of " +
            std::to_string(*page_size));
    ctx.Map(std::move(payloads), "page");
    return taskgrid::OkStatus();
  }

  Status Page(TaskContext& ctx, const std::string& table) {
    auto range = IdRange::Parse(ctx.payload());
    if (!range.ok()) return range.status();
    auto st = Prepare("SELECT count(*), coalesce(sum(amount), 0) FROM " +
                          table + " WHERE id >= ? AND id < ?",
                      table);
    if (!st.ok()) return st.status();
    sqlite3_bind_int64(st->get(), 1, range->start);
    sqlite3_bind_int64(st->get(), 2, range->end);
    const int rc = sqlite3_step(st->get());
    if (rc != SQLITE_ROW) {
      return SqliteError(db_.get(), rc, "page " + ctx.payload());
    }
    if (sqlite3_column_type(st->get(), 1) != SQLITE_INTEGER) {
      return taskgrid::InvalidArgumentError(
          "table " + table + ": amount must be INTEGER (e.g. cents) in ids " +
          ctx.payload());
    }
    const int64_t rows = sqlite3_column_int64(st->get(), 0);
    const int64_t sum = sqlite3_column_int64(st->get(), 1);
    ctx.Log("ids [" + ctx.payload() + "): " + std::to_string(rows) +
            " rows, sum " + std::to_string(sum));
    ctx.SetResult(std::to_string(rows) + "," + std::to_string(sum));
    return taskgrid::OkStatus();
  }

  Db db_;
};

}  // namespace

TASKGRID_REGISTER_PROCESSOR("tablescan", TableScan);

int main(int argc, char** argv) { return taskgrid::Main(argc, argv); }
