#include "client/consumer/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "client/logger.h"
#include "common/check.h"
#include "common/kafka_error.h"
#include "common/status.h"

namespace strand::client {
namespace {

// Until the coordinator names an interval (its default is 5 s).
constexpr int32_t kDefaultHeartbeatIntervalMs = 5'000;

// Errors after which the same heartbeat is sent again later.
bool RetryHeartbeat(KafkaError error) {
  switch (error) {
    case KafkaError::kUnreleasedInstanceId:  // the previous instance has not left yet
    case KafkaError::kStaleMemberEpoch:
    case KafkaError::kRebalanceInProgress:
      return true;
    default:
      return KafkaErrorRetriable(error);
  }
}

bool Fenced(KafkaError error) {
  return error == KafkaError::kFencedMemberEpoch || error == KafkaError::kUnknownMemberId;
}

void AddPartitions(const std::set<TopicPartition>& partitions,
                   google::protobuf::RepeatedPtrField<group::v1::TopicPartitions>* out) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const TopicPartition& tp : partitions) by_topic[tp.topic].push_back(tp.partition);
  for (auto& [topic, list] : by_topic) {
    group::v1::TopicPartitions* t = out->Add();
    t->set_topic(topic);
    std::sort(list.begin(), list.end());
    for (int32_t p : list) t->add_partitions(p);
  }
}

std::vector<TopicPartition> Minus(const std::set<TopicPartition>& a,
                                  const std::set<TopicPartition>& b) {
  std::vector<TopicPartition> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

std::string_view MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kNotMember:
      return "not-member";
    case MemberState::kJoining:
      return "joining";
    case MemberState::kMember:
      return "member";
    case MemberState::kLost:
      return "lost";
    case MemberState::kFatal:
      return "fatal";
  }
  return "?";
}

Membership::Membership(MembershipConfig config)
    : config_(std::move(config)),
      backoff_(std::max<int64_t>(1, config_.retry_backoff_ms),
               std::max<int64_t>(std::max<int64_t>(1, config_.retry_backoff_ms),
                                 config_.retry_backoff_max_ms)) {
  STRAND_CHECK(!config_.member_id.empty());
}

void Membership::Subscribe(std::vector<std::string> topics, std::string regex) {
  STRAND_CHECK(topics.empty() != regex.empty());
  topics_ = std::move(topics);
  regex_ = std::move(regex);
  HeartbeatNow();
  switch (state_) {
    case MemberState::kJoining:
    case MemberState::kMember:
    case MemberState::kLost:  // rejoins once Poll has dropped what it lost
      return;
    case MemberState::kFatal:
      fatal_ = absl::OkStatus();
      if (!owned_.empty()) {
        BeLost();
        return;
      }
      break;
    case MemberState::kNotMember:
      STRAND_CHECK_MSG(owned_.empty(), "rejoining while still owning {} partition(s)",
                       owned_.size());
      break;
  }
  state_ = MemberState::kJoining;
  member_epoch_ = kJoinEpoch;
  target_.clear();
  ++session_;
}

std::optional<group::v1::ConsumerGroupHeartbeatRequest> Membership::Leave(bool temporarily) {
  const bool counted =
      (state_ == MemberState::kMember || state_ == MemberState::kJoining) && member_epoch_ > 0;
  std::optional<group::v1::ConsumerGroupHeartbeatRequest> request;
  if (counted || (state_ == MemberState::kJoining && in_flight_)) {
    // A join in flight may have been counted: leaving costs one call, staying costs the
    // session timeout of a ghost member.
    request = BuildHeartbeat();
    request->set_member_epoch(temporarily && !config_.instance_id.empty() ? kLeaveTemporarilyEpoch
                                                                          : kLeaveEpoch);
  }
  state_ = MemberState::kNotMember;
  topics_.clear();
  regex_.clear();
  target_.clear();
  member_epoch_ = kJoinEpoch;
  fatal_ = absl::OkStatus();
  in_flight_ = false;
  ++session_;
  return request;
}

