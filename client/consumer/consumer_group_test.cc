// Tests the Consumer as a group member against FakeGroupCoordinator (a scripted GroupService on
// every fake broker) and FakeBrokerCluster: it joins at epoch 0 with its own member id and its
// whole state in each heartbeat, starts new partitions at their committed offsets, commits and
// hears OnPartitionsRevoked before a heartbeat reports the smaller owned set, auto-commits its
// positions, reports partitions lost and rejoins at epoch 0 when fenced or after a late Poll,
// leaves with epoch -1 (-2 for a static member) on Close, retries commits, and surfaces fatal
// errors. Manual Assign commits as a "simple" group (member "" / epoch -1). Heartbeats run every
// 50 ms here (the fake's interval), so the waits below are short.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "client/testing/fake_broker.h"
#include "client/testing/fake_group_coordinator.h"
#include "strand/consumer.h"

namespace strand::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeBrokerCluster;
using testing::FakeGroupCoordinator;
using testing::GroupHeartbeat;

const TopicPartition kT0{"t", 0};
const TopicPartition kT1{"t", 1};

std::vector<std::string> Values(int count) {
  std::vector<std::string> v;
  for (int i = 0; i < count; ++i) v.push_back("v" + std::to_string(i));
  return v;
}

int OwnedCount(const GroupHeartbeat& h) {
  int n = 0;
  for (const auto& t : h.owned()) n += t.partitions_size();
  return n;
}

bool Owns(const GroupHeartbeat& h, const TopicPartition& tp) {
  for (const auto& t : h.owned()) {
    for (int32_t p : t.partitions()) {
      if (t.topic() == tp.topic && p == tp.partition) return true;
    }
  }
  return false;
}

// The offset a commit request carries for `tp`, or -1.
int64_t CommittedIn(const group::v1::OffsetCommitRequest& r, const TopicPartition& tp) {
  for (const auto& t : r.topics()) {
    for (const auto& p : t.partitions()) {
      if (t.name() == tp.topic && p.partition() == tp.partition) return p.offset();
    }
  }
  return -1;
}

// Records the callbacks, with how many heartbeats the coordinator had seen at that moment.
class Recorder final : public ConsumerRebalanceListener {
 public:
  struct Event {
    std::string kind;
    std::vector<TopicPartition> partitions;
    size_t heartbeats_seen = 0;
    size_t commits_seen = 0;
  };
  explicit Recorder(const FakeGroupCoordinator& groups) : groups_(groups) {}
  void OnPartitionsRevoked(const std::vector<TopicPartition>& p) override { Add("revoked", p); }
  void OnPartitionsAssigned(const std::vector<TopicPartition>& p) override { Add("assigned", p); }
  void OnPartitionsLost(const std::vector<TopicPartition>& p) override { Add("lost", p); }
  const std::vector<Event>& events() const { return events_; }
  int Count(const std::string& kind) const {
    int n = 0;
    for (const Event& e : events_) n += e.kind == kind ? 1 : 0;
    return n;
  }
  const Event* Last(const std::string& kind) const {
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->kind == kind) return &*it;
    }
    return nullptr;
  }

 private:
  void Add(const std::string& kind, const std::vector<TopicPartition>& p) {
    events_.push_back({kind, p, groups_.Heartbeats().size(), groups_.Commits().size()});
  }
  const FakeGroupCoordinator& groups_;
  std::vector<Event> events_;
};

class ConsumerGroupTest : public ::testing::Test {
 protected:
  ConsumerGroupTest() : cluster_(3, 101, groups_.Hook()) {
    const std::string address = cluster_.address(102);
    groups_.SetCoordinator(102, std::stoi(address.substr(address.rfind(':') + 1)));
    groups_.SetHeartbeatIntervalMs(50);
    cluster_.CreateTopic("t", 2);
    cluster_.AppendValues("t", 0, Values(10), 1000);
    cluster_.AppendValues("t", 1, Values(10), 1000);
  }

