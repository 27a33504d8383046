#pragma once

// GroupShard: the consumer groups of one `__consumer_offsets` partition, as a pure state machine
// (KIP-848). The coordinator that leads the partition owns one shard per partition it leads.
//
// Generate, then replay. Every operation reads the shard and returns the records that express
// its effect (GroupRecord, proto/group/v1/records.proto) together with its response; it changes
// nothing durable itself. The caller appends the records to the partition and replays them into
// the shard (Replay), in order, before the next operation; it answers once they are committed.
// Replaying the partition from its start into an empty shard rebuilds the same state, which is
// how a new coordinator loads. The one exception is soft state no record carries: each member's
// session and revocation deadlines, which operations update and a loaded shard restarts
// (ResetTimers), as Kafka does.
//
// Membership (ConsumerGroupHeartbeat):
//   - member epoch 0 joins (a static member with a known instance id takes over its previous
//     member's epoch and partitions), -1 leaves, -2 leaves temporarily (static members only);
//   - any change of membership, subscriptions or subscribed topics' metadata bumps the group
//     epoch; the next heartbeat computes the target assignment for it with the group's assignor
//     (the one most members ask for, else `uniform`);
//   - a member moves to the new epoch only after it has revoked every partition its target no
//     longer holds (it reports them gone in `owned`), and gets a partition only once no other
//     member holds it or still has it pending revocation: at no point do two members own one
//     partition;
//   - a member whose session lapses, or who does not revoke within its rebalance timeout, is
//     removed (ExpireMembers), freeing its partitions.
// Offsets: commits by a member at its current epoch, or, while the group has no members, by
// anyone (simple groups, admin resets); fetch, delete, and expiry for groups without members.
//
// Not thread-safe: the coordinator serializes everything on one shard.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "broker/group/assignor.h"
#include "broker/group/group_records.h"
#include "common/kafka_error.h"
#include "proto/group/v1/group.pb.h"
#include "proto/group/v1/records.pb.h"

namespace strand::broker::group {

using TopicPartition = std::pair<std::string, int32_t>;
using PartitionSet = std::set<TopicPartition>;

// What the shard needs to know about topics: from the broker's metadata image.
struct TopicInfo {
  std::string topic_id;  // distinguishes a re-created topic of the same name
  int32_t partition_count = 0;
  std::vector<std::set<std::string>> partition_racks;  // per partition; may be empty
};

class TopicCatalog {
 public:
  virtual ~TopicCatalog() = default;
  virtual const TopicInfo* Find(const std::string& topic) const = 0;
  // Every topic name (regex subscriptions), internal topics excluded.
  virtual void ForEachTopic(const std::function<void(const std::string&)>& fn) const = 0;
};

// A catalog held in a map (tests, the simulator; the coordinator builds one per call from the
// metadata image).
class MapTopicCatalog final : public TopicCatalog {
 public:
  std::map<std::string, TopicInfo> topics;
  const TopicInfo* Find(const std::string& topic) const override;
  void ForEachTopic(const std::function<void(const std::string&)>& fn) const override;
};

struct GroupConfig {
  int32_t session_timeout_ms = 45'000;                  // group.consumer.session.timeout.ms
  int32_t heartbeat_interval_ms = 5'000;                // group.consumer.heartbeat.interval.ms
  int32_t max_size = 1'000;                             // group.consumer.max.size
  int32_t offset_metadata_max_bytes = 4'096;            // offset.metadata.max.bytes
  int64_t offsets_retention_ms = 7 * 24 * 3'600'000LL;  // offsets.retention.minutes
  int32_t offsets_per_group_max = 100'000;              // strand.group.offsets.max
  int32_t groups_max = 100'000;            // strand.group.coordinator.groups.max (per shard)
  int32_t subscribed_topics_max = 10'000;  // names in one heartbeat
  int32_t id_max_bytes = 255;              // group, member and instance ids
  AssignmentLimits assignment;
};

// An operation's outcome: the records to append (possibly none) and the response to send once
// they are committed.
template <typename Response>
struct GroupResult {
  std::vector<GroupRecord> records;
  Response response;
};

// The state the describe and list calls show.
enum class GroupStateName { kEmpty, kAssigning, kReconciling, kStable };
std::string_view GroupStateString(GroupStateName s);

class GroupShard {
 public:
  explicit GroupShard(GroupConfig config) : config_(std::move(config)) {}

  const GroupConfig& config() const { return config_; }

  // ---- replay ----
  // Applies one record of the partition. A record of an unknown kind is an error (the shard is
  // not loaded); a tombstone of something unknown is fine.
  absl::Status Replay(const GroupRecord& record);
  // Restarts every member's session (a freshly loaded shard: as if each had just heartbeated).
  void ResetTimers(int64_t now_ms);

  // ---- operations ----
  GroupResult<v1::ConsumerGroupHeartbeatResponse> Heartbeat(
      const v1::ConsumerGroupHeartbeatRequest& request, int64_t now_ms, const TopicCatalog& topics);
  GroupResult<v1::OffsetCommitResponse> CommitOffsets(const v1::OffsetCommitRequest& request,
                                                      int64_t now_ms, const TopicCatalog& topics);
  v1::OffsetFetchResponse FetchOffsets(const v1::OffsetFetchRequest& request) const;
  // One group (the coordinator splits a multi-group request by shard).
  GroupResult<v1::DeletedGroup> DeleteGroup(const std::string& group_id);
  GroupResult<v1::OffsetDeleteResponse> DeleteOffsets(const v1::OffsetDeleteRequest& request,
                                                      const TopicCatalog& topics);
  // Members whose session lapsed or who did not revoke in time: removed. `expired` (may be
  // null) receives "group/member" for each.
  std::vector<GroupRecord> ExpireMembers(int64_t now_ms, std::vector<std::string>* expired);
  // Offsets of groups without members older than the retention; groups left with nothing are
  // deleted.
  std::vector<GroupRecord> ExpireOffsets(int64_t now_ms);

