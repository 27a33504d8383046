// Brokers under failure, on a real cluster (3 controllers, 3 brokers), with a retrying test
// producer that records exactly what was acknowledged:
//
//   - the partition leader is SIGKILLed (twice) during a stream of idempotent acks=all writes:
//     no acknowledged record is lost, none is duplicated, order is kept;
//   - a follower is SIGSTOPped: the ISR shrinks, writes continue at min.insync.replicas=2, the
//     follower rejoins and holds the same records;
//   - two brokers down: acks=all writes fail with NOT_ENOUGH_REPLICAS, nothing is acknowledged
//     falsely, and writes resume once they are back;
//   - a leader cut off from the controllers (fault injection) but not from clients is fenced:
//     everything it ever acknowledged survives, and it rejoins as a follower;
//   - a follower whose fsyncs are held (fault injection): no acks=all answer until it is
//     durable there;
//   - every broker restarted in turn with SIGTERM under load: no failed request;
//   - retention deletes old segments; deleting a topic removes its data.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/broker/v1/fault.grpc.pb.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace bv1 = broker::v1;

constexpr int kRecordsPerBatch = 5;

std::vector<std::string> Values(int batch) {
  std::vector<std::string> out;
  for (int i = 0; i < kRecordsPerBatch; ++i) out.push_back(fmt::format("b{}-r{}", batch, i));
  return out;
}

int64_t Ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

ClusterOptions Options(std::vector<std::string> broker_args = {}) {
  ClusterOptions o;
  o.broker_args = std::move(broker_args);
  return o;
}

// Reads the partition from `node` until it holds at least `min_records` (replication and the
// high watermark catch up asynchronously).
std::vector<StoredRecord> ReadAtLeast(StrandCluster& c, const std::string& topic, int node,
                                      size_t min_records, bool as_follower = false) {
  std::vector<StoredRecord> records;
  const auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    auto r = c.ReadAll(topic, 0, node, as_follower);
    if (r.ok()) {
      records = *std::move(r);
      if (records.size() >= min_records) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  return records;
}

// Every acknowledged value is in `log` exactly once, in acknowledgement order; no value is in
// the log twice.
void ExpectExactlyOnceInOrder(const std::vector<StoredRecord>& log,
                              const std::vector<std::string>& acked) {
  std::map<std::string, int64_t> offset_of;
  for (const auto& r : log) {
    EXPECT_TRUE(offset_of.emplace(r.value, r.offset).second) << "duplicate " << r.value;
  }
  int64_t previous = -1;
  for (const auto& v : acked) {
    auto it = offset_of.find(v);
    ASSERT_NE(it, offset_of.end()) << "acknowledged record lost: " << v;
    EXPECT_GT(it->second, previous) << "order broken at " << v;
    previous = it->second;
  }
  for (size_t i = 1; i < log.size(); ++i) EXPECT_EQ(log[i].offset, log[i - 1].offset + 1);
}

void ExpectSameLog(const std::vector<StoredRecord>& a, const std::vector<StoredRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].offset, b[i].offset);
    EXPECT_EQ(a[i].value, b[i].value) << "replicas differ at offset " << a[i].offset;
  }
}

// Sets the fault-injection switches of broker `node` (started with --enable-fault-injection).
absl::StatusOr<bv1::SetFaultsResponse> SetFaults(StrandCluster& c, int node,
                                                 const bv1::SetFaultsRequest& req) {
  auto faults = bv1::FaultInjectionService::NewStub(c.Channel(node, Listener::kReplication));
  bv1::SetFaultsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = faults->SetFaults(&ctx, req, &resp);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return resp;
}

