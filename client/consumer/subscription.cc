#include "client/consumer/subscription.h"

#include <set>

namespace strand::client {

void SubscriptionState::Assign(const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, PartitionState> next;
  std::map<std::string, std::shared_ptr<const std::string>> names;
  for (const TopicPartition& tp : partitions) {
    auto it = partitions_.find(tp);
    if (it != partitions_.end()) {
      next.emplace(tp, std::move(it->second));
      continue;
    }
    PartitionState state;
    state.tp = tp;
    auto& name = names[tp.topic];
    if (!name) name = std::make_shared<const std::string>(tp.topic);
    state.topic_name = name;
    next.emplace(tp, std::move(state));
  }
  partitions_ = std::move(next);
}

std::vector<TopicPartition> SubscriptionState::Assigned() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, state] : partitions_) out.push_back(tp);
  return out;
}

PartitionState* SubscriptionState::Find(const TopicPartition& tp) {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? nullptr : &it->second;
}

std::vector<std::string> SubscriptionState::Topics() const {
  std::set<std::string> topics;
  for (const auto& [tp, state] : partitions_) topics.insert(tp.topic);
  return {topics.begin(), topics.end()};
}

std::vector<ConsumerRecord> SubscriptionState::TakeRecords(size_t max_records) {
  std::vector<ConsumerRecord> out;
  if (partitions_.empty()) return out;
  std::vector<PartitionState*> order;
  for (auto& [tp, state] : partitions_) order.push_back(&state);
  const size_t start = next_start_++ % order.size();
  for (size_t i = 0; i < order.size() && out.size() < max_records; ++i) {
    PartitionState& p = *order[(start + i) % order.size()];
    while (!p.buffered.empty() && out.size() < max_records) {
      p.position = p.buffered.front().offset() + 1;
      out.push_back(std::move(p.buffered.front()));
      p.buffered.pop_front();
    }
    if (p.buffered.empty() && p.next_offset_after_buffered >= 0) {
      p.position = p.next_offset_after_buffered;
      p.next_offset_after_buffered = -1;
    }
  }
  return out;
}

}  // namespace strand::client
