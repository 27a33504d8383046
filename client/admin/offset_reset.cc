#include "client/admin/offset_reset.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/kafka_error.h"
#include "strand/record.h"

namespace strand::client {

std::string_view OffsetResetStrategyName(OffsetResetStrategy strategy) {
  switch (strategy) {
    case OffsetResetStrategy::kToEarliest:
      return "to-earliest";
    case OffsetResetStrategy::kToLatest:
      return "to-latest";
    case OffsetResetStrategy::kToDatetime:
      return "to-datetime";
    case OffsetResetStrategy::kToOffset:
      return "to-offset";
    case OffsetResetStrategy::kShiftBy:
      return "shift-by";
  }
  return "unknown";
}

std::string InactiveGroupRequired(const std::string& group_id, const std::string& state) {
  return fmt::format(
      "Assignments can only be reset if the group '{}' is inactive, but the current state is {}.",
      group_id, state);
}

absl::Status ValidateOffsetResetSpec(const OffsetResetSpec& spec) {
  if (spec.group_id.empty()) return absl::InvalidArgumentError("a group id is required");
  if (spec.all_topics == !spec.topics.empty()) {
    return absl::InvalidArgumentError("give either all topics or a list of topics");
  }
  if (spec.strategy == OffsetResetStrategy::kToOffset && spec.value < 0) {
    return absl::InvalidArgumentError("the offset to reset to must not be negative");
  }
  std::set<GroupTopicPartition> seen;
  std::set<std::string> whole_topics;
  for (const OffsetResetTopic& t : spec.topics) {
    if (t.topic.empty()) return absl::InvalidArgumentError("empty topic name");
    if (t.partitions.empty() && !whole_topics.insert(t.topic).second) {
      return absl::InvalidArgumentError(fmt::format("topic '{}' given twice", t.topic));
    }
    for (int32_t p : t.partitions) {
      if (p < 0) {
        return absl::InvalidArgumentError(fmt::format("{}: negative partition {}", t.topic, p));
      }
      if (!seen.emplace(t.topic, p).second) {
        return absl::InvalidArgumentError(fmt::format("{}-{} given twice", t.topic, p));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<GroupTopicPartition>> OffsetResetPartitions(
    const OffsetResetSpec& spec, const std::map<GroupTopicPartition, int64_t>& committed,
    const std::map<std::string, int32_t>& partition_counts) {
  std::set<GroupTopicPartition> out;
  if (spec.all_topics) {
    for (const auto& [tp, offset] : committed) out.insert(tp);
    return std::vector<GroupTopicPartition>(out.begin(), out.end());
  }
  for (const OffsetResetTopic& t : spec.topics) {
    auto count = partition_counts.find(t.topic);
    if (count == partition_counts.end()) {
      return KafkaStatus(KafkaError::kUnknownTopicOrPartition,
                         fmt::format("topic '{}' does not exist", t.topic));
    }
    if (t.partitions.empty()) {
      for (int32_t p = 0; p < count->second; ++p) out.emplace(t.topic, p);
      continue;
    }
    for (int32_t p : t.partitions) {
      if (p >= count->second) {
        return KafkaStatus(KafkaError::kUnknownTopicOrPartition,
                           fmt::format("topic '{}' has {} partitions: there is no partition {}",
                                       t.topic, count->second, p));
      }
      out.emplace(t.topic, p);
    }
  }
  return std::vector<GroupTopicPartition>(out.begin(), out.end());
}

absl::StatusOr<std::vector<OffsetResetEntry>> PlanOffsetResetEntries(
    const OffsetResetSpec& spec, const std::vector<GroupTopicPartition>& partitions,
    const std::map<GroupTopicPartition, int64_t>& committed,
    const std::map<GroupTopicPartition, PartitionOffsets>& offsets) {
  std::vector<OffsetResetEntry> entries;
  entries.reserve(partitions.size());
  for (const GroupTopicPartition& tp : partitions) {
    auto bounds = offsets.find(tp);
    if (bounds == offsets.end()) {
      return absl::InternalError(fmt::format("no log offsets for {}-{}", tp.first, tp.second));
    }
    const PartitionOffsets& o = bounds->second;
    OffsetResetEntry e;
    e.topic = tp.first;
    e.partition = tp.second;
    auto current = committed.find(tp);
    e.current_offset = current == committed.end() ? -1 : current->second;
    e.log_start_offset = o.log_start;
    e.log_end_offset = o.log_end;
    switch (spec.strategy) {
      case OffsetResetStrategy::kToEarliest:
        e.requested_offset = o.log_start;
        break;
      case OffsetResetStrategy::kToLatest:
        e.requested_offset = o.log_end;
        break;
      case OffsetResetStrategy::kToDatetime:
        e.requested_offset = o.at_time >= 0 ? o.at_time : o.log_end;
        break;
      case OffsetResetStrategy::kToOffset:
        e.requested_offset = spec.value;
        break;
      case OffsetResetStrategy::kShiftBy:
        if (e.current_offset < 0) {
          return absl::FailedPreconditionError(fmt::format(
              "cannot shift the offset of {}-{}: group '{}' has no committed offset for it",
              tp.first, tp.second, spec.group_id));
        }
        // Saturating: a shift of INT64_MIN from a small offset must not overflow.
        if (spec.value > 0 && e.current_offset > INT64_MAX - spec.value) {
          e.requested_offset = INT64_MAX;
        } else if (spec.value < 0 && e.current_offset < INT64_MIN - spec.value) {
          e.requested_offset = INT64_MIN;
        } else {
          e.requested_offset = e.current_offset + spec.value;
        }
        break;
    }
    e.new_offset = std::clamp(e.requested_offset, o.log_start, std::max(o.log_start, o.log_end));
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace strand::client
