#include "tools/cli/format_cluster.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tools/cli/table.h"

namespace strand::cli {

std::string_view BrokerStateName(admin::v1::BrokerState state) {
  switch (state) {
    case admin::v1::RUNNING:
      return "running";
    case admin::v1::FENCED:
      return "fenced";
    case admin::v1::CONTROLLED_SHUTDOWN:
      return "controlled_shutdown";
    default:
      return "unknown";
  }
}

nlohmann::ordered_json ClusterJson(const admin::v1::DescribeClusterResponse& cluster) {
  nlohmann::ordered_json out;
  out["cluster_id"] = cluster.cluster_id();
  out["active_controller"] = cluster.active_controller();
  out["controller_term"] = cluster.controller_term();
  out["metadata_offset"] = cluster.metadata_offset();
  out["controllers"] = nlohmann::ordered_json::array();
  for (const admin::v1::ControllerInfo& c : cluster.controllers()) {
    out["controllers"].push_back({{"id", c.id()},
                                  {"address", c.address()},
                                  {"active", c.active()},
                                  {"reachable", c.reachable()},
                                  {"static_settings_differing", c.static_settings_differing()}});
  }
  out["brokers"] = nlohmann::ordered_json::array();
  for (const admin::v1::BrokerInfo& b : cluster.brokers()) {
    out["brokers"].push_back({{"id", b.id()},
                              {"rack", b.rack()},
                              {"state", BrokerStateName(b.state())},
                              {"listeners", b.listeners()},
                              {"leader_count", b.leader_count()},
                              {"replica_count", b.replica_count()},
                              {"static_settings_differing", b.static_settings_differing()}});
  }
  out["topics"] = cluster.topics();
  out["partitions"] = cluster.partitions();
  out["offline_partitions"] = cluster.offline_partitions();
  out["under_replicated_partitions"] = cluster.under_replicated_partitions();
  out["under_min_isr_partitions"] = cluster.under_min_isr_partitions();
  return out;
}

namespace {

std::string ControllersTable(const admin::v1::DescribeClusterResponse& cluster) {
  Table table({"ID", "ADDRESS", "ROLE", "REACHABLE"});
  for (const admin::v1::ControllerInfo& c : cluster.controllers()) {
    table.AddRow({std::to_string(c.id()), c.address(), c.active() ? "active" : "standby",
                  c.reachable() ? "yes" : "no"});
  }
  return table.Render();
}

std::string BrokersTable(const admin::v1::DescribeClusterResponse& cluster) {
  Table table({"ID", "RACK", "STATE", "LISTENERS", "LEADERS", "REPLICAS"});
  for (const admin::v1::BrokerInfo& b : cluster.brokers()) {
    table.AddRow({std::to_string(b.id()), b.rack().empty() ? "-" : b.rack(),
                  std::string(BrokerStateName(b.state())),
                  b.listeners().empty() ? "-" : fmt::format("{}", fmt::join(b.listeners(), ",")),
                  std::to_string(b.leader_count()), std::to_string(b.replica_count())});
  }
  return table.Render();
}

// Nodes started with static cluster settings unlike the active controller's, one line each;
// empty when every node agrees.
std::string SettingsDifferences(const admin::v1::DescribeClusterResponse& cluster) {
  std::string out;
  for (const admin::v1::ControllerInfo& c : cluster.controllers()) {
    if (c.static_settings_differing().empty()) continue;
    out += fmt::format("  controller {}: {}\n", c.id(),
                       fmt::join(c.static_settings_differing(), ", "));
  }
  for (const admin::v1::BrokerInfo& b : cluster.brokers()) {
    if (b.static_settings_differing().empty()) continue;
    out += fmt::format("  broker {}: {}\n", b.id(), fmt::join(b.static_settings_differing(), ", "));
  }
  if (out.empty()) return out;
  return "\nWARNING: static cluster settings (--config) differ from the active controller's:\n" +
         out +
         "  Give every node the same values, or set them dynamically (strand configs alter "
         "--cluster).\n";
}

}  // namespace

std::string FormatCluster(const admin::v1::DescribeClusterResponse& cluster) {
  std::string out;
  out += fmt::format("Cluster id:         {}\n", cluster.cluster_id());
  if (cluster.active_controller() >= 0) {
    out += fmt::format("Active controller:  {} (term {})\n", cluster.active_controller(),
                       cluster.controller_term());
  } else {
    out += fmt::format("Active controller:  none (term {})\n", cluster.controller_term());
  }
  out += fmt::format("Metadata offset:    {}\n", cluster.metadata_offset());
  out +=
      fmt::format("\nControllers ({})\n{}", cluster.controllers_size(), ControllersTable(cluster));
  out += fmt::format("\nBrokers ({})\n", cluster.brokers_size());
  out += cluster.brokers().empty() ? "(none registered)\n" : BrokersTable(cluster);
  out += fmt::format(
      "\nPartitions: {} in {} topics; {} offline, {} under-replicated, {} under min ISR\n",
      cluster.partitions(), cluster.topics(), cluster.offline_partitions(),
      cluster.under_replicated_partitions(), cluster.under_min_isr_partitions());
  out += SettingsDifferences(cluster);
  return out;
}

}  // namespace strand::cli
