#pragma once

// The storage module's logger: spdlog's "storage" logger with a context prefix naming the log,
// e.g. "[orders-3] rolled segment 1200 (1073741312 bytes)" (common/logging.h).

#include <string_view>

#include "common/logging.h"

namespace strand::storage {

class ContextLogger : public strand::ContextLogger {
 public:
  explicit ContextLogger(std::string_view context) : strand::ContextLogger("storage", context) {}
};

}  // namespace strand::storage
