// Consumer groups with the client library on a real cluster (3 controllers, 3 brokers):
//   - 6 consumers subscribed to a 12-partition topic while a producer writes 20,000 records; 3
//     more join, then 4 leave gracefully (Close): every record is processed, none twice
//     (auto commit commits what was polled before a partition is revoked);
//   - a static member (group.instance.id) restarted within the session timeout gets its
//     partitions back with no group-epoch bump;
//   - a consumer that stops polling leaves after max.poll.interval.ms and its partitions move;
//   - with a rack per broker and a topic of replication factor 1, three consumers, one per rack
//     (client.rack), each get exactly the two partitions whose only replica is in their rack.
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/broker/v1/broker.grpc.pb.h"
#include "proto/group/v1/group.grpc.pb.h"
#include "tests/integration/client_cluster_support.h"
#include "tests/integration/group_test_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace gv1 = ::strand::group::v1;

client::Properties GroupProps(const std::string& group, const std::string& instance = "") {
  client::Properties p = {{"group.id", group},
                          {"enable.auto.commit", "true"},
                          {"auto.commit.interval.ms", "500"},
                          {"max.poll.records", "200"}};
  if (!instance.empty()) p["group.instance.id"] = instance;
  return p;
}

// A consumer polling on its own thread, recording every value it is given.
class GroupConsumer {
 public:
  GroupConsumer(StrandCluster& c, const std::string& topic, client::Properties props,
                std::function<void(std::string_view)> seen)
      : consumer_(MakeConsumer(c, props)), seen_(std::move(seen)) {
    EXPECT_TRUE(consumer_ != nullptr);
    if (!consumer_) return;
    absl::Status s = consumer_->Subscribe({topic});
    EXPECT_TRUE(s.ok()) << s;
    thread_ = std::thread([this] { Loop(); });
  }
  ~GroupConsumer() { Close(); }

  void Close() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (consumer_) consumer_->Close();
  }
  // Stops calling Poll without closing (the member goes silent on the application side).
  void StopPolling() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<client::TopicPartition> Assignment() {
    std::lock_guard lock(mu_);
    return assignment_;
  }
  size_t polled() const { return polled_.load(); }

 private:
  void Loop() {
    const auto deadline = std::chrono::steady_clock::now() + 180s;  // bounded
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      auto records = consumer_->Poll(200ms);
      if (!records.ok()) continue;
      for (const auto& r : *records) {
        if (r.value()) seen_(*r.value());
        ++polled_;
      }
      std::lock_guard lock(mu_);
      assignment_ = consumer_->Assignment();
    }
  }

  std::unique_ptr<client::Consumer> consumer_;
  std::function<void(std::string_view)> seen_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> polled_{0};
  std::mutex mu_;
  std::vector<client::TopicPartition> assignment_;
  std::thread thread_;
};

TEST(ConsumerGroupTest, JoinsAndLeavesWithoutLossOrDuplicates) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  CreateTopicAndWait(c, "events", 12);

  std::mutex mu;
  std::map<std::string, int> counts;
  auto seen = [&](std::string_view v) {
    std::lock_guard lock(mu);
    ++counts[std::string(v)];
  };

  constexpr int kRecords = 20'000;
  std::atomic<int> acked{0};
  std::thread producer_thread([&] {
    auto producer = MakeProducer(c, {{"linger.ms", "5"}});
    ASSERT_NE(producer, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < kRecords && std::chrono::steady_clock::now() < deadline; ++i) {
      client::ProducerRecord r{
          .topic = "events", .key = fmt::format("k{}", i % 97), .value = fmt::format("v{}", i)};
      absl::Status s = producer->Send(r, [&](const absl::StatusOr<client::RecordMetadata>& m) {
        if (m.ok()) ++acked;
      });
      ASSERT_TRUE(s.ok()) << s;
      if (i % 1000 == 999) std::this_thread::sleep_for(500ms);  // spread over ~10 s
    }
    producer->Flush();
  });

  std::vector<std::unique_ptr<GroupConsumer>> members;
  for (int i = 0; i < 6; ++i) {
    members.push_back(std::make_unique<GroupConsumer>(c, "events", GroupProps("app"), seen));
  }
  std::this_thread::sleep_for(3s);
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<GroupConsumer>(c, "events", GroupProps("app"), seen));
    std::this_thread::sleep_for(1s);
  }
  std::this_thread::sleep_for(2s);
  for (int i = 0; i < 4; ++i) {
    members[i]->Close();
    std::this_thread::sleep_for(1s);
  }
  producer_thread.join();
  ASSERT_EQ(acked.load(), kRecords);

  // The 5 left consume the rest.
  const bool all = Eventually(
      [&] {
        std::lock_guard lock(mu);
        return counts.size() == static_cast<size_t>(kRecords);
      },
      60s);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(all) << counts.size() << " of " << kRecords << " records consumed";
    int duplicates = 0;
    for (const auto& [v, n] : counts) duplicates += n - 1;
    EXPECT_EQ(duplicates, 0);
  }
  // Every partition is owned by one of the 5 members left.
  ASSERT_TRUE(Eventually(
      [&] {
        std::set<int32_t> owned;
        size_t total = 0;
        for (size_t i = 4; i < members.size(); ++i) {
          for (const auto& tp : members[i]->Assignment()) {
            owned.insert(tp.partition);
            ++total;
          }
        }
        return owned.size() == 12 && total == 12;
      },
      20s));
  auto described = DescribeGroup(c, "app");
  ASSERT_TRUE(described.has_value());
  EXPECT_EQ(described->members_size(), 5);
  EXPECT_EQ(described->state(), "Stable");
  for (auto& m : members) m->Close();
}

