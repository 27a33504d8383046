// GroupShard: see the header.
#include "broker/group/group_shard.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <re2/re2.h>

#include "broker/group/group_shard_internal.h"
#include "common/error_proto.h"

namespace strand::broker::group {

using internal::Fail;
using internal::TypeString;

namespace {

constexpr int32_t kDefaultRebalanceTimeoutMs = 300'000;
constexpr size_t kRegexMaxBytes = 1'024;
constexpr size_t kOwnedMax = 1'000'000;

// FNV-1a, 64 bits: a digest stable across processes and versions (it is stored in records).
class Fnv {
 public:
  void Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 0x100000001b3ULL;
    }
    h_ ^= 0xff;  // separator: ("ab","c") differs from ("a","bc")
    h_ *= 0x100000001b3ULL;
  }
  void Add(int64_t v) { Add(std::string_view(reinterpret_cast<const char*>(&v), sizeof v)); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

std::string MemberStateString(v1::MemberState s) {
  switch (s) {
    case v1::MEMBER_STATE_UNREVOKED_PARTITIONS:
      return "unrevoked_partitions";
    case v1::MEMBER_STATE_UNRELEASED_PARTITIONS:
      return "unreleased_partitions";
    default:
      return "stable";
  }
}

}  // namespace

std::string_view GroupStateString(GroupStateName s) {
  switch (s) {
    case GroupStateName::kEmpty:
      return "Empty";
    case GroupStateName::kAssigning:
      return "Assigning";
    case GroupStateName::kReconciling:
      return "Reconciling";
    case GroupStateName::kStable:
      return "Stable";
  }
  return "Unknown";
}

const TopicInfo* MapTopicCatalog::Find(const std::string& topic) const {
  auto it = topics.find(topic);
  return it == topics.end() ? nullptr : &it->second;
}

void MapTopicCatalog::ForEachTopic(const std::function<void(const std::string&)>& fn) const {
  for (const auto& [name, info] : topics) {
    if (name.rfind("__", 0) != 0) fn(name);
  }
}

// ---------------------------------------------------------------- helpers

PartitionSet GroupShard::ToSet(const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& tps) {
  PartitionSet out;
  for (const auto& t : tps) {
    for (int32_t p : t.partitions()) out.emplace(t.topic(), p);
  }
  return out;
}

void GroupShard::FromSet(const PartitionSet& set,
                         google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out) {
  out->Clear();
  v1::TopicPartitions* current = nullptr;
  for (const auto& [topic, partition] : set) {
    if (current == nullptr || current->topic() != topic) {
      current = out->Add();
      current->set_topic(topic);
    }
    current->add_partitions(partition);
  }
}

std::set<std::string> GroupShard::SubscribedTopics(const v1::MemberValue& m,
                                                   const TopicCatalog& topics) const {
  std::set<std::string> out(m.subscribed_topics().begin(), m.subscribed_topics().end());
  if (!m.subscribed_regex().empty()) {
    RE2 re(m.subscribed_regex(), RE2::Quiet);
    if (re.ok()) {
      topics.ForEachTopic([&](const std::string& name) {
        if (RE2::FullMatch(name, re)) out.insert(name);
      });
    }
  }
  return out;
}

std::set<std::string> GroupShard::SubscribedTopics(const Group& g,
                                                   const TopicCatalog& topics) const {
  std::set<std::string> out;
  for (const auto& [id, m] : g.members) {
    std::set<std::string> mine = SubscribedTopics(m.value, topics);
    out.insert(mine.begin(), mine.end());
  }
  return out;
}

GroupShard::Group* GroupShard::Find(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second;
}

const GroupShard::Group* GroupShard::Find(const std::string& id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second;
}

GroupShard::Group& GroupShard::GetOrCreate(const std::string& group_id, v1::GroupType type) {
  auto [it, inserted] = groups_.try_emplace(group_id);
  if (inserted) {
    it->second.id = group_id;
    it->second.type = type == v1::GROUP_TYPE_UNSPECIFIED ? v1::GROUP_TYPE_CONSUMER : type;
  }
  return it->second;
}

void GroupShard::MaybeErase(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  const Group& g = it->second;
  if (!g.has_value && g.members.empty() && g.offsets.empty()) groups_.erase(it);
}

GroupStateName GroupShard::StateOf(const Group& g) const {
  if (g.members.empty()) return GroupStateName::kEmpty;
  if (g.value.group_epoch() > g.value.assignment_epoch()) return GroupStateName::kAssigning;
  for (const auto& [id, m] : g.members) {
    if (m.value.state() != v1::MEMBER_STATE_STABLE ||
        m.value.member_epoch() != g.value.assignment_epoch()) {
      return GroupStateName::kReconciling;
    }
  }
  return GroupStateName::kStable;
}

// ---------------------------------------------------------------- replay

absl::Status GroupShard::Replay(const GroupRecord& record) {
  std::optional<std::string_view> value;
  if (record.value) value = *record.value;
  auto decoded = DecodeGroupRecord(record.key, value);
  if (!decoded.ok()) return decoded.status();
  const v1::GroupRecordKey& key = decoded->key;
  const std::string group_id(GroupOfKey(key));
  switch (key.key_case()) {
    case v1::GroupRecordKey::kOffset: {
      TopicPartition tp(key.offset().topic(), key.offset().partition());
      if (decoded->tombstone) {
        if (Group* g = Find(group_id)) g->offsets.erase(tp);
      } else {
        GetOrCreate(group_id, decoded->offset->group_type()).offsets[tp] = *decoded->offset;
      }
      break;
    }
    case v1::GroupRecordKey::kGroup: {
      if (decoded->tombstone) {
        if (Group* g = Find(group_id)) {
          g->has_value = false;
          g->value.Clear();
        }
      } else {
        Group& g = GetOrCreate(group_id, decoded->group->group_type());
        g.has_value = true;
        g.value = *decoded->group;
        g.type = g.value.group_type();
      }
      break;
    }
    case v1::GroupRecordKey::kMember: {
      const std::string& member_id = key.member().member_id();
      if (decoded->tombstone) {
        if (Group* g = Find(group_id)) g->members.erase(member_id);
        timers_.erase({group_id, member_id});
      } else {
        Group& g = GetOrCreate(group_id, decoded->member->group_type());
        Member& m = g.members[member_id];
        m.value = *decoded->member;
        m.assigned = ToSet(m.value.assigned());
        m.pending = ToSet(m.value.pending_revocation());
        m.target = ToSet(m.value.target());
      }
      break;
    }
    case v1::GroupRecordKey::KEY_NOT_SET:
      return absl::InvalidArgumentError("group record key of no known kind");
  }
  MaybeErase(group_id);
  return absl::OkStatus();
}

void GroupShard::ResetTimers(int64_t now_ms) {
  timers_.clear();
  for (const auto& [gid, g] : groups_) {
    for (const auto& [mid, m] : g.members) {
      Timers& t = timers_[{gid, mid}];
      t.session_deadline_ms = now_ms + config_.session_timeout_ms;
      if (m.value.state() == v1::MEMBER_STATE_UNREVOKED_PARTITIONS) {
        t.revocation_deadline_ms = now_ms + m.value.rebalance_timeout_ms();
      }
    }
  }
}

// ---------------------------------------------------------------- working copy

// One operation's copy of a group's membership and the changes it made, turned into records.
struct GroupShard::Work {
  std::string group_id;
  bool exists = false;  // the group has a GroupValue already
  v1::GroupValue value;
  bool value_changed = false;
  std::map<std::string, Member> members;
  std::set<std::string> changed;
  std::set<std::string> removed;

