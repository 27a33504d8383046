#pragma once

// StateMachine: what an application plugs into the RaftDriver. Every method runs on the
// driver's event-loop thread, in log order; Apply must be quick (it delays the next Ready).

#include <string>

#include "absl/status/status.h"
#include "raft/core/types.h"

namespace strand::raft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one committed entry of application data (no-op entries are not passed).
  virtual void Apply(const Entry& entry) = 0;
  // Serializes the state as of the last applied entry (for compaction and lagging followers).
  virtual std::string TakeSnapshot() = 0;
  // Replaces the whole state by a snapshot's; `index` is the last entry it covers.
  virtual absl::Status Restore(const std::string& data, LogIndex index) = 0;
};

}  // namespace strand::raft
