#include "tools/cli/parse.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>

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

namespace strand::cli {
namespace {

// Exactly `digits` decimal digits at text[*at], advancing *at.
bool TakeNumber(std::string_view text, size_t* at, size_t digits, int* out) {
  if (*at + digits > text.size()) return false;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = text[*at + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *at += digits;
  *out = value;
  return true;
}

bool Take(std::string_view text, size_t* at, char c) {
  if (*at >= text.size() || text[*at] != c) return false;
  ++*at;
  return true;
}

// Days from 1970-01-01 to the date (proleptic Gregorian; Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

absl::StatusOr<TopicPartitionsArg> ParseTopicPartitions(std::string_view text) {
  TopicPartitionsArg out;
  const size_t colon = text.find(':');
  out.topic = std::string(text.substr(0, colon));
  if (out.topic.empty()) {
    return absl::InvalidArgumentError(fmt::format("'{}': the topic name is empty", text));
  }
  if (colon == std::string_view::npos) return out;
  for (std::string_view part : Split(text.substr(colon + 1), ',')) {
    int32_t partition = -1;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), partition);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || partition < 0) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': '{}' is not a partition number (TOPIC or TOPIC:P,P,...)", text, part));
    }
    if (std::find(out.partitions.begin(), out.partitions.end(), partition) !=
        out.partitions.end()) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': partition {} is listed twice", text, partition));
    }
    out.partitions.push_back(partition);
  }
  return out;
}

absl::StatusOr<int64_t> ParseDateTime(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not a date and time like 2026-12-01T10:00:00.000 (optionally followed by Z or "
        "+HH:MM): {}",
        text, why));
  };
  size_t at = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!TakeNumber(text, &at, 4, &year) || !Take(text, &at, '-') ||
      !TakeNumber(text, &at, 2, &month) || !Take(text, &at, '-') ||
      !TakeNumber(text, &at, 2, &day) || !Take(text, &at, 'T') ||
      !TakeNumber(text, &at, 2, &hour) || !Take(text, &at, ':') ||
      !TakeNumber(text, &at, 2, &minute) || !Take(text, &at, ':') ||
      !TakeNumber(text, &at, 2, &second)) {
    return bad("expected YYYY-MM-DDTHH:mm:SS");
  }
  if (Take(text, &at, '.') && !TakeNumber(text, &at, 3, &millis)) {
    return bad("expected three digits of milliseconds");
  }
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDaysInMonth[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return bad("no such date or time");
  }
  const int64_t local_seconds =
      DaysFromCivil(year, month, day) * 86'400 + hour * 3'600 + minute * 60 + second;
  int64_t utc_seconds = 0;
  if (at == text.size()) {
    // No zone: the machine's local time, as Kafka's tool does.
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return bad("not a local time");
    utc_seconds = static_cast<int64_t>(t);
  } else if (Take(text, &at, 'Z')) {
    utc_seconds = local_seconds;
  } else {
    const char sign = text[at];
    if (sign != '+' && sign != '-') return bad("expected Z, +HH:MM or -HH:MM after the time");
    ++at;
    int zone_hours = 0, zone_minutes = 0;
    if (!TakeNumber(text, &at, 2, &zone_hours)) return bad("expected the zone's hours");
    Take(text, &at, ':');
    if (!TakeNumber(text, &at, 2, &zone_minutes) || zone_hours > 18 || zone_minutes > 59) {
      return bad("expected the zone's minutes");
    }
    const int64_t offset_seconds = zone_hours * 3'600 + zone_minutes * 60;
    utc_seconds = local_seconds - (sign == '+' ? offset_seconds : -offset_seconds);
  }
  if (at != text.size()) return bad("unexpected text after the time");
  return utc_seconds * 1'000 + millis;
}

}  // namespace strand::cli
