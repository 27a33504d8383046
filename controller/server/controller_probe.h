#pragma once

// ControllerProbe: the controller's Prometheus metrics (strand_controller_*): whether this node
// is the active controller (sum over controllers: the active controller count), brokers by state,
// topics and partition health, the applied metadata offset, and request counts and latencies per
// API. Updated from the loop thread (gauges) and gRPC threads (request metrics).

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "controller/server/admin_reads.h"

namespace strand::controller {

class ControllerProbe {
 public:
  explicit ControllerProbe(std::shared_ptr<prometheus::Registry> registry);

  void Update(const MetadataImage& image, const QuorumController& controller, bool active);
  // One finished request of `api`; `error` is its Kafka error name ("NONE" when it succeeded).
  void Request(const std::string& api, const std::string& error, double seconds);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* active_;
  prometheus::Family<prometheus::Gauge>* brokers_;
  prometheus::Gauge* topics_;
  prometheus::Gauge* partitions_;
  prometheus::Gauge* offline_;
  prometheus::Gauge* under_replicated_;
  prometheus::Gauge* under_min_isr_;
  prometheus::Gauge* metadata_offset_;
  prometheus::Gauge* own_settings_differing_;
  prometheus::Gauge* brokers_settings_differing_;
  prometheus::Counter* unclean_elections_;
  int64_t last_unclean_ = 0;
  prometheus::Family<prometheus::Gauge>* broker_metadata_lag_;
  std::set<std::string> lag_brokers_;  // brokers with a lag series
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  std::mutex mu_;
  std::map<std::string, prometheus::Histogram*> latency_by_api_;
};

}  // namespace strand::controller