  std::unique_ptr<Consumer> Make(Properties extra = {}) {
    Properties p = {{"bootstrap.servers", cluster_.bootstrap()},
                    {"group.id", "g"},
                    {"client.id", "app-1"},
                    {"auto.offset.reset", "earliest"},
                    {"fetch.max.wait.ms", "50"},
                    {"retry.backoff.ms", "10"},
                    {"retry.backoff.max.ms", "50"},
                    {"auto.commit.interval.ms", "60000"},
                    {"default.api.timeout.ms", "5000"}};
    for (auto& [k, v] : extra) p[k] = v;
    auto consumer = Consumer::Create(p);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }

  // Polls (collecting records) until `done` holds or 10 s pass; returns whether it held.
  bool PollUntil(Consumer& c, const std::function<bool()>& done,
                 std::vector<ConsumerRecord>* records = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      auto polled = c.Poll(20ms);
      EXPECT_TRUE(polled.ok()) << polled.status();
      if (!polled.ok()) return false;
      if (records != nullptr) records->insert(records->end(), polled->begin(), polled->end());
    }
    return done();
  }

  // Subscribes to "t" with `listener` and polls until it owns `count` partitions and the
  // coordinator heard so.
  void JoinOwning(Consumer& c, std::shared_ptr<Recorder> listener, size_t count,
                  std::vector<ConsumerRecord>* records = nullptr) {
    ASSERT_TRUE(c.Subscribe({"t"}, std::move(listener)).ok());
    ASSERT_TRUE(PollUntil(
        c,
        [&] {
          return groups_.WaitForHeartbeat(
                     [&](const GroupHeartbeat& h) {
                       return OwnedCount(h) == static_cast<int>(count);
                     },
                     0ms) >= 0;
        },
        records));
  }

  FakeGroupCoordinator groups_;  // outlives the cluster, whose servers use its services
  FakeBrokerCluster cluster_;
};

TEST_F(ConsumerGroupTest, Subscribe_JoinsAtEpochZeroWithItsMemberIdAndWholeState) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make({{"client.rack", "rack-x"},
                 {"max.poll.interval.ms", "45000"},
                 {"group.remote.assignor", "range"},
                 {"group.instance.id", "inst-1"}});
  const std::string member_id = c->MemberId();
  EXPECT_EQ(member_id.size(), 22u);  // a UUID in Kafka's base64 form
  EXPECT_NE(Make()->MemberId(), member_id);
  ASSERT_TRUE(c->Subscribe({"t"}).ok());
  const int first = groups_.WaitForHeartbeat([](const GroupHeartbeat&) { return true; }, 5s);
  ASSERT_EQ(first, 0);
  const GroupHeartbeat join = groups_.Heartbeats()[0];
  EXPECT_EQ(join.group_id(), "g");
  EXPECT_EQ(join.member_id(), member_id);
  EXPECT_EQ(join.member_epoch(), 0);
  EXPECT_EQ(join.instance_id(), "inst-1");
  EXPECT_EQ(join.rack_id(), "rack-x");
  EXPECT_EQ(join.rebalance_timeout_ms(), 45000);
  EXPECT_THAT(join.subscribed_topic_names(), ::testing::ElementsAre("t"));
  EXPECT_EQ(join.server_assignor(), "range");
  EXPECT_EQ(join.client_id(), "app-1");
  EXPECT_EQ(join.owned_size(), 0);
  // The next heartbeats carry the epoch the coordinator gave, and the same full state.
  const int32_t epoch = groups_.epoch();
  ASSERT_GE(groups_.WaitForHeartbeat(
                [&](const GroupHeartbeat& h) {
                  return h.member_epoch() == epoch && h.member_id() == member_id &&
                         h.subscribed_topic_names_size() == 1 && h.rack_id() == "rack-x";
                },
                5s),
            1);
  ASSERT_TRUE(PollUntil(*c, [&] { return c->Assignment().size() == 1; }));
  EXPECT_THAT(c->Assignment(), ::testing::ElementsAre(kT0));
}

