#include "controller/logic/broker_sessions.h"

#include <fmt/format.h>

namespace strand::controller {

void BrokerSessions::Reset(int64_t now_ms, int64_t timeout_ms, uint64_t caught_up_offset) {
  sessions_.clear();
  for (const auto& [id, b] : image_.brokers()) {
    sessions_[id] = BrokerSession{b.epoch, now_ms + timeout_ms, false, 0, caught_up_offset};
  }
}

bool BrokerSessions::Eligible(NodeId node) const {
  const BrokerRegistration* b = image_.broker(node);
  return b != nullptr && !b->fenced && !b->in_controlled_shutdown;
}

bool BrokerSessions::ReplicaOffline(NodeId node, const TopicId& id, int32_t partition) const {
  auto it = sessions_.find(node);
  return it != sessions_.end() && it->second.offline.count({id.Bytes(), partition}) > 0;
}

bool BrokerSessions::Eligible(NodeId node, const TopicId& id, int32_t partition) const {
  return Eligible(node) && !ReplicaOffline(node, id, partition);
}

ControllerError BrokerSessions::CheckBrokerEpoch(int32_t broker_id, int64_t epoch,
                                                 const std::string& incarnation) const {
  const BrokerRegistration* b = image_.broker(NodeId(broker_id));
  if (b == nullptr) {
    return {KafkaError::kBrokerIdNotRegistered,
            fmt::format("broker {} is not registered", broker_id)};
  }
  if (b->epoch != epoch) {
    return {KafkaError::kStaleBrokerEpoch,
            fmt::format("broker {} epoch {} is stale; the registration has epoch {}", broker_id,
                        epoch, b->epoch)};
  }
  if (b->incarnation_id != incarnation) {
    // The epoch is no secret (it is a metadata offset); the incarnation id is: only the process
    // that registered and the controllers know it.
    return {KafkaError::kStaleBrokerEpoch,
            fmt::format("broker {}: the request's incarnation id does not match the "
                        "registration; only the registered process may speak for it",
                        broker_id)};
  }
  return {};
}

}  // namespace strand::controller
