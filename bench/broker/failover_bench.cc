// bench-broker-failover: how long a partition is unavailable for writes after its leader is
// SIGKILLed, and that nothing acknowledged is lost.
//
// Starts 3 controllers and 3 brokers (strand-server with its default settings: no tuned tick,
// session or lag timeouts) on 127.0.0.1, creates one partition with replication factor 3 and
// min.insync.replicas=2, and writes to it continuously with one idempotent acks=all producer
// (one batch of 5 records in flight, retried on retriable errors like a Kafka producer with
// retries). Then, --kills times, between two sends of that producer:
//   1. find the partition leader and SIGKILL it;
//   2. time from the kill to the next acknowledged write (the unavailability window: the
//      controller fences the dead broker, elects a new leader from the ISR, the producer learns
//      it from metadata and retries);
//   3. restart the killed broker and keep writing until the ISR is full again (3 replicas),
//      then --steady-ms more before the next kill.
// Finally it reads the partition back and checks every acknowledged record is there exactly
// once, in acknowledgement order, and that every replica holds the same log; it prints a FAIL
// line and exits 1 otherwise (or when a write is not acknowledged within a minute, or the ISR
// never fills up again).
//
// Usage: build/bin/bench-broker-failover [--kills 20] [--steady-ms 1000] [--json]
// Run by hand; the six servers and the client share this machine's cores.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/integration/strand_cluster.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using strand::testing::PartitionView;
using strand::testing::SendResult;
using strand::testing::StoredRecord;
using strand::testing::StrandCluster;
using strand::testing::TestProducer;

constexpr char kTopic[] = "failover";
constexpr int kRecordsPerBatch = 5;
constexpr auto kSendDeadline = 60s;        // a write not acknowledged by then is a failure
constexpr auto kIsrRecoveryMax = 120s;     // a restarted broker must be back in the ISR by then
constexpr auto kIsrCheckInterval = 100ms;  // metadata lookups between sends while recovering

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Round1(double v) { return std::round(v * 10) / 10; }  // 0.1 ms is plenty for JSON

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Kill {
  int victim = -1;
  int32_t epoch_before = -1;
  double window_ms = -1;        // kill -> next acknowledged write; -1: never acknowledged
  int attempts = 0;             // produce RPCs the first write after the kill took
  int new_leader = -1;
  int32_t epoch_after = -1;
  double isr_full_ms = -1;      // restart -> ISR of 3 again; -1: never
};

// Writes batch after batch; every acknowledged value is appended to `acked`.
class Writer {
 public:
  explicit Writer(StrandCluster& c) : producer_(c, kTopic, 0, /*acks=*/-1, /*idempotent=*/true) {}
  bool ok() const { return producer_.producer_id() >= 0; }

  SendResult SendOne() {
    std::vector<std::string> values;
    for (int i = 0; i < kRecordsPerBatch; ++i) values.push_back(fmt::format("b{}-r{}", batch_, i));
    ++batch_;
    SendResult r = producer_.Send(values, kSendDeadline);
    if (r.acked) acked_.insert(acked_.end(), values.begin(), values.end());
    return r;
  }

  const std::vector<std::string>& acked() const { return acked_; }

 private:
  TestProducer producer_;
  int batch_ = 0;
  std::vector<std::string> acked_;
};

// Keeps writing for `d`; false if a write failed.
bool WriteFor(Writer& w, Clock::duration d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    SendResult r = w.SendOne();
    if (!r.acked) {
      std::printf("FAIL: a write was not acknowledged within %lld s: %s\n",
                  static_cast<long long>(kSendDeadline.count()), r.error.c_str());
      return false;
    }
  }
  return true;
}

