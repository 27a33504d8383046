#pragma once

// Client configuration by Kafka's property names ("bootstrap.servers", "linger.ms", "acks", ...).
// A Properties map is what an application fills; ProducerConfig::FromProperties and
// ConsumerConfig::FromProperties (strand/producer.h, strand/consumer.h) check every key against
// a table of definitions — type, range or allowed values, default, documentation — and fail with
// one InvalidArgument status naming every problem: unknown keys (with the closest known name),
// values of the wrong type or out of range, and invalid combinations (e.g.
// enable.idempotence=true with acks=1). Values are text, as in a Java .properties file.
//
//   strand::client::Properties props = {{"bootstrap.servers", "127.0.0.1:9101"},
//                                        {"linger.ms", "10"}, {"compression.type", "lz4"}};

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strand::client {

using Properties = std::map<std::string, std::string, std::less<>>;

// Which client a setting belongs to.
enum class ClientRole : uint8_t { kProducer = 1, kConsumer = 2 };

enum class PropertyType { kInt, kLong, kBool, kString, kList, kEnum };

// The definition of one setting, for validation and for documentation (`strand` prints these).
struct PropertyDefinition {
  std::string_view name;
  PropertyType type = PropertyType::kString;
  std::string_view default_value;  // as text; empty for "none"
  int64_t min = 0;                 // kInt / kLong: the accepted range, inclusive
  int64_t max = 0;
  std::vector<std::string_view> allowed;  // kEnum: the accepted values (case-insensitive)
  uint8_t roles = 0;                      // a mask of ClientRole
  bool required = false;
  std::string_view doc;
};

// Every setting either client knows, in documentation order.
const std::vector<PropertyDefinition>& PropertyDefinitions();

// Parses the text of a Java-style .properties file: one KEY=VALUE (or KEY: VALUE) per line,
// blank lines and lines starting with '#' or '!' ignored, spaces around keys and values trimmed.
// Errors name the line. (No line continuations or escapes: client settings do not need them.)
absl::StatusOr<Properties> ParseProperties(std::string_view text);

// KEY=VALUE items (e.g. from repeated command-line flags) into a map; errors name the item.
absl::StatusOr<Properties> ParsePropertyItems(const std::vector<std::string>& items);

}  // namespace strand::client