  void Touch(const std::string& id) {
    changed.insert(id);
    removed.erase(id);
  }
  void Remove(const std::string& id) {
    members.erase(id);
    removed.insert(id);
    changed.erase(id);
  }
  void BumpEpoch() {
    value.set_group_epoch(value.group_epoch() + 1);
    value_changed = true;
  }
  // Partition -> the member holding it (assigned or pending revocation), except `except`.
  std::map<TopicPartition, std::string> Owners(const std::string& except) const {
    std::map<TopicPartition, std::string> out;
    for (const auto& [id, m] : members) {
      if (id == except) continue;
      for (const auto& tp : m.assigned) out.emplace(tp, id);
      for (const auto& tp : m.pending) out.emplace(tp, id);
    }
    return out;
  }
  std::vector<GroupRecord> Records() {
    std::vector<GroupRecord> out;
    for (const std::string& id : removed) out.push_back(MemberRecord(group_id, id, nullptr));
    for (const std::string& id : changed) {
      Member& m = members.at(id);
      FromSet(m.assigned, m.value.mutable_assigned());
      FromSet(m.pending, m.value.mutable_pending_revocation());
      FromSet(m.target, m.value.mutable_target());
      out.push_back(MemberRecord(group_id, id, &m.value));
    }
    if (value_changed) out.push_back(GroupMetadataRecord(group_id, &value));
    return out;
  }
};

// ---------------------------------------------------------------- heartbeat

GroupShard::Refusal GroupShard::CheckHeartbeat(const v1::ConsumerGroupHeartbeatRequest& req) const {
  auto refuse = [](KafkaError code, std::string message) {
    return Refusal(std::in_place, code, std::move(message));
  };
  const std::string& gid = req.group_id();
  const std::string& mid = req.member_id();
  const int32_t epoch = req.member_epoch();
  const size_t id_max = static_cast<size_t>(config_.id_max_bytes);
  if (gid.empty() || gid.size() > id_max) {
    return refuse(KafkaError::kInvalidGroupId,
                  fmt::format("group id must be 1 to {} bytes", config_.id_max_bytes));
  }
  if (mid.size() > id_max || req.instance_id().size() > id_max || req.rack_id().size() > id_max ||
      req.client_id().size() > id_max) {
    return refuse(KafkaError::kInvalidRequest,
                  fmt::format("member id, instance id, rack and client id are at most {} bytes",
                              config_.id_max_bytes));
  }
  if (epoch < -2) {
    return refuse(KafkaError::kInvalidRequest, fmt::format("member epoch {} is invalid", epoch));
  }
  if (mid.empty()) {
    // KIP-1082: the member picks its id (a random UUID) once and keeps it for its lifetime.
    return refuse(KafkaError::kInvalidRequest, "member id is empty: the member chooses its id");
  }
  if (epoch == -2 && req.instance_id().empty()) {
    return refuse(KafkaError::kInvalidRequest,
                  "only static members (with an instance id) leave temporarily (epoch -2)");
  }
  if (req.subscribed_topic_names_size() > config_.subscribed_topics_max) {
    return refuse(KafkaError::kInvalidRequest,
                  fmt::format("at most {} subscribed topic names", config_.subscribed_topics_max));
  }
  for (const std::string& t : req.subscribed_topic_names()) {
    if (t.empty() || t.size() > 249) {
      return refuse(KafkaError::kInvalidRequest, "subscribed topic names are 1 to 249 bytes");
    }
  }
  if (req.subscribed_topic_regex().size() > kRegexMaxBytes) {
    return refuse(KafkaError::kInvalidRequest,
                  fmt::format("the subscription regex is at most {} bytes", kRegexMaxBytes));
  }
  if (!req.subscribed_topic_regex().empty()) {
    RE2 re(req.subscribed_topic_regex(), RE2::Quiet);
    if (!re.ok()) {
      return refuse(KafkaError::kInvalidRequest,
                    fmt::format("invalid subscription regex '{}': {}", req.subscribed_topic_regex(),
                                re.error()));
    }
  }
  if (epoch == 0 && req.subscribed_topic_names_size() == 0 &&
      req.subscribed_topic_regex().empty()) {
    return refuse(KafkaError::kInvalidRequest,
                  "a joining member subscribes to topic names or a regex");
  }
  if (!req.server_assignor().empty() && AssignorByName(req.server_assignor()) == nullptr) {
    return refuse(KafkaError::kUnsupportedAssignor,
                  fmt::format("no server assignor '{}' (uniform, range)", req.server_assignor()));
  }
  if (req.rebalance_timeout_ms() < 0) {
    return refuse(KafkaError::kInvalidRequest, "rebalance timeout is negative");
  }
  if (req.owned_size() > 0) {
    size_t owned = 0;
    for (const auto& tps : req.owned()) owned += static_cast<size_t>(tps.partitions_size());
    if (owned > kOwnedMax) return refuse(KafkaError::kInvalidRequest, "too many owned partitions");
  }
  return std::nullopt;
}

void GroupShard::Leave(Work& w, const std::string& member_id, int32_t epoch, int64_t now_ms) {
  auto it = w.members.find(member_id);
  if (it == w.members.end()) return;  // already gone: done
  if (epoch == -1) {
    w.Remove(member_id);
    w.BumpEpoch();
  } else {
    it->second.value.set_left_temporarily(true);
    w.Touch(member_id);
    timers_[{w.group_id, member_id}] = Timers{now_ms + config_.session_timeout_ms, -1};
  }
}

GroupShard::Refusal GroupShard::Join(Work& w, const v1::ConsumerGroupHeartbeatRequest& req,
                                     bool* group_changed) {
  const std::string& member_id = req.member_id();
  const Member* previous_static = nullptr;
  std::string previous_static_id;
  if (!req.instance_id().empty()) {
    for (const auto& [id, m] : w.members) {
      if (m.value.instance_id() == req.instance_id()) {
        previous_static = &m;
        previous_static_id = id;
        break;
      }
    }
  }
  if (previous_static != nullptr && previous_static_id != member_id) {
    if (!previous_static->value.left_temporarily()) {
      return Refusal(std::in_place, KafkaError::kUnreleasedInstanceId,
                     fmt::format("instance id '{}' is held by member '{}', which has not left; "
                                 "it must leave or its session lapse first",
                                 req.instance_id(), previous_static_id));
    }
    // The static member comes back: the new member id takes over its epoch and partitions.
    Member m = *previous_static;
    m.value.set_left_temporarily(false);
    w.Remove(previous_static_id);
    w.members[member_id] = std::move(m);
    w.Touch(member_id);
    timers_.erase({w.group_id, previous_static_id});
  } else if (auto it = w.members.find(member_id); it != w.members.end()) {
    // A member rejoining (after being fenced, or retrying its join): it holds nothing now.
    Member& m = it->second;
    m.assigned.clear();
    m.pending.clear();
    m.value.set_member_epoch(0);
    m.value.set_previous_member_epoch(0);
    m.value.set_state(v1::MEMBER_STATE_STABLE);
    m.value.set_left_temporarily(false);
    w.Touch(member_id);
  } else {
    if (w.members.size() >= static_cast<size_t>(config_.max_size)) {
      return Refusal(std::in_place, KafkaError::kGroupMaxSizeReached,
                     fmt::format("group '{}' has reached its maximum of {} members "
                                 "(group.consumer.max.size)",
                                 w.group_id, config_.max_size));
    }
    Member m;
    m.value.set_group_type(v1::GROUP_TYPE_CONSUMER);
    m.value.set_state(v1::MEMBER_STATE_STABLE);
    m.value.set_session_timeout_ms(config_.session_timeout_ms);
    w.members[member_id] = std::move(m);
    w.Touch(member_id);
    *group_changed = true;  // a new member changes the group
  }
  return std::nullopt;
}

GroupShard::Refusal GroupShard::CheckMemberEpoch(const Member& m, const std::string& member_id,
                                                 int32_t epoch, const PartitionSet& owned) {
  if (epoch <= 0) return std::nullopt;
  if (m.value.left_temporarily()) {
    return Refusal(std::in_place, KafkaError::kFencedMemberEpoch,
                   fmt::format("member '{}' left temporarily; it rejoins with epoch 0", member_id));
  }
  // The previous epoch is accepted while the member owns no more than it was given (its answer
  // to the epoch bump may have been lost).
  const bool previous_ok =
      epoch == m.value.previous_member_epoch() &&
      std::includes(m.assigned.begin(), m.assigned.end(), owned.begin(), owned.end());
  if (epoch != m.value.member_epoch() && !previous_ok) {
    return Refusal(std::in_place, KafkaError::kFencedMemberEpoch,
                   fmt::format("member '{}' sent epoch {} but is at epoch {}; it must rejoin",
                               member_id, epoch, m.value.member_epoch()));
  }
  return std::nullopt;
}

bool GroupShard::UpdateMember(Work& w, Member& m, const std::string& member_id,
                              const v1::ConsumerGroupHeartbeatRequest& req) {
  bool assignment_inputs_changed = false;
  std::vector<std::string> names(req.subscribed_topic_names().begin(),
                                 req.subscribed_topic_names().end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const bool has_subscription = !names.empty() || !req.subscribed_topic_regex().empty();
  v1::MemberValue& v = m.value;
  auto set_string = [&](const std::string& now, std::string* field, bool affects_assignment) {
    if (*field == now) return;
    *field = now;
    w.Touch(member_id);
    if (affects_assignment) assignment_inputs_changed = true;
  };
  // A heartbeat without a subscription (not a join) keeps the one the member has.
  if (has_subscription) {
    std::vector<std::string> current(v.subscribed_topics().begin(), v.subscribed_topics().end());
    if (current != names) {
      v.mutable_subscribed_topics()->Assign(names.begin(), names.end());
      w.Touch(member_id);
      assignment_inputs_changed = true;
    }
    set_string(req.subscribed_topic_regex(), v.mutable_subscribed_regex(), true);
  }
  set_string(req.server_assignor(), v.mutable_server_assignor(), true);
  set_string(req.rack_id(), v.mutable_rack(), true);
  set_string(req.instance_id(), v.mutable_instance_id(), false);
  set_string(req.client_id(), v.mutable_client_id(), false);
  const int32_t rebalance_timeout =
      req.rebalance_timeout_ms() > 0 ? req.rebalance_timeout_ms() : kDefaultRebalanceTimeoutMs;
  if (v.rebalance_timeout_ms() != rebalance_timeout) {
    v.set_rebalance_timeout_ms(rebalance_timeout);
    w.Touch(member_id);
  }
  return assignment_inputs_changed;
}

GroupShard::Subscriptions GroupShard::UpdateSubscriptionMetadata(Work& w,
                                                                 const TopicCatalog& topics,
                                                                 bool epoch_bumped) const {
  Subscriptions out;
  for (const auto& [id, member] : w.members) {
    out.by_member[id] = SubscribedTopics(member.value, topics);
    out.topics.insert(out.by_member[id].begin(), out.by_member[id].end());
  }
  Fnv digest;
  for (const std::string& t : out.topics) {
    const TopicInfo* info = topics.Find(t);
    if (info == nullptr) continue;
    digest.Add(t);
    digest.Add(info->topic_id);
    digest.Add(static_cast<int64_t>(info->partition_count));
    for (const auto& racks : info->partition_racks) {
      for (const auto& r : racks) digest.Add(r);
      digest.Add(int64_t{-1});
    }
  }
  if (digest.value() != w.value.subscription_metadata_digest()) {
    w.value.set_subscription_metadata_digest(digest.value());
    if (!epoch_bumped) w.BumpEpoch();
    w.value_changed = true;
  }
  return out;
}

GroupShard::Refusal GroupShard::ComputeTargetAssignment(Work& w, const Subscriptions& subscriptions,
                                                        const TopicCatalog& topics) const {
  // The assignor most members name, else the default.
  std::map<std::string, int> votes;
  for (const auto& [id, member] : w.members) {
    if (!member.value.server_assignor().empty()) ++votes[member.value.server_assignor()];
  }
  std::string assignor_name(kDefaultAssignorName);
  int best = 0;
  for (const auto& [name, count] : votes) {
    if (count > best) {
      best = count;
      assignor_name = name;
    }
  }
  const PartitionAssignor* assignor = AssignorByName(assignor_name);
  AssignmentSpec spec;
  for (const auto& [id, member] : w.members) {
    MemberSpec ms;
    ms.member_id = id;
    if (!member.value.rack().empty()) ms.rack = member.value.rack();
    ms.subscribed_topics = subscriptions.by_member.at(id);
    for (const auto& [topic, partition] : member.target) ms.current[topic].push_back(partition);
    spec.members.push_back(std::move(ms));
  }
  for (const std::string& t : subscriptions.topics) {
    const TopicInfo* info = topics.Find(t);
    if (info == nullptr) continue;
    TopicSpec ts;
    ts.partition_count = info->partition_count;
    if (static_cast<int32_t>(info->partition_racks.size()) == info->partition_count) {
      ts.partition_racks = info->partition_racks;
    }
    spec.topics[t] = std::move(ts);
  }
  auto assignment = assignor->Assign(spec, config_.assignment);
  if (!assignment.ok()) {
    return Refusal(std::in_place, KafkaError::kInvalidRequest,
                   fmt::format("group '{}': cannot compute an assignment: {}", w.group_id,
                               std::string(assignment.status().message())));
  }
  for (auto& [id, member] : w.members) {
    PartitionSet target;
    auto found = assignment->find(id);
    if (found != assignment->end()) {
      for (const auto& [topic, partitions] : found->second) {
        for (int32_t p : partitions) target.emplace(topic, p);
      }
    }
    if (target != member.target) {
      member.target = std::move(target);
      w.Touch(id);
    }
  }
  w.value.set_assignment_epoch(w.value.group_epoch());
  w.value.set_assignor(assignor_name);
  w.value_changed = true;
  return std::nullopt;
}

GroupShard::Reconciled GroupShard::Reconcile(Work& w, Member& m, const std::string& member_id,
                                             const PartitionSet& owned) {
  const int32_t assignment_epoch = w.value.assignment_epoch();
  v1::MemberValue& v = m.value;
  Reconciled out;
  out.revoking = v.state() == v1::MEMBER_STATE_UNREVOKED_PARTITIONS;
  if (out.revoking) {
    bool still_owned = false;
    for (const auto& tp : m.pending) still_owned = still_owned || owned.count(tp) != 0;
    if (!still_owned) {
      m.pending.clear();
      v.set_state(v1::MEMBER_STATE_STABLE);
      out.revoking = false;
      w.Touch(member_id);
    }
  }
  if (out.revoking ||
      (v.member_epoch() == assignment_epoch && v.state() == v1::MEMBER_STATE_STABLE)) {
    return out;
  }
  // What the target no longer holds goes. What the member does not report owning goes at once:
  // it never took it (the answer that gave it was lost) or has dropped it already; it acts only
  // on the answer to its latest request, so it will not take it later either.
  PartitionSet revoke;
  for (auto held = m.assigned.begin(); held != m.assigned.end();) {
    if (m.target.count(*held) != 0) {
      ++held;
    } else if (owned.count(*held) == 0) {
      held = m.assigned.erase(held);
    } else {
      revoke.insert(*held);
      ++held;
    }
  }
  if (!revoke.empty()) {
    for (const auto& tp : revoke) m.assigned.erase(tp);
    m.pending = std::move(revoke);
    v.set_state(v1::MEMBER_STATE_UNREVOKED_PARTITIONS);
    out.revoking = true;
    out.revocation_started = true;
  } else {
    // What another member still holds waits for it to be released.
    const auto owners = w.Owners(member_id);
    bool unreleased = false;
    for (const auto& tp : m.target) {
      if (m.assigned.count(tp) != 0) continue;
      if (owners.count(tp) != 0) {
        unreleased = true;
      } else {
        m.assigned.insert(tp);
      }
    }
    v.set_state(unreleased ? v1::MEMBER_STATE_UNRELEASED_PARTITIONS : v1::MEMBER_STATE_STABLE);
    if (v.member_epoch() != assignment_epoch) {
      v.set_previous_member_epoch(v.member_epoch());
      v.set_member_epoch(assignment_epoch);
    }
  }
  w.Touch(member_id);
  return out;
}

GroupResult<v1::ConsumerGroupHeartbeatResponse> GroupShard::Heartbeat(
    const v1::ConsumerGroupHeartbeatRequest& req, int64_t now_ms, const TopicCatalog& topics) {
  using Result = GroupResult<v1::ConsumerGroupHeartbeatResponse>;
  auto fail = [](const std::pair<KafkaError, std::string>& refusal) {
    return Fail<v1::ConsumerGroupHeartbeatResponse>(refusal.first, refusal.second);
  };
  if (Refusal refused = CheckHeartbeat(req)) return fail(*refused);
  const std::string& gid = req.group_id();
  const std::string& member_id = req.member_id();
  const int32_t epoch = req.member_epoch();
  const PartitionSet owned = ToSet(req.owned());

  Group* existing = Find(gid);
  if (existing != nullptr && existing->type != v1::GROUP_TYPE_CONSUMER) {
    return fail(
        {KafkaError::kGroupIdNotFound, fmt::format("group '{}' is a {} group, not a consumer group",
                                                   gid, TypeString(existing->type))});
  }
  if (existing == nullptr && epoch != 0) {
    if (epoch < 0) {  // leaving a group that is gone: done
      Result out;
      out.response.set_member_id(member_id);
      out.response.set_member_epoch(epoch);
      return out;
    }
    return fail(
        {KafkaError::kUnknownMemberId,
         fmt::format("group '{}' has no member '{}' (the group does not exist)", gid, member_id)});
  }
  if (existing == nullptr && groups_.size() >= static_cast<size_t>(config_.groups_max)) {
    return fail({KafkaError::kPolicyViolation,
                 fmt::format("this coordinator partition holds the maximum of {} groups "
                             "(strand.group.coordinator.groups.max)",
                             config_.groups_max)});
  }

  Work w;
  w.group_id = gid;
  if (existing != nullptr) {
    w.exists = existing->has_value;
    w.value = existing->value;
    w.members = existing->members;
  }
  if (!w.exists) {
    w.value.set_group_type(v1::GROUP_TYPE_CONSUMER);
    w.value.set_created_ms(now_ms);
    w.value_changed = true;
  }

  Result out;
  if (epoch == -1 || epoch == -2) {
    Leave(w, member_id, epoch, now_ms);
    out.response.set_member_id(member_id);
    out.response.set_member_epoch(epoch);
    out.records = w.Records();
    return out;
  }
  bool group_changed = false;
  if (epoch == 0) {
    if (Refusal refused = Join(w, req, &group_changed)) return fail(*refused);
  }
  auto it = w.members.find(member_id);
  if (it == w.members.end()) {
    return fail({KafkaError::kUnknownMemberId,
                 fmt::format("group '{}' has no member '{}'", gid, member_id)});
  }
  Member& m = it->second;
  if (Refusal refused = CheckMemberEpoch(m, member_id, epoch, owned)) return fail(*refused);
  if (UpdateMember(w, m, member_id, req)) group_changed = true;
  if (group_changed) w.BumpEpoch();
  const Subscriptions subscriptions = UpdateSubscriptionMetadata(w, topics, group_changed);
  if (w.value.group_epoch() > w.value.assignment_epoch()) {
    if (Refusal refused = ComputeTargetAssignment(w, subscriptions, topics)) {
      return fail(*refused);
    }
  }
  const Reconciled reconciled = Reconcile(w, m, member_id, owned);

  Timers& timers = timers_[{gid, member_id}];
  timers.session_deadline_ms = now_ms + config_.session_timeout_ms;
  if (!reconciled.revoking) {
    timers.revocation_deadline_ms = -1;
  } else if (reconciled.revocation_started || timers.revocation_deadline_ms < 0) {
    timers.revocation_deadline_ms = now_ms + m.value.rebalance_timeout_ms();
  }

  out.response.set_member_id(member_id);
  out.response.set_member_epoch(m.value.member_epoch());
  out.response.set_heartbeat_interval_ms(config_.heartbeat_interval_ms);
  out.response.set_session_timeout_ms(config_.session_timeout_ms);
  FromSet(m.assigned, out.response.mutable_assignment());
  out.records = w.Records();
  return out;
}

// ---------------------------------------------------------------- expiry

std::vector<GroupRecord> GroupShard::ExpireMembers(int64_t now_ms,
                                                   std::vector<std::string>* expired) {
  std::vector<GroupRecord> out;
  for (const auto& [gid, g] : groups_) {
    Work w;
    bool any = false;
    for (const auto& [mid, m] : g.members) {
      Timers& t = timers_[{gid, mid}];
      if (t.session_deadline_ms < 0) t.session_deadline_ms = now_ms + config_.session_timeout_ms;
      const bool session_lapsed = now_ms > t.session_deadline_ms;
      const bool revocation_lapsed = m.value.state() == v1::MEMBER_STATE_UNREVOKED_PARTITIONS &&
                                     t.revocation_deadline_ms >= 0 &&
                                     now_ms > t.revocation_deadline_ms;
      if (!session_lapsed && !revocation_lapsed) continue;
      if (!any) {
        w.group_id = gid;
        w.exists = g.has_value;
        w.value = g.value;
        w.members = g.members;
        any = true;
      }
      w.Remove(mid);
      if (expired != nullptr) {
        expired->push_back(fmt::format("{}/{} ({})", gid, mid,
                                       session_lapsed ? "session timed out"
                                                      : "did not revoke within its rebalance "
                                                        "timeout"));
      }
    }
    if (!any) continue;
    w.BumpEpoch();
    for (auto& r : w.Records()) out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------- reads

std::vector<v1::ListedGroup> GroupShard::ListGroups() const {
  std::vector<v1::ListedGroup> out;
  for (const auto& [gid, g] : groups_) {
    v1::ListedGroup l;
    l.set_group_id(gid);
    l.set_type(TypeString(g.type));
    l.set_state(std::string(GroupStateString(StateOf(g))));
    l.set_members(static_cast<int32_t>(g.members.size()));
    out.push_back(std::move(l));
  }
  return out;
}

v1::DescribedGroup GroupShard::Describe(const std::string& group_id) const {
  v1::DescribedGroup out;
  out.set_group_id(group_id);
  const Group* g = Find(group_id);
  if (g == nullptr) {
    SetKafkaError(out.mutable_error(), KafkaError::kGroupIdNotFound,
                  fmt::format("no group '{}'", group_id));
    out.set_state("Dead");
    return out;
  }
  out.set_type(TypeString(g->type));
  out.set_state(std::string(GroupStateString(StateOf(*g))));
  out.set_group_epoch(g->value.group_epoch());
  out.set_assignment_epoch(g->value.assignment_epoch());
  out.set_assignor(g->value.assignor());
  std::map<TopicPartition, std::string> owner;
  for (const auto& [mid, m] : g->members) {
    auto* d = out.add_members();
    d->set_member_id(mid);
    d->set_instance_id(m.value.instance_id());
    d->set_client_id(m.value.client_id());
    d->set_client_host(m.value.client_host());
    d->set_rack(m.value.rack());
    d->set_member_epoch(m.value.member_epoch());
    d->set_state(m.value.left_temporarily() ? "left_temporarily"
                                            : MemberStateString(m.value.state()));
    *d->mutable_subscribed_topics() = m.value.subscribed_topics();
    d->set_subscribed_regex(m.value.subscribed_regex());
    FromSet(m.assigned, d->mutable_assignment());
    FromSet(m.target, d->mutable_target());
    FromSet(m.pending, d->mutable_pending_revocation());
    for (const auto& tp : m.assigned) owner[tp] = mid;
  }
  for (const auto& [tp, v] : g->offsets) {
    auto* l = out.add_offsets();
    l->set_topic(tp.first);
    l->set_partition(tp.second);
    l->set_committed(v.offset());
    l->set_high_watermark(-1);
    l->set_lag(-1);
    l->set_metadata(v.metadata());
    auto it = owner.find(tp);
    if (it != owner.end()) l->set_owner(it->second);
  }
  // Owned partitions with nothing committed yet.
  for (const auto& [tp, mid] : owner) {
    if (g->offsets.count(tp) != 0) continue;
    auto* l = out.add_offsets();
    l->set_topic(tp.first);
    l->set_partition(tp.second);
    l->set_committed(-1);
    l->set_high_watermark(-1);
    l->set_lag(-1);
    l->set_owner(mid);
  }
  return out;
}

std::map<TopicPartition, int64_t> GroupShard::CommittedOffsets(const std::string& group_id) const {
  std::map<TopicPartition, int64_t> out;
  if (const Group* g = Find(group_id)) {
    for (const auto& [tp, v] : g->offsets) out[tp] = v.offset();
  }
  return out;
}

std::vector<std::string> GroupShard::GroupIds() const {
  std::vector<std::string> out;
  for (const auto& [gid, g] : groups_) out.push_back(gid);
  return out;
}

std::vector<std::string> GroupShard::OwnershipViolations() const {
  std::vector<std::string> out;
  for (const auto& [gid, g] : groups_) {
    std::map<TopicPartition, std::string> seen;
    for (const auto& [mid, m] : g.members) {
      for (const PartitionSet* set : {&m.assigned, &m.pending}) {
        for (const auto& tp : *set) {
          auto [it, inserted] = seen.emplace(tp, mid);
          if (!inserted) {
            out.push_back(fmt::format("group {}: {}-{} held by {} and {}", gid, tp.first, tp.second,
                                      it->second, mid));
          }
        }
      }
    }
  }
  return out;
}

std::string GroupShard::DebugString() const {
  std::string out;
  for (const auto& [gid, g] : groups_) {
    out += fmt::format("group {} type={} has_value={} {}\n", gid, TypeString(g.type), g.has_value,
                       g.value.ShortDebugString());
    for (const auto& [mid, m] : g.members) {
      out += fmt::format("  member {} {}\n", mid, m.value.ShortDebugString());
    }
    for (const auto& [tp, v] : g.offsets) {
      out += fmt::format("  offset {}-{} {}\n", tp.first, tp.second, v.ShortDebugString());
    }
  }
  return out;
}

}  // namespace strand::broker::group
