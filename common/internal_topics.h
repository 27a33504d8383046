#pragma once

// The names of Kafka's internal topics, reserved for the brokers' own coordinators: clients
// cannot create, delete, add partitions to or produce to them (the controller and the broker's
// RPC handlers refuse; the coordinators append through Partition directly). One list, so the
// controller and the brokers agree on what is internal. Header-only.

#include <string_view>

namespace strand {

// Committed offsets and group state, written by the group coordinators.
inline constexpr std::string_view kConsumerOffsetsTopic = "__consumer_offsets";
// Transaction state, written by the transaction coordinators (later).
inline constexpr std::string_view kTransactionStateTopic = "__transaction_state";

// Kafka's Topic.isInternal: exactly these two names. Other names starting with "__" are
// ordinary topics, as in Kafka.
constexpr bool IsReservedInternalTopic(std::string_view name) {
  return name == kConsumerOffsetsTopic || name == kTransactionStateTopic;
}

}  // namespace strand
