// SqliteStateStore: cluster leadership, the one row of cluster_leader.
//
// ClaimLeadership is judged by store_errors::JudgeLeadership, as in every
// backend, and written in one BEGIN IMMEDIATE transaction that first reads
// the row again, so two claims (threads, handles or processes) never both
// take it.
//
// Thread-safety: as sqlite_state_store.h. Writes run under write_mu_;
// ClaimLeadership reads first on a pooled reader with no lock held (see
// there), as AcquireJob does.
#include <functional>
#include <mutex>
#include <string>

#include "core/status_macros.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_reader.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/sqlite_state_store.h"
#include "store/store_errors.h"

namespace taskgrid {

using sqlite_internal::Db;
using sqlite_internal::Get;
using sqlite_internal::ReadLeader;
using sqlite_internal::Stmt;
using sqlite_internal::WriteTxn;
using store_errors::LeaderClaim;
namespace sq = sqlite_internal;

StatusOr<LeaderRecord> SqliteStateStore::ClaimLeadership(
    const std::string& owner, const std::string& address, int64_t now_ms,
    int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  RETURN_IF_ERROR(store_errors::CheckLeaderOwner(owner));
  // owner_alive may be slow (it may ask another machine), so it runs with
  // no lock held; the write transaction then checks that the record it
  // judged has not changed in between, and judges again if it has. A
  // standby that finds the leader alive never takes the write lock.
  constexpr int kMaxRounds = 5;
  for (int round = 0; round < kMaxRounds; ++round) {
    LeaderRecord seen;
    {
      ASSIGN_OR_RETURN(Reader r, BorrowReader());
      ASSIGN_OR_RETURN(seen, ReadLeader(r.db()));
    }
    const LeaderClaim claim = store_errors::JudgeLeadership(
        seen, owner, now_ms, lease_ms, owner_alive);
    if (claim == LeaderClaim::kRefuse) return seen;
    std::lock_guard<std::mutex> lock(write_mu_);
    Db* db = writer_.get();
    WriteTxn txn(db);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(LeaderRecord now, ReadLeader(db));
    if (store_errors::LeaderChanged(seen, now)) {
      continue;  // changed under us: judge again
    }
    const LeaderRecord next =
        store_errors::ClaimedLeader(now, claim, owner, address, now_ms);
    {
      ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kSetLeaderSql));
      RETURN_IF_ERROR(s.Int(1, next.epoch)
                          .Text(2, next.owner)
                          .Text(3, next.address)
                          .Int(4, next.heartbeat_ms)
                          .Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return next;
  }
  return UnavailableError("cluster leadership keeps changing; try again");
}

Status SqliteStateStore::ReleaseLeadership(const std::string& owner) {
  if (owner.empty()) return OkStatus();  // "" never holds it
  std::lock_guard<std::mutex> lock(write_mu_);
  Db* db = writer_.get();
  WriteTxn txn(db);
  RETURN_IF_ERROR(txn.Begin());
  {
    // A no-op unless `owner` holds it (the WHERE names it).
    ASSIGN_OR_RETURN(Stmt s, Get(db, sq::kReleaseLeaderSql));
    RETURN_IF_ERROR(s.Text(1, owner).Run());
  }
  return txn.Commit();
}

StatusOr<LeaderRecord> SqliteStateStore::GetLeader() {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  return ReadLeader(r.db());
}

}  // namespace taskgrid