TEST_F(ConsumerGroupTest, SubscribePattern_SendsTheRegex) {
  auto c = Make();
  ASSERT_TRUE(c->SubscribePattern("t|u.*").ok());
  ASSERT_GE(groups_.WaitForHeartbeat(
                [](const GroupHeartbeat& h) {
                  return h.subscribed_topic_regex() == "t|u.*" &&
                         h.subscribed_topic_names_size() == 0;
                },
                5s),
            0);
  EXPECT_FALSE(c->SubscribePattern("").ok());
  // Assign and Subscribe do not mix.
  EXPECT_EQ(c->Assign({kT0}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConsumerGroupTest, Assigned_StartsAtCommittedOffsets) {
  groups_.SetCommitted("t", 0, 4);  // t-1: none, so auto.offset.reset (earliest)
  groups_.SetAssignment({{"t", 0}, {"t", 1}});
  auto c = Make();
  auto listener = std::make_shared<Recorder>(groups_);
  std::vector<ConsumerRecord> records;
  JoinOwning(*c, listener, 2, &records);
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 16; }, &records));
  ASSERT_EQ(listener->Count("assigned"), 1);
  EXPECT_THAT(listener->Last("assigned")->partitions, ::testing::ElementsAre(kT0, kT1));
  std::map<int32_t, int64_t> first;
  for (const ConsumerRecord& r : records) first.try_emplace(r.partition(), r.offset());
  EXPECT_EQ(first[0], 4);
  EXPECT_EQ(first[1], 0);
  EXPECT_EQ(records.size(), 16u);
  EXPECT_EQ(groups_.Calls("OffsetFetch"), 1);
}

TEST_F(ConsumerGroupTest, Revocation_CommitsAndCallsBackBeforeTheSmallerOwnedHeartbeat) {
  groups_.SetAssignment({{"t", 0}, {"t", 1}});
  auto c = Make();  // auto commit on (with a long interval: only the revocation commits)
  auto listener = std::make_shared<Recorder>(groups_);
  std::vector<ConsumerRecord> records;
  JoinOwning(*c, listener, 2, &records);
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 20; }, &records));
  const size_t commits_before = groups_.Commits().size();

  groups_.SetAssignment({{"t", 0}});
  const int32_t epoch = groups_.epoch();
  // The member heard the new target (it heartbeats with the new epoch)...
  const int heard = groups_.WaitForHeartbeat(
      [&](const GroupHeartbeat& h) { return h.member_epoch() == epoch; }, 5s);
  ASSERT_GE(heard, 0);
  std::this_thread::sleep_for(300ms);  // ~6 heartbeats without a Poll
  // ...but until Poll revoked t-1 every heartbeat still reports it.
  for (const GroupHeartbeat& h : groups_.Heartbeats()) {
    if (h.member_epoch() > 0) {
      EXPECT_TRUE(Owns(h, kT1));
    }
  }
  EXPECT_EQ(listener->Count("revoked"), 0);

  ASSERT_TRUE(PollUntil(*c, [&] { return listener->Count("revoked") == 1; }));
  const Recorder::Event& revoked = *listener->Last("revoked");
  EXPECT_THAT(revoked.partitions, ::testing::ElementsAre(kT1));
  // Committed before the callback, with the position past the 10 records read.
  ASSERT_GT(revoked.commits_seen, commits_before);
  EXPECT_EQ(CommittedIn(groups_.Commits()[revoked.commits_seen - 1], kT1), 10);
  EXPECT_EQ(groups_.Committed("t", 1), 10);
  // The first heartbeat without t-1 came after the callback.
  const int smaller = groups_.WaitForHeartbeat(
      [](const GroupHeartbeat& h) { return h.member_epoch() > 0 && !Owns(h, kT1); }, 5s);
  ASSERT_GE(smaller, 0);
  EXPECT_GE(static_cast<size_t>(smaller), revoked.heartbeats_seen);
  EXPECT_TRUE(Owns(groups_.Heartbeats()[smaller], kT0));
  EXPECT_THAT(c->Assignment(), ::testing::ElementsAre(kT0));
}

