#pragma once

// The wire form of a Kafka error (strand.common.v1.Error: code, name, message), filled in one
// place for every server, client and fake.

#include <string>
#include <string_view>

#include "common/kafka_error.h"
#include "proto/common/v1/error.pb.h"

namespace strand {

// Sets code, name (KafkaErrorName) and message; kNone too (code 0, "NONE").
inline void SetKafkaError(common::v1::Error* out, KafkaError code, std::string_view message) {
  out->set_code(static_cast<int32_t>(code));
  out->set_name(std::string(KafkaErrorName(code)));
  out->set_message(std::string(message));
}

// The same, but kNone leaves `out` untouched (an absent error means success).
inline void SetKafkaErrorIfAny(common::v1::Error* out, KafkaError code, std::string_view message) {
  if (code != KafkaError::kNone) SetKafkaError(out, code, message);
}

}  // namespace strand
