#include "common/properties.h"
#include "strand/properties.h"

namespace strand::client {

absl::StatusOr<Properties> ParseProperties(std::string_view text) {
  return ParsePropertiesText(text);
}

absl::StatusOr<Properties> ParsePropertyItems(const std::vector<std::string>& items) {
  return ParseKeyValueItems(items);
}

}  // namespace strand::client
