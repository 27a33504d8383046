// The idempotent producer through leader failures, on a real cluster (3 controllers, 3 brokers):
// 1,000,000 records (acks=all, enable.idempotence, 5 requests in flight, lz4) to a 3-partition
// topic while the leader of partition 0 is SIGKILLed twice (the first victim restarted and back
// in the ISR before the second kill). Every record must be acknowledged, and reading the topic
// back with the Consumer must give each record exactly once (no loss, no duplicate), at the
// offset its callback reported, and in send order within each partition.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "tests/integration/client_cluster_support.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using client::TopicPartition;

constexpr int kRecords = 1'000'000;
constexpr int kPartitions = 3;
constexpr int64_t kRecordsPerSecond = 70'000;

int64_t Ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The value of record i: its index, padded to 40 bytes; keys spread records over partitions.
std::string ValueOf(int i) { return fmt::format("record-{:010d}-{:>22}", i, "payload"); }
int IndexOf(std::string_view value) { return std::stoi(std::string(value.substr(7, 10))); }

TEST(ClientFailoverTest, IdempotentProducer_MillionRecordsThroughTwoLeaderKills) {
  StrandCluster c;
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const std::string topic = "million";
  // On failure: what the brokers say about the partitions, and the end of their logs.
  struct OnFailure {
    StrandCluster& c;
    const std::string& topic;
    ~OnFailure() {
      if (!::testing::Test::HasFailure()) return;
      for (int p = 0; p < kPartitions; ++p) {
        const auto v = c.Partition(topic, p);
        if (!v) continue;
        std::string isr;
        for (int32_t r : v->isr) isr += std::to_string(r) + " ";
        std::printf("%s-%d: leader %d epoch %d isr %s\n", topic.c_str(), p, v->leader,
                    v->leader_epoch, isr.c_str());
      }
      for (int id : c.broker_ids()) {
        std::printf("--- broker %d (%s)\n%s\n", id, c.running(id) ? "running" : "not running",
                    Tail(c.log_path(id), 40).c_str());
      }
    }
  } on_failure{c, topic};
  CreateTopicAndWait(c, topic, kPartitions, {{"min.insync.replicas", "2"}});
  auto producer = MakeProducer(c, {{"acks", "all"},
                                   {"enable.idempotence", "true"},
                                   {"max.in.flight.requests.per.connection", "5"},
                                   {"compression.type", "lz4"},
                                   {"linger.ms", "5"},
                                   {"batch.size", "65536"},
                                   {"delivery.timeout.ms", "120000"}});
  ASSERT_NE(producer, nullptr);

  // Filled by callbacks (sender thread), read after Flush.
  std::vector<int32_t> partition_of(kRecords, -1);
  std::vector<int64_t> offset_of(kRecords, -1);
  std::atomic<int64_t> acked{0}, failed{0};
  std::string first_error;
  std::mutex error_mu;

  // The killer: SIGKILLs partition 0's leader at 25 % and 60 % of the acknowledged records,
  // restarting the first victim (and waiting for a full ISR) before the second kill. It lives
  // until the test ends: a broker it restarts is its child with PR_SET_PDEATHSIG, which fires
  // when the forking *thread* exits (see tests/integration/test_process.h).
  std::vector<int64_t> stall_ms;
  std::atomic<bool> produced_all{false}, test_over{false};
  std::thread killer([&] {
    int victim = -1;
    for (const int64_t at : {kRecords / 4, kRecords * 6 / 10}) {
      while (acked.load() < at && !produced_all) std::this_thread::sleep_for(5ms);
      if (produced_all) break;
      if (victim >= 0) {
        c.Start(victim);
        if (!c.WaitForBrokers(30s)) ADD_FAILURE() << "broker " << victim << " did not come back";
        for (int p = 0; p < kPartitions; ++p) {
          if (!c.WaitForPartition(topic, p, 60s, 3)) ADD_FAILURE() << "ISR of " << p << " short";
        }
      }
      const auto view = c.Partition(topic, 0);
      if (!view) {
        ADD_FAILURE() << "no metadata for partition 0";
        break;
      }
      victim = view->leader;
      const int64_t acked_at_kill = acked.load();
      const auto killed_at = Clock::now();
      c.Kill(victim);
      std::printf("SIGKILL leader %d of %s-0 after %lld acknowledged records\n", victim,
                  topic.c_str(), static_cast<long long>(acked_at_kill));
      // How long until records flow again (acknowledgements resume past the kill).
      while (acked.load() < acked_at_kill + 20'000 && !produced_all &&
             Clock::now() - killed_at < 60s) {
        std::this_thread::sleep_for(1ms);
      }
      stall_ms.push_back(Ms(Clock::now() - killed_at));
    }
    while (!test_over) std::this_thread::sleep_for(10ms);
  });
  struct JoinAtEnd {
    std::atomic<bool>& over;
    std::thread& thread;
    ~JoinAtEnd() {
      over = true;
      thread.join();
    }
  } join_at_end{test_over, killer};

  const auto start = Clock::now();
  for (int i = 0; i < kRecords; ++i) {
    // Paced, so that both kills (and the restart between them) land mid-stream: unpaced, the
    // producer can finish before the first victim is back.
    if (i % 1000 == 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(int64_t{i} * 1'000'000 /
                                                                      kRecordsPerSecond));
    }
    client::ProducerRecord r;
    r.topic = topic;
    r.key = std::to_string(i % 1000);
    r.value = ValueOf(i);
    absl::Status s = producer->Send(std::move(r), [&, i](const auto& result) {
      if (result.ok()) {
        partition_of[i] = result->partition;
        offset_of[i] = result->offset;
        ++acked;
      } else {
        std::lock_guard lock(error_mu);
        if (failed++ == 0) first_error = std::string(result.status().message());
      }
    });
    ASSERT_TRUE(s.ok()) << "record " << i << ": " << s;
  }
  producer->Flush();
  const auto produced = Clock::now();
  produced_all = true;
  ASSERT_EQ(failed.load(), 0) << "first error: " << first_error;
  ASSERT_EQ(acked.load(), kRecords);
  const auto m = producer->metrics();
  std::printf("produced %d records in %lld ms (%lld requests, %lld batches retried, %lld epoch "
              "bumps); records resumed after the kills in:",
              kRecords, static_cast<long long>(Ms(produced - start)),
              static_cast<long long>(m.requests_sent), static_cast<long long>(m.batches_retried),
              static_cast<long long>(m.epoch_bumps));
  for (int64_t s : stall_ms) std::printf(" %lld ms", static_cast<long long>(s));
  std::printf("\n");
  ASSERT_EQ(stall_ms.size(), 2u);
  producer->Close();

  // Read everything back.
  auto consumer = MakeConsumer(c, {{"max.poll.records", "5000"}});
  ASSERT_NE(consumer, nullptr);
  std::vector<TopicPartition> tps;
  for (int p = 0; p < kPartitions; ++p) tps.push_back({topic, p});
  ASSERT_TRUE(consumer->Assign(tps).ok());
  std::vector<int64_t> last_index(kPartitions, -1);
  std::vector<int64_t> next_offset(kPartitions, 0);
  std::vector<char> seen(kRecords, 0);
  int64_t read = 0;
  const auto deadline = Clock::now() + 120s;
  while (read < kRecords && Clock::now() < deadline) {
    auto records = consumer->Poll(500ms);
    ASSERT_TRUE(records.ok()) << records.status();
    for (const client::ConsumerRecord& r : *records) {
      const int p = r.partition();
      ASSERT_EQ(r.offset(), next_offset[p]) << "gap or repeat in partition " << p;
      next_offset[p] = r.offset() + 1;
      ASSERT_TRUE(r.value().has_value());
      const int i = IndexOf(*r.value());
      ASSERT_TRUE(i >= 0 && i < kRecords);
      ASSERT_EQ(*r.value(), ValueOf(i));
      ASSERT_FALSE(seen[i]) << "duplicate record " << i << " at " << p << "@" << r.offset();
      seen[i] = 1;
      ASSERT_EQ(partition_of[i], p) << "record " << i;
      ASSERT_EQ(offset_of[i], r.offset()) << "record " << i << " not where it was acknowledged";
      ASSERT_GT(i, last_index[p]) << "order broken in partition " << p << " at " << r.offset();
      last_index[p] = i;
      ++read;
    }
  }
  if (read < kRecords) {
    auto ends = consumer->EndOffsets(tps);
    for (int p = 0; p < kPartitions; ++p) {
      std::printf("%s-%d: read up to %lld, end offset %lld\n", topic.c_str(), p,
                  static_cast<long long>(next_offset[p]),
                  ends.ok() ? static_cast<long long>((*ends)[tps[p]]) : -1LL);
    }
  }
  ASSERT_EQ(read, kRecords) << "records missing after reading for 120 s";
  // Nothing beyond the acknowledged records either.
  auto ends = consumer->EndOffsets(tps);
  ASSERT_TRUE(ends.ok()) << ends.status();
  for (int p = 0; p < kPartitions; ++p) {
    const TopicPartition tp{topic, p};
    EXPECT_EQ((*ends)[tp], next_offset[p]) << "partition " << p;
  }
  std::printf("read back %lld records in %lld ms\n", static_cast<long long>(read),
              static_cast<long long>(Ms(Clock::now() - produced)));
}

}  // namespace
}  // namespace strand::testing
