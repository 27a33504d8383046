#pragma once

// Java-style .properties text, as Kafka's configuration files use it: one KEY=VALUE (or
// KEY: VALUE) per line, blank lines and lines starting with '#' or '!' ignored, spaces around
// keys and values trimmed. No line continuations or escapes: Strand's settings do not need them.
// Used by strand-server's --config-file and the client library's configuration.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strand {

using PropertyMap = std::map<std::string, std::string, std::less<>>;

// The settings of a file's text, a later line winning over an earlier one; errors name the line.
absl::StatusOr<PropertyMap> ParsePropertiesText(std::string_view text);

// KEY=VALUE items (e.g. from repeated command-line flags); errors name the item.
absl::StatusOr<PropertyMap> ParseKeyValueItems(const std::vector<std::string>& items);

}  // namespace strand
