// Partition reassignment on a real cluster (3 controllers, 4 brokers) that moves data for real,
// under Kafka's replication throttles set the way kafka-reassign-partitions does:
//
//   - ~200 MB written with acks=all to a partition on brokers {101,102,103}, then moved to
//     {102,103,104} while a producer keeps writing, with leader.replication.throttled.rate on
//     broker 101 and follower.replication.throttled.rate on broker 104 (per-broker dynamic
//     configs) and the topic's throttled-replica lists naming the moving replicas. The move
//     takes at least bytes / rate (less the initial burst); broker 104's log then holds
//     byte for byte the leader's batches, read back through Fetch from each replica; broker
//     101's partition directory is deleted; no acknowledged write is lost.
//   - At the same time a second partition (~20 MB) moves to broker 104 from leader 102, which
//     lists it as throttled and has no rate of its own: it moves at the much lower cluster-wide
//     rate, so a per-broker value changes behaviour on that broker only (and wins over the
//     cluster-wide value there).
//   - A cluster-wide setting set for one broker is refused with INVALID_CONFIG; DescribeConfigs
//     of a broker shows the value in force there and its source.
//   - Each side of the throttle alone (a leader rate only, a follower rate only) holds.
//
// Durations are measured from the reassignment request to the metadata showing the target
// replica set with every member in the ISR.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "record/record_batch.h"
#include "record/record_batch_reader.h"
#include "tests/integration/strand_cluster.h"

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace bv1 = broker::v1;
namespace av1 = admin::v1;
namespace fs = std::filesystem;

constexpr int64_t kRateBytesPerS = 24 << 20;  // the throttle: ~8 s for 200 MB
constexpr int kValueBytes = 16 << 10;
constexpr int kValuesPerBatch = 60;  // ~0.98 MB batches, under max.message.bytes
constexpr int kBulkBatches = 210;    // ~206 MB before the move
constexpr int kOtherBatches = 20;    // ~20 MB on the partition moved at the cluster-wide rate
constexpr int64_t kClusterRateBytesPerS = 2 << 20;  // ~10 s for those 20 MB
// The bucket starts with a second's worth, and one fetch may overdraw it (replica.fetch.max.bytes).
constexpr int64_t kBurstBytes = kRateBytesPerS + (8 << 20);
constexpr int64_t kClusterBurstBytes = kClusterRateBytesPerS + (8 << 20);

// A broker resource's config entry `name` as DescribeConfigs shows it: "value SOURCE".
std::string Described(StrandCluster& c, const std::string& broker, const std::string& name) {
  av1::DescribeConfigsRequest req;
  req.set_resource_type(av1::BROKER);
  req.set_resource_name(broker);
  req.set_include_defaults(true);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(In(10s));
  av1::DescribeConfigsResponse resp;
  if (!c.admin().DescribeConfigs(&ctx, req, &resp).ok()) return "RPC_FAILED";
  for (const auto& e : resp.configs()) {
    if (e.name() == name) return e.value() + " " + av1::ConfigSource_Name(e.source());
  }
  return "MISSING";
}

std::string CreateAssigned(StrandCluster& c, const std::string& name, std::vector<int> replicas) {
  av1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name(name);
  auto* a = t->add_assignments();
  for (int r : replicas) a->add_replicas(r);
  (*t->mutable_configs())["min.insync.replicas"] = "2";
  for (int attempt = 0; attempt < 50; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(In(10s));
    av1::CreateTopicsResponse resp;
    if (c.admin().CreateTopics(&ctx, req, &resp).ok() && resp.topics_size() == 1) {
      const auto& e = resp.topics(0).error();
      if (e.name() != "NOT_CONTROLLER") return e.code() == 0 ? "NONE" : e.name();
    }
    std::this_thread::sleep_for(100ms);
  }
  return "GAVE_UP";
}

std::string Reassign(StrandCluster& c, const std::string& topic, std::vector<int> replicas) {
  av1::AlterPartitionReassignmentsRequest req;
  auto* r = req.add_reassignments();
  r->mutable_partition()->set_topic(topic);
  r->mutable_partition()->set_partition(0);
  for (int id : replicas) r->add_replicas(id);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(In(10s));
  av1::AlterPartitionReassignmentsResponse resp;
  if (!c.admin().AlterPartitionReassignments(&ctx, req, &resp).ok()) return "RPC_FAILED";
  if (resp.results_size() != 1) return "NO_RESULT";
  return resp.results(0).error().code() == 0 ? "NONE" : resp.results(0).error().name();
}

