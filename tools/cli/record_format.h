#pragma once

// How `strand produce` reads records from text lines and how `strand consume` prints them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "strand/record.h"

namespace strand::cli {

// ---- produce

// "k=v,k2=v2" (repeatable flag values) into headers, in order; a key may repeat (Kafka allows
// it). Each item splits at its first '='; a key must not be empty; "k" alone is a null value.
absl::StatusOr<std::vector<client::Header>> ParseHeaders(const std::vector<std::string>& items);

// One input line (without its newline) into a record's key and value: with a separator, the
// key is the text before its first occurrence and the value the rest (no separator in the line
// is an error naming it); without one, the whole line is the value and the key is null.
struct KeyValue {
  std::optional<std::string> key;
  std::string value;
};
absl::StatusOr<KeyValue> SplitLine(std::string_view line, std::string_view key_separator);

// ---- consume

// A --format template: text with fields in braces — {topic} {partition} {offset} {timestamp}
// {timestamp_type} {leader_epoch} {key} {value} {headers} — and the escapes \t \n \\ ; "{{" and
// "}}" are literal braces. A null key or value prints as "null"; headers as "k:v,k2:v2" (null
// values as "k:null"), "NO_HEADERS" when there are none (as Kafka's console consumer).
class RecordFormat {
 public:
  // InvalidArgument naming an unknown field or an unbalanced brace.
  static absl::StatusOr<RecordFormat> Parse(std::string_view text);

  // The record as a line, newline included.
  std::string Render(const client::ConsumerRecord& record) const;

 private:
  enum class Field {
    kText,
    kTopic,
    kPartition,
    kOffset,
    kTimestamp,
    kTimestampType,
    kLeaderEpoch,
    kKey,
    kValue,
    kHeaders
  };
  struct Piece {
    Field field = Field::kText;
    std::string text;  // kText only
  };
  std::vector<Piece> pieces_;
};

// A record as one JSON object: {topic, partition, offset, timestamp, timestamp_type, key,
// value, headers: [{key, value}]}; key and value null for Kafka's null. Bytes that are not valid
// UTF-8 are replaced (U+FFFD) when the object is printed.
nlohmann::ordered_json RecordJson(const client::ConsumerRecord& record);

}  // namespace strand::cli
