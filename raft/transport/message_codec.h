#pragma once

// Conversion between the core's Message and proto/raft/v1 Message. Decoding validates what the
// core assumes (known message type, node ids) and reports anything else as an error.

#include "absl/status/statusor.h"
#include "proto/raft/v1/raft.pb.h"
#include "raft/core/types.h"

namespace strand::raft {

void EncodeMessage(const Message& m, v1::Message* out);
absl::StatusOr<Message> DecodeMessage(const v1::Message& m);

}  // namespace strand::raft
