#include "record/errc.h"

namespace strand::record {

std::string_view ErrcName(Errc errc) {
  switch (errc) {
    case Errc::kCorruptBatch:
      return "CORRUPT_BATCH";
    case Errc::kInvalidRecord:
      return "INVALID_RECORD";
    case Errc::kUnsupportedMagic:
      return "UNSUPPORTED_MAGIC";
    case Errc::kBatchTooLarge:
      return "BATCH_TOO_LARGE";
    case Errc::kInvalidTimestamp:
      return "INVALID_TIMESTAMP";
    case Errc::kCodecFailed:
      return "CODEC_FAILED";
  }
  return "UNKNOWN_RECORD_ERROR";
}

KafkaError ToKafkaError(Errc errc) {
  switch (errc) {
    case Errc::kCorruptBatch:
      return KafkaError::kCorruptMessage;
    case Errc::kInvalidRecord:
      return KafkaError::kInvalidRecord;
    case Errc::kUnsupportedMagic:
      return KafkaError::kUnsupportedForMessageFormat;
    case Errc::kBatchTooLarge:
      return KafkaError::kMessageTooLarge;
    case Errc::kInvalidTimestamp:
      return KafkaError::kInvalidTimestamp;
    case Errc::kCodecFailed:
      return KafkaError::kUnknownServerError;
  }
  return KafkaError::kUnknownServerError;
}

KafkaError ToKafkaError(const absl::Status& status) {
  if (status.ok()) return KafkaError::kNone;
  auto errc = RecordErrcOf(status);
  return errc ? ToKafkaError(*errc) : KafkaError::kUnknownServerError;
}

}  // namespace strand::record

namespace strand {

absl::StatusCode ErrcTraits<record::Errc>::Code(record::Errc errc) {
  using record::Errc;
  switch (errc) {
    case Errc::kCorruptBatch:
    case Errc::kInvalidRecord:
    case Errc::kUnsupportedMagic:
    case Errc::kBatchTooLarge:
    case Errc::kInvalidTimestamp:
      return absl::StatusCode::kInvalidArgument;
    case Errc::kCodecFailed:
      return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace strand
