#include "broker/replica/leader_state.h"

#include <algorithm>

namespace strand::broker {

LeaderState::LeaderState(NodeId self, std::vector<NodeId> replicas, std::vector<NodeId> isr,
                         Offset epoch_start, int64_t now_ms)
    : self_(self), epoch_start_(epoch_start) {
  Update(std::move(replicas), std::move(isr), now_ms);
}

void LeaderState::Update(std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms) {
  replicas_ = std::move(replicas);
  isr_ = std::move(isr);
  for (NodeId r : replicas_) {
    if (r == self_ || followers_.count(r)) continue;
    // A follower we know nothing about yet starts caught up now (as Kafka does at leader
    // election), so it is not shrunk away before it had a chance to fetch.
    FollowerProgress p;
    p.last_caught_up_ms = now_ms;
    p.last_fetch_ms = now_ms;
    followers_.emplace(r, p);
  }
  for (auto it = followers_.begin(); it != followers_.end();) {
    if (std::find(replicas_.begin(), replicas_.end(), it->first) == replicas_.end()) {
      it = followers_.erase(it);
    } else {
      ++it;
    }
  }
}

bool LeaderState::InIsr(NodeId node) const {
  return std::find(isr_.begin(), isr_.end(), node) != isr_.end();
}

const FollowerProgress* LeaderState::follower(NodeId node) const {
  auto it = followers_.find(node);
  return it == followers_.end() ? nullptr : &it->second;
}

void LeaderState::OnFollowerFetch(NodeId follower, Offset fetch_offset, Offset durable_offset,
                                  Offset leader_end, int64_t now_ms) {
  auto it = followers_.find(follower);
  if (it == followers_.end()) return;
  FollowerProgress& p = it->second;
  // A durable offset beyond what was fetched would be a confused follower; trust only data.
  const Offset durable = std::min(durable_offset, fetch_offset);
  // Caught up means durable, not only fetched: a follower whose fsyncs hang may keep fetching
  // but holds the high watermark back, so it must leave the ISR after replica.lag.time.max.ms
  // like one that stopped fetching.
  if (durable >= leader_end) {
    p.last_caught_up_ms = std::max(p.last_caught_up_ms, now_ms);
  } else if (durable >= p.leader_end_at_last_fetch) {
    p.last_caught_up_ms = std::max(p.last_caught_up_ms, p.last_fetch_ms);
  }
  p.fetch_offset = fetch_offset;
  p.durable_offset = durable;
  p.last_fetch_ms = now_ms;
  p.leader_end_at_last_fetch = leader_end;
}

Offset LeaderState::HighWatermark(Offset leader_durable, Offset current, int32_t min_isr) const {
  if (static_cast<int32_t>(isr_.size()) < min_isr) return current;
  Offset candidate = leader_durable;
  for (const auto* members : {&isr_, &pending_}) {
    for (NodeId member : *members) {
      if (member == self_) continue;
      auto it = followers_.find(member);
      if (it == followers_.end()) return current;  // no word from it yet
      candidate = std::min(candidate, it->second.durable_offset);
    }
  }
  return std::max(current, candidate);
}

void LeaderState::AddPendingMembers(const std::vector<NodeId>& proposed_isr) {
  for (NodeId n : proposed_isr) {
    if (!InIsr(n) && std::find(pending_.begin(), pending_.end(), n) == pending_.end()) {
      pending_.push_back(n);
    }
  }
}

std::optional<std::vector<NodeId>> LeaderState::ProposedIsr(int64_t now_ms, int64_t lag_max_ms,
                                                            Offset high_watermark) const {
  std::vector<NodeId> proposed;
  for (NodeId member : isr_) {
    if (member == self_) {
      proposed.push_back(member);
      continue;
    }
    auto it = followers_.find(member);
    if (it != followers_.end() && now_ms - it->second.last_caught_up_ms <= lag_max_ms) {
      proposed.push_back(member);
    }
  }
  for (const auto& [node, p] : followers_) {
    if (InIsr(node)) continue;
    // Joins once its durable log holds everything committed and this leader's epoch has begun
    // on it: from then on it can take over without losing an acknowledged write.
    if (p.durable_offset >= high_watermark && p.fetch_offset >= epoch_start_ &&
        now_ms - p.last_caught_up_ms <= lag_max_ms) {
      proposed.push_back(node);
    }
  }
  if (std::find(proposed.begin(), proposed.end(), self_) == proposed.end()) {
    proposed.insert(proposed.begin(), self_);
  }
  std::vector<NodeId> a = proposed, b = isr_;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return std::nullopt;
  return proposed;
}

}  // namespace strand::broker
