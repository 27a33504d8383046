// Tests log compaction and chunked InstallSnapshot (Raft paper section 7): a follower behind the
// compaction point receives the snapshot in chunks, lost chunks are re-sent, a transfer survives
// a follower restart, and a restarted node boots from its snapshot plus the entries after it.
#include <gtest/gtest.h>

#include "raft/core/raft_test_util.h"

namespace strand::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;
using testing::Data;

ClusterOptions SmallChunks() {
  ClusterOptions o;
  o.tweak = [](Config& c) {
    c.snapshot_chunk_bytes = 10;
    c.snapshot_trailing_entries = 0;
  };
  return o;
}

// The harness's state machine is the list of applied data; its snapshot is that list joined.
std::shared_ptr<const std::string> SnapshotOf(const testing::TestNode& n) {
  std::string data;
  if (n.restored) data = *n.restored->data;
  for (const std::string& d : Data(n.applied)) data += d + ";";
  return std::make_shared<const std::string>(std::move(data));
}

size_t Count(const std::vector<Message>& msgs, MessageType type, int to) {
  size_t n = 0;
  for (const Message& m : msgs) n += m.type == type && m.to == NodeId(to);
  return n;
}

// Elects 1, writes 10 entries while 3 is cut off, compacts the leader's whole log.
void LeaveNodeThreeBehindCompaction(Cluster& c) {
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, "v" + std::to_string(i)).ok());
  const LogIndex applied = c.raft(1).log().applied();
  c.node(1).node->Compact(applied, SnapshotOf(c.node(1)));
  ASSERT_EQ(c.raft(1).log().FirstIndex(), applied + 1);
}

TEST(Snapshot, LaggingFollower_ReceivesSnapshotInChunks) {
  Cluster c(SmallChunks());
  LeaveNodeThreeBehindCompaction(c);
  const std::string expected = *c.raft(1).snapshot().data;
  c.sent.clear();
  c.HealAll();
  c.TickAll(13);  // the leader notices the stalled follower, probes, and needs the snapshot
  EXPECT_GE(Count(c.sent, MessageType::kSnapshotChunk, 3), expected.size() / 10);
  ASSERT_TRUE(c.node(3).restored.has_value());
  EXPECT_EQ(*c.node(3).restored->data, expected);
  EXPECT_EQ(c.raft(3).log().LastIndex(), c.raft(1).log().LastIndex());
  // Replication continues by appends after the snapshot.
  ASSERT_TRUE(c.Propose(1, "after").ok());
  c.TickAll(1);
  EXPECT_EQ(Data(c.node(3).applied), std::vector<std::string>{"after"});
}

TEST(Snapshot, LostChunk_IsResent) {
  Cluster c(SmallChunks());
  LeaveNodeThreeBehindCompaction(c);
  int dropped = 0;
  c.drop = [&](const Message& m) {
    if (m.type == MessageType::kSnapshotChunk && m.snapshot_offset == 20 && dropped == 0) {
      ++dropped;
      return true;
    }
    return false;
  };
  c.HealAll();
  c.TickAll(20);
  EXPECT_EQ(dropped, 1);
  ASSERT_TRUE(c.node(3).restored.has_value());
  EXPECT_EQ(*c.node(3).restored->data, *c.raft(1).snapshot().data);
}

TEST(Snapshot, FollowerRestartMidTransfer_Completes) {
  Cluster c(SmallChunks());
  LeaveNodeThreeBehindCompaction(c);
  // Let three chunks through, then crash the receiver.
  int chunks = 0;
  c.drop = [&](const Message& m) {
    return m.type == MessageType::kSnapshotChunk && m.to == NodeId(3) && ++chunks > 3;
  };
  c.HealAll();
  c.TickAll(1);
  c.Crash(3);
  c.drop = nullptr;
  c.Restart(3);
  c.TickAll(20);
  ASSERT_TRUE(c.node(3).restored.has_value());
  EXPECT_EQ(*c.node(3).restored->data, *c.raft(1).snapshot().data);
  EXPECT_EQ(c.raft(3).log().committed(), c.raft(1).log().committed());
}

TEST(Snapshot, TrailingEntries_LetSlightlyBehindFollowerCatchUpByAppends) {
  ClusterOptions o;
  o.tweak = [](Config& c) { c.snapshot_trailing_entries = 100; };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, "t").ok());
  c.node(1).node->Compact(c.raft(1).log().applied(), SnapshotOf(c.node(1)));
  c.sent.clear();
  c.HealAll();
  c.TickAll(13);
  EXPECT_EQ(Count(c.sent, MessageType::kSnapshotChunk, 3), 0u);
  EXPECT_EQ(Data(c.node(3).applied).size(), 10u);
}

TEST(Snapshot, Restart_BootsFromSnapshotAndLaterEntries) {
  Cluster c;
  ASSERT_TRUE(c.Elect(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "s" + std::to_string(i)).ok());
  const LogIndex at = c.raft(1).log().applied();
  auto data = SnapshotOf(c.node(1));
  c.node(1).node->Compact(at, data);
  ASSERT_TRUE(c.node(1).storage.SaveSnapshot(c.raft(1).snapshot(), at).ok());
  ASSERT_TRUE(c.Propose(1, "later").ok());
  c.TickAll(1);
  c.Crash(1);
  c.Restart(1);
  ASSERT_TRUE(c.node(1).restored.has_value());
  EXPECT_EQ(*c.node(1).restored->data, *data);
  EXPECT_EQ(c.raft(1).log().FirstIndex(), at + 1);
  c.TickAll(25);
  EXPECT_EQ(Data(c.node(1).applied), std::vector<std::string>{"later"});
}

TEST(Snapshot, ShouldSnapshot_AfterInterval) {
  ClusterOptions o;
  o.tweak = [](Config& c) { c.snapshot_interval_entries = 5; };
  Cluster c(o);
  ASSERT_TRUE(c.Elect(1));
  EXPECT_FALSE(c.node(1).node->ShouldSnapshot());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  EXPECT_TRUE(c.node(1).node->ShouldSnapshot());
  c.node(1).node->Compact(c.raft(1).log().applied(), SnapshotOf(c.node(1)));
  EXPECT_FALSE(c.node(1).node->ShouldSnapshot());
}

}  // namespace
}  // namespace strand::raft
