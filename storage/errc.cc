#include "storage/errc.h"

#include "record/errc.h"

namespace strand::storage {

std::string_view ErrcName(Errc errc) {
  switch (errc) {
    case Errc::kOffsetOutOfRange:
      return "OFFSET_OUT_OF_RANGE";
    case Errc::kRecordListTooLarge:
      return "RECORD_LIST_TOO_LARGE";
    case Errc::kOffsetsOutOfOrder:
      return "OFFSETS_OUT_OF_ORDER";
    case Errc::kDiskFull:
      return "DISK_FULL";
    case Errc::kIoError:
      return "IO_ERROR";
    case Errc::kLogFailed:
      return "LOG_FAILED";
    case Errc::kCorruptLog:
      return "CORRUPT_LOG";
    case Errc::kLogClosed:
      return "LOG_CLOSED";
    case Errc::kTruncated:
      return "TRUNCATED";
    case Errc::kInvalidConfig:
      return "INVALID_CONFIG";
    case Errc::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Errc::kLogNotFound:
      return "LOG_NOT_FOUND";
    case Errc::kLogAlreadyExists:
      return "LOG_ALREADY_EXISTS";
    case Errc::kLimitExceeded:
      return "LIMIT_EXCEEDED";
    case Errc::kTimeout:
      return "TIMEOUT";
    case Errc::kFencedLeaderEpoch:
      return "FENCED_LEADER_EPOCH";
  }
  return "UNKNOWN_STORAGE_ERROR";
}

KafkaError ToKafkaError(Errc errc) {
  switch (errc) {
    case Errc::kOffsetOutOfRange:
      return KafkaError::kOffsetOutOfRange;
    case Errc::kRecordListTooLarge:
      return KafkaError::kRecordListTooLarge;
    // Kafka answers a follower's non-monotonic append with an unexpected-offset server error.
    case Errc::kOffsetsOutOfOrder:
      return KafkaError::kUnknownServerError;
    // A local disk problem: the client retries, typically against a new leader.
    case Errc::kDiskFull:
    case Errc::kIoError:
    case Errc::kLogFailed:
    case Errc::kCorruptLog:
    case Errc::kLogClosed:
      return KafkaError::kKafkaStorageError;
    // Waiting producers learn that this replica stopped leading and truncated their write.
    case Errc::kTruncated:
      return KafkaError::kNotLeaderOrFollower;
    case Errc::kInvalidConfig:
      return KafkaError::kInvalidConfig;
    case Errc::kInvalidArgument:
      return KafkaError::kInvalidRequest;
    case Errc::kLogNotFound:
      return KafkaError::kUnknownTopicOrPartition;
    case Errc::kLogAlreadyExists:
    case Errc::kLimitExceeded:
      return KafkaError::kUnknownServerError;
    case Errc::kTimeout:
      return KafkaError::kRequestTimedOut;
    case Errc::kFencedLeaderEpoch:
      return KafkaError::kFencedLeaderEpoch;
  }
  return KafkaError::kUnknownServerError;
}

KafkaError ToKafkaError(const absl::Status& status) {
  if (status.ok()) return KafkaError::kNone;
  if (auto errc = StorageErrcOf(status)) return ToKafkaError(*errc);
  if (auto errc = record::RecordErrcOf(status)) return record::ToKafkaError(*errc);
  return KafkaError::kUnknownServerError;
}

std::string_view ErrorNameOf(const absl::Status& status) {
  if (auto errc = StorageErrcOf(status)) return ErrcName(*errc);
  if (auto errc = record::RecordErrcOf(status)) return record::ErrcName(*errc);
  return "UNKNOWN";
}

}  // namespace strand::storage

namespace strand {

absl::StatusCode ErrcTraits<storage::Errc>::Code(storage::Errc errc) {
  using storage::Errc;
  switch (errc) {
    case Errc::kOffsetOutOfRange:
      return absl::StatusCode::kOutOfRange;
    case Errc::kRecordListTooLarge:
    case Errc::kOffsetsOutOfOrder:
    case Errc::kInvalidConfig:
    case Errc::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case Errc::kDiskFull:
    case Errc::kLimitExceeded:
      return absl::StatusCode::kResourceExhausted;
    case Errc::kIoError:
    case Errc::kLogFailed:
      return absl::StatusCode::kUnavailable;
    case Errc::kCorruptLog:
      return absl::StatusCode::kDataLoss;
    case Errc::kLogClosed:
    case Errc::kTruncated:
      return absl::StatusCode::kFailedPrecondition;
    case Errc::kLogNotFound:
      return absl::StatusCode::kNotFound;
    case Errc::kLogAlreadyExists:
      return absl::StatusCode::kAlreadyExists;
    case Errc::kTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case Errc::kFencedLeaderEpoch:
      return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace strand