// Values that differ from batch to batch: a random pool, rotated, behind a unique prefix.
class Values {
 public:
  Values() : pool_(2 * kValueBytes, '\0') {
    std::mt19937_64 random(42);
    for (char& ch : pool_) ch = static_cast<char>('a' + random() % 26);
  }
  std::vector<std::string> Next(int count) {
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i, ++n_) {
      std::string v = fmt::format("v{}:", n_);
      v.append(pool_, static_cast<size_t>(n_ * 7919 % kValueBytes), kValueBytes - v.size());
      out.push_back(std::move(v));
    }
    return out;
  }

 private:
  std::string pool_;
  int64_t n_ = 0;
};

// What a producer had acknowledged: offset -> value.
using Acked = std::map<int64_t, std::string>;

struct Load {
  int batches = 0;
  int values_per_batch = kValuesPerBatch;
  std::chrono::milliseconds pause{0};  // between batches
};

// Sends up to `load.batches` acks=all batches (each retried for up to 20 s); stops early at
// `stop`.
void Produce(StrandCluster& c, const std::string& topic, Load load, Values& values, Acked* acked,
             const std::atomic<bool>* stop = nullptr) {
  TestProducer producer(c, topic, 0, /*acks=*/-1, /*idempotent=*/false);
  for (int i = 0; i < load.batches && !(stop && stop->load()); ++i) {
    if (i > 0) std::this_thread::sleep_for(load.pause);
    std::vector<std::string> batch = values.Next(load.values_per_batch);
    const SendResult r = producer.Send(batch, 20s, 10s);
    if (!r.acked) continue;  // not acknowledged: nothing to hold the cluster to
    for (size_t k = 0; k < batch.size(); ++k) (*acked)[r.base_offset + int64_t(k)] = batch[k];
  }
}

// The stored batches of a partition as broker `node` serves them, concatenated exactly as
// fetched, up to its high watermark: as the leader, or as a follower (a fetch with a rack id
// may read from any replica, KIP-392).
absl::StatusOr<std::string> ReadRaw(StrandCluster& c, const std::string& topic, int node,
                                    bool as_follower) {
  std::string out;
  int64_t offset = 0;
  for (int round = 0; round < 10'000; ++round) {
    bv1::FetchRequest req;
    req.set_replica_id(-1);
    req.set_max_wait_ms(0);
    req.set_max_bytes(3 << 20);  // under gRPC's default 4 MiB receive limit
    if (as_follower) req.set_rack_id("any");
    auto* p = req.add_topics();
    p->set_topic(topic);
    auto* fp = p->add_partitions();
    fp->set_partition(0);
    fp->set_fetch_offset(offset);
    fp->set_current_leader_epoch(-1);
    fp->set_partition_max_bytes(3 << 20);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    bv1::FetchResponse resp;
    if (grpc::Status s = c.broker(node).Fetch(&ctx, req, &resp); !s.ok()) {
      return absl::UnavailableError(s.error_message());
    }
    const auto& r = resp.topics(0).partitions(0);
    if (r.error().code() != 0) return absl::FailedPreconditionError(r.error().name());
    const std::string& bytes = r.records();
    size_t pos = 0;
    while (pos + record::batch_layout::kHeaderSize <= bytes.size()) {
      const auto h =
          record::RecordBatchHeader::Parse(reinterpret_cast<const uint8_t*>(bytes.data()) + pos);
      const auto size = static_cast<size_t>(h.size_bytes());
      if (size == 0 || pos + size > bytes.size()) break;  // a partial batch at the end
      out.append(bytes, pos, size);
      offset = h.last_offset().value() + 1;
      pos += size;
    }
    if (pos == 0 || offset >= r.high_watermark()) return out;
  }
  return absl::ResourceExhaustedError("too many fetch rounds");
}

// Every record in raw batches: offset -> value.
Acked Decode(const std::string& raw) {
  Acked out;
  for (size_t pos = 0; pos + record::batch_layout::kHeaderSize <= raw.size();) {
    const auto* base = reinterpret_cast<const uint8_t*>(raw.data()) + pos;
    const auto size = static_cast<size_t>(record::RecordBatchHeader::Parse(base).size_bytes());
    auto batch = record::DecodedBatch::Decode(std::span(base, size), 64 << 20);
    if (!batch.ok()) break;
    for (const auto& rv : batch->records()) {
      out[rv.offset.value()] = std::string(rv.value.value_or(""));
    }
    pos += size;
  }
  return out;
}

