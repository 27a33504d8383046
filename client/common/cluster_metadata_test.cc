// ClusterMetadata::FromResponse: an answer with an older leader epoch than the one known does not
// move a partition back to a deposed leader (KIP-320); a recreated topic (new id) starts over.
#include "client/common/cluster_metadata.h"

#include <gtest/gtest.h>

namespace strand::client {
namespace {

broker::v1::MetadataResponse Answer(const std::string& topic_id, int32_t leader, int32_t epoch) {
  broker::v1::MetadataResponse r;
  for (int32_t id : {101, 102}) {
    auto* b = r.add_brokers();
    b->set_id(id);
    b->set_host("127.0.0.1");
    b->set_port(9000 + id);
  }
  auto* t = r.add_topics();
  t->set_name("orders");
  t->set_topic_id(topic_id);
  auto* p = t->add_partitions();
  p->set_partition(0);
  p->set_leader(leader);
  p->set_leader_epoch(epoch);
  return r;
}

int32_t LeaderOf(const ClusterMetadata& m) {
  const TopicMetadata* t = m.topic("orders");
  return t == nullptr ? -2 : t->partitions.at(0).leader;
}

TEST(ClusterMetadata, FromResponse_OlderLeaderEpochKeepsKnownLeader) {
  const ClusterMetadata known = ClusterMetadata::FromResponse(Answer("id-1", 102, 5), nullptr);
  // A broker with stale metadata still names itself, at an older epoch.
  const ClusterMetadata stale = ClusterMetadata::FromResponse(Answer("id-1", 101, 4), &known);
  EXPECT_EQ(LeaderOf(stale), 102);
  EXPECT_EQ(stale.topic("orders")->partitions.at(0).leader_epoch, 5);
  EXPECT_EQ(stale.topic("orders")->available_partitions, std::vector<int32_t>{0});
  // A stranded leader's answer at the same epoch (no leader) is taken: the client asks again.
  const ClusterMetadata none = ClusterMetadata::FromResponse(Answer("id-1", -1, 5), &known);
  EXPECT_EQ(LeaderOf(none), -1);
  EXPECT_TRUE(none.topic("orders")->available_partitions.empty());
  // Newer epochs win; a recreated topic (another id) starts its epochs again.
  EXPECT_EQ(LeaderOf(ClusterMetadata::FromResponse(Answer("id-1", 101, 6), &known)), 101);
  EXPECT_EQ(LeaderOf(ClusterMetadata::FromResponse(Answer("id-2", 101, 0), &known)), 101);
}

}  // namespace
}  // namespace strand::client
