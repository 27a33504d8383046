// GroupShard's committed offsets: commit (with the member-epoch check), fetch, delete, group
// deletion and expiry. See group_shard.h.
#include "broker/group/group_shard.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "broker/group/group_shard_internal.h"
#include "common/error_proto.h"

namespace strand::broker::group {

using internal::Fail;
using internal::TypeString;

std::vector<GroupRecord> GroupShard::ExpireOffsets(int64_t now_ms) {
  std::vector<GroupRecord> out;
  for (const auto& [gid, g] : groups_) {
    if (!g.members.empty()) continue;
    size_t expired = 0;
    for (const auto& [tp, v] : g.offsets) {
      if (now_ms - v.commit_timestamp_ms() > config_.offsets_retention_ms) {
        out.push_back(OffsetRecord(gid, tp.first, tp.second, nullptr));
        ++expired;
      }
    }
    if (expired == g.offsets.size() && g.has_value) {
      out.push_back(GroupMetadataRecord(gid, nullptr));
    }
  }
  return out;
}

// ---------------------------------------------------------------- offsets

std::optional<std::pair<KafkaError, std::string>> GroupShard::CheckCommitter(
    const Group* g, const v1::OffsetCommitRequest& req) const {
  if (g != nullptr && g->type != v1::GROUP_TYPE_CONSUMER) {
    return std::pair{KafkaError::kGroupIdNotFound,
                     fmt::format("group '{}' is a {} group", req.group_id(), TypeString(g->type))};
  }
  const bool as_member = !req.member_id().empty() || req.member_epoch() >= 0;
  if (!as_member) {
    if (g != nullptr && !g->members.empty()) {
      return std::pair{KafkaError::kUnknownMemberId,
                       fmt::format("group '{}' has {} member(s): only they may commit while it "
                                   "has any (stop them to reset its offsets)",
                                   req.group_id(), g->members.size())};
    }
    return std::nullopt;
  }
  const Member* m = nullptr;
  if (g != nullptr) {
    auto it = g->members.find(req.member_id());
    if (it != g->members.end()) m = &it->second;
  }
  if (m == nullptr || m->value.left_temporarily()) {
    return std::pair{KafkaError::kUnknownMemberId,
                     fmt::format("group '{}' has no member '{}'", req.group_id(), req.member_id())};
  }
  if (req.member_epoch() < m->value.member_epoch()) {
    return std::pair{KafkaError::kStaleMemberEpoch,
                     fmt::format("member '{}' committed at epoch {}, but it is at epoch {}",
                                 req.member_id(), req.member_epoch(), m->value.member_epoch())};
  }
  if (req.member_epoch() > m->value.member_epoch()) {
    return std::pair{KafkaError::kFencedMemberEpoch,
                     fmt::format("member '{}' committed at epoch {}, ahead of its epoch {}",
                                 req.member_id(), req.member_epoch(), m->value.member_epoch())};
  }
  return std::nullopt;
}

GroupResult<v1::OffsetCommitResponse> GroupShard::CommitOffsets(const v1::OffsetCommitRequest& req,
                                                                int64_t now_ms,
                                                                const TopicCatalog& topics) {
  const std::string& gid = req.group_id();
  if (gid.empty() || gid.size() > static_cast<size_t>(config_.id_max_bytes)) {
    return Fail<v1::OffsetCommitResponse>(
        KafkaError::kInvalidGroupId,
        fmt::format("group id must be 1 to {} bytes", config_.id_max_bytes));
  }
  const Group* g = Find(gid);
  if (auto refused = CheckCommitter(g, req)) {
    return Fail<v1::OffsetCommitResponse>(refused->first, refused->second);
  }
  if (g == nullptr && groups_.size() >= static_cast<size_t>(config_.groups_max)) {
    return Fail<v1::OffsetCommitResponse>(
        KafkaError::kPolicyViolation,
        fmt::format("this coordinator partition holds the maximum of {} groups "
                    "(strand.group.coordinator.groups.max)",
                    config_.groups_max));
  }
  GroupResult<v1::OffsetCommitResponse> out;
  size_t offsets = g == nullptr ? 0 : g->offsets.size();
  std::set<TopicPartition> added;
  for (const auto& t : req.topics()) {
    auto* tr = out.response.add_topics();
    tr->set_name(t.name());
    const TopicInfo* info = topics.Find(t.name());
    for (const auto& p : t.partitions()) {
      auto* pr = tr->add_partitions();
      pr->set_partition(p.partition());
      const TopicPartition tp(t.name(), p.partition());
      if (info == nullptr || p.partition() < 0 || p.partition() >= info->partition_count) {
        SetKafkaError(pr->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                      fmt::format("no partition {}-{}", t.name(), p.partition()));
        continue;
      }
      if (p.metadata().size() > static_cast<size_t>(config_.offset_metadata_max_bytes)) {
        SetKafkaError(pr->mutable_error(), KafkaError::kOffsetMetadataTooLarge,
                      fmt::format("offset metadata is {} bytes; at most {} "
                                  "(offset.metadata.max.bytes)",
                                  p.metadata().size(), config_.offset_metadata_max_bytes));
        continue;
      }
      if (p.offset() < 0) {
        SetKafkaError(pr->mutable_error(), KafkaError::kInvalidRequest,
                      fmt::format("offset {} is negative", p.offset()));
        continue;
      }
      const bool is_new = (g == nullptr || g->offsets.count(tp) == 0) && added.count(tp) == 0;
      if (is_new && offsets >= static_cast<size_t>(config_.offsets_per_group_max)) {
        SetKafkaError(pr->mutable_error(), KafkaError::kInvalidCommitOffsetSize,
                      fmt::format("group '{}' has the maximum of {} committed offsets "
                                  "(strand.group.offsets.max)",
                                  gid, config_.offsets_per_group_max));
        continue;
      }
      if (is_new) {
        ++offsets;
        added.insert(tp);
      }
      v1::OffsetValue v;
      v.set_group_type(v1::GROUP_TYPE_CONSUMER);
      v.set_offset(p.offset());
      v.set_leader_epoch(p.leader_epoch());
      v.set_metadata(p.metadata());
      v.set_commit_timestamp_ms(now_ms);
      out.records.push_back(OffsetRecord(gid, t.name(), p.partition(), &v));
    }
  }
  return out;
}

v1::OffsetFetchResponse GroupShard::FetchOffsets(const v1::OffsetFetchRequest& req) const {
  v1::OffsetFetchResponse out;
  const Group* g = Find(req.group_id());
  auto fill = [](v1::OffsetFetchPartition* p, const v1::OffsetValue* v) {
    p->set_offset(v == nullptr ? -1 : v->offset());
    p->set_leader_epoch(v == nullptr ? -1 : v->leader_epoch());
    if (v != nullptr) p->set_metadata(v->metadata());
  };
  if (req.topics_size() == 0) {
    if (g == nullptr) return out;
    v1::OffsetFetchTopicResponse* t = nullptr;
    for (const auto& [tp, v] : g->offsets) {
      if (t == nullptr || t->name() != tp.first) {
        t = out.add_topics();
        t->set_name(tp.first);
      }
      auto* p = t->add_partitions();
      p->set_partition(tp.second);
      fill(p, &v);
    }
    return out;
  }
  for (const auto& rt : req.topics()) {
    auto* t = out.add_topics();
    t->set_name(rt.name());
    for (int32_t partition : rt.partitions()) {
      auto* p = t->add_partitions();
      p->set_partition(partition);
      const v1::OffsetValue* v = nullptr;
      if (g != nullptr) {
        auto it = g->offsets.find({rt.name(), partition});
        if (it != g->offsets.end()) v = &it->second;
      }
      fill(p, v);
    }
  }
  return out;
}

GroupResult<v1::DeletedGroup> GroupShard::DeleteGroup(const std::string& group_id) {
  GroupResult<v1::DeletedGroup> out;
  out.response.set_group_id(group_id);
  const Group* g = Find(group_id);
  if (g == nullptr) {
    SetKafkaError(out.response.mutable_error(), KafkaError::kGroupIdNotFound,
                  fmt::format("no group '{}'", group_id));
    return out;
  }
  if (!g->members.empty()) {
    SetKafkaError(out.response.mutable_error(), KafkaError::kNonEmptyGroup,
                  fmt::format("group '{}' has {} member(s); it can be deleted once they leave",
                              group_id, g->members.size()));
    return out;
  }
  for (const auto& [tp, v] : g->offsets) {
    out.records.push_back(OffsetRecord(group_id, tp.first, tp.second, nullptr));
  }
  if (g->has_value) out.records.push_back(GroupMetadataRecord(group_id, nullptr));
  return out;
}

GroupResult<v1::OffsetDeleteResponse> GroupShard::DeleteOffsets(const v1::OffsetDeleteRequest& req,
                                                                const TopicCatalog& topics) {
  const Group* g = Find(req.group_id());
  if (g == nullptr) {
    return Fail<v1::OffsetDeleteResponse>(KafkaError::kGroupIdNotFound,
                                          fmt::format("no group '{}'", req.group_id()));
  }
  GroupResult<v1::OffsetDeleteResponse> out;
  const std::set<std::string> subscribed = SubscribedTopics(*g, topics);
  for (const auto& rt : req.topics()) {
    auto* t = out.response.add_topics();
    t->set_name(rt.name());
    for (int32_t partition : rt.partitions()) {
      auto* p = t->add_partitions();
      p->set_partition(partition);
      if (subscribed.count(rt.name()) != 0) {
        SetKafkaError(
            p->mutable_error(), KafkaError::kGroupSubscribedToTopic,
            fmt::format("a member of group '{}' subscribes to '{}'", req.group_id(), rt.name()));
        continue;
      }
      if (g->offsets.count({rt.name(), partition}) != 0) {
        out.records.push_back(OffsetRecord(req.group_id(), rt.name(), partition, nullptr));
      }
    }
  }
  return out;
}

}  // namespace strand::broker::group
