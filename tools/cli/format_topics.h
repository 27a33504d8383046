#pragma once

// Output of `strand topics list` and `strand topics describe`: JSON (stable keys, documented in
// docs/operations.md) and the human tables. Topics and partitions are sorted.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "google/protobuf/repeated_field.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::cli {

// "1,2,3", or "-" when empty.
std::string IdList(const google::protobuf::RepeatedField<int32_t>& ids);

// {topics: [{name, topic_id, partitions, replication_factor}]}
nlohmann::ordered_json TopicListJson(const admin::v1::ListTopicsResponse& topics);
std::string FormatTopicList(const admin::v1::ListTopicsResponse& topics);

// {name, topic_id, partitions: [{partition, leader, leader_epoch, partition_epoch, replicas,
//  isr, adding_replicas, removing_replicas, offline_replicas}], configs: {key: value}}
nlohmann::ordered_json TopicJson(const admin::v1::TopicDescription& topic);
std::string FormatTopic(const admin::v1::TopicDescription& topic);

}  // namespace strand::cli
