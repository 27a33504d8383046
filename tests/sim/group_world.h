#pragma once

// GroupWorld: a deterministic simulation of one consumer group and its coordinator, from one
// seed.
//
// The coordinator runs the real broker::group::GroupShard over a simulated offsets partition: a
// call's records are appended, replayed, and committed after a random replication delay; only
// then is the call answered (as GroupCoordinator does). Coordinator failover loses the calls in
// flight and a random part of the uncommitted records (what the new leader had), then a new
// coordinator replays the surviving log into a fresh shard and serves after a pause. Members
// join, heartbeat, consume (their positions advance), commit, leave, pause past their session
// timeout and crash; every message between a member and the coordinator is delayed, reordered
// or dropped. Partitions are added to the topic now and then.
//
// A member follows the rules a real client must: it drops what an answer no longer lists before
// it reports the smaller set; it treats every partition as lost when its lease lapses — no
// successful heartbeat for the session timeout counted from the send time of the last one that
// succeeded, or, while it must confirm a revocation, the rebalance timeout counted from the
// request that started it — and on FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID.
//
// Checked after every event:
//   single-owner        no partition owned at the same instant by two members with a valid lease
//   coordinator-owner   the coordinator's state has no partition held by two members
//   offset-monotonic    the coordinator's committed offset of a partition is never below an
//                       offset whose commit was answered OK (across failovers too)
//   fenced-no-commit    a commit answered OK came from a member at its current epoch, holding
//                       the partition, in the coordinator's state at that time
// After faults stop: every live member rejoins and every partition is owned by exactly one of
// them, all at the group's assignment epoch, within bounded simulated time.

#include <cstdint>
#include <string>

namespace strand::broker::group::sim {

struct GroupSimOptions {
  int members = 5;         // most members at once
  int partitions = 12;     // of the subscribed topic at the start
  uint64_t steps = 4'000;  // events in the fault phase
  bool verbose = false;
};

struct GroupSimResult {
  bool ok = true;
  std::string checker;
  std::string detail;
  uint64_t step = 0;
  int64_t time_ms = 0;
  uint64_t events = 0;
  uint64_t failovers = 0;
  uint64_t commits_ok = 0;
  uint64_t commits_refused = 0;
  uint64_t revocations = 0;
  uint64_t leases_lapsed = 0;
};

GroupSimResult RunGroupSimulation(const GroupSimOptions& options, uint64_t seed);

}  // namespace strand::broker::group::sim