bool ReassignedTo(StrandCluster& c, const std::string& topic, std::vector<int> target) {
  auto view = c.Partition(topic, 0);
  return view && view->replicas == std::vector<int32_t>(target.begin(), target.end()) &&
         view->isr.size() == target.size();
}

bool HoldsPartitionDir(StrandCluster& c, int node, const std::string& topic) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.data_dir(node) + "/logs", ec)) {
    // "<topic>-0", and its "<topic>-0.<id>-delete" form while the removal is pending.
    if (e.path().filename().string().rfind(topic + "-0", 0) == 0) return true;
  }
  return false;
}

TEST(ReassignmentTest, ThrottledMove_CopiesEveryByteAtTheRate) {
  ClusterOptions o;
  o.brokers = 4;
  // Deleted replicas' files go at once; no debug logs for ~200 MB of fetches.
  o.broker_args = {"--config", "file.delete.delay.ms=0"};
  o.common_args = {"--tick-ms=20", "--log-level=info"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(CreateAssigned(c, "moving", {101, 102, 103}), "NONE");
  ASSERT_EQ(CreateAssigned(c, "other", {102, 103}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("moving", 0, 20s, 3));
  ASSERT_TRUE(c.WaitForPartition("other", 0, 20s, 2));

  // Refused: a cluster-wide setting for one broker, a malformed list, a negative rate.
  std::string message;
  EXPECT_EQ(AlterConfig(c, av1::BROKER, "101", "max.partitions", "10", &message), "INVALID_CONFIG");
  EXPECT_NE(message.find("cannot be set for one broker"), std::string::npos) << message;
  EXPECT_EQ(AlterConfig(c, av1::TOPIC, "moving", "leader.replication.throttled.replicas", "0-101",
                        &message),
            "INVALID_CONFIG");
  EXPECT_EQ(AlterConfig(c, av1::BROKER, "101", "leader.replication.throttled.rate", "-5"),
            "INVALID_CONFIG");

  Values values;
  Acked acked;
  Acked other_acked;
  const auto produce_start = SteadyClock::now();
  Produce(c, "moving", {kBulkBatches}, values, &acked);
  Produce(c, "other", {kOtherBatches}, values, &other_acked);
  const double produce_s =
      std::chrono::duration<double>(SteadyClock::now() - produce_start).count();
  ASSERT_GE(acked.size(), size_t{kBulkBatches - 5} * kValuesPerBatch);
  fmt::print("produced {} records (~{} MB) acks=all in {:.1f} s\n", acked.size(),
             acked.size() * kValueBytes / 1'000'000, produce_s);

  // kafka-reassign-partitions' throttle: the rates on the brokers that send and receive, the
  // lists naming the current replicas (leader side) and the moving one (follower side). The
  // rates are broker 101's and 104's own; every other broker has the much lower cluster-wide
  // leader rate, which is what moves the other partition from its leader 102.
  const std::string rate = std::to_string(kRateBytesPerS);
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "", "leader.replication.throttled.rate",
                        std::to_string(kClusterRateBytesPerS)),
            "NONE");
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "101", "leader.replication.throttled.rate", rate), "NONE");
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "104", "follower.replication.throttled.rate", rate),
            "NONE");
  ASSERT_EQ(AlterConfig(c, av1::TOPIC, "moving", "leader.replication.throttled.replicas",
                        "0:101,0:102,0:103"),
            "NONE");
  ASSERT_EQ(
      AlterConfig(c, av1::TOPIC, "moving", "follower.replication.throttled.replicas", "0:104"),
      "NONE");
  ASSERT_EQ(
      AlterConfig(c, av1::TOPIC, "other", "leader.replication.throttled.replicas", "0:102,0:103"),
      "NONE");
  // What `strand configs describe --broker ID` shows: each broker's value and where it comes from.
  EXPECT_EQ(Described(c, "101", "leader.replication.throttled.rate"),
            rate + " DYNAMIC_BROKER_CONFIG");
  EXPECT_EQ(Described(c, "102", "leader.replication.throttled.rate"),
            std::to_string(kClusterRateBytesPerS) + " DYNAMIC_DEFAULT_BROKER_CONFIG");
  EXPECT_EQ(Described(c, "102", "follower.replication.throttled.rate"),
            "9223372036854775807 DEFAULT_CONFIG");

  // Move both while a producer keeps writing to the first (bounded in count and time, stopped
  // when its move completes). Its writes reach the in-sync followers 102 and 103 at full speed
  // but count against broker 101's rate (as in Kafka), so they are kept well below it:
  // ~2.6 MB/s, 5 MB/s of the 25.
  ASSERT_TRUE(c.Partition("moving", 0));  // fills the harness's maps before a second thread
  std::atomic<bool> stop{false};
  Acked during;
  Values more;
  std::thread writer([&] {
    Produce(c, "moving", {.batches = 2'000, .values_per_batch = 8, .pause = 40ms}, more, &during,
            &stop);
  });
  const auto start = SteadyClock::now();
  const auto since_start = [&] {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
  };
  const std::string moving_started = Reassign(c, "moving", {102, 103, 104});
  const std::string other_started = Reassign(c, "other", {102, 103, 104});
  double elapsed_s = -1;
  double other_s = -1;
  Eventually(
      [&] {
        if (moving_started != "NONE" || other_started != "NONE") return true;
        if (elapsed_s < 0 && ReassignedTo(c, "moving", {102, 103, 104})) {
          elapsed_s = since_start();
          stop = true;
        }
        if (other_s < 0 && ReassignedTo(c, "other", {102, 103, 104})) other_s = since_start();
        return elapsed_s >= 0 && other_s >= 0;
      },
      60s);
  stop = true;
  writer.join();
  ASSERT_EQ(moving_started, "NONE");
  ASSERT_EQ(other_started, "NONE");
  ASSERT_GE(elapsed_s, 0) << "the throttled reassignment did not complete in 60 s";
  ASSERT_GE(other_s, 0) << "the other reassignment did not complete in 60 s";
  for (const auto& [offset, value] : during) acked[offset] = value;

  // Both replicas' logs, through Fetch, once the last writes are replicated.
  const auto view = c.WaitForPartition("moving", 0, 10s, 3);
  ASSERT_TRUE(view);
  ASSERT_NE(view->leader, 104);
  absl::StatusOr<std::string> leader_log;
  absl::StatusOr<std::string> moved_log;
  ASSERT_TRUE(Eventually(
      [&] {
        leader_log = ReadRaw(c, "moving", view->leader, /*as_follower=*/false);
        moved_log = ReadRaw(c, "moving", 104, /*as_follower=*/true);
        return leader_log.ok() && moved_log.ok() && leader_log->size() == moved_log->size();
      },
      20s))
      << (leader_log.ok() ? std::to_string(leader_log->size()) : leader_log.status().ToString())
      << " / "
      << (moved_log.ok() ? std::to_string(moved_log->size()) : moved_log.status().ToString());
  auto other_log = ReadRaw(c, "other", 104, /*as_follower=*/true);
  ASSERT_TRUE(other_log.ok()) << other_log.status();
  const auto bytes_moved = static_cast<int64_t>(moved_log->size());
  const auto other_bytes = static_cast<int64_t>(other_log->size());
  const double min_s = static_cast<double>(bytes_moved - kBurstBytes) / kRateBytesPerS;
  const double other_min_s =
      static_cast<double>(other_bytes - kClusterBurstBytes) / kClusterRateBytesPerS;
  fmt::print(
      "moved {:.1f} MB in {:.2f} s at {:.1f} MB/s: elapsed / (bytes / rate) = {:.2f}; "
      "{} writes acknowledged during the move; the other partition ({:.1f} MB, at the "
      "cluster-wide {:.1f} MB/s) in {:.2f} s: ratio {:.2f}\n",
      bytes_moved / 1e6, elapsed_s, kRateBytesPerS / 1e6,
      elapsed_s / (static_cast<double>(bytes_moved) / kRateBytesPerS), during.size(),
      other_bytes / 1e6, kClusterRateBytesPerS / 1e6, other_s,
      other_s / (static_cast<double>(other_bytes) / kClusterRateBytesPerS));

  // (1) The throttle held: no faster than the rate allows, beyond the initial burst; and the
  // per-broker rates are those brokers' only: broker 101 did not use the cluster-wide rate
  // (at which the move would take minutes), broker 102 did.
  EXPECT_GT(bytes_moved, int64_t{200'000'000});
  EXPECT_GE(elapsed_s, min_s);
  EXPECT_LT(elapsed_s, static_cast<double>(bytes_moved) / kClusterRateBytesPerS / 2);
  EXPECT_GE(other_s, other_min_s);
  // (2) Byte for byte the leader's batches.
  ASSERT_TRUE(*leader_log == *moved_log) << "broker 104's log differs from the leader's";
  // (3) Broker 101 let go of its copy.
  EXPECT_TRUE(Eventually([&] { return !HoldsPartitionDir(c, 101, "moving"); }, 30s));
  // (4) Nothing acknowledged lost.
  const Acked stored = Decode(*leader_log);
  size_t lost = 0;
  for (const auto& [offset, value] : acked) {
    auto it = stored.find(offset);
    if (it == stored.end() || it->second != value) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged records";
  EXPECT_GT(during.size(), 0u);
  const Acked other_stored = Decode(*other_log);
  for (const auto& [offset, value] : other_acked) {
    auto it = other_stored.find(offset);
    EXPECT_TRUE(it != other_stored.end() && it->second == value) << "other, offset " << offset;
  }
}

// Each side of the throttle alone: a move from leader 101 throttled only there (its leader
// rate), and a move from leader 102 throttled only by the receiving follower 104 (its follower
// rate; the leader has none). Both take at least bytes / rate less the burst; unthrottled they
// take well under a second.
TEST(ReassignmentTest, LeaderOrFollowerThrottleAlone_Holds) {
  constexpr int64_t kSideRateBytesPerS = 8 << 20;
  constexpr int kSideBatches = 50;  // ~49 MB each
  ClusterOptions o;
  o.brokers = 4;
  o.common_args = {"--tick-ms=20", "--log-level=info"};
  StrandCluster c(o);
  ASSERT_TRUE(c.WaitForBrokers(30s));
  ASSERT_EQ(CreateAssigned(c, "by-leader", {101, 102}), "NONE");
  ASSERT_EQ(CreateAssigned(c, "by-follower", {102, 103}), "NONE");
  ASSERT_TRUE(c.WaitForPartition("by-leader", 0, 20s, 2));
  ASSERT_TRUE(c.WaitForPartition("by-follower", 0, 20s, 2));
  Values values;
  Acked acked;
  Produce(c, "by-leader", {kSideBatches}, values, &acked);
  Produce(c, "by-follower", {kSideBatches}, values, &acked);

  const std::string rate = std::to_string(kSideRateBytesPerS);
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "101", "leader.replication.throttled.rate", rate), "NONE");
  ASSERT_EQ(AlterConfig(c, av1::TOPIC, "by-leader", "leader.replication.throttled.replicas", "*"),
            "NONE");
  ASSERT_EQ(AlterConfig(c, av1::BROKER, "104", "follower.replication.throttled.rate", rate),
            "NONE");
  ASSERT_EQ(
      AlterConfig(c, av1::TOPIC, "by-follower", "follower.replication.throttled.replicas", "0:104"),
      "NONE");
  const auto start = SteadyClock::now();
  ASSERT_EQ(Reassign(c, "by-leader", {101, 102, 104}), "NONE");
  ASSERT_EQ(Reassign(c, "by-follower", {102, 103, 104}), "NONE");
  std::map<std::string, double> took_s;
  ASSERT_TRUE(Eventually(
      [&] {
        for (const auto& [topic, target] :
             {std::pair<std::string, std::vector<int>>{"by-leader", {101, 102, 104}},
              std::pair<std::string, std::vector<int>>{"by-follower", {102, 103, 104}}}) {
          if (!took_s.count(topic) && ReassignedTo(c, topic, target)) {
            took_s[topic] = std::chrono::duration<double>(SteadyClock::now() - start).count();
          }
        }
        return took_s.size() == 2;
      },
      40s));
  for (const char* topic : {"by-leader", "by-follower"}) {
    auto moved = ReadRaw(c, topic, 104, /*as_follower=*/true);
    ASSERT_TRUE(moved.ok()) << topic << ": " << moved.status();
    const auto bytes = static_cast<int64_t>(moved->size());
    const double min_s =
        static_cast<double>(bytes - kSideRateBytesPerS - (8 << 20)) / kSideRateBytesPerS;
    fmt::print("{}: {:.1f} MB in {:.2f} s at {:.1f} MB/s: ratio {:.2f}\n", topic, bytes / 1e6,
               took_s[topic], kSideRateBytesPerS / 1e6,
               took_s[topic] / (static_cast<double>(bytes) / kSideRateBytesPerS));
    EXPECT_GT(bytes, int64_t{45'000'000}) << topic;
    EXPECT_GE(took_s[topic], min_s) << topic;
  }
}

}  // namespace
}  // namespace strand::testing
