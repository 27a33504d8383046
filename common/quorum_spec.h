#pragma once

// Parsing of the quorum voter list, in the form of Kafka's controller.quorum.voters:
// "1@host:port,2@host:port,3@host:port".

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace strand {

// Node id -> host:port. Errors name the offending item.
absl::StatusOr<std::map<NodeId, std::string>> ParseQuorumVoters(std::string_view spec);

}  // namespace strand
