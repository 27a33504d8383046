#include "tools/cli/record_format.h"

#include <fmt/format.h>

#include <map>


namespace strand::cli {

absl::StatusOr<std::vector<client::Header>> ParseHeaders(const std::vector<std::string>& items) {
  std::vector<client::Header> headers;
  for (const std::string& item : items) {
    std::string_view rest = item;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view piece = rest.substr(0, comma);
      const size_t eq = piece.find('=');
      client::Header h;
      h.key = std::string(piece.substr(0, eq));
      if (h.key.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("header '{}' has no key (expected KEY=VALUE)", piece));
      }
      if (eq != std::string_view::npos) h.value = std::string(piece.substr(eq + 1));
      headers.push_back(std::move(h));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return headers;
}

absl::StatusOr<KeyValue> SplitLine(std::string_view line, std::string_view key_separator) {
  KeyValue kv;
  if (key_separator.empty()) {
    kv.value = std::string(line);
    return kv;
  }
  const size_t at = line.find(key_separator);
  if (at == std::string_view::npos) {
    return absl::InvalidArgumentError("no key separator in the line");
  }
  kv.key = std::string(line.substr(0, at));
  kv.value = std::string(line.substr(at + key_separator.size()));
  return kv;
}

absl::StatusOr<RecordFormat> RecordFormat::Parse(std::string_view text) {
  static const std::map<std::string_view, Field> kFields = {
      {"topic", Field::kTopic},
      {"partition", Field::kPartition},
      {"offset", Field::kOffset},
      {"timestamp", Field::kTimestamp},
      {"timestamp_type", Field::kTimestampType},
      {"leader_epoch", Field::kLeaderEpoch},
      {"key", Field::kKey},
      {"value", Field::kValue},
      {"headers", Field::kHeaders}};
  RecordFormat format;
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    format.pieces_.push_back({Field::kText, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c == '\\') {
      if (next == 't' || next == 'n' || next == '\\') {
        literal += next == 't' ? '\t' : next == 'n' ? '\n' : '\\';
        ++i;
        continue;
      }
      literal += c;
    } else if (c == '{' && next == '{') {
      literal += '{';
      ++i;
    } else if (c == '}' && next == '}') {
      literal += '}';
      ++i;
    } else if (c == '{') {
      const size_t close = text.find('}', i);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(fmt::format("unclosed '{{' at position {}", i));
      }
      const std::string_view name = text.substr(i + 1, close - i - 1);
      auto it = kFields.find(name);
      if (it == kFields.end()) {
        return absl::InvalidArgumentError(fmt::format(
            "unknown field {{{}}} (known: {{topic}} {{partition}} {{offset}} {{timestamp}} "
            "{{timestamp_type}} {{leader_epoch}} {{key}} {{value}} {{headers}})",
            name));
      }
      flush_literal();
      format.pieces_.push_back({it->second, {}});
      i = close;
    } else if (c == '}') {
      return absl::InvalidArgumentError(
          fmt::format("unmatched '}}' at position {} (write '}}}}' for a brace)", i));
    } else {
      literal += c;
    }
  }
  flush_literal();
  return format;
}

namespace {

std::string_view OrNull(const std::optional<std::string_view>& bytes) {
  return bytes ? *bytes : std::string_view("null");
}

std::string_view TimestampTypeName(client::TimestampType type) {
  return type == client::TimestampType::kLogAppendTime ? "LogAppendTime" : "CreateTime";
}

}  // namespace

std::string RecordFormat::Render(const client::ConsumerRecord& record) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    switch (piece.field) {
      case Field::kText:
        out += piece.text;
        break;
      case Field::kTopic:
        out += record.topic();
        break;
      case Field::kPartition:
        out += std::to_string(record.partition());
        break;
      case Field::kOffset:
        out += std::to_string(record.offset());
        break;
      case Field::kTimestamp:
        out += std::to_string(record.timestamp_ms());
        break;
      case Field::kTimestampType:
        out += TimestampTypeName(record.timestamp_type());
        break;
      case Field::kLeaderEpoch:
        out += std::to_string(record.leader_epoch());
        break;
      case Field::kKey:
        out += OrNull(record.key());
        break;
      case Field::kValue:
        out += OrNull(record.value());
        break;
      case Field::kHeaders:
        if (record.headers().empty()) {
          out += "NO_HEADERS";
          break;
        }
        for (size_t i = 0; i < record.headers().size(); ++i) {
          const client::HeaderView& h = record.headers()[i];
          if (i > 0) out += ',';
          out += h.key;
          out += ':';
          out += OrNull(h.value);
        }
        break;
    }
  }
  out += '\n';
  return out;
}

nlohmann::ordered_json RecordJson(const client::ConsumerRecord& record) {
  auto bytes = [](const std::optional<std::string_view>& b) -> nlohmann::ordered_json {
    if (!b) return nullptr;
    return std::string(*b);
  };
  nlohmann::ordered_json json;
  json["topic"] = record.topic();
  json["partition"] = record.partition();
  json["offset"] = record.offset();
  json["timestamp"] = record.timestamp_ms();
  json["timestamp_type"] = TimestampTypeName(record.timestamp_type());
  json["key"] = bytes(record.key());
  json["value"] = bytes(record.value());
  json["headers"] = nlohmann::ordered_json::array();
  for (const client::HeaderView& h : record.headers()) {
    json["headers"].push_back({{"key", std::string(h.key)}, {"value", bytes(h.value)}});
  }
  return json;
}

}  // namespace strand::cli