TEST_F(ConsumerGroupTest, AutoCommit_SendsPositionsFromPoll) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make({{"auto.commit.interval.ms", "100"}});
  std::vector<ConsumerRecord> records;
  JoinOwning(*c, nullptr, 1, &records);
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 10; }, &records));
  const std::string member_id = c->MemberId();
  const int32_t epoch = groups_.epoch();
  ASSERT_TRUE(PollUntil(*c, [&] {
    return groups_.WaitForCommit(
               [&](const group::v1::OffsetCommitRequest& r) {
                 return r.group_id() == "g" && r.member_id() == member_id &&
                        r.member_epoch() == epoch && CommittedIn(r, kT0) == 10;
               },
               0ms) >= 0;
  }));
  EXPECT_EQ(groups_.Committed("t", 0), 10);
}

TEST_F(ConsumerGroupTest, Fenced_ReportsLostWithoutCommitAndRejoinsAtEpochZero) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make();
  auto listener = std::make_shared<Recorder>(groups_);
  std::vector<ConsumerRecord> records;
  JoinOwning(*c, listener, 1, &records);
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 10; }, &records));
  const size_t fenced_at = groups_.Heartbeats().size();
  groups_.PushHeartbeatError(KafkaError::kFencedMemberEpoch);
  ASSERT_TRUE(PollUntil(*c, [&] { return listener->Count("lost") == 1; }));
  EXPECT_THAT(listener->Last("lost")->partitions, ::testing::ElementsAre(kT0));
  EXPECT_EQ(listener->Count("revoked"), 0);
  EXPECT_TRUE(groups_.Commits().empty());  // a member that lost its epoch commits nothing
  const int rejoin = groups_.WaitForHeartbeat(
      [&](const GroupHeartbeat& h) {
        return h.member_epoch() == 0 && h.member_id() == c->MemberId() && h.owned_size() == 0;
      },
      5s, fenced_at);
  ASSERT_GE(rejoin, 0);
  EXPECT_GE(static_cast<size_t>(rejoin), listener->Last("lost")->heartbeats_seen);
  // It gets its partition back, from the start (nothing was committed).
  ASSERT_TRUE(PollUntil(*c, [&] { return listener->Count("assigned") == 2; }));
}

TEST_F(ConsumerGroupTest, Close_CommitsRevokesAndLeavesWithEpochMinusOne) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make();
  auto listener = std::make_shared<Recorder>(groups_);
  std::vector<ConsumerRecord> records;
  JoinOwning(*c, listener, 1, &records);
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 10; }, &records));
  c->Close();
  EXPECT_EQ(listener->Count("revoked"), 1);
  EXPECT_EQ(groups_.Committed("t", 0), 10);
  const auto heartbeats = groups_.Heartbeats();
  ASSERT_FALSE(heartbeats.empty());
  EXPECT_EQ(heartbeats.back().member_epoch(), -1);
  EXPECT_EQ(heartbeats.back().member_id(), c->MemberId());
  const size_t after_close = heartbeats.size();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(groups_.Heartbeats().size(), after_close);  // the heartbeat thread is gone
}

TEST_F(ConsumerGroupTest, Close_StaticMemberLeavesTemporarily) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make({{"group.instance.id", "inst-7"}});
  JoinOwning(*c, nullptr, 1);
  c->Close();
  const auto heartbeats = groups_.Heartbeats();
  EXPECT_EQ(heartbeats.back().member_epoch(), -2);
  EXPECT_EQ(heartbeats.back().instance_id(), "inst-7");
}

