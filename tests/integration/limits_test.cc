// Limits on what a client can make a server hold, hit on purpose on real processes: the server
// answers with its error, its memory stays bounded, and nothing acknowledged is lost.
//
//   - idempotent producers tracked per partition (strand.producer.ids.per.partition.max): past
//     the limit a new producer id is refused with THROTTLING_QUOTA_EXCEEDED, the producers
//     already tracked go on, and every acknowledged record is in the log.
#include <chrono>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;

// Resident memory of a process, in bytes (0 when unknown).
int64_t RssBytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(LimitsTest, ProducerIdsPerPartition_PastTheLimitAreRefused) {
  ClusterOptions o;
  o.broker_args = {"--config=strand.producer.ids.per.partition.max=5"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("pids", 1, 3), "NONE");
  auto view = c.WaitForPartition("pids", 0, 20s, 3);
  ASSERT_TRUE(view);
  std::vector<std::unique_ptr<TestProducer>> tracked;
  std::set<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    tracked.push_back(std::make_unique<TestProducer>(c, "pids", 0, -1, true));
    SendResult r = tracked.back()->Send({fmt::format("p{}-0", i)}, 20s);
    ASSERT_TRUE(r.acked) << r.error;
    acked.insert(fmt::format("p{}-0", i));
  }
  const int64_t rss_before = RssBytes(c.process(view->leader)->pid());
  int refused = 0;
  for (int i = 5; i < 205; ++i) {
    TestProducer p(c, "pids", 0, -1, true);
    SendResult r = p.Send({fmt::format("p{}-0", i)}, 10s);
    EXPECT_FALSE(r.acked) << "producer " << i << " got past the limit";
    if (r.error == "THROTTLING_QUOTA_EXCEEDED") ++refused;
    if (r.acked) acked.insert(fmt::format("p{}-0", i));
  }
  EXPECT_EQ(refused, 200);
  // The tracked producers go on.
  for (int i = 0; i < 5; ++i) {
    SendResult r = tracked[static_cast<size_t>(i)]->Send({fmt::format("p{}-1", i)}, 20s);
    EXPECT_TRUE(r.acked) << r.error;
    if (r.acked) acked.insert(fmt::format("p{}-1", i));
  }
  const int64_t rss_after = RssBytes(c.process(view->leader)->pid());
  EXPECT_GT(rss_after, 0);
  EXPECT_LT(rss_after, int64_t{512} << 20) << "leader RSS " << rss_after;
  std::printf("leader RSS %lld MiB before the refused producers, %lld MiB after\n",
              static_cast<long long>(rss_before >> 20), static_cast<long long>(rss_after >> 20));
  // Nothing acknowledged is lost, nothing refused was written.
  auto records = c.ReadAll("pids", 0, view->leader);
  ASSERT_TRUE(records.ok()) << records.status();
  std::set<std::string> stored;
  for (const auto& r : *records) stored.insert(r.value);
  EXPECT_EQ(stored, acked);
}

}  // namespace
}  // namespace strand::testing
