#pragma once

// Output of `strand groups`: JSON (stable keys, documented in docs/operations.md) and the human
// tables, with kafka-consumer-groups.sh's column names. Groups, topics and partitions sorted;
// "-" for a value that is unknown or absent (no committed offset, no owner).

#include <string>

#include <nlohmann/json.hpp>

#include "proto/group/v1/group.pb.h"
#include "strand/admin.h"

namespace strand::cli {

// {groups: [{group_id, type, state, coordinator, members}], unreachable_coordinators: [id]}
nlohmann::ordered_json GroupListJson(const group::v1::ListGroupsResponse& groups);
// GROUP TYPE STATE COORDINATOR MEMBERS
std::string FormatGroupList(const group::v1::ListGroupsResponse& groups);

// {group_id, type, state, coordinator, group_epoch, assignment_epoch, assignor,
//  members: [{member_id, instance_id, client_id, client_host, rack, member_epoch, state,
//             subscribed_topics, subscribed_regex, assignment: [{topic, partitions}]}],
//  offsets: [{topic, partition, committed, log_end_offset, lag, owner}]}; -1 for unknown numbers.
nlohmann::ordered_json GroupJson(const group::v1::DescribedGroup& group);
// "Group: G  Type: consumer  State: Stable  Members: 2  Coordinator: 101  Epoch: 3  Assignor: ..."
std::string FormatGroupSummary(const group::v1::DescribedGroup& group);
// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
std::string FormatGroupOffsets(const group::v1::DescribedGroup& group);
// GROUP MEMBER-ID INSTANCE-ID CLIENT-ID HOST RACK EPOCH STATE #PARTITIONS ASSIGNMENT, the
// assignment as "orders(0,1),payments(2)".
std::string FormatGroupMembers(const group::v1::DescribedGroup& group);

// {group_id, state, members, executed, partitions: [{topic, partition, current_offset,
//  new_offset, log_start_offset, log_end_offset}]}
nlohmann::ordered_json ResetPlanJson(const client::OffsetResetPlan& plan, bool executed);
// GROUP TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET
std::string FormatResetPlan(const client::OffsetResetPlan& plan);

// TOPIC PARTITION STATUS ("Successful" or "Error: NAME: message")
std::string FormatOffsetDelete(const group::v1::OffsetDeleteResponse& response);

}  // namespace strand::cli
