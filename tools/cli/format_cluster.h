#pragma once

// Output of `strand cluster describe`: a JSON object (stable keys, documented in
// docs/operations.md; scripts such as scripts/local-cluster.sh read them) and the human form.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "proto/admin/v1/admin.pb.h"

namespace strand::cli {

// "running", "fenced", "controlled_shutdown", "unknown".
std::string_view BrokerStateName(admin::v1::BrokerState state);

// {cluster_id, active_controller (-1: none), controller_term, metadata_offset,
//  controllers: [{id, address, active, reachable}],
//  brokers: [{id, rack, state, listeners, leader_count, replica_count, broker_epoch,
//             incarnation_id}],
//  topics, partitions, offline_partitions, under_replicated_partitions,
//  under_min_isr_partitions}
nlohmann::ordered_json ClusterJson(const admin::v1::DescribeClusterResponse& cluster);

std::string FormatCluster(const admin::v1::DescribeClusterResponse& cluster);

}  // namespace strand::cli
