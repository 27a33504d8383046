#pragma once

// Output of `strand partitions list-reassignments` (JSON and table) and the one-line outcome of
// a leader election per partition. Sorted by topic, then partition.

#include <nlohmann/json.hpp>
#include <string>

#include "proto/admin/v1/admin.pb.h"

namespace strand::cli {

// "orders-3", Kafka's way of naming a partition.
std::string PartitionName(const admin::v1::TopicPartition& partition);

// {reassignments: [{topic, partition, replicas, adding_replicas, removing_replicas}]}
nlohmann::ordered_json ReassignmentsJson(const admin::v1::ListPartitionReassignmentsResponse& r);
std::string FormatReassignments(const admin::v1::ListPartitionReassignmentsResponse& r);

}  // namespace strand::cli