TEST(ConsumerGroupTest, StaticMemberRestartKeepsItsPartitions) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  CreateTopicAndWait(c, "orders", 6);
  auto ignore = [](std::string_view) {};
  auto a = std::make_unique<GroupConsumer>(c, "orders", GroupProps("static", "instance-a"), ignore);
  auto b = std::make_unique<GroupConsumer>(c, "orders", GroupProps("static", "instance-b"), ignore);
  ASSERT_TRUE(
      Eventually([&] { return a->Assignment().size() == 3 && b->Assignment().size() == 3; }, 30s));
  auto before = DescribeGroup(c, "static");
  ASSERT_TRUE(before.has_value());
  const auto a_partitions = a->Assignment();
  // Close leaves temporarily (epoch -2); a new process with the same instance id comes back.
  a->Close();
  a.reset();
  auto a2 =
      std::make_unique<GroupConsumer>(c, "orders", GroupProps("static", "instance-a"), ignore);
  ASSERT_TRUE(Eventually([&] { return a2->Assignment().size() == 3; }, 20s));
  auto after = DescribeGroup(c, "static");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->group_epoch(), before->group_epoch());
  auto sorted = [](std::vector<client::TopicPartition> v) {
    std::set<int32_t> out;
    for (const auto& tp : v) out.insert(tp.partition);
    return out;
  };
  EXPECT_EQ(sorted(a2->Assignment()), sorted(a_partitions));
  EXPECT_EQ(b->Assignment().size(), 3u);
}

TEST(ConsumerGroupTest, ConsumerThatStopsPollingIsRemoved) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  CreateTopicAndWait(c, "jobs", 4);
  auto ignore = [](std::string_view) {};
  client::Properties slow_props = GroupProps("pollers");
  slow_props["max.poll.interval.ms"] = "2000";
  auto slow = std::make_unique<GroupConsumer>(c, "jobs", slow_props, ignore);
  auto fast = std::make_unique<GroupConsumer>(c, "jobs", GroupProps("pollers"), ignore);
  ASSERT_TRUE(Eventually(
      [&] { return slow->Assignment().size() == 2 && fast->Assignment().size() == 2; }, 30s));
  const auto stopped_at = std::chrono::steady_clock::now();
  slow->StopPolling();
  ASSERT_TRUE(Eventually([&] { return fast->Assignment().size() == 4; }, 20s));
  const double moved_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  fmt::print("partitions moved {:.2f} s after the slow consumer's last poll\n", moved_s);
  EXPECT_GE(moved_s, 1.5);  // not before max.poll.interval.ms
  auto described = DescribeGroup(c, "pollers");
  ASSERT_TRUE(described.has_value());
  EXPECT_EQ(described->members_size(), 1);
}