  // ---- reads ----
  bool HasGroup(const std::string& group_id) const { return groups_.count(group_id) != 0; }
  size_t group_count() const { return groups_.size(); }
  std::vector<v1::ListedGroup> ListGroups() const;
  // `group` filled except the coordinator and the partitions' high watermarks (lag).
  v1::DescribedGroup Describe(const std::string& group_id) const;
  // Committed offsets of a group (lag export): (topic, partition) -> offset.
  std::map<TopicPartition, int64_t> CommittedOffsets(const std::string& group_id) const;
  std::vector<std::string> GroupIds() const;
  // Every partition held (assigned or pending revocation) by more than one member; empty
  // always (an invariant the tests and the simulator check).
  std::vector<std::string> OwnershipViolations() const;
  // A canonical text of the whole durable state (tests: replayed equals generated).
  std::string DebugString() const;

 private:
  struct Member {
    v1::MemberValue value;
    PartitionSet assigned;
    PartitionSet pending;
    PartitionSet target;
  };
  // Soft state, per (group, member): not in any record.
  struct Timers {
    int64_t session_deadline_ms = -1;     // -1: starts at the next ExpireMembers
    int64_t revocation_deadline_ms = -1;  // set while the member must revoke
  };
  struct Group {
    std::string id;
    v1::GroupType type = v1::GROUP_TYPE_CONSUMER;
    bool has_value = false;
    v1::GroupValue value;
    std::map<std::string, Member> members;
    std::map<TopicPartition, v1::OffsetValue> offsets;
  };
  struct Work;  // one operation's working copy of a group and the records it produced
  using Refusal = std::optional<std::pair<KafkaError, std::string>>;
  // What the members of a group subscribe to, resolved against the topics that exist.
  struct Subscriptions {
    std::map<std::string, std::set<std::string>> by_member;
    std::set<std::string> topics;  // their union
  };
  struct Reconciled {
    bool revoking = false;            // the member must revoke partitions
    bool revocation_started = false;  // ... from this heartbeat on (its rebalance timeout starts)
  };

  // Heartbeat's steps, in order. The request's shape and limits:
  Refusal CheckHeartbeat(const v1::ConsumerGroupHeartbeatRequest& request) const;
  // Epoch -1 leaves (the group epoch moves on); -2 leaves temporarily (a static member keeps
  // its partitions for a session timeout).
  void Leave(Work& w, const std::string& member_id, int32_t epoch, int64_t now_ms);
  // Epoch 0: a new member, one rejoining after being fenced, or a static member coming back
  // under a new member id; sets *group_changed when the group's membership changed.
  Refusal Join(Work& w, const v1::ConsumerGroupHeartbeatRequest& request, bool* group_changed);
  // A positive epoch must be the member's, or its previous one while it owns no more than it
  // was given.
  static Refusal CheckMemberEpoch(const Member& m, const std::string& member_id, int32_t epoch,
                                  const PartitionSet& owned);
  // Subscription, assignor, rack, ids and rebalance timeout from the request; true when an
  // input of the assignment changed.
  static bool UpdateMember(Work& w, Member& m, const std::string& member_id,
                           const v1::ConsumerGroupHeartbeatRequest& request);
  // The members' subscribed topics; a change in those topics' metadata (ids, partition counts,
  // racks) bumps the group epoch unless `epoch_bumped` already.
  Subscriptions UpdateSubscriptionMetadata(Work& w, const TopicCatalog& topics,
                                           bool epoch_bumped) const;
  // A new target assignment for the group epoch, by the assignor most members name.
  Refusal ComputeTargetAssignment(Work& w, const Subscriptions& subscriptions,
                                  const TopicCatalog& topics) const;
  // Moves the member towards its target: first revoking what it loses, then taking what no
  // other member holds, and its epoch to the assignment epoch once it revokes nothing.
  static Reconciled Reconcile(Work& w, Member& m, const std::string& member_id,
                              const PartitionSet& owned);

  Group* Find(const std::string& id);
  const Group* Find(const std::string& id) const;
  GroupStateName StateOf(const Group& g) const;
  // The member epoch check of OffsetCommit (and the sort of error it gives).
  std::optional<std::pair<KafkaError, std::string>> CheckCommitter(
      const Group* g, const v1::OffsetCommitRequest& request) const;
  static PartitionSet ToSet(const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& tps);
  static void FromSet(const PartitionSet& set,
                      google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out);
  std::set<std::string> SubscribedTopics(const Group& g, const TopicCatalog& topics) const;
  std::set<std::string> SubscribedTopics(const v1::MemberValue& m,
                                         const TopicCatalog& topics) const;

  void MaybeErase(const std::string& group_id);
  Group& GetOrCreate(const std::string& group_id, v1::GroupType type);

  GroupConfig config_;
  std::map<std::string, Group> groups_;
  std::map<std::pair<std::string, std::string>, Timers> timers_;
};

}  // namespace strand::broker::group