TEST_F(ConsumerGroupTest, PollTimer_LeavesThenNextPollReportsLostAndRejoins) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make({{"max.poll.interval.ms", "400"}, {"enable.auto.commit", "false"}});
  auto listener = std::make_shared<Recorder>(groups_);
  JoinOwning(*c, listener, 1);
  const size_t polled_until = groups_.Heartbeats().size();
  // No Poll now: the background thread leaves after max.poll.interval.ms.
  const int leave = groups_.WaitForHeartbeat(
      [](const GroupHeartbeat& h) { return h.member_epoch() == -1; }, 5s, polled_until);
  ASSERT_GE(leave, 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(groups_.Heartbeats().size(), static_cast<size_t>(leave) + 1);  // silent since
  EXPECT_EQ(listener->Count("lost"), 0);  // callbacks wait for the polling thread
  ASSERT_TRUE(PollUntil(*c, [&] { return listener->Count("lost") == 1; }));
  EXPECT_THAT(listener->Last("lost")->partitions, ::testing::ElementsAre(kT0));
  ASSERT_GE(groups_.WaitForHeartbeat([](const GroupHeartbeat& h) { return h.member_epoch() == 0; },
                                     5s, leave + 1),
            0);
  ASSERT_TRUE(PollUntil(*c, [&] { return listener->Count("assigned") == 2; }));
}

TEST_F(ConsumerGroupTest, PollTimer_WaitingInsideALongPollIsPolling) {
  auto c = Make({{"max.poll.interval.ms", "300"}});
  ASSERT_TRUE(c->Subscribe({"t"}).ok());  // nothing assigned: Poll waits its whole timeout
  auto polled = c->Poll(1200ms);
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_TRUE(polled->empty());
  EXPECT_EQ(
      groups_.WaitForHeartbeat([](const GroupHeartbeat& h) { return h.member_epoch() < 0; }, 0ms),
      -1);
  const int32_t epoch = groups_.epoch();  // (the matcher runs under the fake's lock)
  EXPECT_GE(groups_.WaitForHeartbeat(
                [&](const GroupHeartbeat& h) { return h.member_epoch() == epoch; }, 0ms),
            0);
}

TEST_F(ConsumerGroupTest, FatalError_SurfacedByPollWithTheCoordinatorsMessage) {
  groups_.PushHeartbeatError(KafkaError::kUnsupportedAssignor, "assignor 'fancy' is unknown");
  auto c = Make({{"group.remote.assignor", "fancy"}});
  ASSERT_TRUE(c->Subscribe({"t"}).ok());
  absl::Status error;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (error.ok() && std::chrono::steady_clock::now() < deadline) {
    error = c->Poll(50ms).status();
  }
  EXPECT_EQ(KafkaErrorOf(error), KafkaError::kUnsupportedAssignor);
  EXPECT_THAT(std::string(error.message()), ::testing::HasSubstr("assignor 'fancy' is unknown"));
  EXPECT_EQ(KafkaErrorOf(c->Poll(10ms).status()), KafkaError::kUnsupportedAssignor);
}

TEST_F(ConsumerGroupTest, RetriableJoinErrors_Retried) {
  groups_.PushFindCoordinatorError(KafkaError::kCoordinatorNotAvailable);
  groups_.PushFindCoordinatorError(KafkaError::kCoordinatorLoadInProgress);
  groups_.PushHeartbeatError(KafkaError::kUnreleasedInstanceId);
  groups_.PushHeartbeatError(KafkaError::kNotCoordinator);
  groups_.SetAssignment({{"t", 1}});
  auto c = Make({{"group.instance.id", "inst-1"}});
  JoinOwning(*c, nullptr, 1);
  EXPECT_THAT(c->Assignment(), ::testing::ElementsAre(kT1));
  EXPECT_GE(groups_.Calls("FindCoordinator"), 4);  // twice refused, then again after moving
}

