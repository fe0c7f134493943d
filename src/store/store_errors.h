// What every StateStore backend decides and reports the same way: the
// errors' wording, the lease rule of AcquireJob and the leadership rule of
// ClaimLeadership.
#ifndef TASKGRID_STORE_STORE_ERRORS_H_
#define TASKGRID_STORE_STORE_ERRORS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "core/states.h"
#include "store/state_store.h"
#include "taskgrid/status.h"

namespace taskgrid::store_errors {

// "job <id>", for messages.
inline std::string JobName(int64_t job_id) {
  return "job " + std::to_string(job_id);
}
// NotFound: "job <id> not found".
inline Status JobNotFound(int64_t job_id) {
  return NotFoundError(JobName(job_id) + " not found");
}
// NotFound: "job <id> has no task <task_id>".
inline Status TaskNotFound(int64_t job_id, int64_t task_id) {
  return NotFoundError(JobName(job_id) + " has no task " +
                       std::to_string(task_id));
}
// FailedPrecondition: "job <id> is already <state>".
inline Status AlreadyTerminal(int64_t job_id, JobState state) {
  return FailedPreconditionError(JobName(job_id) + " is already " +
                                 std::string(JobStateName(state)));
}

// AcquireJob's rule, judged on a read of the job (`seen`): OK if `owner`
// may take it now; AlreadyTerminal if it has ended; FailedPrecondition
// naming the holder if another owner's lease is fresh and `owner_alive`
// says it runs (with no liveness check, a fresh lease is presumed held).
inline Status JudgeLease(
    const JobRecord& seen, const std::string& owner, int64_t now_ms,
    int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  if (IsTerminal(seen.state)) return AlreadyTerminal(seen.id, seen.state);
  const bool held = !seen.owner.empty() && seen.owner != owner &&
                    now_ms - seen.heartbeat_ms < lease_ms;
  if (held && (!owner_alive || owner_alive(seen.owner))) {
    return FailedPreconditionError(
        JobName(seen.id) + " is owned by " + seen.owner +
        ", which is alive (last heartbeat " +
        std::to_string(now_ms - seen.heartbeat_ms) + " ms ago)");
  }
  return OkStatus();
}

// Whether the job's ownership changed between judging `seen` and locking
// `now` (then judge again).
inline bool OwnershipChanged(const JobRecord& seen, const JobRecord& now) {
  return now.epoch != seen.epoch || now.owner != seen.owner ||
         now.heartbeat_ms != seen.heartbeat_ms || now.state != seen.state;
}

// InvalidArgument for an empty owner, which could not be told from "nobody
// leads".
inline Status CheckLeaderOwner(const std::string& owner) {
  if (owner.empty()) {
    return InvalidArgumentError("cluster leadership needs a non-empty owner");
  }
  return OkStatus();
}

// What ClaimLeadership does, judged on a read of the leader record.
enum class LeaderClaim {
  kRenew,   // `owner` holds it: same epoch, new heartbeat and address
  kTake,    // `owner` takes it: epoch + 1
  kRefuse,  // another owner holds it: leave the record as it is
};

// ClaimLeadership's rule, judged on a read of the record (`seen`). `owner`
// renews if it holds the record and has not released it (even if its own
// lease ran out: nobody took over, so nobody led in between). It takes the
// record if nobody ever led, the holder released it, the holder's heartbeat
// is lease_ms old or older (as JudgeLease), or `owner_alive` says the
// holder no longer runs; `owner_alive` is asked only about a holder with a
// fresh lease, and without it a fresh lease is presumed held.
inline LeaderClaim JudgeLeadership(
    const LeaderRecord& seen, const std::string& owner, int64_t now_ms,
    int64_t lease_ms,
    const std::function<bool(const std::string&)>& owner_alive) {
  const bool released = seen.owner.empty() || seen.heartbeat_ms == 0;
  if (seen.owner == owner && !released) return LeaderClaim::kRenew;
  const bool held = !released && now_ms - seen.heartbeat_ms < lease_ms;
  if (held && (!owner_alive || owner_alive(seen.owner))) {
    return LeaderClaim::kRefuse;
  }
  return LeaderClaim::kTake;
}

// The record ClaimLeadership writes for `claim` (not kRefuse) over `seen`.
inline LeaderRecord ClaimedLeader(const LeaderRecord& seen, LeaderClaim claim,
                                  const std::string& owner,
                                  const std::string& address, int64_t now_ms) {
  LeaderRecord next;
  next.epoch = claim == LeaderClaim::kTake ? seen.epoch + 1 : seen.epoch;
  next.owner = owner;
  next.address = address;
  next.heartbeat_ms = now_ms;
  return next;
}

// Whether the leader record changed between judging `seen` and locking
// `now` (then judge again).
inline bool LeaderChanged(const LeaderRecord& seen, const LeaderRecord& now) {
  return now.epoch != seen.epoch || now.owner != seen.owner ||
         now.heartbeat_ms != seen.heartbeat_ms;
}

}  // namespace taskgrid::store_errors

#endif  // TASKGRID_STORE_STORE_ERRORS_H_
