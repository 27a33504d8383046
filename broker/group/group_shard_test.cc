// GroupShard, generate-then-replay: every operation's records are replayed into the shard, and
// after every step a fresh shard rebuilt from all records so far must equal it (a new
// coordinator loads exactly what the old one had), no partition may be held by two members on
// the coordinator, and — stronger — no two simulated clients may own one partition at the same
// time. Scenario tests cover joins, revocation before reassignment, leaves, static members,
// fencing, timeouts, offsets and limits; a seeded random walk covers the rest (every failure
// names its seed).
#include "broker/group/group_shard.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::broker::group {
namespace {

// A simulated consumer: what it owns and the epoch it last got.
struct Client {
  std::string id;
  std::string instance_id;
  std::vector<std::string> topics;
  std::string regex;
  int32_t epoch = 0;
  PartitionSet owned;
  bool joined = false;
};

class Harness {
 public:
  explicit Harness(GroupConfig config = {}) : config_(config), shard_(config) {}

  void SetTopic(const std::string& name, int32_t partitions) {
    TopicInfo& t = topics_.topics[name];
    if (t.topic_id.empty()) t.topic_id = "id-" + name;
    t.partition_count = partitions;
  }

  template <typename Response>
  Response Apply(GroupResult<Response> result) {
    for (const GroupRecord& r : result.records) {
      absl::Status s = shard_.Replay(r);
      EXPECT_TRUE(s.ok()) << s;
      log_.push_back(r);
    }
    Check();
    return std::move(result.response);
  }

  void Check() {
    const auto violations = shard_.OwnershipViolations();
    EXPECT_TRUE(violations.empty()) << violations.front();
    GroupShard fresh(config_);
    for (const GroupRecord& r : log_) ASSERT_TRUE(fresh.Replay(r).ok());
    EXPECT_EQ(fresh.DebugString(), shard_.DebugString());
    std::map<TopicPartition, std::string> seen;
    for (const auto& [id, c] : clients_) {
      for (const auto& tp : c.owned) {
        auto [it, inserted] = seen.emplace(tp, id);
        EXPECT_TRUE(inserted) << tp.first << "-" << tp.second << " owned by " << it->second
                              << " and " << id;
      }
    }
  }

  v1::ConsumerGroupHeartbeatRequest Request(const Client& c, int32_t epoch) const {
    v1::ConsumerGroupHeartbeatRequest req;
    req.set_group_id("g");
    req.set_member_id(c.id);
    req.set_member_epoch(epoch);
    req.set_instance_id(c.instance_id);
    for (const auto& t : c.topics) req.add_subscribed_topic_names(t);
    req.set_subscribed_topic_regex(c.regex);
    req.set_rebalance_timeout_ms(10'000);
    v1::TopicPartitions* current = nullptr;
    for (const auto& [topic, p] : c.owned) {
      if (current == nullptr || current->topic() != topic) {
        current = req.add_owned();
        current->set_topic(topic);
      }
      current->add_partitions(p);
    }
    return req;
  }

  // One heartbeat of client `id`, applying the answer as a client does: it drops what the
  // assignment no longer lists and takes what it adds. `lose_response`: the answer never arrives.
  v1::ConsumerGroupHeartbeatResponse Beat(const std::string& id, bool lose_response = false) {
    Client& c = clients_.at(id);
    auto resp = Apply(shard_.Heartbeat(Request(c, c.joined ? c.epoch : 0), now_, topics_));
    if (lose_response) return resp;
    if (resp.error().code() == static_cast<int>(KafkaError::kFencedMemberEpoch) ||
        resp.error().code() == static_cast<int>(KafkaError::kUnknownMemberId)) {
      c.owned.clear();  // lost
      c.joined = false;
      c.epoch = 0;
    } else if (resp.error().code() == 0) {
      c.joined = true;
      c.epoch = resp.member_epoch();
      PartitionSet next;
      for (const auto& t : resp.assignment()) {
        for (int32_t p : t.partitions()) next.emplace(t.topic(), p);
      }
      for (const auto& tp : c.owned) revocations_ += next.count(tp) == 0 ? 1 : 0;
      c.owned = std::move(next);
    }
    Check();
    return resp;
  }

  Client& Add(const std::string& id, std::vector<std::string> topics,
              std::string instance_id = "") {
    Client& c = clients_[id];
    c.id = id;
    c.topics = std::move(topics);
    c.instance_id = std::move(instance_id);
    return c;
  }

  v1::ConsumerGroupHeartbeatResponse Leave(const std::string& id, int32_t epoch = -1) {
    Client& c = clients_.at(id);
    c.owned.clear();
    auto resp = Apply(shard_.Heartbeat(Request(c, epoch), now_, topics_));
    clients_.erase(id);
    return resp;
  }

  // Heartbeats every client until nothing changes; true when every client is at the group's
  // assignment epoch with the whole target.
  bool Converge(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) {
      for (auto& [id, c] : clients_) Beat(id);
      if (Stable()) return true;
    }
    return Stable();
  }

