// PostgresStateStore: cluster leadership, the one row of cluster_leader.
//
// ClaimLeadership is judged by store_errors::JudgeLeadership, as in every
// backend, and written in one transaction that first locks the row (SELECT
// ... FOR UPDATE) and checks it is still what was judged, so two claims
// (threads, handles or masters) never both take it.
//
// Thread-safety: as pg_state_store.h. Writes run under write_mu_;
// ClaimLeadership reads first on a pooled reader with no lock held (see
// there), as AcquireJob does.
#include <functional>
#include <mutex>
#include <string>

#include "core/status_macros.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_reader.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_state_store.h"
#include "store/store_errors.h"

namespace taskgrid {

using pg_internal::Conn;
using pg_internal::Params;
using pg_internal::ReadLeader;
using pg_internal::Txn;
using store_errors::LeaderClaim;
namespace pg = pg_internal;

StatusOr<LeaderRecord> PostgresStateStore::ClaimLeadership(
    const std::string& owner, const std::string& address, int64_t now_ms,
    int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  RETURN_IF_ERROR(store_errors::CheckLeaderOwner(owner));
  // owner_alive may be slow (it may ask another machine), so it runs with
  // no lock held; the write transaction then checks that the record it
  // judged has not changed in between, and judges again if it has. A
  // standby that finds the leader alive never opens a transaction.
  constexpr int kMaxRounds = 5;
  for (int round = 0; round < kMaxRounds; ++round) {
    LeaderRecord seen;
    {
      ASSIGN_OR_RETURN(Reader r, BorrowReader());
      ASSIGN_OR_RETURN(seen, ReadLeader(r.conn(), /*lock=*/false));
    }
    const LeaderClaim claim = store_errors::JudgeLeadership(
        seen, owner, now_ms, lease_ms, owner_alive);
    if (claim == LeaderClaim::kRefuse) return seen;
    std::lock_guard<std::mutex> lock(write_mu_);
    Conn* conn = writer_.get();
    Txn txn(conn);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(LeaderRecord now, ReadLeader(conn, /*lock=*/true));
    if (store_errors::LeaderChanged(seen, now)) {
      continue;  // changed under us: judge again
    }
    const LeaderRecord next =
        store_errors::ClaimedLeader(now, claim, owner, address, now_ms);
    Params p;
    p.Int8(next.epoch)
        .Text(next.owner)
        .Text(next.address)
        .Int8(next.heartbeat_ms);
    RETURN_IF_ERROR(conn->Exec(pg::kSetLeaderSql, p).status());
    RETURN_IF_ERROR(txn.Commit());
    return next;
  }
  return UnavailableError("postgresql " + name_ +
                          ": cluster leadership keeps changing; try again");
}

Status PostgresStateStore::ReleaseLeadership(const std::string& owner) {
  if (owner.empty()) return OkStatus();  // "" never holds it
  std::lock_guard<std::mutex> lock(write_mu_);
  Conn* conn = writer_.get();
  Txn txn(conn);
  RETURN_IF_ERROR(txn.Begin());
  // A no-op unless `owner` holds it (the WHERE names it).
  Params p;
  p.Text(owner);
  RETURN_IF_ERROR(conn->Exec(pg::kReleaseLeaderSql, p).status());
  return txn.Commit();
}

StatusOr<LeaderRecord> PostgresStateStore::GetLeader() {
  ASSIGN_OR_RETURN(Reader r, BorrowReader());
  return ReadLeader(r.conn(), /*lock=*/false);
}

}  // namespace taskgrid
