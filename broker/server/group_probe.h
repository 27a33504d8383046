#pragma once

// GroupProbe: the group coordinator's Prometheus series on a broker —
//   strand_group_coordinator_partitions{state="loaded"|"loading"}  offsets partitions led here
//   strand_group_coordinator_groups / _members                     what they hold
//   strand_consumer_group_lag{group,topic,partition}               high watermark - committed
// The lag series are those of the groups this broker coordinates (each group on exactly one
// broker), at most kLagSeriesMax of them; a series goes away with its group or offset.
// Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "broker/server/group_coordinator.h"

namespace strand::broker {

class GroupProbe {
 public:
  static constexpr size_t kLagSeriesMax = 10'000;
  using LagKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition

  explicit GroupProbe(std::shared_ptr<prometheus::Registry> registry);

  void Update(const GroupCoordinatorStats& stats);
  // The complete set of lag values now (series not in `lag` are removed).
  void UpdateLag(const std::map<LagKey, int64_t>& lag);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* loaded_;
  prometheus::Gauge* loading_;
  prometheus::Gauge* groups_;
  prometheus::Gauge* members_;
  prometheus::Family<prometheus::Gauge>* lag_family_;
  std::mutex mu_;
  std::map<LagKey, prometheus::Gauge*> lag_;
  bool warned_ = false;
};

}  // namespace strand::broker
