#include "client/config/config_values.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/check.h"

namespace strand::client {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Levenshtein distance, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string RoleName(ClientRole role) {
  return role == ClientRole::kProducer ? "producer" : "consumer";
}

bool HasRole(const PropertyDefinition& d, ClientRole role) {
  return (d.roles & static_cast<uint8_t>(role)) != 0;
}

std::string UnknownKeyProblem(std::string_view key, ClientRole role) {
  if (const PropertyDefinition* d = FindPropertyDefinition(key)) {
    (void)d;
    const ClientRole other =
        role == ClientRole::kProducer ? ClientRole::kConsumer : ClientRole::kProducer;
    return fmt::format("'{}' is a {} setting, not a {} setting", key, RoleName(other),
                       RoleName(role));
  }
  std::string_view best;
  size_t best_distance = 4;  // suggest only close names
  for (const PropertyDefinition& d : PropertyDefinitions()) {
    if (!HasRole(d, role)) continue;
    const size_t distance = EditDistance(Lower(key), d.name);
    if (distance < best_distance) {
      best_distance = distance;
      best = d.name;
    }
  }
  if (best.empty()) return fmt::format("unknown {} setting '{}'", RoleName(role), key);
  return fmt::format("unknown {} setting '{}' (did you mean '{}'?)", RoleName(role), key, best);
}

// Checks one value; returns the normalized text, or sets *problem.
std::string CheckValue(const PropertyDefinition& d, std::string_view raw, std::string* problem) {
  const std::string_view text = Trim(raw);
  switch (d.type) {
    case PropertyType::kInt:
    case PropertyType::kLong: {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        *problem = fmt::format("{}: '{}' is not an integer", d.name, raw);
      } else if (v < d.min || v > d.max) {
        *problem = fmt::format("{}: {} is out of range [{}, {}]", d.name, v, d.min, d.max);
      }
      return std::string(text);
    }
    case PropertyType::kBool: {
      const std::string v = Lower(text);
      if (v != "true" && v != "false") {
        *problem = fmt::format("{}: '{}' is not true or false", d.name, raw);
      }
      return v;
    }
    case PropertyType::kEnum: {
      const std::string v = Lower(text);
      if (std::find(d.allowed.begin(), d.allowed.end(), v) == d.allowed.end()) {
        *problem =
            fmt::format("{}: '{}' is not one of {}", d.name, raw, fmt::join(d.allowed, ", "));
      }
      return v;
    }
    case PropertyType::kList:
      if (d.required && text.empty()) *problem = fmt::format("{} must not be empty", d.name);
      return std::string(text);
    case PropertyType::kString:
      return std::string(text);
  }
  return std::string(text);
}

}  // namespace

const PropertyDefinition* FindPropertyDefinition(std::string_view name) {
  for (const PropertyDefinition& d : PropertyDefinitions()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::Status ConfigError(const std::vector<std::string>& problems) {
  return absl::InvalidArgumentError(
      fmt::format("invalid client configuration: {}", fmt::join(problems, "; ")));
}

absl::StatusOr<ConfigValues> ConfigValues::Parse(const Properties& properties, ClientRole role) {
  ConfigValues values;
  std::vector<std::string> problems;
  for (const PropertyDefinition& d : PropertyDefinitions()) {
    if (HasRole(d, role)) values.values_[std::string(d.name)] = std::string(d.default_value);
  }
  for (const auto& [key, raw] : properties) {
    const PropertyDefinition* d = FindPropertyDefinition(key);
    if (d == nullptr || !HasRole(*d, role)) {
      problems.push_back(UnknownKeyProblem(key, role));
      continue;
    }
    std::string problem;
    std::string normalized = CheckValue(*d, raw, &problem);
    if (!problem.empty()) {
      problems.push_back(std::move(problem));
      continue;
    }
    values.values_[key] = std::move(normalized);
    values.user_set_.insert(key);
  }
  for (const PropertyDefinition& d : PropertyDefinitions()) {
    if (HasRole(d, role) && d.required && values.user_set_.count(std::string(d.name)) == 0 &&
        properties.count(d.name) == 0) {
      problems.push_back(fmt::format("{} is required", d.name));
    }
  }
  if (!problems.empty()) return ConfigError(problems);
  return values;
}

int32_t ConfigValues::GetInt(std::string_view name) const {
  return static_cast<int32_t>(GetLong(name));
}

int64_t ConfigValues::GetLong(std::string_view name) const {
  const std::string& text = GetString(name);
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

bool ConfigValues::GetBool(std::string_view name) const { return GetString(name) == "true"; }

const std::string& ConfigValues::GetString(std::string_view name) const {
  auto it = values_.find(name);
  STRAND_CHECK_MSG(it != values_.end(), "setting {} is not defined for this client", name);
  return it->second;
}

std::vector<std::string> ConfigValues::GetList(std::string_view name) const {
  std::vector<std::string> items;
  std::string_view rest = GetString(name);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

}  // namespace strand::client