  bool Stable() const {
    const v1::DescribedGroup d = shard_.Describe("g");
    return d.state() == "Stable";
  }

  // Every partition of the subscribed topics owned by exactly one client.
  void ExpectFullyOwned(const std::set<std::string>& topic_names) const {
    std::set<TopicPartition> owned;
    for (const auto& [id, c] : clients_) owned.insert(c.owned.begin(), c.owned.end());
    for (const auto& name : topic_names) {
      const TopicInfo* t = topics_.Find(name);
      ASSERT_NE(t, nullptr);
      for (int32_t p = 0; p < t->partition_count; ++p) {
        EXPECT_TRUE(owned.count({name, p})) << name << "-" << p << " not owned";
      }
    }
  }

  int64_t revocations() const { return revocations_; }
  int32_t GroupEpoch() const { return shard_.Describe("g").group_epoch(); }

  GroupShard& shard() { return shard_; }
  MapTopicCatalog& topics() { return topics_; }
  std::map<std::string, Client>& clients() { return clients_; }
  int64_t& now() { return now_; }

 private:
  GroupConfig config_;
  GroupShard shard_;
  MapTopicCatalog topics_;
  std::vector<GroupRecord> log_;
  std::map<std::string, Client> clients_;
  int64_t now_ = 1'000'000;
  int64_t revocations_ = 0;  // partitions clients were told to give up
};

KafkaError Code(const v1::ConsumerGroupHeartbeatResponse& r) {
  return static_cast<KafkaError>(r.error().code());
}

TEST(GroupShard, FirstMemberGetsEverything) {
  Harness h;
  h.SetTopic("t", 6);
  h.Add("a", {"t"});
  auto r = h.Beat("a");
  EXPECT_EQ(Code(r), KafkaError::kNone) << r.error().message();
  EXPECT_EQ(r.member_epoch(), 1);
  EXPECT_EQ(r.heartbeat_interval_ms(), 5'000);
  EXPECT_EQ(h.clients()["a"].owned.size(), 6u);
  EXPECT_TRUE(h.Stable());
}

TEST(GroupShard, SecondMemberWaitsForRevocation) {
  Harness h;
  h.SetTopic("t", 6);
  h.Add("a", {"t"});
  h.Beat("a");
  h.Add("b", {"t"});
  auto rb = h.Beat("b");
  // b is at the new epoch but gets nothing yet: a still holds all six.
  EXPECT_EQ(rb.member_epoch(), 2);
  EXPECT_TRUE(h.clients()["b"].owned.empty());
  auto ra = h.Beat("a");            // a is told to keep three: it revokes the other three
  EXPECT_EQ(ra.member_epoch(), 1);  // not at the new epoch until it confirms
  EXPECT_EQ(h.clients()["a"].owned.size(), 3u);
  rb = h.Beat("b");  // a has not confirmed yet: b still waits
  EXPECT_TRUE(h.clients()["b"].owned.empty());
  ra = h.Beat("a");  // a reports the three gone and moves to epoch 2
  EXPECT_EQ(ra.member_epoch(), 2);
  rb = h.Beat("b");
  EXPECT_EQ(h.clients()["b"].owned.size(), 3u);
  EXPECT_TRUE(h.Stable());
  h.ExpectFullyOwned({"t"});
}

TEST(GroupShard, LeaveFreesPartitions) {
  Harness h;
  h.SetTopic("t", 4);
  h.Add("a", {"t"});
  h.Add("b", {"t"});
  ASSERT_TRUE(h.Converge());
  const int32_t before = h.GroupEpoch();
  auto r = h.Leave("b");
  EXPECT_EQ(r.member_epoch(), -1);
  EXPECT_EQ(h.GroupEpoch(), before + 1);
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["a"].owned.size(), 4u);
  // Leaving again (a retry) is harmless.
  Client gone;
  gone.id = "b";
  auto again = h.Apply(h.shard().Heartbeat(h.Request(gone, -1), h.now(), h.topics()));
  EXPECT_EQ(Code(again), KafkaError::kNone);
}

TEST(GroupShard, WrongEpochIsFenced) {
  Harness h;
  h.SetTopic("t", 2);
  h.Add("a", {"t"});
  ASSERT_TRUE(h.Converge());
  Client c = h.clients()["a"];
  auto r = h.Apply(h.shard().Heartbeat(h.Request(c, c.epoch + 5), h.now(), h.topics()));
  EXPECT_EQ(Code(r), KafkaError::kFencedMemberEpoch);
  Client stranger;
  stranger.id = "zz";
  auto u = h.Apply(h.shard().Heartbeat(h.Request(stranger, 3), h.now(), h.topics()));
  EXPECT_EQ(Code(u), KafkaError::kUnknownMemberId);
}

TEST(GroupShard, LostResponseIsForgivenAtThePreviousEpoch) {
  Harness h;
  h.SetTopic("t", 4);
  h.Add("a", {"t"});
  ASSERT_TRUE(h.Converge());
  h.SetTopic("t", 8);  // metadata change: new epoch, four more partitions for a
  h.Beat("a", /*lose_response=*/true);
  auto r = h.Beat("a");  // sent at the previous epoch, owning a subset of its partitions
  EXPECT_EQ(Code(r), KafkaError::kNone) << r.error().message();
  EXPECT_EQ(h.clients()["a"].owned.size(), 8u);
}

TEST(GroupShard, StaticMemberComesBackWithoutRebalance) {
  Harness h;
  h.SetTopic("t", 6);
  h.Add("a", {"t"}, "instance-a");
  h.Add("b", {"t"});
  ASSERT_TRUE(h.Converge());
  const PartitionSet before = h.clients()["a"].owned;
  const int32_t epoch = h.GroupEpoch();
  auto left = h.Leave("a", -2);
  EXPECT_EQ(left.member_epoch(), -2);
  EXPECT_EQ(h.GroupEpoch(), epoch);
  // The restarted process (new member id, same instance id) gets the same partitions.
  h.Add("a-restarted", {"t"}, "instance-a");
  auto back = h.Beat("a-restarted");
  EXPECT_EQ(Code(back), KafkaError::kNone) << back.error().message();
  EXPECT_EQ(h.clients()["a-restarted"].owned, before);
  EXPECT_EQ(h.GroupEpoch(), epoch);
  // A second process with that instance id while it is live.
  h.Add("a-twin", {"t"}, "instance-a");
  auto twin = h.Beat("a-twin");
  EXPECT_EQ(Code(twin), KafkaError::kUnreleasedInstanceId);
  EXPECT_TRUE(h.clients()["a-twin"].owned.empty());
}

TEST(GroupShard, SessionTimeoutRemovesMember) {
  GroupConfig config;
  config.session_timeout_ms = 10'000;
  Harness h(config);
  h.SetTopic("t", 4);
  h.Add("a", {"t"});
  h.Add("b", {"t"});
  ASSERT_TRUE(h.Converge());
  h.now() += 5'000;
  h.Beat("a");
  h.now() += 6'000;  // b silent for 11 s, a for 6 s
  std::vector<std::string> expired;
  h.Apply(GroupResult<int>{h.shard().ExpireMembers(h.now(), &expired), 0});
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_NE(expired[0].find("g/b"), std::string::npos);
  h.clients().at("b").owned.clear();  // the crashed client
  h.clients().erase("b");
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["a"].owned.size(), 4u);
}

