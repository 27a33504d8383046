// Kafka errors as absl::Status (strand/record.h), and TopicPartition's printing.

#include <fmt/format.h>

#include "absl/strings/cord.h"
#include "strand/record.h"

namespace strand::client {

std::string TopicPartition::ToString() const { return fmt::format("{}-{}", topic, partition); }

absl::Status KafkaStatus(KafkaError error, std::string_view message) {
  if (error == KafkaError::kNone) return absl::OkStatus();
  std::string text(KafkaErrorName(error));
  if (!message.empty()) text.append(": ").append(message);
  // The same code and payload as MakeError(error, ...) on the server (common/kafka_error.h).
  absl::Status status(KafkaErrorStatusCode(error), text);
  status.SetPayload(TypeUrl<KafkaError>(), absl::Cord(std::to_string(static_cast<int>(error))));
  return status;
}

std::optional<KafkaError> KafkaErrorOf(const absl::Status& status) {
  return ErrcOf<KafkaError>(status);
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
