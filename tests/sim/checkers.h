#pragma once

// Safety checkers for the Raft simulator: the properties of Raft paper Figure 3, each named so a
// failure says which one broke, plus read linearizability for ReadIndex. The world calls the
// On* hooks at the moment each event happens; a hook returns a Violation when a property broke.
//
//   election-safety      at most one leader per term
//   log-matching         two logs with an entry of the same index and term hold the same entry
//                        and agree on the term of the entry before it (hence on the whole prefix)
//   leader-completeness  a leader of term T holds every entry committed in a term before T
//   state-machine-safety no two nodes apply different entries at the same index (checked by a
//                        hash chain, so snapshots are compared too)
//   read-linearizability a ReadIndex answer is at least every commit observed before the read
//
// Pure bookkeeping: no clocks, no randomness.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "raft/core/raft_log.h"
#include "raft/core/types.h"

namespace strand::raft::sim {

struct Violation {
  std::string checker;
  std::string detail;
};

uint64_t HashBytes(std::string_view data);
// The state machine's running hash after applying an entry on top of `previous`.
uint64_t ChainHash(uint64_t previous, const Entry& entry);

class SafetyChecker {
 public:
  std::optional<Violation> OnLeader(NodeId node, Term term, const RaftLog& log);
  // Entries about to be persisted by `node`; `prev_term` is the term of the entry before the
  // first one, as the node's log has it.
  std::optional<Violation> OnEntries(NodeId node, Term prev_term,
                                     const std::vector<Entry>& entries);
  // `node` (currently at `node_term`) applies `entry`, moving its chain from `chain_before`.
  std::optional<Violation> OnApply(NodeId node, Term node_term, const Entry& entry,
                                   uint64_t chain_before, uint64_t* chain_after);
  // `node` restores a snapshot whose state is (index, chain).
  std::optional<Violation> OnRestore(NodeId node, LogIndex index, uint64_t chain);
  std::optional<Violation> OnRead(NodeId node, LogIndex read_index, LogIndex required);

  LogIndex max_committed() const { return max_committed_; }
  size_t committed_entries() const { return committed_.size(); }
  // The recorded committed entry at `index`, if any (used by the liveness check).
  struct Committed {
    Term term;
    uint64_t data_hash;
    uint64_t chain;
    Term commit_term_bound;  // the entry was committed in this term or earlier
  };
  const Committed* committed(LogIndex index) const;

 private:
  struct Seen {
    uint64_t data_hash;
    Term prev_term;
    NodeId first_node;
  };
  std::map<Term, NodeId> leader_of_term_;
  std::map<std::pair<LogIndex, Term>, Seen> seen_;
  std::map<LogIndex, Committed> committed_;
  LogIndex max_committed_;
};

}  // namespace strand::raft::sim