TEST(GroupShard, MemberThatDoesNotRevokeIsRemoved) {
  Harness h;
  h.SetTopic("t", 4);
  h.Add("a", {"t"});
  ASSERT_TRUE(h.Converge());
  h.Add("b", {"t"});
  h.Beat("b");
  // a is asked to revoke, then keeps heartbeating but never reports the partitions gone.
  Client a = h.clients()["a"];
  h.Apply(h.shard().Heartbeat(h.Request(a, a.epoch), h.now(), h.topics()));
  h.now() += 11'000;  // past its 10 s rebalance timeout
  std::vector<std::string> expired;
  h.Apply(GroupResult<int>{h.shard().ExpireMembers(h.now(), &expired), 0});
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_NE(expired[0].find("did not revoke"), std::string::npos);
  h.clients().erase("a");
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["b"].owned.size(), 4u);
}

TEST(GroupShard, RefusesBadHeartbeats) {
  GroupConfig config;
  config.max_size = 2;
  Harness h(config);
  h.SetTopic("t", 2);
  h.Add("a", {"t"});
  h.Add("b", {"t"});
  h.Beat("a");
  h.Beat("b");
  h.Add("c", {"t"});
  EXPECT_EQ(Code(h.Beat("c")), KafkaError::kGroupMaxSizeReached);
  h.clients().erase("c");

  Client x;
  x.id = "x";
  x.topics = {"t"};
  auto req = h.Request(x, 0);
  req.set_server_assignor("magic");
  EXPECT_EQ(Code(h.Apply(h.shard().Heartbeat(req, h.now(), h.topics()))),
            KafkaError::kUnsupportedAssignor);
  x.topics.clear();
  req = h.Request(x, 0);  // no subscription
  EXPECT_EQ(Code(h.Apply(h.shard().Heartbeat(req, h.now(), h.topics()))),
            KafkaError::kInvalidRequest);
  req.add_subscribed_topic_names("t");
  req.set_member_id("");
  EXPECT_EQ(Code(h.Apply(h.shard().Heartbeat(req, h.now(), h.topics()))),
            KafkaError::kInvalidRequest);
  req.set_member_id("x");
  req.set_subscribed_topic_regex("(unclosed");
  EXPECT_EQ(Code(h.Apply(h.shard().Heartbeat(req, h.now(), h.topics()))),
            KafkaError::kInvalidRequest);
  req.set_subscribed_topic_regex("");
  req.set_group_id("");
  EXPECT_EQ(Code(h.Apply(h.shard().Heartbeat(req, h.now(), h.topics()))),
            KafkaError::kInvalidGroupId);
}