TEST(BrokerFailoverTest, LeaderKilledDuringWrites_NoAcknowledgedRecordLost) {
  StrandCluster c(Options());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("orders", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("orders", 0, 10s, 3));
  TestProducer producer(c, "orders", 0, -1, /*idempotent=*/true);
  ASSERT_GE(producer.producer_id(), 0);

  std::vector<std::string> acked;
  std::vector<int> killed;
  std::vector<int64_t> windows_ms;
  Clock::time_point kill_time;
  bool waiting_first_ack = false;
  for (int batch = 0; batch < 450; ++batch) {
    if (batch == 150 || batch == 300) {
      const auto view = c.Partition("orders", 0);
      ASSERT_TRUE(view);
      if (!killed.empty()) {  // bring the first victim back before killing the next leader
        c.Start(killed.back());
        ASSERT_TRUE(c.WaitForBrokers(30s));
        ASSERT_TRUE(c.WaitForPartition("orders", 0, 30s, 3));
      }
      const int leader = c.Partition("orders", 0)->leader;
      kill_time = Clock::now();
      c.Kill(leader);
      killed.push_back(leader);
      waiting_first_ack = true;
    }
    const auto values = Values(batch);
    SendResult r = producer.Send(values, 30s);
    ASSERT_TRUE(r.acked) << "batch " << batch << ": " << r.error;
    if (waiting_first_ack) {
      windows_ms.push_back(Ms(Clock::now() - kill_time));
      waiting_first_ack = false;
    }
    acked.insert(acked.end(), values.begin(), values.end());
  }
  for (int64_t w : windows_ms) std::printf("leader SIGKILL -> next acknowledged write: %lld ms\n",
                                           static_cast<long long>(w));
  c.Start(killed.back());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  const auto view = c.WaitForPartition("orders", 0, 30s, 3);
  ASSERT_TRUE(view);
  const auto log = ReadAtLeast(c, "orders", view->leader, acked.size());
  ExpectExactlyOnceInOrder(log, acked);
  // Every replica, the killed ones included, holds the same committed log.
  for (int32_t replica : view->replicas) {
    ExpectSameLog(log, ReadAtLeast(c, "orders", replica, log.size(), /*as_follower=*/true));
  }
}

