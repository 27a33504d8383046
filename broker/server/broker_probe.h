#pragma once

// BrokerProbe: the broker's Prometheus metrics (strand_broker_*): requests and their latency per
// API, bytes and records in and out, hosted partitions, leaders, under-replicated and
// under-min-ISR partitions led here, ISR shrinks and expands, the applied metadata offset,
// whether the broker is fenced, and the replication throttles (bytes counted, replicas held back,
// rates). Request metrics come from gRPC threads; the gauges are refreshed
// by Update() about once a second.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "broker/server/replica_manager.h"
#include "common/listener_config.h"

namespace strand::broker {

class BrokerProbe {
 public:
  explicit BrokerProbe(std::shared_ptr<prometheus::Registry> registry);

  // One finished request of `api`; `error` is the Kafka error name ("NONE" when it succeeded).
  // Its `plane` label is the kind of traffic the API is (PlaneOf).
  void Request(const std::string& api, std::string_view error, double seconds);
  // produce, fetch_consumer, fetch_follower, admin, group, or client (metadata, offsets, ids).
  static std::string_view PlaneOf(std::string_view api);
  // Record bytes produced to / fetched by consumers from `topic` (and the broker's totals).
  void BytesIn(const std::string& topic, int64_t bytes, int64_t records);
  void BytesOut(const std::string& topic, int64_t bytes);
  void ReplicationBytesIn(int64_t bytes);
  // A long-polling fetch answered at once because the purgatory was full.
  void FetchNotParked() { fetches_not_parked_->Increment(); }
  // An idempotent batch that overtook earlier ones of its producer and was held (Partition).
  void ProduceHeld() { produce_held_->Increment(); }
  // Where an acks=all produce's time went on the leader (seconds): from the request's arrival to
  // the append, from the append to the leader's fsync and to the commit (every ISR member
  // durable), and from the commit to the answer.
  void ProduceStages(double append, double leader_fsync, double commit, double respond);
  // A follower's fetched batches: the append, and the wait for their fsync before the next fetch.
  void FollowerStages(double append, double fsync);
  void Update(const ReplicaCounts& counts, uint64_t isr_shrinks, uint64_t isr_expands,
              uint64_t metadata_offset, bool fenced, size_t waiting_fetches);
  // Each hosted partition's log size; partitions no longer hosted lose their series.
  struct PartitionSize {
    std::string topic;
    int32_t partition = 0;
    int64_t bytes = 0;
  };
  void UpdateLogSizes(const std::vector<PartitionSize>& sizes);
  // The client listeners' open connections and the connections their limits refused.
  void UpdateConnections(const ConnectionStats& stats);
  // The replication throttles' totals and rates (side "leader" / "follower"), about once a
  // second with Update.
  void UpdateThrottles(const ReplicationQuota& leader, const ReplicationQuota& follower);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Counter* bytes_in_;
  prometheus::Counter* records_in_;
  prometheus::Counter* bytes_out_;
  prometheus::Counter* replication_bytes_in_;
  prometheus::Family<prometheus::Counter>* topic_bytes_;
  prometheus::Gauge* connections_;
  prometheus::Family<prometheus::Gauge>* log_size_;
  std::map<std::pair<std::string, int32_t>, prometheus::Gauge*> log_size_by_partition_;
  prometheus::Counter* refused_[3];  // max.connections, per ip, creation rate
  int64_t last_refused_[3] = {0, 0, 0};
  // Per-topic counters, at most kTopicSeriesMax topics; the rest count under topic "_other" so
  // that a client creating topics cannot grow the scrape without bound.
  static constexpr size_t kTopicSeriesMax = 1000;
  std::map<std::string, std::pair<prometheus::Counter*, prometheus::Counter*>, std::less<>>
      topic_bytes_by_topic_;  // (in, out)
  std::pair<prometheus::Counter*, prometheus::Counter*> TopicCounters(const std::string& topic);
  prometheus::Gauge* partitions_;
  prometheus::Gauge* leaders_;
  prometheus::Gauge* under_replicated_;
  prometheus::Gauge* under_min_isr_;
  prometheus::Gauge* offline_logs_;
  prometheus::Counter* isr_shrinks_;
  prometheus::Counter* isr_expands_;
  prometheus::Gauge* metadata_offset_;
  prometheus::Gauge* fenced_;
  prometheus::Gauge* waiting_fetches_;
  prometheus::Counter* fetches_not_parked_;
  prometheus::Counter* produce_held_;
  prometheus::Histogram* produce_stage_[4];   // append, leader_fsync, commit, respond
  prometheus::Histogram* follower_stage_[2];  // append, fsync
  struct ThrottleMetrics {
    prometheus::Counter* bytes = nullptr;
    prometheus::Counter* held_back = nullptr;
    prometheus::Gauge* rate = nullptr;
    int64_t last_bytes = 0;
    int64_t last_held_back = 0;
  };
  ThrottleMetrics throttles_[2];  // leader, follower
  uint64_t last_shrinks_ = 0;
  uint64_t last_expands_ = 0;
  std::mutex mu_;
  std::map<std::string, std::pair<prometheus::Histogram*, std::map<std::string, prometheus::Counter*>>,
           std::less<>>
      by_api_;
};

}  // namespace strand::broker
