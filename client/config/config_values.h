#pragma once

// ConfigValues: a Properties map checked against PropertyDefinitions() for one client role, with
// typed getters. Parse reports every problem at once (unknown keys with a suggestion, a setting
// of the other client, bad numbers, out-of-range values, values not in an enum, missing required
// settings), one per "; "-separated clause, so a user fixes a config file in one pass. The
// producer's and consumer's FromProperties build on it and add their cross-setting rules.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strand/properties.h"

namespace strand::client {

class ConfigValues {
 public:
  static absl::StatusOr<ConfigValues> Parse(const Properties& properties, ClientRole role);

  // Getters for names defined for the role (CHECKed: asking for another is a bug).
  int32_t GetInt(std::string_view name) const;
  int64_t GetLong(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;  // kString and kEnum (lowercase)
  std::vector<std::string> GetList(std::string_view name) const;

  // Whether the user gave the setting (Kafka treats some defaults differently from explicit
  // values, e.g. enable.idempotence).
  bool IsSet(std::string_view name) const { return user_set_.count(std::string(name)) > 0; }

 private:
  std::map<std::string, std::string, std::less<>> values_;  // every defined name -> text
  std::set<std::string> user_set_;
};

// The definition named `name`, or null.
const PropertyDefinition* FindPropertyDefinition(std::string_view name);

// Joins problems into one InvalidArgument status ("invalid client configuration: a; b").
absl::Status ConfigError(const std::vector<std::string>& problems);

}  // namespace strand::client
