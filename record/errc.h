#pragma once

// Errc: the record codec's error enum, carried as a payload on absl::Status (see
// common/status.h). It names what is wrong with a batch's bytes and nothing else: a client
// decoding a fetch and a broker validating a produce see the same codes, and neither sees a
// storage failure (disk full, log offline) it could not have caused. ToKafkaError gives the
// Kafka code a broker answers with (ARCHITECTURE.md section 9).

#include <string_view>

#include "absl/status/status.h"
#include "common/kafka_error.h"
#include "common/status.h"

namespace strand::record {

enum class Errc {
  kCorruptBatch = 1,      // bad length, CRC mismatch, unknown codec, undecodable records
  kInvalidRecord = 2,     // well-formed but breaks a rule: counts, offset deltas, null keys...
  kUnsupportedMagic = 3,  // a batch format other than v2 (magic 2)
  kBatchTooLarge = 4,     // a batch larger than the bound it was checked against
  kInvalidTimestamp = 5,  // a timestamp outside message.timestamp.{before,after}.max.ms
  kCodecFailed = 6,       // a compression library refused to compress (never the input's fault)
};

std::string_view ErrcName(Errc errc);

// The Kafka error code for a codec failure: CORRUPT_MESSAGE, INVALID_RECORD,
// UNSUPPORTED_FOR_MESSAGE_FORMAT, MESSAGE_TOO_LARGE, INVALID_TIMESTAMP, UNKNOWN_SERVER_ERROR.
KafkaError ToKafkaError(Errc errc);
// kNone for OK, the mapping above when the status carries a record Errc, UNKNOWN_SERVER_ERROR
// otherwise.
KafkaError ToKafkaError(const absl::Status& status);

inline absl::Status RecordError(Errc errc, std::string_view message) {
  return MakeError(errc, message);
}

inline std::optional<Errc> RecordErrcOf(const absl::Status& status) { return ErrcOf<Errc>(status); }

}  // namespace strand::record

namespace strand {

template <>
struct ErrcTraits<record::Errc> {
  static constexpr std::string_view kTypeUrl = "strand/record.Errc";
  static absl::StatusCode Code(record::Errc errc);
  static std::string_view Name(record::Errc errc) { return record::ErrcName(errc); }
};

}  // namespace strand
