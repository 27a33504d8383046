#pragma once

// Transport: how the driver hands messages to the network. It promises neither delivery nor
// order (Raft needs neither); it must not block the caller.

#include <functional>
#include <vector>

#include "raft/core/types.h"

namespace strand::raft {

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues messages for sending and returns at once. Messages may be dropped (full queue, dead
  // peer, unknown address).
  virtual void Send(std::vector<Message> messages) = 0;
};

// Receives every message addressed to this node (called from transport threads).
using MessageSink = std::function<void(Message)>;
// Told when the connection to a peer broke, so queued and in-flight messages to it are lost.
using UnreachableSink = std::function<void(NodeId)>;

}  // namespace strand::raft
