#include "tools/cli/parse.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"

namespace strand::cli {
namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

absl::StatusOr<int32_t> ParseBrokerId(std::string_view text) {
  int32_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id < 0) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not a broker id", text));
  }
  return id;
}

// Distinct ids separated by `separator`; `what` names the list in errors.
absl::StatusOr<std::vector<int32_t>> ParseIds(std::string_view text, char separator,
                                              const std::string& what) {
  if (text.empty()) return absl::InvalidArgumentError(fmt::format("{} is empty", what));
  std::vector<int32_t> ids;
  for (std::string_view part : Split(text, separator)) {
    absl::StatusOr<int32_t> id = ParseBrokerId(part);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", what, std::string(id.status().message())));
    }
    if (std::find(ids.begin(), ids.end(), *id) != ids.end()) {
      return absl::InvalidArgumentError(fmt::format("{} lists broker {} twice", what, *id));
    }
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ParseConfigPair(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not key=value", text));
  }
  const std::string_view key = text.substr(0, eq);
  if (key.empty() || key.find_first_of(" \t") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' needs a key without spaces before '='", text));
  }
  return std::make_pair(std::string(key), std::string(text.substr(eq + 1)));
}

absl::StatusOr<std::map<std::string, std::string>> ParseConfigPairs(
    const std::vector<std::string>& items) {
  std::map<std::string, std::string> configs;
  for (const std::string& item : items) {
    auto pair = ParseConfigPair(item);
    if (!pair.ok()) return pair.status();
    if (!configs.emplace(pair->first, pair->second).second) {
      return absl::InvalidArgumentError(fmt::format("'{}' is given twice", pair->first));
    }
  }
  return configs;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> ParseReplicaAssignment(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("the replica assignment is empty");
  std::vector<std::vector<int32_t>> partitions;
  for (std::string_view item : Split(text, ',')) {
    const int partition = static_cast<int>(partitions.size());
    auto replicas = ParseIds(item, ':', fmt::format("partition {}", partition));
    if (!replicas.ok()) return replicas.status();
    if (partition > 0 && replicas->size() != partitions[0].size()) {
      return absl::InvalidArgumentError(fmt::format(
          "partition {} has {} replicas but partition 0 has {}; every partition needs the same "
          "replication factor",
          partition, replicas->size(), partitions[0].size()));
    }
    partitions.push_back(*std::move(replicas));
  }
  return partitions;
}

absl::StatusOr<std::vector<int32_t>> ParseBrokerList(std::string_view text) {
  return ParseIds(text, ',', "the broker list");
}

}  // namespace strand::cli
