// GroupProbe: see the header.
#include "broker/server/group_probe.h"

namespace strand::broker {

GroupProbe::GroupProbe(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  auto& partitions = prometheus::BuildGauge()
                         .Name("strand_group_coordinator_partitions")
                         .Help("__consumer_offsets partitions this broker leads, by state")
                         .Register(r);
  loaded_ = &partitions.Add({{"state", "loaded"}});
  loading_ = &partitions.Add({{"state", "loading"}});
  groups_ = &prometheus::BuildGauge()
                 .Name("strand_group_coordinator_groups")
                 .Help("Groups this broker coordinates")
                 .Register(r)
                 .Add({});
  members_ = &prometheus::BuildGauge()
                  .Name("strand_group_coordinator_members")
                  .Help("Members of the groups this broker coordinates")
                  .Register(r)
                  .Add({});
  lag_family_ = &prometheus::BuildGauge()
                     .Name("strand_consumer_group_lag")
                     .Help(
                         "Records between a group's committed offset and the partition's high "
                         "watermark (groups coordinated here)")
                     .Register(r);
}

void GroupProbe::Update(const GroupCoordinatorStats& stats) {
  loaded_->Set(static_cast<double>(stats.partitions_loaded));
  loading_->Set(static_cast<double>(stats.partitions_loading));
  groups_->Set(static_cast<double>(stats.groups));
  members_->Set(static_cast<double>(stats.members));
}

void GroupProbe::UpdateLag(const std::map<LagKey, int64_t>& lag) {
  std::lock_guard lock(mu_);
  for (auto it = lag_.begin(); it != lag_.end();) {
    if (lag.count(it->first) == 0) {
      lag_family_->Remove(it->second);
      it = lag_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, value] : lag) {
    auto it = lag_.find(key);
    if (it == lag_.end()) {
      if (lag_.size() >= kLagSeriesMax) {
        if (!warned_) {
          GroupsLog()->warn("more than {} consumer-group lag series: the rest are not exported",
                            kLagSeriesMax);
          warned_ = true;
        }
        continue;
      }
      const auto& [group, topic, partition] = key;
      it = lag_.emplace(key, &lag_family_->Add({{"group", group},
                                                {"topic", topic},
                                                {"partition", std::to_string(partition)}}))
               .first;
    }
    it->second->Set(static_cast<double>(value));
  }
}

}  // namespace strand::broker
