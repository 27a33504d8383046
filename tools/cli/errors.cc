#include "tools/cli/errors.h"

#include <fmt/format.h>

#include "common/kafka_error.h"
#include "strand/admin.h"
#include "tools/cli/exit_codes.h"

namespace strand::cli {

bool HasError(const common::v1::Error& error) { return error.code() != 0; }

std::string ErrorText(const common::v1::Error& error, std::string_view subject) {
  const std::string name = error.name().empty()
                               ? std::string(KafkaErrorName(static_cast<KafkaError>(error.code())))
                               : error.name();
  const std::string message = error.message().empty() ? std::string(subject) : error.message();
  return message.empty() ? name : fmt::format("{}: {}", name, message);
}

int ReportError(std::ostream& err, const common::v1::Error& error, std::string_view subject) {
  err << "error: " << ErrorText(error, subject) << "\n";
  return kExitRequestError;
}

int ReportFailure(std::ostream& err, const absl::Status& status) {
  const std::string message(status.message());
  if (client::IsUnreachable(status)) {
    err << "error: " << message << "\n";
    return kExitUnreachable;
  }
  err << "error: " << absl::StatusCodeToString(status.code()) << ": " << message << "\n";
  return kExitRequestError;
}

int ReportBadAnswer(std::ostream& err, std::string_view message) {
  err << "error: " << message << "\n";
  return kExitRequestError;
}

int ReportUsage(std::ostream& err, std::string_view message) {
  err << "error: " << message << "\n";
  return kExitUsage;
}

}  // namespace strand::cli