TEST(GroupShard, NewPartitionsAndRegexTopicsGetAssigned) {
  Harness h;
  h.SetTopic("orders-eu", 2);
  Client& a = h.Add("a", {});
  a.regex = "orders-.*";
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["a"].owned.size(), 2u);
  h.SetTopic("orders-us", 3);
  h.SetTopic("payments", 5);  // does not match
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["a"].owned.size(), 5u);
  h.SetTopic("orders-eu", 4);
  ASSERT_TRUE(h.Converge());
  EXPECT_EQ(h.clients()["a"].owned.size(), 7u);
  h.ExpectFullyOwned({"orders-eu", "orders-us"});
}

v1::OffsetCommitRequest Commit(const std::string& member, int32_t epoch, const std::string& topic,
                               int32_t partition, int64_t offset, std::string metadata = "") {
  v1::OffsetCommitRequest req;
  req.set_group_id("g");
  req.set_member_id(member);
  req.set_member_epoch(epoch);
  auto* t = req.add_topics();
  t->set_name(topic);
  auto* p = t->add_partitions();
  p->set_partition(partition);
  p->set_offset(offset);
  p->set_leader_epoch(-1);
  p->set_metadata(std::move(metadata));
  return req;
}

KafkaError PartitionCode(const v1::OffsetCommitResponse& r) {
  if (r.error().code() != 0) return static_cast<KafkaError>(r.error().code());
  return static_cast<KafkaError>(r.topics(0).partitions(0).error().code());
}

int64_t Fetched(GroupShard& shard, const std::string& topic, int32_t partition) {
  v1::OffsetFetchRequest req;
  req.set_group_id("g");
  auto* t = req.add_topics();
  t->set_name(topic);
  t->add_partitions(partition);
  return shard.FetchOffsets(req).topics(0).partitions(0).offset();
}

