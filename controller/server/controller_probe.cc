#include "controller/server/controller_probe.h"

#include <algorithm>

#include "controller/state/config_defs.h"

namespace strand::controller {

ControllerProbe::ControllerProbe(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  auto& r = *registry_;
  active_ = &BuildGauge()
                 .Name("strand_controller_active")
                 .Help("1 on the active controller; the sum over controllers should be 1")
                 .Register(r)
                 .Add({});
  brokers_ = &BuildGauge()
                  .Name("strand_controller_brokers")
                  .Help("Registered brokers by state")
                  .Register(r);
  topics_ = &BuildGauge().Name("strand_controller_topics").Help("Topics").Register(r).Add({});
  auto& partitions =
      BuildGauge().Name("strand_controller_partitions").Help("Partitions by health").Register(r);
  partitions_ = &partitions.Add({{"state", "all"}});
  offline_ = &partitions.Add({{"state", "offline"}});
  under_replicated_ = &partitions.Add({{"state", "under_replicated"}});
  under_min_isr_ = &partitions.Add({{"state", "under_min_isr"}});
  metadata_offset_ = &BuildGauge()
                          .Name("strand_controller_metadata_offset")
                          .Help("Last applied metadata log index")
                          .Register(r)
                          .Add({});
  own_settings_differing_ =
      &BuildGauge()
           .Name("strand_controller_static_settings_differing")
           .Help(
               "Static cluster settings of this controller whose value differs from the active "
               "controller's (the log names them)")
           .Register(r)
           .Add({});
  brokers_settings_differing_ =
      &BuildGauge()
           .Name("strand_controller_brokers_static_settings_differing")
           .Help(
               "Brokers with static cluster settings that differ from the active controller's "
               "(strand cluster describe names them)")
           .Register(r)
           .Add({});
  unclean_elections_ =
      &BuildCounter()
           .Name("strand_controller_unclean_elections_total")
           .Help(
               "Unclean leader elections this controller made while active (an out-of-sync "
               "replica became leader; acknowledged records may be lost)")
           .Register(r)
           .Add({});
  broker_metadata_lag_ =
      &BuildGauge()
           .Name("strand_controller_broker_metadata_lag")
           .Help(
               "Metadata log entries a broker had not applied at its last heartbeat (active "
               "controller only)")
           .Register(r);
  requests_ = &BuildCounter()
                   .Name("strand_controller_requests_total")
                   .Help("Requests by API and Kafka error name")
                   .Register(r);
  latency_ = &prometheus::BuildHistogram()
                  .Name("strand_controller_request_seconds")
                  .Help("Request latency by API")
                  .Register(r);
}

void ControllerProbe::Update(const MetadataImage& image, const QuorumController& controller,
                             bool active) {
  active_->Set(active ? 1 : 0);
  // Cluster-wide counts come from the active controller alone (standbys report 0), so that a
  // sum over every controller counts each broker and partition once.
  int64_t running = 0, fenced = 0, shutdown = 0;
  for (const auto& [id, b] : image.brokers()) {
    if (!active) break;
    if (b.in_controlled_shutdown) {
      ++shutdown;
    } else if (b.fenced) {
      ++fenced;
    } else {
      ++running;
    }
  }
  brokers_->Add({{"state", "running"}}).Set(static_cast<double>(running));
  brokers_->Add({{"state", "fenced"}}).Set(static_cast<double>(fenced));
  brokers_->Add({{"state", "controlled_shutdown"}}).Set(static_cast<double>(shutdown));
  topics_->Set(active ? static_cast<double>(image.topics().size()) : 0);
  const PartitionHealth h = active ? ComputeHealth(image, controller) : PartitionHealth{};
  partitions_->Set(static_cast<double>(h.partitions));
  offline_->Set(static_cast<double>(h.offline));
  under_replicated_->Set(static_cast<double>(h.under_replicated));
  under_min_isr_->Set(static_cast<double>(h.under_min_isr));
  const int64_t unclean = controller.unclean_elections();
  unclean_elections_->Increment(static_cast<double>(std::max<int64_t>(0, unclean - last_unclean_)));
  last_unclean_ = unclean;
  // Per registered broker; a broker that left loses its series.
  std::set<std::string> seen;
  for (const auto& [id, b] : image.brokers()) {
    const std::string label = std::to_string(id.value());
    seen.insert(label);
    auto session = controller.sessions().find(id);
    double lag = 0;
    if (active && session != controller.sessions().end()) {
      lag = static_cast<double>(image.offset() > session->second.metadata_offset
                                    ? image.offset() - session->second.metadata_offset
                                    : 0);
    }
    broker_metadata_lag_->Add({{"broker", label}}).Set(lag);
  }
  for (auto it = lag_brokers_.begin(); it != lag_brokers_.end();) {
    if (seen.count(*it) == 0) {
      broker_metadata_lag_->Remove(&broker_metadata_lag_->Add({{"broker", *it}}));
      it = lag_brokers_.erase(it);
    } else {
      ++it;
    }
  }
  lag_brokers_.insert(seen.begin(), seen.end());
  metadata_offset_->Set(static_cast<double>(image.offset()));
  const SettingDigests& reference = image.active_controller_static_settings();
  own_settings_differing_->Set(static_cast<double>(
      DifferingStaticSettings(image, controller.static_settings(), reference).size()));
  int64_t differing_brokers = 0;
  for (const auto& [id, b] : image.brokers()) {
    if (!DifferingStaticSettings(image, b.static_settings, reference, id.value()).empty())
      ++differing_brokers;
  }
  brokers_settings_differing_->Set(static_cast<double>(differing_brokers));
}

void ControllerProbe::Request(const std::string& api, const std::string& error, double seconds) {
  requests_->Add({{"api", api}, {"error", error}}).Increment();
  std::lock_guard lock(mu_);
  auto it = latency_by_api_.find(api);
  if (it == latency_by_api_.end()) {
    it = latency_by_api_
             .emplace(api, &latency_->Add({{"api", api}},
                                          prometheus::Histogram::BucketBoundaries{
                                              0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25, 0.5, 1, 2.5, 5, 10}))
             .first;
  }
  it->second->Observe(seconds);
}

}  // namespace strand::controller
