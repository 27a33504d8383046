// Tests replica placement: per-topic balance within one replica and one leader per broker,
// rack awareness, and errors when there are too few brokers.
#include "controller/logic/placement.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

namespace strand::controller {
namespace {

std::vector<PlacementBroker> Brokers(int n, int racks = 0) {
  std::vector<PlacementBroker> out;
  for (int i = 1; i <= n; ++i) {
    out.push_back({NodeId(i), racks == 0 ? "" : "rack-" + std::to_string(i % racks)});
  }
  return out;
}

void ExpectBalanced(const std::vector<std::vector<NodeId>>& a, int brokers) {
  std::map<NodeId, int> replicas, leaders;
  for (int i = 1; i <= brokers; ++i) replicas[NodeId(i)] = leaders[NodeId(i)] = 0;
  for (const auto& p : a) {
    EXPECT_EQ(std::set<NodeId>(p.begin(), p.end()).size(), p.size()) << "duplicate replica";
    leaders[p.front()]++;
    for (NodeId r : p) replicas[r]++;
  }
  auto spread = [](const std::map<NodeId, int>& m) {
    int lo = INT32_MAX, hi = 0;
    for (const auto& [id, n] : m) {
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    return hi - lo;
  };
  EXPECT_LE(spread(replicas), 1);
  EXPECT_LE(spread(leaders), 1);
}

TEST(Placement, Balanced_WithinOneReplicaAndLeaderPerBroker) {
  for (int brokers : {1, 3, 4, 5, 7}) {
    for (int rf = 1; rf <= std::min(brokers, 3); ++rf) {
      for (int partitions : {1, 2, 6, 10, 31, 100}) {
        auto a = PlaceReplicas(partitions, rf, Brokers(brokers), {}, 7);
        ASSERT_TRUE(a.ok());
        ASSERT_EQ(a->size(), static_cast<size_t>(partitions));
        ExpectBalanced(*a, brokers);
      }
    }
  }
}

TEST(Placement, RackAware_NoTwoReplicasInOneRack) {
  // 6 brokers in 3 racks, RF 3: every partition spans all three racks.
  auto brokers = Brokers(6, 3);
  auto a = PlaceReplicas(30, 3, brokers, {}, 1);
  ASSERT_TRUE(a.ok());
  for (const auto& p : *a) {
    std::set<std::string> racks;
    for (NodeId r : p) racks.insert(brokers[static_cast<size_t>(r.value() - 1)].rack);
    EXPECT_EQ(racks.size(), 3u);
  }
  ExpectBalanced(*a, 6);
}

TEST(Placement, FewerRacksThanReplicas_SpreadsAsFarAsPossible) {
  auto brokers = Brokers(4, 2);
  auto a = PlaceReplicas(8, 3, brokers, {}, 1);
  ASSERT_TRUE(a.ok());
  for (const auto& p : *a) {
    std::set<std::string> racks;
    for (NodeId r : p) racks.insert(brokers[static_cast<size_t>(r.value() - 1)].rack);
    EXPECT_EQ(racks.size(), 2u);
  }
}

TEST(Placement, ExistingLoad_BreaksTiesTowardIdleBrokers) {
  PlacementLoad load;
  load.replicas[NodeId(1)] = 100;
  load.leaders[NodeId(1)] = 100;
  auto a = PlaceReplicas(1, 1, Brokers(3), load, 0);
  ASSERT_TRUE(a.ok());
  EXPECT_NE((*a)[0][0], NodeId(1));
}

TEST(Placement, TooFewBrokers_IsAnError) {
  auto a = PlaceReplicas(3, 4, Brokers(3), {}, 0);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("larger than the 3 available"), std::string::npos);
  EXPECT_FALSE(PlaceReplicas(3, 0, Brokers(3), {}, 0).ok());
}

}  // namespace
}  // namespace strand::controller
