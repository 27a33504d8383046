#include "tests/sim/checkers.h"

#include <fmt/format.h>

namespace strand::raft::sim {

uint64_t HashBytes(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across platforms and runs
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t ChainHash(uint64_t previous, const Entry& entry) {
  uint64_t h = previous ^ (entry.term.value() * 0x9e3779b97f4a7c15ULL);
  h ^= HashBytes(entry.data) + (h << 6) + (h >> 2);
  return h * 0x100000001b3ULL + entry.index.value();
}

std::optional<Violation> SafetyChecker::OnLeader(NodeId node, Term term, const RaftLog& log) {
  auto [it, inserted] = leader_of_term_.emplace(term, node);
  if (!inserted && it->second != node) {
    return Violation{"election-safety",
                     fmt::format("nodes {} and {} both lead term {}", it->second, node, term)};
  }
  if (!inserted) return std::nullopt;  // already checked this leader
  for (const auto& [index, c] : committed_) {
    if (c.commit_term_bound >= term || index <= log.compacted_index()) continue;
    auto t = log.TermAt(index);
    if (!t || *t != c.term) {
      return Violation{"leader-completeness",
                       fmt::format("node {} leads term {} but lacks entry {} (term {}) "
                                   "committed by term {}",
                                   node, term, index, c.term, c.commit_term_bound)};
    }
  }
  return std::nullopt;
}

std::optional<Violation> SafetyChecker::OnEntries(NodeId node, Term prev_term,
                                                  const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    const uint64_t h = HashBytes(e.data) ^ static_cast<uint64_t>(e.type);
    auto [it, inserted] = seen_.emplace(std::make_pair(e.index, e.term), Seen{h, prev_term, node});
    if (!inserted) {
      if (it->second.data_hash != h) {
        return Violation{"log-matching",
                         fmt::format("entry {} term {} differs between nodes {} and {}", e.index,
                                     e.term, it->second.first_node, node)};
      }
      if (it->second.prev_term != prev_term) {
        return Violation{"log-matching",
                         fmt::format("entry {} term {}: node {} has term {} before it, node {} "
                                     "has term {}",
                                     e.index, e.term, it->second.first_node, it->second.prev_term,
                                     node, prev_term)};
      }
    }
    prev_term = e.term;
  }
  return std::nullopt;
}

std::optional<Violation> SafetyChecker::OnApply(NodeId node, Term node_term, const Entry& entry,
                                                uint64_t chain_before, uint64_t* chain_after) {
  *chain_after = ChainHash(chain_before, entry);
  const uint64_t data_hash = HashBytes(entry.data);
  auto [it, inserted] =
      committed_.emplace(entry.index, Committed{entry.term, data_hash, *chain_after, node_term});
  if (inserted) {
    if (entry.index > max_committed_) max_committed_ = entry.index;
    return std::nullopt;
  }
  Committed& c = it->second;
  if (c.term != entry.term || c.data_hash != data_hash || c.chain != *chain_after) {
    return Violation{
        "state-machine-safety",
        fmt::format(
            "node {} applied entry {} (term {}) but term {} was applied "
            "there before{}",
            node, entry.index, entry.term, c.term,
            c.chain != *chain_after && c.term == entry.term ? " (state before it differs)" : "")};
  }
  if (node_term < c.commit_term_bound) c.commit_term_bound = node_term;
  return std::nullopt;
}

std::optional<Violation> SafetyChecker::OnRestore(NodeId node, LogIndex index, uint64_t chain) {
  auto it = committed_.find(index);
  if (it == committed_.end()) {
    return Violation{
        "state-machine-safety",
        fmt::format("node {} restored a snapshot at {} that nobody applied", node, index)};
  }
  if (it->second.chain != chain) {
    return Violation{
        "state-machine-safety",
        fmt::format("node {} restored a snapshot at {} whose state differs", node, index)};
  }
  return std::nullopt;
}

std::optional<Violation> SafetyChecker::OnRead(NodeId node, LogIndex read_index,
                                               LogIndex required) {
  if (read_index < required) {
    return Violation{"read-linearizability",
                     fmt::format("node {} got read index {} but {} was committed before the "
                                 "read began",
                                 node, read_index, required)};
  }
  return std::nullopt;
}

const SafetyChecker::Committed* SafetyChecker::committed(LogIndex index) const {
  auto it = committed_.find(index);
  return it == committed_.end() ? nullptr : &it->second;
}

}  // namespace strand::raft::sim