// One kill: SIGKILL the leader between two sends, time the next acknowledgement, restart the
// victim and keep writing until the ISR is full again. False on a failure (already printed).
bool OneKill(StrandCluster& c, Writer& w, Kill& k) {
  const std::optional<PartitionView> before = c.Partition(kTopic, 0);
  if (!before || before->leader < 0) {
    std::printf("FAIL: no leader known before the kill\n");
    return false;
  }
  k.victim = before->leader;
  k.epoch_before = before->leader_epoch;
  const auto killed = Clock::now();
  c.Kill(k.victim);
  SendResult r = w.SendOne();
  k.attempts = r.attempts;
  if (!r.acked) {
    std::printf("FAIL: no write acknowledged within %lld s of killing broker %d: %s\n",
                static_cast<long long>(kSendDeadline.count()), k.victim, r.error.c_str());
    c.Start(k.victim);  // so that the final read-back has every replica
    return false;
  }
  k.window_ms = Ms(Clock::now() - killed);
  if (auto after = c.Partition(kTopic, 0)) {
    k.new_leader = after->leader;
    k.epoch_after = after->leader_epoch;
  }
  const auto restarted = Clock::now();
  c.Start(k.victim);
  auto last_check = Clock::now() - kIsrCheckInterval;
  while (true) {
    if (Clock::now() - last_check >= kIsrCheckInterval) {
      last_check = Clock::now();
      auto view = c.Partition(kTopic, 0);
      if (view && view->leader >= 0 && view->isr.size() == 3) break;
      if (Clock::now() - restarted > kIsrRecoveryMax) {
        std::printf("FAIL: broker %d not back in the ISR %lld s after its restart\n", k.victim,
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::seconds>(kIsrRecoveryMax).count()));
        return false;
      }
    }
    if (SendResult s = w.SendOne(); !s.acked) {
      std::printf("FAIL: a write failed while broker %d was rejoining: %s\n", k.victim,
                  s.error.c_str());
      return false;
    }
  }
  k.isr_full_ms = Ms(Clock::now() - restarted);
  return true;
}

