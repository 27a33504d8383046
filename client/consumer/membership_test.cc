// Tests Membership, the consumer's group state machine, without threads or sockets: what a
// heartbeat carries, how answers move the states (join, assignment, fencing, fatal errors, poll
// timeout, leaving), and the ordering rule — owned shrinks only when the polling thread says
// the revocation is done.
#include "client/consumer/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_proto.h"

namespace strand::client {
namespace {

using group::v1::ConsumerGroupHeartbeatResponse;

MembershipConfig Config(std::string instance = "") {
  MembershipConfig c;
  c.group_id = "g";
  c.member_id = "m-1";
  c.instance_id = std::move(instance);
  c.rack_id = "rack-a";
  c.rebalance_timeout_ms = 1234;
  c.server_assignor = "range";
  c.client_id = "app";
  c.retry_backoff_ms = 10;
  c.retry_backoff_max_ms = 10;
  return c;
}

ConsumerGroupHeartbeatResponse Answer(int32_t epoch, std::vector<TopicPartition> assignment) {
  ConsumerGroupHeartbeatResponse r;
  r.set_member_epoch(epoch);
  r.set_heartbeat_interval_ms(1000);
  for (const TopicPartition& tp : assignment) {
    auto* t = r.add_assignment();
    t->set_topic(tp.topic);
    t->add_partitions(tp.partition);
  }
  return r;
}

ConsumerGroupHeartbeatResponse Error(KafkaError error) {
  ConsumerGroupHeartbeatResponse r;
  SetKafkaError(r.mutable_error(), error, "from the coordinator");
  return r;
}

std::vector<TopicPartition> Owned(const group::v1::ConsumerGroupHeartbeatRequest& r) {
  std::vector<TopicPartition> out;
  for (const auto& t : r.owned()) {
    for (int32_t p : t.partitions()) out.push_back({t.topic(), p});
  }
  return out;
}

const TopicPartition kA0{"a", 0};
const TopicPartition kA1{"a", 1};

// Joins and takes `assignment` at epoch 5.
void JoinWith(Membership& m, std::vector<TopicPartition> assignment) {
  m.Subscribe({"a"}, "");
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), Answer(5, assignment), 0);
  m.CompleteAssignment(m.PendingWork().added);
}

TEST(Membership, Join_FullStateAtEpochZero) {
  Membership m(Config("inst"));
  EXPECT_FALSE(m.HeartbeatDue(0));  // not subscribed
  m.Subscribe({"a", "b"}, "");
  EXPECT_TRUE(m.HeartbeatDue(0));
  const auto r = m.BuildHeartbeat();
  EXPECT_EQ(r.group_id(), "g");
  EXPECT_EQ(r.member_id(), "m-1");
  EXPECT_EQ(r.member_epoch(), 0);
  EXPECT_EQ(r.instance_id(), "inst");
  EXPECT_EQ(r.rack_id(), "rack-a");
  EXPECT_EQ(r.rebalance_timeout_ms(), 1234);
  EXPECT_THAT(r.subscribed_topic_names(), ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(r.subscribed_topic_regex(), "");
  EXPECT_EQ(r.server_assignor(), "range");
  EXPECT_EQ(r.client_id(), "app");
  EXPECT_EQ(r.owned_size(), 0);
  m.OnHeartbeatAnswer(m.session(), Answer(3, {kA0, kA1}), 100);
  EXPECT_EQ(m.state(), MemberState::kMember);
  EXPECT_EQ(m.member_epoch(), 3);
  EXPECT_FALSE(m.HeartbeatDue(1099));
  EXPECT_TRUE(m.HeartbeatDue(1100));  // the coordinator's interval
  EXPECT_THAT(m.PendingWork().added, ::testing::ElementsAre(kA0, kA1));
  m.CompleteAssignment({kA0, kA1});
  EXPECT_TRUE(m.HeartbeatDue(100));  // owned changed: at once
  const auto next = m.BuildHeartbeat();
  EXPECT_EQ(next.member_epoch(), 3);
  EXPECT_THAT(Owned(next), ::testing::ElementsAre(kA0, kA1));
}

TEST(Membership, Revocation_OwnedShrinksOnlyWhenCompleted) {
  Membership m(Config());
  JoinWith(m, {kA0, kA1});
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), Answer(6, {kA0}), 10);
  EXPECT_THAT(m.PendingWork().revoked, ::testing::ElementsAre(kA1));
  EXPECT_TRUE(m.PendingWork().added.empty());
  // Until the polling thread is done, every heartbeat still reports both.
  EXPECT_THAT(Owned(m.BuildHeartbeat()), ::testing::ElementsAre(kA0, kA1));
  m.CompleteRevocation({kA1});
  EXPECT_TRUE(m.HeartbeatDue(10));
  EXPECT_THAT(Owned(m.BuildHeartbeat()), ::testing::ElementsAre(kA0));
}

