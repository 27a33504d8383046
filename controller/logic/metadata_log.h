#pragma once

// MetadataLog: where the active controller appends the records it generates. In the server it
// is the Raft driver (appending on its loop thread); in the simulator, a simulated node. Append
// returns the batch's log index synchronously, or why it could not be appended (not the leader,
// backpressure); the batch commits later, reported through QuorumController::OnCommitted.

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/controller/v1/metadata.pb.h"

namespace strand::controller {

class MetadataLog {
 public:
  virtual ~MetadataLog() = default;
  virtual absl::StatusOr<uint64_t> Append(const v1::MetadataBatch& batch) = 0;
};

}  // namespace strand::controller
