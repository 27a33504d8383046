#pragma once

// How the CLI reports failures: one line on stderr, "error: <NAME>: <message>", and an exit
// code (tools/cli/exit_codes.h).

#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "proto/common/v1/error.pb.h"

namespace strand::cli {

// A Kafka error is set (code != 0, NONE is success).
bool HasError(const common::v1::Error& error);

// "NAME: message"; the name falls back to the code's Kafka name, the message to `subject`
// (e.g. "topic 'orders'") when the server sent none.
std::string ErrorText(const common::v1::Error& error, std::string_view subject);

// Prints "error: NAME: message" and returns kExitRequestError.
int ReportError(std::ostream& err, const common::v1::Error& error, std::string_view subject);

// For a call that got no usable answer: unreachable cluster (exit kExitUnreachable, the
// client's sentence naming the addresses) or another gRPC error (kExitRequestError,
// "error: CODE: message").
int ReportFailure(std::ostream& err, const absl::Status& status);

// Prints "error: <message>" for an answer that makes no sense and returns kExitRequestError.
int ReportBadAnswer(std::ostream& err, std::string_view message);

// Prints "error: <message>" for a bad argument and returns kExitUsage.
int ReportUsage(std::ostream& err, std::string_view message);

}  // namespace strand::cli