TEST(BrokerFailoverTest, FollowerPaused_IsrShrinksAndItRejoins) {
  StrandCluster c(Options({"--config", "replica.lag.time.max.ms=1500"}));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("events", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  const auto view = c.WaitForPartition("events", 0, 10s, 3);
  ASSERT_TRUE(view);
  int follower = -1;
  for (int32_t r : view->replicas) {
    if (r != view->leader) follower = r;
  }
  TestProducer producer(c, "events", 0, -1, true);
  std::vector<std::string> acked;
  int batch = 0;
  auto write = [&](int n) {
    for (int i = 0; i < n; ++i, ++batch) {
      SendResult r = producer.Send(Values(batch), 20s);
      ASSERT_TRUE(r.acked) << "batch " << batch << ": " << r.error;
      const auto v = Values(batch);
      acked.insert(acked.end(), v.begin(), v.end());
    }
  };
  write(20);
  c.Pause(follower);
  const auto paused = Clock::now();
  write(1);  // waits for the ISR to shrink (replica.lag.time.max.ms), then succeeds
  std::printf("first write after pausing a follower acknowledged in %lld ms\n",
              static_cast<long long>(Ms(Clock::now() - paused)));
  const auto shrunk = c.WaitForPartition("events", 0, 10s, 2);
  ASSERT_TRUE(shrunk);
  EXPECT_EQ(std::count(shrunk->isr.begin(), shrunk->isr.end(), follower), 0);
  write(50);
  c.Resume(follower);
  const auto rejoined = c.WaitForPartition("events", 0, 30s, 3);
  ASSERT_TRUE(rejoined) << "the follower never rejoined the ISR";
  write(5);
  const auto log = ReadAtLeast(c, "events", rejoined->leader, acked.size());
  ExpectExactlyOnceInOrder(log, acked);
  ExpectSameLog(log, ReadAtLeast(c, "events", follower, log.size(), true));
}

TEST(BrokerFailoverTest, TwoBrokersDown_NotEnoughReplicasAndNothingAcknowledgedFalsely) {
  StrandCluster c(Options());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("payments", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  const auto view = c.WaitForPartition("payments", 0, 10s, 3);
  ASSERT_TRUE(view);
  TestProducer producer(c, "payments", 0, -1, false);
  std::vector<std::string> acked;
  for (int b = 0; b < 10; ++b) {
    ASSERT_TRUE(producer.Send(Values(b), 10s).acked);
    for (auto& v : Values(b)) acked.push_back(v);
  }
  std::vector<int> down;
  for (int32_t r : view->replicas) {
    if (r != view->leader) down.push_back(r);
  }
  for (int id : down) c.Kill(id);
  // Until the controller fences them, writes wait (and time out); afterwards the ISR is the
  // leader alone and they are refused at once. None may be acknowledged.
  std::map<std::string, int> outcomes;
  const auto deadline = Clock::now() + 15s;
  int b = 100;
  std::string last;
  while (Clock::now() < deadline) {
    SendResult r = producer.SendTo(view->leader, Values(b++), 1s);
    last = r.acked ? "ACKED" : r.error;
    ++outcomes[last];
    if (last == "NOT_ENOUGH_REPLICAS" && outcomes[last] >= 5) break;
  }
  for (const auto& [k, n] : outcomes) std::printf("  with two brokers down: %s x%d\n", k.c_str(), n);
  EXPECT_EQ(outcomes["ACKED"], 0);
  EXPECT_EQ(last, "NOT_ENOUGH_REPLICAS");
  const auto isr = c.Partition("payments", 0);
  ASSERT_TRUE(isr);
  EXPECT_EQ(isr->isr, std::vector<int32_t>{view->leader});

  for (int id : down) c.Start(id);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_TRUE(c.WaitForPartition("payments", 0, 30s, 3));
  ASSERT_TRUE(producer.Send(Values(999), 20s).acked);
  for (auto& v : Values(999)) acked.push_back(v);
  // Writes refused with NOT_ENOUGH_REPLICAS were never written; timed-out ones may have been
  // (as in Kafka), but no acknowledged one is missing.
  const auto log = ReadAtLeast(c, "payments", view->leader, acked.size());
  std::set<std::string> present;
  for (const auto& r : log) present.insert(r.value);
  for (const auto& v : acked) EXPECT_TRUE(present.count(v)) << "lost " << v;
}

TEST(BrokerFailoverTest, LeaderIsolatedFromControllers_IsFencedAndLosesNothingItAcknowledged) {
  StrandCluster c(Options({"--enable-fault-injection"}));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("ledger", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  const auto view = c.WaitForPartition("ledger", 0, 10s, 3);
  ASSERT_TRUE(view);
  const int old_leader = view->leader;
  TestProducer producer(c, "ledger", 0, -1, false);
  std::vector<std::string> acked;
  for (int b = 0; b < 10; ++b) {
    ASSERT_TRUE(producer.Send(Values(b), 10s).acked);
    for (auto& v : Values(b)) acked.push_back(v);
  }

  auto isolate = [&](bool on) {
    bv1::SetFaultsRequest req;
    req.set_isolate_from_controllers(on);
    ASSERT_TRUE(SetFaults(c, old_leader, req).ok());
  };
  isolate(true);
  const auto isolated = Clock::now();
  // Clients that still think it leads keep writing to it directly.
  int b = 100;
  int acked_by_old = 0, acked_after_change = 0;
  std::optional<Clock::time_point> changed;
  while (Clock::now() - isolated < 8s) {
    const auto sent = Clock::now();
    SendResult r = producer.SendTo(old_leader, Values(b), 1s);
    if (r.acked) {
      ++acked_by_old;
      for (auto& v : Values(b)) acked.push_back(v);
      if (changed && sent > *changed) ++acked_after_change;
    }
    ++b;
    if (!changed) {
      auto now_view = c.Partition("ledger", 0);  // the freshest metadata: not the isolated one
      if (now_view && now_view->leader >= 0 && now_view->leader != old_leader) {
        changed = Clock::now();
        std::printf("leadership moved %lld ms after the leader was isolated\n",
                    static_cast<long long>(Ms(*changed - isolated)));
      }
    }
  }
  ASSERT_TRUE(changed) << "the isolated leader was never replaced";
  std::printf("the isolated leader acknowledged %d batch(es) in all, %d after it was replaced\n",
              acked_by_old, acked_after_change);
  EXPECT_EQ(acked_after_change, 0);
  // The new leader takes writes.
  for (int k = 0; k < 10; ++k, ++b) {
    SendResult r = producer.Send(Values(b), 20s);
    ASSERT_TRUE(r.acked) << r.error;
    for (auto& v : Values(b)) acked.push_back(v);
  }
  isolate(false);
  const auto healed = c.WaitForPartition("ledger", 0, 30s, 3);
  ASSERT_TRUE(healed) << "the old leader never rejoined the ISR";
  const auto log = ReadAtLeast(c, "ledger", healed->leader, acked.size());
  std::set<std::string> present;
  for (const auto& r : log) EXPECT_TRUE(present.insert(r.value).second) << "duplicate " << r.value;
  for (const auto& v : acked) EXPECT_TRUE(present.count(v)) << "acknowledged record lost: " << v;
  // The old leader truncated what it alone had, and now holds what the others hold.
  ExpectSameLog(log, ReadAtLeast(c, "ledger", old_leader, log.size(), true));
}

TEST(BrokerFailoverTest, LeaderDiskFails_BrokerIsFencedAndAnotherReplicaTakesOver) {
  StrandCluster c(Options({"--enable-fault-injection"}));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("disk", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  const auto view = c.WaitForPartition("disk", 0, 10s, 3);
  ASSERT_TRUE(view);
  const int sick = view->leader;
  TestProducer producer(c, "disk", 0, -1, true);
  std::vector<std::string> acked;
  int b = 0;
  for (; b < 10; ++b) {
    ASSERT_TRUE(producer.Send(Values(b), 10s).acked);
    for (auto& v : Values(b)) acked.push_back(v);
  }
  bv1::SetFaultsRequest req;
  req.set_fail_log_writes(true);
  auto resp = SetFaults(c, sick, req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_TRUE(resp->fail_log_writes());
  const auto failed_at = Clock::now();
  // The next writes hit the dead disk; the broker asks to be fenced and a healthy replica
  // leads. A retrying producer sees its writes succeed again.
  for (int k = 0; k < 10; ++k, ++b) {
    SendResult r = producer.Send(Values(b), 30s);
    ASSERT_TRUE(r.acked) << "batch " << b << ": " << r.error;
    for (auto& v : Values(b)) acked.push_back(v);
  }
  const auto moved = c.WaitForPartition("disk", 0, 10s, 0, sick);
  ASSERT_TRUE(moved) << "leadership never left the broker with the failed disk";
  std::printf("leadership left the failed disk's broker; writes resumed %lld ms after the "
              "failure\n", static_cast<long long>(Ms(Clock::now() - failed_at)));
  EXPECT_EQ(std::count(moved->isr.begin(), moved->isr.end(), sick), 0);
  const auto log = ReadAtLeast(c, "disk", moved->leader, acked.size());
  ExpectExactlyOnceInOrder(log, acked);
  // It stays out (fenced) until restarted; then it recovers its log and rejoins.
  c.Kill(sick);
  c.Start(sick);
  ASSERT_TRUE(c.WaitForPartition("disk", 0, 30s, 3)) << "the restarted broker never rejoined";
}

TEST(BrokerFailoverTest, FollowerFsyncHeld_NoAcksAllAnswerUntilItIsDurable) {
  // acks=all means fsynced on every ISR member: while one follower's fsyncs are held (a stuck
  // disk), it fetches and appends the batch but cannot report it durable, so the leader must
  // not answer; once the fsync goes through, the follower reports it and the answer comes.
  StrandCluster c(Options({"--enable-fault-injection"}));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("held", 1, 3, {{"min.insync.replicas", "3"}}), "NONE");
  const auto view = c.WaitForPartition("held", 0, 10s, 3);
  ASSERT_TRUE(view);
  TestProducer producer(c, "held", 0, -1, true);
  ASSERT_TRUE(producer.Send(Values(0), 10s).acked);  // the producer id and the fetchers are up
  int follower = -1;
  for (int r : view->replicas) {
    if (r != view->leader) follower = r;
  }
  bv1::SetFaultsRequest hold;
  hold.set_hold_syncs(true);
  auto held = SetFaults(c, follower, hold);
  ASSERT_TRUE(held.ok()) << held.status();
  const int64_t held_before = held->syncs_slowed();
  auto answer = std::async(std::launch::async, [&] { return producer.Send(Values(1), 30s, 30s); });
  EXPECT_EQ(answer.wait_for(2s), std::future_status::timeout)
      << "acks=all answered while follower " << follower << " could not fsync the batch";
  // The follower did get to the fsync (and is held there), so the wait was the hold's doing.
  auto during = SetFaults(c, follower, hold);
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_GT(during->syncs_slowed(), held_before) << "the follower never tried to fsync";
  ASSERT_TRUE(SetFaults(c, follower, bv1::SetFaultsRequest()).ok());
  ASSERT_EQ(answer.wait_for(20s), std::future_status::ready);
  SendResult r = answer.get();
  ASSERT_TRUE(r.acked) << r.error;
  const auto log = ReadAtLeast(c, "held", follower, 2 * kRecordsPerBatch, /*as_follower=*/true);
  ASSERT_GE(log.size(), 2u * kRecordsPerBatch);
  EXPECT_EQ(log.back().value, Values(1).back());
}

TEST(BrokerFailoverTest, RollingRestartUnderLoad_NoFailedRequests) {
  StrandCluster c(Options());
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("rolling", 1, 3, {{"min.insync.replicas", "2"}}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("rolling", 0, 10s, 3));
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::vector<std::string> acked;
  int64_t slowest_ms = 0;
  std::thread writer([&] {
    TestProducer producer(c, "rolling", 0, -1, true);
    for (int b = 0; !stop && b < 100'000; ++b) {
      const auto start = Clock::now();
      SendResult r = producer.Send(Values(b), 30s);
      slowest_ms = std::max(slowest_ms, Ms(Clock::now() - start));
      if (!r.acked) {
        ++failed;
        continue;
      }
      for (auto& v : Values(b)) acked.push_back(v);
    }
  });
  for (int id : c.broker_ids()) {
    std::this_thread::sleep_for(500ms);
    const auto start = Clock::now();
    c.Stop(id, 30s);
    std::printf("broker %d: controlled shutdown took %lld ms\n", id,
                static_cast<long long>(Ms(Clock::now() - start)));
    c.Start(id);
    ASSERT_TRUE(c.WaitForBrokers(30s));
    ASSERT_TRUE(c.WaitForPartition("rolling", 0, 30s, 3)) << "broker " << id << " did not rejoin";
  }
  std::this_thread::sleep_for(500ms);
  stop = true;
  writer.join();
  std::printf("%zu records acknowledged during the rolling restart; slowest send %lld ms\n",
              acked.size(), static_cast<long long>(slowest_ms));
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(acked.size(), 100u);
  const auto view = c.WaitForPartition("rolling", 0, 10s, 3);
  ASSERT_TRUE(view);
  ExpectExactlyOnceInOrder(ReadAtLeast(c, "rolling", view->leader, acked.size()), acked);
}

TEST(BrokerFailoverTest, RetentionDeletesOldSegmentsAndTopicDeletionRemovesData) {
  StrandCluster c(Options({"--config", "log.retention.check.interval.ms=300", "--config",
                           "file.delete.delay.ms=0"}));
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(c.CreateTopic("short", 1, 3,
                          {{"segment.bytes", "2048"}, {"retention.ms", "1500"}}),
            "NONE");
  const auto view = c.WaitForPartition("short", 0, 10s, 3);
  ASSERT_TRUE(view);
  TestProducer producer(c, "short", 0, -1, false);
  for (int b = 0; b < 40; ++b) ASSERT_TRUE(producer.Send({std::string(300, 'x')}, 10s).acked);
  auto segments = [&](int node) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(c.data_dir(node) + "/logs/short-0", ec)) {
      if (e.path().extension() == ".log") ++n;
    }
    return n;
  };
  EXPECT_GT(segments(view->leader), 3);
  // Retention removes every segment but the active one once the records are old enough.
  const auto deadline = Clock::now() + 20s;
  bool trimmed = false;
  while (Clock::now() < deadline && !trimmed) {
    auto log = c.ReadAll("short", 0, view->leader);
    trimmed = log.ok() && !log->empty() && log->front().offset > 0 && segments(view->leader) <= 2;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(trimmed) << "retention never deleted old segments";
  for (int32_t r : view->replicas) EXPECT_LE(segments(r), 2) << "replica " << r;

  ASSERT_EQ(c.DeleteTopic("short"), "NONE");
  const auto gone_deadline = Clock::now() + 20s;
  bool gone = false;
  while (Clock::now() < gone_deadline && !gone) {
    gone = true;
    for (int id : c.broker_ids()) {
      for (const auto& e : std::filesystem::directory_iterator(c.data_dir(id) + "/logs")) {
        if (e.path().filename().string().rfind("short-0", 0) == 0) gone = false;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "the deleted topic's data is still on disk";
}

}  // namespace
}  // namespace strand::testing
