// Consumer groups with the client library on a real cluster (3 controllers, 3 brokers):
//   - 6 consumers subscribed to a 12-partition topic while a producer writes 20,000 records; 3
//     more join, then 4 leave gracefully (Close): every record is processed, none twice
//     (auto commit commits what was polled before a partition is revoked);
//   - a static member (group.instance.id) restarted within the session timeout gets its
//     partitions back with no group-epoch bump;
//   - a consumer that stops polling leaves after max.poll.interval.ms and its partitions move.
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

#include "proto/group/v1/group.grpc.pb.h"
#include "tests/integration/client_cluster_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace gv1 = ::strand::group::v1;

ClusterOptions GroupCluster() {
  ClusterOptions options;
  options.broker_args = {"--config=group.consumer.session.timeout.ms=6000",
                         "--config=group.consumer.heartbeat.interval.ms=300",
                         "--config=offsets.topic.num.partitions=6"};
  options.controller_args = {"--config=offsets.topic.num.partitions=6"};
  return options;
}

client::Properties GroupProps(const std::string& group, const std::string& instance = "") {
  client::Properties p = {{"group.id", group},
                          {"enable.auto.commit", "true"},
                          {"auto.commit.interval.ms", "500"},
                          {"max.poll.records", "200"}};
  if (!instance.empty()) p["group.instance.id"] = instance;
  return p;
}

// The group as its coordinator describes it.
std::optional<gv1::DescribedGroup> Describe(StrandCluster& c, const std::string& group) {
  for (int via : c.broker_ids()) {
    if (!c.running(via)) continue;
    auto stub = gv1::GroupService::NewStub(c.Channel(via));
    grpc::ClientContext find_ctx;
    find_ctx.set_deadline(In(5s));
    gv1::FindCoordinatorRequest find;
    find.add_group_ids(group);
    gv1::FindCoordinatorResponse found;
    if (!stub->FindCoordinator(&find_ctx, find, &found).ok()) continue;
    if (found.coordinators(0).error().code() != 0) return std::nullopt;
    auto coordinator = gv1::GroupService::NewStub(c.Channel(found.coordinators(0).node_id()));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    gv1::DescribeGroupsRequest req;
    req.add_group_ids(group);
    gv1::DescribeGroupsResponse resp;
    if (!coordinator->DescribeGroups(&ctx, req, &resp).ok()) return std::nullopt;
    if (resp.groups(0).error().code() != 0) return std::nullopt;
    return resp.groups(0);
  }
  return std::nullopt;
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
  auto described = Describe(c, "app");
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
  auto before = Describe(c, "static");
  ASSERT_TRUE(before.has_value());
  const auto a_partitions = a->Assignment();
  // Close leaves temporarily (epoch -2); a new process with the same instance id comes back.
  a->Close();
  a.reset();
  auto a2 =
      std::make_unique<GroupConsumer>(c, "orders", GroupProps("static", "instance-a"), ignore);
  ASSERT_TRUE(Eventually([&] { return a2->Assignment().size() == 3; }, 20s));
  auto after = Describe(c, "static");
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
  auto described = Describe(c, "pollers");
  ASSERT_TRUE(described.has_value());
  EXPECT_EQ(described->members_size(), 1);
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