TEST(GroupShard, OffsetCommitsCheckTheMemberEpoch) {
  GroupConfig config;
  config.offsets_per_group_max = 2;
  Harness h(config);
  h.SetTopic("t", 4);
  // A simple group: no members, anyone commits.
  auto r = h.Apply(h.shard().CommitOffsets(Commit("", -1, "t", 0, 42), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kNone);
  EXPECT_EQ(Fetched(h.shard(), "t", 0), 42);
  EXPECT_EQ(Fetched(h.shard(), "t", 1), -1);

  h.Add("a", {"t"});
  ASSERT_TRUE(h.Converge());
  const int32_t epoch = h.clients()["a"].epoch;
  r = h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "t", 1, 7), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kNone);
  EXPECT_EQ(Fetched(h.shard(), "t", 1), 7);
  // Without membership while the group has members: refused (a reset needs an empty group).
  r = h.Apply(h.shard().CommitOffsets(Commit("", -1, "t", 0, 0), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kUnknownMemberId);
  EXPECT_EQ(Fetched(h.shard(), "t", 0), 42);
  r = h.Apply(h.shard().CommitOffsets(Commit("a", epoch - 1, "t", 1, 9), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kStaleMemberEpoch);
  r = h.Apply(h.shard().CommitOffsets(Commit("b", 1, "t", 1, 9), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kUnknownMemberId);
  r = h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "nope", 0, 1), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kUnknownTopicOrPartition);
  r = h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "t", 1, 8, std::string(4097, 'm')),
                                      h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kOffsetMetadataTooLarge);
  // A third distinct partition passes strand.group.offsets.max (2).
  r = h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "t", 2, 1), h.now(), h.topics()));
  EXPECT_EQ(PartitionCode(r), KafkaError::kInvalidCommitOffsetSize);
  EXPECT_EQ(Fetched(h.shard(), "t", 1), 7);
}

TEST(GroupShard, DeleteGroupAndOffsets) {
  Harness h;
  h.SetTopic("t", 2);
  h.SetTopic("u", 1);
  h.Add("a", {"t"});
  ASSERT_TRUE(h.Converge());
  const int32_t epoch = h.clients()["a"].epoch;
  h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "t", 0, 5), h.now(), h.topics()));
  h.Apply(h.shard().CommitOffsets(Commit("a", epoch, "u", 0, 3), h.now(), h.topics()));
  auto d = h.Apply(h.shard().DeleteGroup("g"));
  EXPECT_EQ(static_cast<KafkaError>(d.error().code()), KafkaError::kNonEmptyGroup);

  v1::OffsetDeleteRequest od;
  od.set_group_id("g");
  auto* t = od.add_topics();
  t->set_name("t");
  t->add_partitions(0);
  auto* u = od.add_topics();
  u->set_name("u");
  u->add_partitions(0);
  auto odr = h.Apply(h.shard().DeleteOffsets(od, h.topics()));
  EXPECT_EQ(static_cast<KafkaError>(odr.topics(0).partitions(0).error().code()),
            KafkaError::kGroupSubscribedToTopic);
  EXPECT_EQ(odr.topics(1).partitions(0).error().code(), 0);
  EXPECT_EQ(Fetched(h.shard(), "u", 0), -1);
  EXPECT_EQ(Fetched(h.shard(), "t", 0), 5);

  h.Leave("a");
  d = h.Apply(h.shard().DeleteGroup("g"));
  EXPECT_EQ(d.error().code(), 0) << d.error().message();
  EXPECT_FALSE(h.shard().HasGroup("g"));
  d = h.Apply(h.shard().DeleteGroup("g"));
  EXPECT_EQ(static_cast<KafkaError>(d.error().code()), KafkaError::kGroupIdNotFound);
}