// Reads the partition from `node` until it holds at least `min_records` (the high watermark of
// a follower catches up asynchronously).
std::vector<StoredRecord> ReadAtLeast(StrandCluster& c, int node, size_t min_records,
                                      bool as_follower) {
  std::vector<StoredRecord> records;
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    auto r = c.ReadAll(kTopic, 0, node, as_follower);
    if (r.ok()) {
      records = *std::move(r);
      if (records.size() >= min_records) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  return records;
}

struct Verdict {
  size_t lost = 0;
  size_t duplicated = 0;
  size_t out_of_order = 0;
  size_t offset_gaps = 0;
  std::vector<int> divergent_replicas;
  bool ok() const {
    return lost == 0 && duplicated == 0 && out_of_order == 0 && offset_gaps == 0 &&
           divergent_replicas.empty();
  }
};

// Every acknowledged value is in the log exactly once, in acknowledgement order, at contiguous
// offsets, and every replica holds the same log (as broker_failover_test checks).
Verdict Verify(StrandCluster& c, const std::vector<std::string>& acked) {
  Verdict v;
  auto view = c.WaitForPartition(kTopic, 0, 60s, 3);
  if (!view) {
    std::printf("FAIL: the partition has no full ISR for the final read; reading what there is\n");
    view = c.WaitForPartition(kTopic, 0, 30s);
  }
  if (!view) {
    std::printf("FAIL: the partition has no leader: nothing can be read back\n");
    v.lost = acked.size();
    return v;
  }
  const auto log = ReadAtLeast(c, view->leader, acked.size(), /*as_follower=*/false);
  std::map<std::string, int64_t> offset_of;
  for (const auto& r : log) {
    if (!offset_of.emplace(r.value, r.offset).second) {
      if (++v.duplicated <= 5) std::printf("FAIL: %s is in the log twice\n", r.value.c_str());
    }
  }
  int64_t previous = -1;
  for (const auto& value : acked) {
    auto it = offset_of.find(value);
    if (it == offset_of.end()) {
      if (++v.lost <= 5) std::printf("FAIL: acknowledged record lost: %s\n", value.c_str());
      continue;
    }
    if (it->second <= previous && ++v.out_of_order <= 5) {
      std::printf("FAIL: order broken at %s (offset %lld)\n", value.c_str(),
                  static_cast<long long>(it->second));
    }
    previous = std::max(previous, it->second);
  }
  for (size_t i = 1; i < log.size(); ++i) {
    if (log[i].offset != log[i - 1].offset + 1) ++v.offset_gaps;
  }
  for (int32_t replica : view->replicas) {
    const auto copy = ReadAtLeast(c, replica, log.size(), /*as_follower=*/true);
    bool same = copy.size() == log.size();
    for (size_t i = 0; same && i < log.size(); ++i) {
      same = copy[i].offset == log[i].offset && copy[i].value == log[i].value;
    }
    if (!same) {
      v.divergent_replicas.push_back(replica);
      std::printf("FAIL: replica %d differs from the leader's log (%zu records vs %zu)\n",
                  replica, copy.size(), log.size());
    }
  }
  std::printf("read back %zu records from leader %d; %zu acknowledged: lost=%zu duplicated=%zu "
              "out_of_order=%zu offset_gaps=%zu divergent_replicas=%zu\n",
              log.size(), view->leader, acked.size(), v.lost, v.duplicated, v.out_of_order,
              v.offset_gaps, v.divergent_replicas.size());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-broker-failover: partition unavailability after SIGKILL of its leader"};
  int kills = 20;
  int steady_ms = 1000;
  bool json = false;
  app.add_option("--kills", kills, "SIGKILLs of the partition leader")->check(CLI::Range(1, 1000));
  app.add_option("--steady-ms", steady_ms, "writing with a full ISR before each kill")
      ->check(CLI::Range(0, 600'000));
  app.add_flag("--json", json, "also print the results as one JSON object (last line)");
  CLI11_PARSE(app, argc, argv);

  strand::testing::ClusterOptions options;
  options.common_args = {};  // the server's defaults: no fast tick, info logs
  StrandCluster c(options);
  if (!c.WaitForBrokers(60s)) {
    std::printf("FAIL: the brokers did not come up\n");
    return 1;
  }
  const std::string created = c.CreateTopic(kTopic, 1, 3, {{"min.insync.replicas", "2"}});
  if (created != "NONE" || !c.WaitForPartition(kTopic, 0, 30s, 3)) {
    std::printf("FAIL: creating topic %s: %s\n", kTopic, created.c_str());
    return 1;
  }
  Writer writer(c);
  if (!writer.ok()) {
    std::printf("FAIL: no producer id\n");
    return 1;
  }
  std::printf("bench-broker-failover: 3 controllers + 3 brokers on 127.0.0.1 (default settings), "
              "topic %s RF=3 min.insync.replicas=2, idempotent acks=all, %d records per batch\n",
              kTopic, kRecordsPerBatch);
  std::fflush(stdout);

  bool ok = WriteFor(writer, 2s);  // warm-up
  std::vector<Kill> done;
  for (int i = 0; ok && i < kills; ++i) {
    Kill k;
    ok = OneKill(c, writer, k) && WriteFor(writer, std::chrono::milliseconds(steady_ms));
    if (k.window_ms < 0) break;
    done.push_back(k);
    std::printf("  kill %2d: leader %d (epoch %d) SIGKILLed; next acknowledged write after %.0f ms "
                "(%d produce attempt(s)); new leader %d (epoch %d); ISR full again %.0f ms after "
                "the restart\n",
                i + 1, k.victim, k.epoch_before, k.window_ms, k.attempts, k.new_leader,
                k.epoch_after, k.isr_full_ms);
    std::fflush(stdout);
  }

  std::vector<double> windows;
  for (const Kill& k : done) windows.push_back(k.window_ms);
  const double p50 = Percentile(windows, 0.5), p99 = Percentile(windows, 0.99),
               max = Percentile(windows, 1.0);
  std::printf("failover kills=%zu p50_ms=%.0f p99_ms=%.0f max_ms=%.0f acknowledged_records=%zu\n",
              windows.size(), p50, p99, max, writer.acked().size());
  std::fflush(stdout);

  const Verdict verdict = Verify(c, writer.acked());
  if (!verdict.ok()) {
    std::printf("FAIL: acknowledged data was lost, duplicated, reordered or replicas diverged\n");
  }
  if (static_cast<int>(done.size()) < kills) {
    std::printf("FAIL: only %zu of %d kills completed\n", done.size(), kills);
  }
  const bool passed = ok && verdict.ok() && static_cast<int>(done.size()) == kills;
  std::printf("%s\n", passed ? "OK: no acknowledged record lost" : "FAIL");
  if (json) {
    nlohmann::json j;
    j["bench"] = "broker-failover";
    j["kills"] = done.size();
    nlohmann::json rounded = nlohmann::json::array();
    for (double w : windows) rounded.push_back(Round1(w));
    j["windows_ms"] = rounded;
    j["p50_ms"] = Round1(p50);
    j["p99_ms"] = Round1(p99);
    j["max_ms"] = Round1(max);
    nlohmann::json per_kill = nlohmann::json::array();
    for (const Kill& k : done) {
      per_kill.push_back({{"victim", k.victim},
                          {"window_ms", Round1(k.window_ms)},
                          {"attempts", k.attempts},
                          {"new_leader", k.new_leader},
                          {"isr_full_ms", Round1(k.isr_full_ms)}});
    }
    j["per_kill"] = per_kill;
    j["acknowledged_records"] = writer.acked().size();
    j["lost"] = verdict.lost;
    j["duplicated"] = verdict.duplicated;
    j["out_of_order"] = verdict.out_of_order;
    j["divergent_replicas"] = verdict.divergent_replicas;
    j["ok"] = passed;
    std::printf("%s\n", j.dump().c_str());
  }
  return passed ? 0 : 1;
}
