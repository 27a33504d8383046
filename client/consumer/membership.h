#pragma once

// Membership: one consumer's membership in its group under the consumer protocol (KIP-848), as a
// state machine without threads, clocks or I/O. The heartbeat driver (GroupMember) asks it what
// to send and when and tells it what came back; the polling thread asks it what to reconcile
// (PendingWork) and tells it what the application has let go of or taken.
//
// States:
//   kNotMember  not subscribed, or left (Unsubscribe, Close): no heartbeats.
//   kJoining    subscribed; heartbeats carry member epoch 0 until the coordinator gives one.
//   kMember     has an epoch; heartbeats every interval the coordinator names. The assignment of
//               the last answer is the target: what owned lacks is to be assigned, what owned
//               has beyond it is to be revoked, both by the polling thread.
//   kLost       fenced (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) or gone for a late Poll (the
//               poll timer): the owned partitions may already be someone else's. No heartbeats
//               until the polling thread drops them (CompleteLost), then kJoining at epoch 0.
//   kFatal      a fatal error (GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR, INVALID_GROUP_ID,
//               GROUP_AUTHORIZATION_FAILED, ...): no heartbeats; Poll reports it until the next
//               Subscribe or Unsubscribe.
//
// The ordering rule this class exists for: `owned` (what every heartbeat reports) changes only
// through the polling thread's Complete* calls, so the coordinator hears that a partition was
// released only after the application committed it and heard OnPartitionsRevoked — a partition
// is never consumed by two members at once.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/common/backoff.h"
#include "proto/group/v1/group.pb.h"
#include "strand/record.h"

namespace strand::client {

enum class MemberState { kNotMember, kJoining, kMember, kLost, kFatal };
std::string_view MemberStateName(MemberState state);

struct MembershipConfig {
  std::string group_id;
  std::string member_id;                   // made once per consumer (KIP-1082)
  std::string instance_id;                 // group.instance.id: static member
  std::string rack_id;                     // client.rack
  int32_t rebalance_timeout_ms = 300'000;  // max.poll.interval.ms
  std::string server_assignor;             // group.remote.assignor; "" the broker's default
  std::string client_id;
  int64_t retry_backoff_ms = 100;
  int64_t retry_backoff_max_ms = 1'000;
};

// Member epochs with a meaning of their own (KIP-848).
inline constexpr int32_t kJoinEpoch = 0;
inline constexpr int32_t kLeaveEpoch = -1;
inline constexpr int32_t kLeaveTemporarilyEpoch = -2;  // static members

class Membership {
 public:
  explicit Membership(MembershipConfig config);

  // ---- The subscription (polling thread).
  // Topics or a regex (exactly one non-empty). Joins at epoch 0 when not a member (or after a
  // fatal error); a member heartbeats at once with the new subscription.
  void Subscribe(std::vector<std::string> topics, std::string regex);
  // The heartbeat that leaves (epoch -1, or -2 for a static member when `temporarily`), or
  // nullopt when the coordinator never counted this member. The member becomes kNotMember;
  // owned is kept until the caller drops it (CompleteLost / CompleteRevocation).
  std::optional<group::v1::ConsumerGroupHeartbeatRequest> Leave(bool temporarily);
  // The poll timer expired: the leave heartbeat (epoch -1) if there is an epoch to give up; the
  // member becomes kLost (Poll reports its partitions lost and rejoins).
  std::optional<group::v1::ConsumerGroupHeartbeatRequest> LeaveForPollTimeout();

  // ---- Heartbeats (driver thread).
  bool HeartbeatDue(int64_t now_ms) const;
  // When the next one is due (INT64_MAX: none to send in this state).
  int64_t next_heartbeat_ms() const;
  // The full state, as every heartbeat carries it; marks it sent (at `now_ms`, for the lease) in
  // the current session.
  group::v1::ConsumerGroupHeartbeatRequest BuildHeartbeat(int64_t now_ms = 0);
  // The lease: the coordinator may have removed this member once its session timeout has passed
  // since the send of the last heartbeat it answered, or its rebalance timeout since the first
  // heartbeat sent after the last answer that asked it to revoke nothing (any since may have
  // started a revocation whose answer was lost). Past either, a member that owns partitions
  // becomes kLost (they may be someone else's already); returns true then. tests/sim/group_world
  // checks these rules keep two members from owning one partition.
  bool CheckLease(int64_t now_ms);
  // When CheckLease may next find the lease lapsed (INT64_MAX: no lease to watch).
  int64_t lease_deadline_ms() const;
  // A session number that changes whenever an answer in flight stops being relevant (a leave, a
  // rejoin); OnHeartbeatAnswer ignores answers from another session.
  uint64_t session() const { return session_; }
  void OnHeartbeatAnswer(uint64_t session,
                         const absl::StatusOr<group::v1::ConsumerGroupHeartbeatResponse>& answer,
                         int64_t now_ms);
  // Heartbeat at once (the owned set or the subscription changed).
  void HeartbeatNow() {
    next_heartbeat_ms_ = 0;
    heartbeat_requested_ = true;
  }

  // ---- Reconciliation (polling thread).
  struct Work {
    bool lost = false;                    // drop `owned` without committing, then CompleteLost
    std::vector<TopicPartition> owned;    // for `lost`: what to report lost
    std::vector<TopicPartition> revoked;  // owned - target
    std::vector<TopicPartition> added;    // target - owned
    absl::Status fatal;                   // kFatal: Poll's error
  };
  Work PendingWork() const;
  // The lost partitions were dropped: owned is empty; kLost rejoins (epoch 0, heartbeat now).
  void CompleteLost();
  // The application let go of these (committed, OnPartitionsRevoked): the next heartbeat, sent
  // at once, reports owned without them.
  void CompleteRevocation(const std::vector<TopicPartition>& revoked);
  // The application took these (positions set, OnPartitionsAssigned).
  void CompleteAssignment(const std::vector<TopicPartition>& added);

  MemberState state() const { return state_; }
  const std::string& member_id() const { return config_.member_id; }
  int32_t member_epoch() const { return member_epoch_; }
  const std::set<TopicPartition>& owned() const { return owned_; }
  const std::set<TopicPartition>& target() const { return target_; }
  bool subscribed() const { return !topics_.empty() || !regex_.empty(); }
  // Answers applied (successful or not), for waiting on "the next heartbeat".
  uint64_t answers() const { return answers_; }

 private:
  void Fail(absl::Status fatal);
  void BeLost();
  void RetryLater(int64_t now_ms);

  MembershipConfig config_;
  MemberState state_ = MemberState::kNotMember;
  int32_t member_epoch_ = kJoinEpoch;
  std::vector<std::string> topics_;
  std::string regex_;
  std::set<TopicPartition> owned_;
  std::set<TopicPartition> target_;
  int64_t next_heartbeat_ms_ = 0;
  int32_t heartbeat_interval_ms_ = 0;  // from the last answer
  bool in_flight_ = false;
  bool heartbeat_requested_ = false;  // HeartbeatNow while one was in flight
  Backoff backoff_;
  absl::Status fatal_;
  uint64_t session_ = 1;
  uint64_t answers_ = 0;
  // The lease (CheckLease).
  int64_t sent_ms_ = 0;                  // send time of the heartbeat in flight
  std::set<TopicPartition> reported_;    // its owned set
  int32_t session_timeout_ms_ = 0;       // the coordinator's, from its answers (0: unknown)
  int64_t lease_until_ms_ = -1;
  int64_t unclean_since_ms_ = -1;
};

}  // namespace strand::client
