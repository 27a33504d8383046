// Kafka errors as absl::Status (strand/record.h), and TopicPartition's printing.

#include <fmt/format.h>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "strand/record.h"

namespace strand::client {
namespace {

constexpr char kKafkaErrorTypeUrl[] = "strand/kafka.Error";

absl::StatusCode CodeFor(KafkaError error) {
  switch (error) {
    case KafkaError::kRequestTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kUnknownTopicId:
      return absl::StatusCode::kNotFound;
    case KafkaError::kOffsetOutOfRange:
      return absl::StatusCode::kOutOfRange;
    default:
      return KafkaErrorRetriable(error) ? absl::StatusCode::kUnavailable
                                        : absl::StatusCode::kFailedPrecondition;
  }
}

}  // namespace

std::string TopicPartition::ToString() const { return fmt::format("{}-{}", topic, partition); }

absl::Status KafkaStatus(KafkaError error, std::string_view message) {
  if (error == KafkaError::kNone) return absl::OkStatus();
  std::string text(KafkaErrorName(error));
  if (!message.empty()) text.append(": ").append(message);
  absl::Status status(CodeFor(error), text);
  status.SetPayload(kKafkaErrorTypeUrl, absl::Cord(std::to_string(static_cast<int>(error))));
  return status;
}

std::optional<KafkaError> KafkaErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kKafkaErrorTypeUrl);
  if (!payload) return std::nullopt;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  return static_cast<KafkaError>(value);
}

std::string_view KafkaErrorNameOf(const absl::Status& status) {
  if (status.ok()) return KafkaErrorName(KafkaError::kNone);
  if (std::optional<KafkaError> error = KafkaErrorOf(status)) return KafkaErrorName(*error);
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return KafkaErrorName(KafkaError::kRequestTimedOut);
  }
  return KafkaErrorName(KafkaError::kUnknownServerError);
}

}  // namespace strand::client