// Each broker in its own rack (rack-1..rack-3) and a topic of replication factor 1: each
// partition's only replica is in one rack. One consumer per rack (client.rack) must get exactly
// the partitions of its rack, two each — the uniform assignor prefers a rack-local member among
// members of equal load, and here every member can be both balanced and local.
TEST(ConsumerGroupTest, RackAwareAssignmentKeepsEachPartitionInItsReplicasRack) {
  ClusterOptions options = GroupCluster();
  options.racks = true;
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  constexpr int kPartitions = 6;
  ASSERT_EQ(c.CreateTopic("local", kPartitions, 1), "NONE");
  for (int32_t p = 0; p < kPartitions; ++p) ASSERT_TRUE(c.WaitForPartition("local", p, 20s));

  // Each partition's rack, as the brokers' metadata tells a client (replicas and broker racks).
  std::map<int32_t, std::string> rack_of;
  ASSERT_TRUE(Eventually(
      [&] {
        broker::v1::MetadataRequest req;
        req.add_topics("local");
        grpc::ClientContext ctx;
        ctx.set_deadline(In(5s));
        broker::v1::MetadataResponse resp;
        if (!c.broker(c.broker_ids().front()).Metadata(&ctx, req, &resp).ok()) return false;
        if (resp.topics_size() != 1 || resp.topics(0).partitions_size() != kPartitions) {
          return false;
        }
        std::map<int32_t, std::string> broker_rack;
        for (const auto& b : resp.brokers()) broker_rack[b.id()] = b.rack();
        rack_of.clear();
        for (const auto& p : resp.topics(0).partitions()) {
          if (p.replicas_size() != 1 || broker_rack.count(p.replicas(0)) == 0) return false;
          rack_of[p.partition()] = broker_rack[p.replicas(0)];
        }
        return true;
      },
      20s));
  std::map<std::string, int> per_rack;
  for (const auto& [p, rack] : rack_of) ++per_rack[rack];
  // The placement spreads single replicas evenly, so a balanced assignment can be rack-local.
  ASSERT_EQ(per_rack, (std::map<std::string, int>{{"rack-1", 2}, {"rack-2", 2}, {"rack-3", 2}}));

  auto ignore = [](std::string_view) {};
  std::map<std::string, std::unique_ptr<GroupConsumer>> by_rack;
  for (const std::string rack : {"rack-1", "rack-2", "rack-3"}) {
    client::Properties props = GroupProps("racked");
    props["client.rack"] = rack;
    by_rack[rack] = std::make_unique<GroupConsumer>(c, "local", props, ignore);
  }
  // Rack-local for every member: what each owns, partition by partition.
  auto local = [&] {
    for (const auto& [rack, member] : by_rack) {
      const auto owned = member->Assignment();
      if (owned.size() != 2) return false;
      for (const auto& tp : owned) {
        if (rack_of[tp.partition] != rack) return false;
      }
    }
    return true;
  };
  const bool all_local = Eventually(local, 30s);
  for (const auto& [rack, member] : by_rack) {
    std::string owned;
    for (const auto& tp : member->Assignment()) {
      owned += fmt::format(" {}({})", tp.partition, rack_of[tp.partition]);
    }
    EXPECT_TRUE(all_local) << "the member in " << rack << " owns" << owned;
  }
  // The coordinator's view agrees: a stable group, each member with its rack and two partitions
  // of that rack.
  std::optional<gv1::DescribedGroup> described;
  ASSERT_TRUE(Eventually(
      [&] {
        described = DescribeGroup(c, "racked");
        return described.has_value() && described->state() == "Stable";
      },
      20s))
      << (described ? described->state() : "no description");
  ASSERT_EQ(described->members_size(), 3);
  for (const auto& m : described->members()) {
    ASSERT_EQ(m.assignment_size(), 1) << m.member_id();
    EXPECT_EQ(m.assignment(0).partitions_size(), 2) << m.rack();
    for (int32_t p : m.assignment(0).partitions()) {
      EXPECT_EQ(rack_of[p], m.rack()) << "partition " << p;
    }
  }
  EXPECT_TRUE(local());  // and the members still hold what the coordinator says
  for (auto& [rack, member] : by_rack) member->Close();
}

// docs/groups.md's exactly-once example (strand-example-delivery --mode exactly-once): SIGKILLed
// mid-stream and started again, its store holds every record exactly once.
TEST(ConsumerGroupTest, ExactlyOnceExampleSurvivesSigkill) {
  StrandCluster c(GroupCluster());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  CreateTopicAndWait(c, "ledger", 3);
  constexpr int kRecords = 3'000;
  {
    auto producer = MakeProducer(c);
    ASSERT_NE(producer, nullptr);
    for (int i = 0; i < kRecords; ++i) {
      ASSERT_TRUE(
          producer->Send({.topic = "ledger", .value = fmt::format("r{}", i)}, nullptr).ok());
    }
    producer->Flush();
  }
  TempDir dir("delivery");
  const std::string store = dir.path() + "/store.txt";
  const std::vector<std::string> args = {"--bootstrap",
                                         Bootstrap(c),
                                         "--topic",
                                         "ledger",
                                         "--group",
                                         "ledger-app",
                                         "--mode",
                                         "exactly-once",
                                         "--store",
                                         store,
                                         "--idle-ms",
                                         "15000",
                                         "--max-poll-records",
                                         "50",
                                         "--process-ms",
                                         "20"};
  auto stored_lines = [&] {
    std::ifstream in(store);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("@position", 0) != 0) out.push_back(line);
    }
    return out;
  };
  {
    ChildProcess first("strand-example-delivery", args, dir.path() + "/first.log");
    ASSERT_TRUE(Eventually([&] { return stored_lines().size() >= 10; }, 30s));
    first.Signal(SIGKILL);
    first.Wait(10s);
  }
  const size_t before = stored_lines().size();
  ASSERT_LT(before, static_cast<size_t>(kRecords)) << "killed too late to test anything";
  // The killed member holds the partitions until its session (6 s) lapses; --idle-ms 15000 waits
  // for that.
  ChildProcess second("strand-example-delivery", args, dir.path() + "/second.log");
  ASSERT_NE(second.Wait(90s), -1) << Tail(dir.path() + "/second.log", 50);
  std::map<std::string, int> seen;
  for (const auto& line : stored_lines()) ++seen[line.substr(line.rfind(' ') + 1)];
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords));
  int duplicates = 0;
  for (const auto& [v, n] : seen) duplicates += n - 1;
  EXPECT_EQ(duplicates, 0);
}

}  // namespace
}  // namespace strand::testing
