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

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "broker/server/replica_manager.h"

namespace strand::broker {

class BrokerProbe {
 public:
  explicit BrokerProbe(std::shared_ptr<prometheus::Registry> registry);

  // One finished request of `api`; `error` is the Kafka error name ("NONE" when it succeeded).
  void Request(const std::string& api, std::string_view error, double seconds);
  void BytesIn(int64_t bytes, int64_t records);
  void BytesOut(int64_t bytes);
  void ReplicationBytesIn(int64_t bytes);
  // A long-polling fetch answered at once because the purgatory was full.
  void FetchNotParked() { fetches_not_parked_->Increment(); }
  void Update(const ReplicaCounts& counts, uint64_t isr_shrinks, uint64_t isr_expands,
              uint64_t metadata_offset, bool fenced, size_t waiting_fetches);
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
