#pragma once

// SimNetwork: the simulated network between Raft nodes. It promises what a real one promises —
// nothing: messages are delayed by random amounts (hence reordered), dropped, duplicated, and
// links can be cut in one direction or both. Cuts are checked at delivery time, so a message in
// flight when a partition starts is lost, as on a real link.

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "common/random.h"
#include "raft/core/types.h"

namespace strand::raft::sim {

struct NetworkFaults {
  double drop = 0;
  double duplicate = 0;
  int64_t delay_min_us = 50;
  int64_t delay_max_us = 2'000;
  double long_delay = 0;  // chance of a delay up to long_delay_max_us instead
  int64_t long_delay_max_us = 50'000;
};

class SimNetwork {
 public:
  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  // Delivery delays for one sent message: none (dropped), one, or two (duplicated).
  std::vector<int64_t> DeliveryDelays(Random& random) const;

  bool Blocked(NodeId from, NodeId to) const { return cut_.count({from, to}) > 0; }
  void CutOneWay(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void Cut(NodeId a, NodeId b) {
    CutOneWay(a, b);
    CutOneWay(b, a);
  }
  void HealAll() { cut_.clear(); }
  size_t cut_links() const { return cut_.size(); }

 private:
  NetworkFaults faults_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

}  // namespace strand::raft::sim
