#include "broker/server/replication_quota.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace strand::broker {

ReplicationQuota::ReplicationQuota(Clock& clock, int64_t burst_ms)
    : clock_(clock), burst_ms_(burst_ms), refilled_at_us_(clock.NowMonotonicUs()) {
  STRAND_CHECK_MSG(burst_ms > 0, "replication quota burst {} ms must be positive", burst_ms);
}

void ReplicationQuota::SetRate(int64_t rate_bytes_per_s) {
  STRAND_CHECK_MSG(rate_bytes_per_s >= 0, "replication rate {} is negative", rate_bytes_per_s);
  std::lock_guard lock(mu_);
  if (rate_bytes_per_s == rate_) return;
  const bool was_unlimited = rate_ == kUnlimited;
  if (!was_unlimited) RefillLocked();  // bytes earned at the old rate are kept
  rate_ = rate_bytes_per_s;
  refilled_at_us_ = clock_.NowMonotonicUs();
  if (rate_ == kUnlimited) return;
  // A new throttle starts with a full bucket; a changed one keeps its debt.
  tokens_bytes_ = was_unlimited ? CapacityLocked() : std::min(tokens_bytes_, CapacityLocked());
}

int64_t ReplicationQuota::rate_bytes_per_s() const {
  std::lock_guard lock(mu_);
  return rate_;
}

void ReplicationQuota::SetThrottled(const std::string& topic, bool all,
                                    std::set<int32_t> partitions) {
  std::lock_guard lock(mu_);
  if (!all && partitions.empty()) {
    topics_.erase(topic);
    return;
  }
  topics_[topic] = Throttled{all, std::move(partitions)};
}

void ReplicationQuota::RetainTopics(const std::set<std::string>& topics) {
  std::lock_guard lock(mu_);
  std::erase_if(topics_, [&](const auto& entry) { return topics.count(entry.first) == 0; });
}

bool ReplicationQuota::IsThrottled(const storage::TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(tp.topic);
  return it != topics_.end() && (it->second.all || it->second.partitions.count(tp.partition));
}

void ReplicationQuota::RefillLocked() {
  const int64_t now_us = clock_.NowMonotonicUs();
  const int64_t elapsed_us = std::max<int64_t>(0, now_us - refilled_at_us_);
  refilled_at_us_ = now_us;
  tokens_bytes_ =
      std::min(CapacityLocked(), tokens_bytes_ + static_cast<double>(rate_) * elapsed_us / 1e6);
}

bool ReplicationQuota::IsExceeded() {
  std::lock_guard lock(mu_);
  if (rate_ == kUnlimited) return false;
  RefillLocked();
  return tokens_bytes_ <= 0;
}

int64_t ReplicationQuota::DelayMs() {
  std::lock_guard lock(mu_);
  if (rate_ == kUnlimited) return 0;
  RefillLocked();
  if (tokens_bytes_ > 0) return 0;
  if (rate_ == 0) return kDelayMsMax;
  // One millisecond more, so that the bucket has refilled past zero when the wait ends.
  const double ms = -tokens_bytes_ * 1000.0 / static_cast<double>(rate_);
  return std::min<int64_t>(kDelayMsMax, static_cast<int64_t>(std::ceil(ms)) + 1);
}

void ReplicationQuota::Record(int64_t bytes) {
  if (bytes <= 0) return;
  std::lock_guard lock(mu_);
  recorded_bytes_total_ += bytes;
  if (rate_ == kUnlimited) return;
  RefillLocked();
  tokens_bytes_ -= static_cast<double>(bytes);
}

void ReplicationQuota::NoteHeldBack() {
  std::lock_guard lock(mu_);
  ++held_back_total_;
}

int64_t ReplicationQuota::recorded_bytes_total() const {
  std::lock_guard lock(mu_);
  return recorded_bytes_total_;
}

int64_t ReplicationQuota::held_back_total() const {
  std::lock_guard lock(mu_);
  return held_back_total_;
}

}  // namespace strand::broker
