#pragma once

// BrokerSessions: broker liveness as the active controller sees it — each registered broker's
// session deadline, heartbeat stream and the replicas it reported offline — and the questions
// every manager asks of it (may this broker lead, may this replica join the ISR). Kept in memory
// only: a newly active controller starts every broker with a fresh session and learns offline
// replicas from the next heartbeat. Owned by QuorumController; BrokerManager changes it, the
// others read it. Single-threaded, like the controller.

#include <map>
#include <set>
#include <string>
#include <utility>

#include "controller/logic/controller_result.h"
#include "controller/state/metadata_image.h"

namespace strand::controller {

// A partition replica: (16-byte topic id, partition).
using ReplicaKey = std::pair<std::string, int32_t>;

struct BrokerSession {
  int64_t epoch = 0;
  int64_t deadline_ms = 0;  // fenced once now passes this
  bool stream_open = false;
  uint64_t metadata_offset = 0;
  uint64_t caught_up_offset = 0;  // unfenced once metadata_offset reaches this
  // Replicas whose log the broker cannot open (from its last heartbeat): never elected, never
  // let into the ISR. Every heartbeat carries the whole set.
  std::set<ReplicaKey> offline;
  bool reported = false;  // a heartbeat of this session was processed (offline set known)
};

class BrokerSessions {
 public:
  // `image`: the controller's working image (outlives this object).
  explicit BrokerSessions(const MetadataImage& image) : image_(image) {}

  // A fresh session for every registered broker, each with `timeout_ms` to reconnect.
  void Reset(int64_t now_ms, int64_t timeout_ms, uint64_t caught_up_offset);
  void Clear() { sessions_.clear(); }

  // A live broker: registered, unfenced, not shutting down.
  bool Eligible(NodeId node) const;
  // ... whose replica of the partition is online.
  bool Eligible(NodeId node, const TopicId& id, int32_t partition) const;
  bool ReplicaOffline(NodeId node, const TopicId& id, int32_t partition) const;
  // The request speaks for the broker's current registration: its epoch and incarnation id.
  ControllerError CheckBrokerEpoch(int32_t broker_id, int64_t epoch,
                                   const std::string& incarnation) const;

  const std::map<NodeId, BrokerSession>& all() const { return sessions_; }
  std::map<NodeId, BrokerSession>& mutable_all() { return sessions_; }

 private:
  const MetadataImage& image_;
  std::map<NodeId, BrokerSession> sessions_;
};

}  // namespace strand::controller
