#pragma once

// Errc: the storage module's error enum, carried as a payload on absl::Status (see
// common/status.h). Every storage failure that a caller may act on has one, and each maps onto
// the Kafka error code a broker puts in its response (ToKafkaError), so that produce and fetch
// answers speak Kafka's language (ARCHITECTURE.md section 9).

#include <string_view>

#include "absl/status/status.h"
#include "common/kafka_error.h"
#include "common/status.h"

namespace strand::storage {

enum class Errc {
  // Reads and offset lookups.
  kOffsetOutOfRange = 1,  // below the log start offset or above the log end offset
  // Unacceptable appends (nothing of the request is written). What is wrong inside a batch's
  // bytes is the record codec's record::Errc (record/errc.h), which appends pass through.
  kRecordListTooLarge = 6,  // an append larger than a whole segment
  kOffsetsOutOfOrder = 8,   // a follower append whose offsets are not increasing past the end
  // Local storage trouble.
  kDiskFull = 9,     // ENOSPC/EDQUOT: the append failed, the log is unchanged and usable
  kIoError = 10,     // another I/O error that left the log consistent
  kLogFailed = 11,   // the log is offline after an I/O error it cannot vouch past (fsync)
  kCorruptLog = 12,  // stored data fails its checksum (bit rot); never served
  kLogClosed = 13,   // the log was closed or deleted
  kTruncated = 14,   // an awaited offset was truncated away before it became durable
  // Misuse and configuration.
  kInvalidConfig = 15,
  kInvalidArgument = 16,
  kLogNotFound = 17,
  kLogAlreadyExists = 18,
  kLimitExceeded = 19,  // a configured bound (logs, open files, memory) would be exceeded
  kTimeout = 20,
  kFencedLeaderEpoch = 21,  // a leader append with an epoch older than the log's latest
};

std::string_view ErrcName(Errc errc);

// The Kafka error code a broker answers with for this status: kNone for OK, the mapping of the
// storage Errc or the record codec's Errc when the status carries one, UNKNOWN_SERVER_ERROR
// otherwise.
KafkaError ToKafkaError(const absl::Status& status);
KafkaError ToKafkaError(Errc errc);

}  // namespace strand::storage

namespace strand {

template <>
struct ErrcTraits<storage::Errc> {
  static constexpr std::string_view kTypeUrl = "strand/storage.Errc";
  static absl::StatusCode Code(storage::Errc errc);
  static std::string_view Name(storage::Errc errc) { return storage::ErrcName(errc); }
};

}  // namespace strand

namespace strand::storage {

// Shorthand: StorageError(Errc::kDiskFull, "...") builds the status with its payload.
inline absl::Status StorageError(Errc errc, std::string_view message) {
  return MakeError(errc, message);
}

inline std::optional<Errc> StorageErrcOf(const absl::Status& status) {
  return ErrcOf<Errc>(status);
}

// The name of the storage or record Errc a status carries ("DISK_FULL", "CORRUPT_BATCH"), or
// "UNKNOWN": what metrics label an append failure with.
std::string_view ErrorNameOf(const absl::Status& status);

}  // namespace strand::storage