TEST(Membership, HeartbeatNowWhileInFlight_SendsAgainAtOnce) {
  Membership m(Config());
  JoinWith(m, {kA0});
  m.BuildHeartbeat();
  m.HeartbeatNow();  // e.g. a revocation completed while the heartbeat was on the wire
  m.OnHeartbeatAnswer(m.session(), Answer(5, {kA0}), 50);
  EXPECT_TRUE(m.HeartbeatDue(50));
}

TEST(Membership, Fenced_LostThenRejoinAtEpochZero) {
  Membership m(Config());
  JoinWith(m, {kA0});
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), Error(KafkaError::kFencedMemberEpoch), 10);
  EXPECT_EQ(m.state(), MemberState::kLost);
  EXPECT_FALSE(m.HeartbeatDue(1'000'000));  // nothing until Poll dropped them
  const auto work = m.PendingWork();
  EXPECT_TRUE(work.lost);
  EXPECT_THAT(work.owned, ::testing::ElementsAre(kA0));
  m.CompleteLost();
  EXPECT_EQ(m.state(), MemberState::kJoining);
  const auto r = m.BuildHeartbeat();
  EXPECT_EQ(r.member_epoch(), 0);
  EXPECT_EQ(r.member_id(), "m-1");  // the same id (KIP-1082)
  EXPECT_EQ(r.owned_size(), 0);
}

TEST(Membership, UnknownMemberWithoutPartitions_RejoinsAtOnce) {
  Membership m(Config());
  JoinWith(m, {});
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), Error(KafkaError::kUnknownMemberId), 10);
  EXPECT_EQ(m.state(), MemberState::kJoining);
  EXPECT_TRUE(m.HeartbeatDue(10));
}

TEST(Membership, RetriableAndFatalErrors) {
  Membership m(Config());
  m.Subscribe({}, "a.*");
  EXPECT_EQ(m.BuildHeartbeat().subscribed_topic_regex(), "a.*");
  m.OnHeartbeatAnswer(m.session(), Error(KafkaError::kUnreleasedInstanceId), 100);
  EXPECT_EQ(m.state(), MemberState::kJoining);
  EXPECT_FALSE(m.HeartbeatDue(100));
  EXPECT_TRUE(m.HeartbeatDue(120));  // after the backoff
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), KafkaStatus(KafkaError::kCoordinatorLoadInProgress, "x"), 200);
  EXPECT_EQ(m.state(), MemberState::kJoining);
  m.BuildHeartbeat();
  m.OnHeartbeatAnswer(m.session(), Error(KafkaError::kGroupMaxSizeReached), 300);
  EXPECT_EQ(m.state(), MemberState::kFatal);
  EXPECT_EQ(KafkaErrorOf(m.PendingWork().fatal), KafkaError::kGroupMaxSizeReached);
  EXPECT_THAT(std::string(m.PendingWork().fatal.message()),
              ::testing::HasSubstr("from the coordinator"));
  EXPECT_FALSE(m.HeartbeatDue(1'000'000));
  m.Subscribe({"a"}, "");  // a new subscription tries again
  EXPECT_EQ(m.state(), MemberState::kJoining);
  EXPECT_TRUE(m.PendingWork().fatal.ok());
}

TEST(Membership, Leave_EpochByMemberKind) {
  Membership dynamic(Config());
  JoinWith(dynamic, {kA0});
  auto leave = dynamic.Leave(/*temporarily=*/true);
  ASSERT_TRUE(leave.has_value());
  EXPECT_EQ(leave->member_epoch(), kLeaveEpoch);
  EXPECT_EQ(dynamic.state(), MemberState::kNotMember);
  EXPECT_FALSE(dynamic.HeartbeatDue(1'000'000));

  Membership fixed(Config("inst"));
  JoinWith(fixed, {kA0});
  leave = fixed.Leave(/*temporarily=*/true);
  ASSERT_TRUE(leave.has_value());
  EXPECT_EQ(leave->member_epoch(), kLeaveTemporarilyEpoch);
  EXPECT_EQ(leave->instance_id(), "inst");

  Membership never(Config());
  EXPECT_FALSE(never.Leave(true).has_value());  // never counted by the coordinator
}

TEST(Membership, PollTimeout_LeavesAndReportsLost) {
  Membership m(Config("inst"));
  JoinWith(m, {kA0});
  auto leave = m.LeaveForPollTimeout();
  ASSERT_TRUE(leave.has_value());
  EXPECT_EQ(leave->member_epoch(), kLeaveEpoch);
  EXPECT_EQ(m.state(), MemberState::kLost);
  EXPECT_THAT(m.PendingWork().owned, ::testing::ElementsAre(kA0));
}

TEST(Membership, AnswerFromAnOldSession_Ignored) {
  Membership m(Config());
  m.Subscribe({"a"}, "");
  m.BuildHeartbeat();
  const uint64_t old = m.session();
  m.Leave(false);
  m.Subscribe({"a"}, "");
  m.OnHeartbeatAnswer(old, Answer(9, {kA0}), 0);
  EXPECT_EQ(m.state(), MemberState::kJoining);
  EXPECT_TRUE(m.PendingWork().added.empty());
}

}  // namespace
}  // namespace strand::client
