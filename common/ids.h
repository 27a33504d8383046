#pragma once

// Ids shared by several modules. Module-specific ids (Term, LogIndex, Offset, LeaderEpoch,
// ProducerId, ...) live in their modules; NodeId is here because controllers, brokers and the
// Raft library all name processes by it (the `node.id` of Kafka's KRaft mode).

#include <cstdint>

#include "common/strong_id.h"

namespace strand {

struct NodeIdTag {};
using NodeId = StrongId<NodeIdTag, int32_t>;
inline constexpr NodeId kNoNode{-1};

}  // namespace strand

namespace strand {

// Kafka-compatible data-path ids (widths as in Kafka's protocol).
struct OffsetTag {};
using Offset = StrongId<OffsetTag, int64_t>;  // position of a record in a partition log
struct LeaderEpochTag {};
using LeaderEpoch = StrongId<LeaderEpochTag, int32_t>;  // bumped on every partition leader change
inline constexpr LeaderEpoch kNoLeaderEpoch{-1};
struct ProducerIdTag {};
using ProducerId = StrongId<ProducerIdTag, int64_t>;
inline constexpr ProducerId kNoProducerId{-1};
struct ProducerEpochTag {};
using ProducerEpoch = StrongId<ProducerEpochTag, int16_t>;
inline constexpr ProducerEpoch kNoProducerEpoch{-1};

}  // namespace strand