TEST(GroupShard, OffsetsOfEmptyGroupsExpire) {
  GroupConfig config;
  config.offsets_retention_ms = 60'000;
  Harness h(config);
  h.SetTopic("t", 2);
  h.Apply(h.shard().CommitOffsets(Commit("", -1, "t", 0, 5), h.now(), h.topics()));
  h.now() += 30'000;
  h.Apply(h.shard().CommitOffsets(Commit("", -1, "t", 1, 6), h.now(), h.topics()));
  h.now() += 40'000;  // the first is 70 s old, the second 40 s
  h.Apply(GroupResult<int>{h.shard().ExpireOffsets(h.now()), 0});
  EXPECT_EQ(Fetched(h.shard(), "t", 0), -1);
  EXPECT_EQ(Fetched(h.shard(), "t", 1), 6);
  h.now() += 30'000;
  h.Apply(GroupResult<int>{h.shard().ExpireOffsets(h.now()), 0});
  EXPECT_FALSE(h.shard().HasGroup("g"));
}

// A seeded random walk: clients join, leave, crash, lose responses, change subscriptions;
// topics grow and appear; time passes and sessions lapse. Invariants after every step (the
// harness), then convergence: every partition owned by exactly one live client.
TEST(GroupShard, RandomWalk) {
  int64_t revocations = 0;
  size_t expirations = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    Random random(seed);
    GroupConfig config;
    config.session_timeout_ms = 20'000;
    Harness h(config);
    h.SetTopic("t0", static_cast<int32_t>(random.Range(1, 12)));
    h.SetTopic("t1", static_cast<int32_t>(random.Range(1, 12)));
    int next_id = 0;
    for (int step = 0; step < 150 && !::testing::Test::HasFailure(); ++step) {
      const int64_t action = random.Range(0, 99);
      auto& clients = h.clients();
      auto pick = [&]() -> Client* {
        if (clients.empty()) return nullptr;
        auto it = clients.begin();
        std::advance(it, static_cast<long>(random.Uniform(clients.size())));
        return &it->second;
      };
      if (action < 12 && clients.size() < 8) {
        std::vector<std::string> topics = {"t0"};
        if (random.OneIn(2)) topics.push_back("t1");
        h.Add(fmt::format("m{}", next_id++), topics);
      } else if (action < 16) {
        if (Client* c = pick(); c != nullptr && c->joined) h.Leave(c->id);
      } else if (action < 19) {
        // A crash: the client vanishes; its session lapses later.
        if (Client* c = pick()) {
          c->owned.clear();
          clients.erase(c->id);
        }
      } else if (action < 22) {
        if (Client* c = pick()) {
          c->topics = random.OneIn(2) ? std::vector<std::string>{"t0", "t1"}
                                      : std::vector<std::string>{"t1"};
        }
      } else if (action < 24) {
        const std::string name = random.OneIn(2) ? "t0" : "t1";
        const TopicInfo* t = h.topics().Find(name);
        h.SetTopic(name, t->partition_count + static_cast<int32_t>(random.Range(1, 3)));
      } else if (action < 27) {
        h.now() += random.Range(1'000, 25'000);
        // Live clients keep their sessions; the second beat confirms a revocation the first
        // asked for, as a client does at once.
        for (int i = 0; i < 2; ++i) {
          for (auto& [id, c] : clients) {
            if (c.joined) h.Beat(id);
          }
        }
        std::vector<std::string> expired;
        h.Apply(GroupResult<int>{h.shard().ExpireMembers(h.now(), &expired), 0});
        expirations += expired.size();
      } else if (Client* c = pick()) {
        h.Beat(c->id, /*lose_response=*/random.OneIn(10));
      }
    }
    // Crashed members' sessions lapse; then everyone converges.
    h.now() += 30'000;
    for (auto& [id, c] : h.clients()) h.Beat(id);
    h.Apply(GroupResult<int>{h.shard().ExpireMembers(h.now(), nullptr), 0});
    if (h.clients().empty()) continue;
    ASSERT_TRUE(h.Converge(40)) << h.shard().DebugString();
    std::set<std::string> subscribed;
    for (const auto& [id, c] : h.clients()) subscribed.insert(c.topics.begin(), c.topics.end());
    h.ExpectFullyOwned(subscribed);
    revocations += h.revocations();
  }
  // The walk did exercise what the invariants guard.
  EXPECT_GT(revocations, 100);
  EXPECT_GT(expirations, 10u);
}

}  // namespace
}  // namespace strand::broker::group
