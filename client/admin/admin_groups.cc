// AdminClient's consumer-group methods (strand/admin.h): routing is GroupAdmin's
// (client/admin/group_admin.h), reset planning offset_reset.h's; this file strings them
// together under one time budget per call.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>

#include "client/admin/group_admin.h"
#include "client/admin/offset_reset.h"
#include "common/kafka_error.h"
#include "strand/admin.h"
#include "strand/record.h"

namespace strand::client {
namespace {

namespace gv1 = ::strand::group::v1;

GroupAdmin::Clock::time_point Deadline(const AdminClientOptions& options) {
  return GroupAdmin::Clock::now() + std::chrono::milliseconds(options.api_timeout_ms);
}

bool Is(const common::v1::Error& error, KafkaError code) {
  return error.code() == static_cast<int32_t>(code);
}

absl::Status AsStatus(const common::v1::Error& error, std::string_view subject) {
  return KafkaStatus(static_cast<KafkaError>(error.code()),
                     error.message().empty() ? subject : error.message());
}

// The group's committed offsets (none for a group that does not exist).
absl::StatusOr<std::map<GroupTopicPartition, int64_t>> Committed(
    GroupAdmin& groups, const std::string& group_id, GroupAdmin::Clock::time_point deadline) {
  gv1::OffsetFetchRequest request;
  request.set_group_id(group_id);
  absl::StatusOr<gv1::OffsetFetchResponse> fetched = groups.FetchOffsets(request, deadline);
  if (!fetched.ok()) return fetched.status();
  std::map<GroupTopicPartition, int64_t> committed;
  if (Is(fetched->error(), KafkaError::kGroupIdNotFound)) return committed;
  if (fetched->error().code() != 0) {
    return AsStatus(fetched->error(), fmt::format("group '{}'", group_id));
  }
  for (const gv1::OffsetFetchTopicResponse& t : fetched->topics()) {
    for (const gv1::OffsetFetchPartition& p : t.partitions()) {
      if (p.error().code() == 0 && p.offset() >= 0)
        committed[{t.name(), p.partition()}] = p.offset();
    }
  }
  return committed;
}

// The partition count of each topic; a topic the cluster does not know is left out.
absl::StatusOr<std::map<std::string, int32_t>> PartitionCounts(
    GroupAdmin& groups, const std::vector<std::string>& topics,
    GroupAdmin::Clock::time_point deadline) {
  std::map<std::string, int32_t> counts;
  if (topics.empty()) return counts;
  absl::StatusOr<broker::v1::MetadataResponse> metadata = groups.Metadata(topics, deadline);
  if (!metadata.ok()) return metadata.status();
  for (const broker::v1::TopicMetadata& t : metadata->topics()) {
    if (Is(t.error(), KafkaError::kUnknownTopicOrPartition)) continue;
    if (t.error().code() != 0) return AsStatus(t.error(), fmt::format("topic '{}'", t.name()));
    counts[t.name()] = t.partitions_size();
  }
  return counts;
}

}  // namespace

absl::StatusOr<gv1::ListGroupsResponse> AdminClient::ListGroups(
    const gv1::ListGroupsRequest& request) {
  return groups_->ListGroups(request, Deadline(options_));
}

absl::StatusOr<gv1::DescribeGroupsResponse> AdminClient::DescribeGroups(
    const gv1::DescribeGroupsRequest& request) {
  const auto deadline = Deadline(options_);
  gv1::DescribeGroupsResponse response;
  for (const std::string& group_id : request.group_ids()) {
    absl::StatusOr<gv1::DescribedGroup> group =
        groups_->Describe(group_id, request.include_offsets(), deadline);
    if (!group.ok()) return group.status();
    *response.add_groups() = *std::move(group);
  }
  return response;
}

absl::StatusOr<gv1::DeleteGroupsResponse> AdminClient::DeleteGroups(
    const gv1::DeleteGroupsRequest& request) {
  const auto deadline = Deadline(options_);
  gv1::DeleteGroupsResponse response;
  for (const std::string& group_id : request.group_ids()) {
    absl::StatusOr<gv1::DeletedGroup> group = groups_->Delete(group_id, deadline);
    if (!group.ok()) return group.status();
    *response.add_groups() = *std::move(group);
  }
  return response;
}

absl::StatusOr<gv1::OffsetFetchResponse> AdminClient::FetchOffsets(
    const gv1::OffsetFetchRequest& request) {
  return groups_->FetchOffsets(request, Deadline(options_));
}

absl::StatusOr<gv1::OffsetCommitResponse> AdminClient::CommitOffsets(
    const gv1::OffsetCommitRequest& request) {
  return groups_->CommitOffsets(request, Deadline(options_));
}

absl::StatusOr<gv1::OffsetDeleteResponse> AdminClient::DeleteOffsets(
    const gv1::OffsetDeleteRequest& request) {
  const auto deadline = Deadline(options_);
  gv1::OffsetDeleteRequest expanded = request;
  const bool whole_topics =
      std::any_of(request.topics().begin(), request.topics().end(),
                  [](const gv1::OffsetFetchTopic& t) { return t.partitions().empty(); });
  if (whole_topics) {
    absl::StatusOr<std::map<GroupTopicPartition, int64_t>> committed =
        Committed(*groups_, request.group_id(), deadline);
    if (!committed.ok()) return committed.status();
    for (gv1::OffsetFetchTopic& t : *expanded.mutable_topics()) {
      if (!t.partitions().empty()) continue;
      for (const auto& [tp, offset] : *committed) {
        if (tp.first == t.name()) t.add_partitions(tp.second);
      }
    }
  }
  return groups_->DeleteOffsets(expanded, deadline);
}

absl::StatusOr<OffsetResetPlan> AdminClient::PlanOffsetReset(const OffsetResetSpec& spec) {
  if (absl::Status s = ValidateOffsetResetSpec(spec); !s.ok()) return s;
  const auto deadline = Deadline(options_);
  OffsetResetPlan plan;
  plan.group_id = spec.group_id;
  absl::StatusOr<gv1::DescribedGroup> group = groups_->Describe(spec.group_id, false, deadline);
  if (!group.ok()) return group.status();
  if (Is(group->error(), KafkaError::kGroupIdNotFound)) {
    plan.group_state = "Dead";  // Kafka's name for a group that does not exist
  } else if (group->error().code() != 0) {
    return AsStatus(group->error(), fmt::format("group '{}'", spec.group_id));
  } else {
    plan.group_state = group->state();
    plan.members = group->members_size();
  }
  absl::StatusOr<std::map<GroupTopicPartition, int64_t>> committed =
      Committed(*groups_, spec.group_id, deadline);
  if (!committed.ok()) return committed.status();
  std::vector<std::string> topics;
  for (const OffsetResetTopic& t : spec.topics) topics.push_back(t.topic);
  absl::StatusOr<std::map<std::string, int32_t>> counts =
      PartitionCounts(*groups_, topics, deadline);
  if (!counts.ok()) return counts.status();
  absl::StatusOr<std::vector<GroupTopicPartition>> partitions =
      OffsetResetPartitions(spec, *committed, *counts);
  if (!partitions.ok()) return partitions.status();
  if (partitions->empty()) return plan;

  // The log bounds of every partition, and for a datetime the offset at that time.
  std::map<GroupTopicPartition, PartitionOffsets> offsets;
  auto lookup = [&](int64_t timestamp, int64_t PartitionOffsets::*field) -> absl::Status {
    std::map<GroupTopicPartition, int64_t> ask;
    for (const GroupTopicPartition& tp : *partitions) ask[tp] = timestamp;
    absl::StatusOr<std::map<GroupTopicPartition, int64_t>> answers =
        groups_->ListOffsets(ask, deadline);
    if (!answers.ok()) return answers.status();
    for (const auto& [tp, offset] : *answers) offsets[tp].*field = offset;
    return absl::OkStatus();
  };
  if (absl::Status s = lookup(-2, &PartitionOffsets::log_start); !s.ok()) return s;
  if (absl::Status s = lookup(-1, &PartitionOffsets::log_end); !s.ok()) return s;
  if (spec.strategy == OffsetResetStrategy::kToDatetime) {
    if (absl::Status s = lookup(spec.value, &PartitionOffsets::at_time); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<OffsetResetEntry>> entries =
      PlanOffsetResetEntries(spec, *partitions, *committed, offsets);
  if (!entries.ok()) return entries.status();
  plan.entries = *std::move(entries);
  return plan;
}

absl::StatusOr<gv1::OffsetCommitResponse> AdminClient::ExecuteOffsetReset(
    const OffsetResetPlan& plan) {
  const auto deadline = Deadline(options_);
  absl::StatusOr<gv1::DescribedGroup> group = groups_->Describe(plan.group_id, false, deadline);
  if (!group.ok()) return group.status();
  if (group->error().code() != 0 && !Is(group->error(), KafkaError::kGroupIdNotFound)) {
    return AsStatus(group->error(), fmt::format("group '{}'", plan.group_id));
  }
  if (group->members_size() > 0) {
    return absl::FailedPreconditionError(InactiveGroupRequired(plan.group_id, group->state()));
  }
  gv1::OffsetCommitRequest request;
  request.set_group_id(plan.group_id);
  request.set_member_id("");
  request.set_member_epoch(-1);
  gv1::OffsetCommitTopic* topic = nullptr;
  for (const OffsetResetEntry& e : plan.entries) {
    if (topic == nullptr || topic->name() != e.topic) {
      topic = request.add_topics();
      topic->set_name(e.topic);
    }
    gv1::OffsetCommitPartition* p = topic->add_partitions();
    p->set_partition(e.partition);
    p->set_offset(e.new_offset);
    p->set_leader_epoch(-1);
  }
  if (plan.entries.empty()) return gv1::OffsetCommitResponse{};
  absl::StatusOr<gv1::OffsetCommitResponse> response = groups_->CommitOffsets(request, deadline);
  if (!response.ok()) return response.status();
  if (Is(response->error(), KafkaError::kUnknownMemberId)) {
    // A member joined between the check and the commit: the coordinator enforces the rule.
    return absl::FailedPreconditionError(fmt::format(
        "Assignments can only be reset if the group '{}' is inactive; the coordinator refused "
        "the commit ({}: {})",
        plan.group_id, response->error().name(), response->error().message()));
  }
  if (response->error().code() != 0) {
    return AsStatus(response->error(), fmt::format("group '{}'", plan.group_id));
  }
  return response;
}

}  // namespace strand::client
