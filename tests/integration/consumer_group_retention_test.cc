// Committed offsets' retention on a real cluster (3 controllers, 3 brokers) with
// offsets.retention.minutes=1 (the least) checked every second: three groups commit at the same
// moment, with the client library —
//   - a simple group (Assign, CommitSync, Close: never a member),
//   - a group whose only member commits and then leaves (Empty, with its group record),
//   - a group whose member commits once and stays (subscribed, polling, no more commits);
// the first two lose their offsets and disappear from ListGroups once a minute has passed since
// the commit (not before), while the live group keeps its offsets however old they are. About
// 80 s: its own ctest entry, so that ctest -j runs it beside the other group tests.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/client_cluster_support.h"
#include "tests/integration/group_test_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int32_t kPartitions = 4;

std::vector<client::TopicPartition> AllPartitions(const std::string& topic) {
  std::vector<client::TopicPartition> out;
  for (int32_t p = 0; p < kPartitions; ++p) out.push_back({topic, p});
  return out;
}

// Offsets 10 + p (+ `base`), as the client commits them and as OffsetFetch returns them.
std::map<client::TopicPartition, client::OffsetAndMetadata> Offsets(const std::string& topic,
                                                                    int64_t base) {
  std::map<client::TopicPartition, client::OffsetAndMetadata> out;
  for (int32_t p = 0; p < kPartitions; ++p) out[{topic, p}] = {base + 10 + p, -1, ""};
  return out;
}
GroupOffsets Expected(const std::string& topic, int64_t base) {
  GroupOffsets out;
  for (int32_t p = 0; p < kPartitions; ++p) out[{topic, p}] = base + 10 + p;
  return out;
}

// Polls until the consumer owns every partition of the topic (bounded).
bool PollUntilOwnsAll(client::Consumer& consumer, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    (void)consumer.Poll(200ms);
    if (consumer.Assignment().size() == static_cast<size_t>(kPartitions)) return true;
  }
  return false;
}

// The groups ListGroups names (nullopt: some coordinator did not answer).
std::optional<std::set<std::string>> Listed(StrandCluster& c) {
  auto groups = ListAllGroups(c);
  if (!groups) return std::nullopt;
  std::set<std::string> out;
  for (const auto& g : *groups) out.insert(g.group_id());
  return out;
}

TEST(ConsumerGroupRetentionTest, OffsetsOfGroupsWithoutMembersExpireAndLiveGroupsKeepTheirs) {
  ClusterOptions options = GroupCluster();
  options.broker_args.push_back("--config=offsets.retention.minutes=1");
  options.broker_args.push_back("--config=offsets.retention.check.interval.ms=1000");
  StrandCluster c(options);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const std::string topic = "audit";
  CreateTopicAndWait(c, topic, kPartitions);
  {
    auto producer = MakeProducer(c);
    ASSERT_NE(producer, nullptr);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(
          producer
              ->Send({.topic = topic, .partition = i % kPartitions, .value = fmt::format("a{}", i)},
                     nullptr)
              .ok());
    }
    producer->Flush();
  }

  // Both members first (joining takes a few heartbeats), then all three commit together.
  auto live = MakeConsumer(c, {{"group.id", "audit-live"}});
  auto leaving = MakeConsumer(c, {{"group.id", "audit-left"}});
  auto simple = MakeConsumer(c, {{"group.id", "audit-simple"}});
  ASSERT_TRUE(live && leaving && simple);
  ASSERT_TRUE(live->Subscribe({topic}).ok());
  ASSERT_TRUE(leaving->Subscribe({topic}).ok());
  ASSERT_TRUE(simple->Assign(AllPartitions(topic)).ok());
  ASSERT_TRUE(PollUntilOwnsAll(*live, 30s));
  ASSERT_TRUE(PollUntilOwnsAll(*leaving, 30s));

  // Taken before the first commit is sent: every commit's timestamp is at or after it.
  const auto committed_at = Clock::now();
  ASSERT_TRUE(simple->CommitSync(Offsets(topic, 0)).ok());
  ASSERT_TRUE(leaving->CommitSync(Offsets(topic, 100)).ok());
  ASSERT_TRUE(live->CommitSync(Offsets(topic, 200)).ok());
  simple->Close();
  leaving->Close();
  // The live member keeps polling (and heartbeating) on its own thread, committing nothing more.
  std::atomic<bool> stop{false};
  std::thread live_thread([&] {
    const auto deadline = Clock::now() + 150s;  // bounded
    while (!stop && Clock::now() < deadline) (void)live->Poll(200ms);
  });
  JoinOnExit join_live{stop, live_thread};

  for (const auto& [group, base] : std::map<std::string, int64_t>{
           {"audit-simple", 0}, {"audit-left", 100}, {"audit-live", 200}}) {
    std::optional<GroupOffsets> fetched;
    ASSERT_TRUE(Eventually([&] { return (fetched = FetchCommitted(c, group)).has_value(); }, 10s));
    EXPECT_EQ(*fetched, Expected(topic, base)) << group;
  }
  ASSERT_TRUE(Eventually(
      [&] {
        auto listed = Listed(c);
        return listed && listed->count("audit-simple") && listed->count("audit-left") &&
               listed->count("audit-live");
      },
      10s));
  auto empty_state = DescribeGroup(c, "audit-left");
  ASSERT_TRUE(empty_state.has_value());
  EXPECT_EQ(empty_state->state(), "Empty");

  // Expired: no committed offset left and not listed any more. Watched every 50 ms from the
  // commit, so that an early expiry is seen too.
  auto gone = [&](const std::string& group) {
    auto fetched = FetchCommitted(c, group);
    if (!fetched || !fetched->empty()) return false;
    auto listed = Listed(c);
    return listed && listed->count(group) == 0;
  };
  std::map<std::string, double> expired_after_s;
  Eventually(
      [&] {
        for (const std::string group : {"audit-simple", "audit-left"}) {
          if (expired_after_s.count(group) == 0 && gone(group)) {
            expired_after_s[group] =
                std::chrono::duration<double>(Clock::now() - committed_at).count();
          }
        }
        return expired_after_s.size() == 2;
      },
      90s);
  for (const std::string group : {"audit-simple", "audit-left"}) {
    ASSERT_EQ(expired_after_s.count(group), 1u) << group << " still has its offsets";
    fmt::print("{}: offsets expired {:.2f} s after the commit\n", group, expired_after_s[group]);
    EXPECT_GE(expired_after_s[group], 60.0) << group << " expired before offsets.retention.minutes";
    EXPECT_LE(expired_after_s[group], 70.0) << group;
  }
  EXPECT_FALSE(DescribeGroup(c, "audit-left").has_value()) << "the empty group is still there";

  // The live group's offsets are older than the retention too, but a group with members keeps
  // them.
  std::optional<GroupOffsets> live_offsets;
  ASSERT_TRUE(Eventually(
      [&] { return (live_offsets = FetchCommitted(c, "audit-live")).has_value(); }, 10s));
  EXPECT_EQ(*live_offsets, Expected(topic, 200));
  auto live_group = DescribeGroup(c, "audit-live");
  ASSERT_TRUE(live_group.has_value());
  EXPECT_EQ(live_group->members_size(), 1);
  EXPECT_EQ(live_group->state(), "Stable");
  auto listed = Listed(c);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->count("audit-live"), 1u);

  stop = true;
  live_thread.join();
  live->Close();
}

}  // namespace
}  // namespace strand::testing
