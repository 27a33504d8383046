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

// The lease: the session timeout counted from the send of the last answered heartbeat.
TEST(Membership, Lease_SessionTimeoutFromTheLastAnsweredSend) {
  MembershipConfig config = Config();
  config.rebalance_timeout_ms = 60'000;
  Membership m(config);
  m.Subscribe({"a"}, "");
  m.BuildHeartbeat(1'000);
  auto answer = Answer(5, {kA0});
  answer.set_session_timeout_ms(3'000);
  m.OnHeartbeatAnswer(m.session(), answer, 1'200);
  m.CompleteAssignment(m.PendingWork().added);
  EXPECT_EQ(m.lease_deadline_ms(), 4'000);
  EXPECT_FALSE(m.CheckLease(3'999));
  EXPECT_EQ(m.state(), MemberState::kMember);
  // Another answered heartbeat extends it; one in flight does not.
  m.BuildHeartbeat(2'000);
  m.OnHeartbeatAnswer(m.session(), answer, 2'100);
  m.BuildHeartbeat(3'000);
  EXPECT_FALSE(m.CheckLease(4'500));
  EXPECT_TRUE(m.CheckLease(5'000));
  EXPECT_EQ(m.state(), MemberState::kLost);
  const auto work = m.PendingWork();
  EXPECT_TRUE(work.lost);
  EXPECT_THAT(work.owned, ::testing::ElementsAre(kA0));
}

// Any heartbeat sent since the last answer that asked for no revocation may have started one
// whose answer was lost: the rebalance timeout (1234 ms here) from the first of them.
TEST(Membership, Lease_RebalanceTimeoutWhileARevocationMayBePending) {
  Membership m(Config());
  m.Subscribe({"a"}, "");
  m.BuildHeartbeat(0);
  auto answer = Answer(5, {kA0, kA1});
  answer.set_session_timeout_ms(45'000);
  m.OnHeartbeatAnswer(m.session(), answer, 10);
  m.CompleteAssignment(m.PendingWork().added);
  m.BuildHeartbeat(1'000);  // unanswered (lost), then another
  m.OnHeartbeatAnswer(m.session(), absl::UnavailableError("lost"), 2'000);
  m.BuildHeartbeat(2'000);
  EXPECT_FALSE(m.CheckLease(2'233));
  EXPECT_TRUE(m.CheckLease(2'234));  // 1'000 + 1'234
  EXPECT_EQ(m.state(), MemberState::kLost);

  // A clean answer (nothing to revoke) resets the clock.
  Membership n(Config());
  n.Subscribe({"a"}, "");
  n.BuildHeartbeat(0);
  n.OnHeartbeatAnswer(n.session(), answer, 10);
  n.CompleteAssignment(n.PendingWork().added);
  n.BuildHeartbeat(1'000);
  n.OnHeartbeatAnswer(n.session(), answer, 1'010);
  EXPECT_FALSE(n.CheckLease(2'500));
  EXPECT_EQ(n.state(), MemberState::kMember);
}

}  // namespace
}  // namespace strand::client
