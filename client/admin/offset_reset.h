#pragma once

// The pure half of resetting a group's offsets (kafka-consumer-groups.sh --reset-offsets): which
// partitions a spec covers and the new offset of each, from what the cluster said (committed
// offsets, partition counts, log bounds, offsets by timestamp). No I/O; AdminClient gathers the
// inputs (client/admin/admin_groups.cc) and commits the result.
//
// Kafka's rules, kept here:
//   - --all-topics covers the partitions the group has committed offsets for; --topic T every
//     partition of T; --topic T:0,2 those (each must exist);
//   - every new offset is clamped to [log start, log end] (Kafka's checkOffsetRange), so
//     --to-offset past the end lands on the end and --shift-by -1000 at most on the start;
//   - --to-datetime takes the first offset at or after the time, the log end when none is;
//   - --shift-by needs a committed offset to shift from.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/admin/group_admin.h"
#include "strand/admin.h"

namespace strand::client {

// INVALID_ARGUMENT for a spec without a group, with no scope or both scopes, a partition
// listed twice or negative.
absl::Status ValidateOffsetResetSpec(const OffsetResetSpec& spec);

// The partitions the spec covers, sorted. `committed`: the group's committed offsets;
// `partition_counts`: of the topics the spec names (not needed for all_topics). A topic
// missing from the counts, or a partition past its count: UNKNOWN_TOPIC_OR_PARTITION.
absl::StatusOr<std::vector<GroupTopicPartition>> OffsetResetPartitions(
    const OffsetResetSpec& spec, const std::map<GroupTopicPartition, int64_t>& committed,
    const std::map<std::string, int32_t>& partition_counts);

struct PartitionOffsets {
  int64_t log_start = 0;
  int64_t log_end = 0;
  int64_t at_time = -1;  // kToDatetime only: ListOffsets by the spec's time (-1: none)
};

// The plan's entries, in the order of `partitions`; every partition needs its offsets.
// FAILED_PRECONDITION when --shift-by meets a partition with no committed offset.
absl::StatusOr<std::vector<OffsetResetEntry>> PlanOffsetResetEntries(
    const OffsetResetSpec& spec, const std::vector<GroupTopicPartition>& partitions,
    const std::map<GroupTopicPartition, int64_t>& committed,
    const std::map<GroupTopicPartition, PartitionOffsets>& offsets);

// Kafka's refusal of a reset while the group has members.
std::string InactiveGroupRequired(const std::string& group_id, const std::string& state);

}  // namespace strand::client
