// Java-style properties: see the header.
#include "common/properties.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace strand {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "key=value" (or "key: value") at the first separator; false when there is none or the
// key is empty.
bool SplitItem(std::string_view item, bool allow_colon, std::string* key, std::string* value) {
  size_t at = item.find('=');
  if (allow_colon) at = std::min(at, item.find(':'));
  if (at == std::string_view::npos) return false;
  const std::string_view k = Trim(item.substr(0, at));
  if (k.empty()) return false;
  *key = std::string(k);
  *value = std::string(Trim(item.substr(at + 1)));
  return true;
}

}  // namespace

absl::StatusOr<PropertyMap> ParsePropertiesText(std::string_view text) {
  PropertyMap out;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view line = Trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    std::string key, value;
    if (!SplitItem(line, true, &key, &value)) {
      return absl::InvalidArgumentError(
          fmt::format("line {}: expected KEY=VALUE, got '{}'", line_number, line));
    }
    out[key] = value;
  }
  return out;
}

absl::StatusOr<PropertyMap> ParseKeyValueItems(const std::vector<std::string>& items) {
  PropertyMap out;
  for (const std::string& item : items) {
    std::string key, value;
    if (!SplitItem(item, false, &key, &value)) {
      return absl::InvalidArgumentError(fmt::format("expected KEY=VALUE, got '{}'", item));
    }
    out[key] = value;
  }
  return out;
}

}  // namespace strand
