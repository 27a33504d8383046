#include "broker/server/broker_probe.h"

#include <algorithm>
#include <limits>

namespace strand::broker {

BrokerProbe::BrokerProbe(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  auto& r = *registry_;
  requests_ = &BuildCounter()
                   .Name("strand_broker_requests_total")
                   .Help("Requests by API and Kafka error name")
                   .Register(r);
  latency_ = &prometheus::BuildHistogram()
                  .Name("strand_broker_request_seconds")
                  .Help("Request latency by API (acks=all produce: until replicated)")
                  .Register(r);
  auto& bytes = BuildCounter()
                    .Name("strand_broker_bytes_total")
                    .Help("Record batch bytes by direction")
                    .Register(r);
  bytes_in_ = &bytes.Add({{"direction", "in"}});
  bytes_out_ = &bytes.Add({{"direction", "out"}});
  replication_bytes_in_ = &bytes.Add({{"direction", "replication_in"}});
  fetches_not_parked_ =
      &BuildCounter()
           .Name("strand_broker_fetches_not_parked_total")
           .Help("Long-polling fetches answered at once because the fetch purgatory was full")
           .Register(r)
           .Add({});
  produce_held_ =
      &BuildCounter()
           .Name("strand_broker_produce_held_total")
           .Help(
               "Idempotent batches that reached their partition before batches their producer "
               "sent earlier, held back and appended in sequence order (in-order produce)")
           .Register(r)
           .Add({});
  const prometheus::Histogram::BucketBoundaries stage_buckets{
      0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003,
      0.005,   0.0075, 0.01,    0.025,  0.05,    0.1,   0.25,   0.5,   1};
  auto& produce_stages =
      prometheus::BuildHistogram()
          .Name("strand_broker_produce_stage_seconds")
          .Help(
              "Where acks=all produce time goes on the leader, by stage: append (request "
              "arrival to append), leader_fsync (append to the leader's fsync), commit (append "
              "to every ISR member durable), respond (commit to the answer)")
          .Register(r);
  int stage_index = 0;
  for (const char* stage : {"append", "leader_fsync", "commit", "respond"}) {
    produce_stage_[stage_index++] = &produce_stages.Add({{"stage", stage}}, stage_buckets);
  }
  auto& follower_stages =
      prometheus::BuildHistogram()
          .Name("strand_broker_follower_stage_seconds")
          .Help(
              "A follower's time per fetched batch set, by stage: append (into its log), fsync "
              "(waiting for it to be durable before the next fetch reports it)")
          .Register(r);
  follower_stage_[0] = &follower_stages.Add({{"stage", "append"}}, stage_buckets);
  follower_stage_[1] = &follower_stages.Add({{"stage", "fsync"}}, stage_buckets);
  records_in_ = &BuildCounter()
                     .Name("strand_broker_records_in_total")
                     .Help("Records appended by producers to partitions led here")
                     .Register(r)
                     .Add({});
  auto& partitions = BuildGauge()
                         .Name("strand_broker_partitions")
                         .Help("Partitions hosted here, by state")
                         .Register(r);
  partitions_ = &partitions.Add({{"state", "hosted"}});
  leaders_ = &partitions.Add({{"state", "leader"}});
  under_replicated_ = &partitions.Add({{"state", "under_replicated"}});
  under_min_isr_ = &partitions.Add({{"state", "under_min_isr"}});
  offline_logs_ = &partitions.Add({{"state", "offline"}});
  auto& isr = BuildCounter()
                  .Name("strand_broker_isr_changes_total")
                  .Help("ISR changes this broker made as leader, accepted by the controller")
                  .Register(r);
  isr_shrinks_ = &isr.Add({{"change", "shrink"}});
  isr_expands_ = &isr.Add({{"change", "expand"}});
  topic_bytes_ = &BuildCounter()
                      .Name("strand_broker_topic_bytes_total")
                      .Help(
                          "Record batch bytes produced to (in) and fetched by consumers from "
                          "(out) each topic; past 1000 topics the rest count as _other")
                      .Register(r);
  log_size_ = &BuildGauge()
                   .Name("strand_broker_partition_log_size_bytes")
                   .Help("Bytes of log data of each partition hosted here")
                   .Register(r);
  connections_ = &BuildGauge()
                      .Name("strand_listener_connections")
                      .Help("Open connections on the client listeners")
                      .Register(r)
                      .Add({});
  auto& refused = BuildCounter()
                      .Name("strand_listener_connections_refused_total")
                      .Help(
                          "Connections the client listeners closed at once, by the limit "
                          "that refused them")
                      .Register(r);
  refused_[0] = &refused.Add({{"reason", "max_connections"}});
  refused_[1] = &refused.Add({{"reason", "max_connections_per_ip"}});
  refused_[2] = &refused.Add({{"reason", "max_connection_creation_rate"}});
  metadata_offset_ = &BuildGauge()
                          .Name("strand_broker_metadata_offset")
                          .Help("Last applied metadata log index")
                          .Register(r)
                          .Add({});
  fenced_ = &BuildGauge()
                 .Name("strand_broker_fenced")
                 .Help("1 while the controllers consider this broker fenced")
                 .Register(r)
                 .Add({});
  waiting_fetches_ = &BuildGauge()
                          .Name("strand_broker_waiting_fetches")
                          .Help("Long-polling fetches waiting for data")
                          .Register(r)
                          .Add({});
  auto& throttle_bytes =
      BuildCounter()
          .Name("strand_broker_replication_throttle_bytes_total")
          .Help("Bytes of throttled replicas counted against the replication throttle, by side")
          .Register(r);
  auto& held_back = BuildCounter()
                        .Name("strand_broker_replication_throttled_total")
                        .Help("Fetches in which the replication throttle held a replica back")
                        .Register(r);
  auto& rates = BuildGauge()
                    .Name("strand_broker_replication_throttle_rate_bytes_per_second")
                    .Help("The replication throttle in force (+Inf: none), by side")
                    .Register(r);
  const char* sides[2] = {"leader", "follower"};
  for (int i = 0; i < 2; ++i) {
    throttles_[i].bytes = &throttle_bytes.Add({{"side", sides[i]}});
    throttles_[i].held_back = &held_back.Add({{"side", sides[i]}});
    throttles_[i].rate = &rates.Add({{"side", sides[i]}});
  }
}

void BrokerProbe::UpdateLogSizes(const std::vector<PartitionSize>& sizes) {
  std::lock_guard lock(mu_);
  std::map<std::pair<std::string, int32_t>, prometheus::Gauge*> next;
  for (const PartitionSize& p : sizes) {
    auto key = std::make_pair(p.topic, p.partition);
    auto it = log_size_by_partition_.find(key);
    prometheus::Gauge* g =
        it != log_size_by_partition_.end()
            ? it->second
            : &log_size_->Add({{"topic", p.topic}, {"partition", std::to_string(p.partition)}});
    g->Set(static_cast<double>(p.bytes));
    next.emplace(std::move(key), g);
  }
  for (const auto& [key, gauge] : log_size_by_partition_) {
    if (next.count(key) == 0) log_size_->Remove(gauge);
  }
  log_size_by_partition_ = std::move(next);
}

void BrokerProbe::UpdateConnections(const ConnectionStats& stats) {
  std::lock_guard lock(mu_);
  connections_->Set(static_cast<double>(stats.open));
  const int64_t now[3] = {stats.refused_max, stats.refused_per_ip, stats.refused_rate};
  for (int i = 0; i < 3; ++i) {
    refused_[i]->Increment(static_cast<double>(std::max<int64_t>(0, now[i] - last_refused_[i])));
    last_refused_[i] = now[i];
  }
}

void BrokerProbe::UpdateThrottles(const ReplicationQuota& leader,
                                  const ReplicationQuota& follower) {
  std::lock_guard lock(mu_);
  const ReplicationQuota* quotas[2] = {&leader, &follower};
  for (int i = 0; i < 2; ++i) {
    ThrottleMetrics& m = throttles_[i];
    const int64_t bytes = quotas[i]->recorded_bytes_total();
    const int64_t held = quotas[i]->held_back_total();
    // Counters only go up: the quotas' totals are taken as deltas since the last update.
    m.bytes->Increment(static_cast<double>(std::max<int64_t>(0, bytes - m.last_bytes)));
    m.held_back->Increment(static_cast<double>(std::max<int64_t>(0, held - m.last_held_back)));
    m.last_bytes = bytes;
    m.last_held_back = held;
    const int64_t rate = quotas[i]->rate_bytes_per_s();
    m.rate->Set(rate == ReplicationQuota::kUnlimited ? std::numeric_limits<double>::infinity()
                                                     : static_cast<double>(rate));
  }
}

void BrokerProbe::Request(const std::string& api, std::string_view error, double seconds) {
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    std::lock_guard lock(mu_);
    auto it = by_api_.find(api);
    if (it == by_api_.end()) {
      const std::string plane(PlaneOf(api));
      auto* h = &latency_->Add({{"api", api}, {"plane", plane}},
                               prometheus::Histogram::BucketBoundaries{
                                   0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
      it = by_api_.emplace(api, std::make_pair(h, std::map<std::string, prometheus::Counter*>{}))
               .first;
    }
    histogram = it->second.first;
    auto& counters = it->second.second;
    auto c = counters.find(std::string(error));
    if (c == counters.end()) {
      c = counters
              .emplace(std::string(error), &requests_->Add({{"api", api},
                                                            {"plane", std::string(PlaneOf(api))},
                                                            {"error", std::string(error)}}))
              .first;
    }
    counter = c->second;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void BrokerProbe::ProduceStages(double append, double leader_fsync, double commit, double respond) {
  produce_stage_[0]->Observe(append);
  produce_stage_[1]->Observe(leader_fsync);
  produce_stage_[2]->Observe(commit);
  produce_stage_[3]->Observe(respond);
}

void BrokerProbe::FollowerStages(double append, double fsync) {
  follower_stage_[0]->Observe(append);
  follower_stage_[1]->Observe(fsync);
}

std::string_view BrokerProbe::PlaneOf(std::string_view api) {
  if (api == "Produce" || api == "ProduceRecords") return "produce";
  if (api == "FetchConsumer" || api == "FetchRecords") return "fetch_consumer";
  if (api == "FetchFollower") return "fetch_follower";
  if (api == "Metadata" || api == "ListOffsets" || api == "InitProducerId") return "client";
  if (api.find("Group") != std::string_view::npos || api.rfind("Offset", 0) == 0 ||
      api == "ConsumerGroupHeartbeat") {
    return "group";
  }
  return "admin";  // the AdminService calls a broker forwards to the controllers
}

std::pair<prometheus::Counter*, prometheus::Counter*> BrokerProbe::TopicCounters(
    const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = topic_bytes_by_topic_.find(topic);
  if (it != topic_bytes_by_topic_.end()) return it->second;
  const std::string label = topic_bytes_by_topic_.size() < kTopicSeriesMax ? topic : "_other";
  it = topic_bytes_by_topic_.find(label);
  if (it == topic_bytes_by_topic_.end()) {
    it = topic_bytes_by_topic_
             .emplace(label,
                      std::make_pair(&topic_bytes_->Add({{"topic", label}, {"direction", "in"}}),
                                     &topic_bytes_->Add({{"topic", label}, {"direction", "out"}})))
             .first;
  }
  return it->second;
}

void BrokerProbe::BytesIn(const std::string& topic, int64_t bytes, int64_t records) {
  bytes_in_->Increment(static_cast<double>(bytes));
  records_in_->Increment(static_cast<double>(records));
  TopicCounters(topic).first->Increment(static_cast<double>(bytes));
}

void BrokerProbe::BytesOut(const std::string& topic, int64_t bytes) {
  bytes_out_->Increment(static_cast<double>(bytes));
  TopicCounters(topic).second->Increment(static_cast<double>(bytes));
}

void BrokerProbe::ReplicationBytesIn(int64_t bytes) {
  replication_bytes_in_->Increment(static_cast<double>(bytes));
}

void BrokerProbe::Update(const ReplicaCounts& counts, uint64_t isr_shrinks, uint64_t isr_expands,
                         uint64_t metadata_offset, bool fenced, size_t waiting_fetches) {
  partitions_->Set(static_cast<double>(counts.partitions));
  leaders_->Set(static_cast<double>(counts.leaders));
  under_replicated_->Set(static_cast<double>(counts.under_replicated));
  under_min_isr_->Set(static_cast<double>(counts.under_min_isr));
  offline_logs_->Set(static_cast<double>(counts.offline_logs));
  std::lock_guard lock(mu_);
  if (isr_shrinks > last_shrinks_) isr_shrinks_->Increment(double(isr_shrinks - last_shrinks_));
  if (isr_expands > last_expands_) isr_expands_->Increment(double(isr_expands - last_expands_));
  last_shrinks_ = isr_shrinks;
  last_expands_ = isr_expands;
  metadata_offset_->Set(static_cast<double>(metadata_offset));
  fenced_->Set(fenced ? 1 : 0);
  waiting_fetches_->Set(static_cast<double>(waiting_fetches));
}

}  // namespace strand::broker