TEST_F(ConsumerGroupTest, ManualAssign_CommitsAsASimpleGroup) {
  auto c = Make({{"enable.auto.commit", "false"}});
  ASSERT_TRUE(c->Assign({kT0}).ok());
  std::vector<ConsumerRecord> records;
  ASSERT_TRUE(PollUntil(
      *c, [&] { return records.size() >= 10; }, &records));
  groups_.PushCommitError(KafkaError::kCoordinatorLoadInProgress);
  groups_.PushCommitError(KafkaError::kNotCoordinator);
  ASSERT_TRUE(c->CommitSync().ok());
  const auto commits = groups_.Commits();
  ASSERT_EQ(commits.size(), 3u);  // two retried
  EXPECT_EQ(commits.back().member_id(), "");
  EXPECT_EQ(commits.back().member_epoch(), -1);
  EXPECT_EQ(CommittedIn(commits.back(), kT0), 10);
  ASSERT_TRUE(c->CommitSync({{kT1, OffsetAndMetadata{3, 7, "note"}}}).ok());
  auto committed = c->Committed({kT0, kT1, {"t", 5}});
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ((*committed)[kT0]->offset, 10);
  EXPECT_EQ((*committed)[kT1]->offset, 3);
  const TopicPartition t5{"t", 5};
  EXPECT_FALSE((*committed)[t5].has_value());
  EXPECT_EQ(groups_.Commits().back().topics(0).partitions(0).metadata(), "note");
  EXPECT_EQ(groups_.Commits().back().topics(0).partitions(0).leader_epoch(), 7);
}

TEST_F(ConsumerGroupTest, CommitSync_StaleMemberEpochRetriedAfterHeartbeat_FencedIsFinal) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make();
  JoinOwning(*c, nullptr, 1);
  const size_t heartbeats = groups_.Heartbeats().size();
  groups_.PushCommitError(KafkaError::kStaleMemberEpoch);
  ASSERT_TRUE(c->CommitSync({{kT0, OffsetAndMetadata{5, -1, ""}}}).ok());
  EXPECT_GT(groups_.Heartbeats().size(), heartbeats);
  EXPECT_EQ(groups_.Commits().size(), 2u);
  EXPECT_EQ(groups_.Commits().back().member_epoch(), groups_.epoch());
  groups_.PushCommitError(KafkaError::kFencedMemberEpoch);
  EXPECT_EQ(KafkaErrorOf(c->CommitSync({{kT0, OffsetAndMetadata{6, -1, ""}}})),
            KafkaError::kFencedMemberEpoch);
}

TEST_F(ConsumerGroupTest, CommitAsync_CallbackRunsInPoll) {
  auto c = Make({{"enable.auto.commit", "false"}});
  ASSERT_TRUE(c->Assign({kT0}).ok());
  bool called = false;
  absl::Status result = absl::UnknownError("not called");
  c->CommitAsync(
      {{kT0, OffsetAndMetadata{2, -1, ""}}},
      [&](const std::map<TopicPartition, OffsetAndMetadata>& offsets, const absl::Status& status) {
        called = true;
        result = status;
        EXPECT_EQ(offsets.at(kT0).offset, 2);
      });
  EXPECT_FALSE(called);  // not from inside CommitAsync
  ASSERT_TRUE(PollUntil(*c, [&] { return called; }));
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(groups_.Committed("t", 0), 2);
}

TEST_F(ConsumerGroupTest, Unsubscribe_RevokesAndLeaves) {
  groups_.SetAssignment({{"t", 0}});
  auto c = Make({{"enable.auto.commit", "false"}});
  auto listener = std::make_shared<Recorder>(groups_);
  JoinOwning(*c, listener, 1);
  ASSERT_TRUE(c->Unsubscribe().ok());
  EXPECT_EQ(listener->Count("revoked"), 1);
  EXPECT_TRUE(c->Assignment().empty());
  EXPECT_EQ(groups_.Heartbeats().back().member_epoch(), -1);
  EXPECT_TRUE(c->Assign({kT1}).ok());  // free to assign now
}

}  // namespace
}  // namespace strand::client
