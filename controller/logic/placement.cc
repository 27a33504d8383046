#include "controller/logic/placement.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace strand::controller {

absl::StatusOr<std::vector<std::vector<NodeId>>> PlaceReplicas(
    int32_t partitions, int32_t replication_factor, const std::vector<PlacementBroker>& brokers,
    const PlacementLoad& load, uint64_t rotation) {
  if (replication_factor < 1) {
    return absl::InvalidArgumentError("replication factor must be at least 1");
  }
  if (static_cast<size_t>(replication_factor) > brokers.size()) {
    return absl::InvalidArgumentError(
        fmt::format("replication factor {} is larger than the {} available broker(s)",
                    replication_factor, brokers.size()));
  }
  const size_t n = brokers.size();
  std::set<std::string> racks;
  for (const auto& b : brokers) racks.insert(b.rack);
  const bool rack_aware = !(racks.size() == 1 && racks.count("") == 1);
  std::vector<int64_t> topic_replicas(n, 0), topic_leaders(n, 0);
  auto cluster = [](const std::map<NodeId, int64_t>& m, NodeId id) {
    auto it = m.find(id);
    return it == m.end() ? 0 : it->second;
  };
  std::vector<std::vector<NodeId>> out;
  out.reserve(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    std::vector<NodeId> chosen;
    std::set<std::string> used_racks;
    std::vector<bool> taken(n, false);
    for (int32_t r = 0; r < replication_factor; ++r) {
      // A rack not yet used by this partition, while one is left.
      bool fresh_rack_left = false;
      for (size_t i = 0; i < n; ++i) {
        if (!taken[i] && !used_racks.count(brokers[i].rack)) fresh_rack_left = true;
      }
      size_t best = n;
      auto key = [&](size_t i) {
        const bool leader = r == 0;
        return std::make_tuple(leader ? topic_leaders[i] : 0, topic_replicas[i],
                               leader ? cluster(load.leaders, brokers[i].id) : 0,
                               cluster(load.replicas, brokers[i].id),
                               (i + n - (rotation + static_cast<uint64_t>(p)) % n) % n);
      };
      for (size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        if (rack_aware && fresh_rack_left && used_racks.count(brokers[i].rack)) continue;
        if (best == n || key(i) < key(best)) best = i;
      }
      taken[best] = true;
      used_racks.insert(brokers[best].rack);
      topic_replicas[best]++;
      if (r == 0) topic_leaders[best]++;
      chosen.push_back(brokers[best].id);
    }
    out.push_back(std::move(chosen));
  }
  return out;
}

}  // namespace strand::controller