std::optional<group::v1::ConsumerGroupHeartbeatRequest> Membership::LeaveForPollTimeout() {
  std::optional<group::v1::ConsumerGroupHeartbeatRequest> request;
  if (member_epoch_ > 0) {
    request = BuildHeartbeat();
    request->set_member_epoch(kLeaveEpoch);
  }
  in_flight_ = false;
  BeLost();
  return request;
}

bool Membership::HeartbeatDue(int64_t now_ms) const { return now_ms >= next_heartbeat_ms(); }

int64_t Membership::next_heartbeat_ms() const {
  if (state_ != MemberState::kJoining && state_ != MemberState::kMember) {
    return std::numeric_limits<int64_t>::max();
  }
  return next_heartbeat_ms_;
}

group::v1::ConsumerGroupHeartbeatRequest Membership::BuildHeartbeat(int64_t now_ms) {
  sent_ms_ = now_ms;
  reported_ = owned_;
  if (unclean_since_ms_ < 0) unclean_since_ms_ = now_ms;
  group::v1::ConsumerGroupHeartbeatRequest r;
  r.set_group_id(config_.group_id);
  r.set_member_id(config_.member_id);
  r.set_member_epoch(state_ == MemberState::kMember ? member_epoch_ : kJoinEpoch);
  r.set_instance_id(config_.instance_id);
  r.set_rack_id(config_.rack_id);
  r.set_rebalance_timeout_ms(config_.rebalance_timeout_ms);
  for (const std::string& topic : topics_) r.add_subscribed_topic_names(topic);
  r.set_subscribed_topic_regex(regex_);
  r.set_server_assignor(config_.server_assignor);
  AddPartitions(owned_, r.mutable_owned());
  r.set_client_id(config_.client_id);
  in_flight_ = true;
  heartbeat_requested_ = false;
  return r;
}

void Membership::RetryLater(int64_t now_ms) { next_heartbeat_ms_ = now_ms + backoff_.NextMs(); }

void Membership::Fail(absl::Status fatal) {
  ClientLogger()->error("group {} member {}: {}", config_.group_id, config_.member_id,
                        MessageOf(fatal));
  fatal_ = std::move(fatal);
  state_ = MemberState::kFatal;
  member_epoch_ = kJoinEpoch;
  target_.clear();
  ++session_;
}

bool Membership::CheckLease(int64_t now_ms) {
  if (state_ != MemberState::kMember || owned_.empty() || session_timeout_ms_ <= 0) return false;
  const bool session_lapsed = lease_until_ms_ >= 0 && now_ms >= lease_until_ms_;
  const bool revocation_lapsed =
      unclean_since_ms_ >= 0 && now_ms >= unclean_since_ms_ + config_.rebalance_timeout_ms;
  if (!session_lapsed && !revocation_lapsed) return false;
  ClientLogger()->warn(
      "group {} member {}: no heartbeat answered for {} ({} ms): its {} partition(s) are lost "
      "(the coordinator may have given them to another member); rejoining",
      config_.group_id, config_.member_id,
      session_lapsed ? "the session timeout" : "the rebalance timeout (max.poll.interval.ms)",
      session_lapsed ? session_timeout_ms_ : config_.rebalance_timeout_ms, owned_.size());
  BeLost();
  return true;
}

int64_t Membership::lease_deadline_ms() const {
  if (state_ != MemberState::kMember || owned_.empty() || session_timeout_ms_ <= 0) {
    return std::numeric_limits<int64_t>::max();
  }
  int64_t out = std::numeric_limits<int64_t>::max();
  if (lease_until_ms_ >= 0) out = lease_until_ms_;
  if (unclean_since_ms_ >= 0) out = std::min(out, unclean_since_ms_ + config_.rebalance_timeout_ms);
  return out;
}

void Membership::BeLost() {
  lease_until_ms_ = -1;
  unclean_since_ms_ = -1;
  member_epoch_ = kJoinEpoch;
  target_.clear();
  ++session_;
  state_ = MemberState::kLost;
}

