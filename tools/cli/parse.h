#pragma once

// Parsers for the CLI's structured arguments. Each returns InvalidArgument with a message that
// names the offending piece, printed as a usage error.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::cli {

// "key=value" (split at the first '='; the value may be empty or contain '=').
absl::StatusOr<std::pair<std::string, std::string>> ParseConfigPair(std::string_view text);

// Several "key=value" items; a key given twice is an error.
absl::StatusOr<std::map<std::string, std::string>> ParseConfigPairs(
    const std::vector<std::string>& items);

// "1:2:3,2:3:1": one item per partition (partition 0 first), broker ids separated by ':', the
// first one the preferred leader. Every partition must list the same number of distinct ids.
absl::StatusOr<std::vector<std::vector<int32_t>>> ParseReplicaAssignment(std::string_view text);

// "1,2,3": distinct broker ids.
absl::StatusOr<std::vector<int32_t>> ParseBrokerList(std::string_view text);

// A topic and optionally some of its partitions, as kafka-consumer-groups.sh's --topic takes
// them: "orders" (every partition) or "orders:0,2" (distinct partitions).
struct TopicPartitionsArg {
  std::string topic;
  std::vector<int32_t> partitions;  // empty: every partition
};
absl::StatusOr<TopicPartitionsArg> ParseTopicPartitions(std::string_view text);

// An ISO-8601 local date and time, as kafka-consumer-groups.sh's --to-datetime takes it:
// "YYYY-MM-DDTHH:mm:SS[.SSS]" followed by "Z", "+HH:MM", "-HH:MM" ("+HHMM") for a zone, else
// the machine's local time zone (as Kafka does). Milliseconds since the epoch.
absl::StatusOr<int64_t> ParseDateTime(std::string_view text);

}  // namespace strand::cli