void Membership::OnHeartbeatAnswer(
    uint64_t session, const absl::StatusOr<group::v1::ConsumerGroupHeartbeatResponse>& answer,
    int64_t now_ms) {
  ++answers_;
  if (session != session_) return;  // left or rejoined since it was sent
  in_flight_ = false;
  if (!answer.ok()) {
    const KafkaError error = KafkaErrorOf(answer.status()).value_or(KafkaError::kNetworkException);
    if (RetryHeartbeat(error)) {
      ClientLogger()->debug("group {}: heartbeat failed, retrying: {}", config_.group_id,
                            MessageOf(answer.status()));
      RetryLater(now_ms);
    } else {
      Fail(answer.status());
    }
    return;
  }
  const auto error = static_cast<KafkaError>(answer->error().code());
  if (error == KafkaError::kNone) {
    backoff_.Reset();
    if (!answer->member_id().empty()) config_.member_id = answer->member_id();
    member_epoch_ = answer->member_epoch();
    state_ = MemberState::kMember;
    if (answer->heartbeat_interval_ms() > 0)
      heartbeat_interval_ms_ = answer->heartbeat_interval_ms();
    if (answer->session_timeout_ms() > 0) {
      session_timeout_ms_ = answer->session_timeout_ms();
      lease_until_ms_ = std::max(lease_until_ms_, sent_ms_ + session_timeout_ms_);
    }
    const int32_t interval_ms =
        heartbeat_interval_ms_ > 0 ? heartbeat_interval_ms_ : kDefaultHeartbeatIntervalMs;
    next_heartbeat_ms_ = heartbeat_requested_ ? now_ms : now_ms + interval_ms;
    target_.clear();
    for (const group::v1::TopicPartitions& t : answer->assignment()) {
      for (int32_t p : t.partitions()) target_.insert({t.topic(), p});
    }
    if (std::includes(target_.begin(), target_.end(), reported_.begin(), reported_.end())) {
      unclean_since_ms_ = -1;  // the coordinator is not waiting for a revocation
    }
    CheckLease(now_ms);
    return;
  }
  const std::string message = fmt::format("ConsumerGroupHeartbeat: {}", answer->error().message());
  if (Fenced(error)) {
    ClientLogger()->info(
        "group {} member {} fenced at epoch {} ({}): its {} partition(s) are "
        "lost; rejoining",
        config_.group_id, config_.member_id, member_epoch_, KafkaErrorName(error), owned_.size());
    BeLost();
    if (owned_.empty()) CompleteLost();  // nothing for Poll to report: rejoin now
    return;
  }
  if (RetryHeartbeat(error)) {
    ClientLogger()->debug("group {}: heartbeat answered {}, retrying", config_.group_id,
                          KafkaErrorName(error));
    RetryLater(now_ms);
    return;
  }
  Fail(KafkaStatus(error, message));
}

Membership::Work Membership::PendingWork() const {
  Work work;
  switch (state_) {
    case MemberState::kLost:
      work.lost = true;
      work.owned.assign(owned_.begin(), owned_.end());
      break;
    case MemberState::kFatal:
      work.lost = !owned_.empty();
      work.owned.assign(owned_.begin(), owned_.end());
      work.fatal = fatal_;
      break;
    case MemberState::kMember:
      work.revoked = Minus(owned_, target_);
      work.added = Minus(target_, owned_);
      break;
    case MemberState::kJoining:
    case MemberState::kNotMember:
      break;
  }
  return work;
}

void Membership::CompleteLost() {
  owned_.clear();
  if (state_ != MemberState::kLost) return;
  state_ = MemberState::kJoining;
  member_epoch_ = kJoinEpoch;
  ++session_;
  HeartbeatNow();
}

void Membership::CompleteRevocation(const std::vector<TopicPartition>& revoked) {
  for (const TopicPartition& tp : revoked) owned_.erase(tp);
  HeartbeatNow();
}

void Membership::CompleteAssignment(const std::vector<TopicPartition>& added) {
  owned_.insert(added.begin(), added.end());
  HeartbeatNow();
}

}  // namespace strand::client
