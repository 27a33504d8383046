#pragma once

// The client library's logger ("client"). Library code only logs retries and failovers at
// debug level: a client's caller decides what to tell its user.

#include <memory>

#include "common/logging.h"

namespace strand::client {

inline const std::shared_ptr<spdlog::logger>& ClientLogger() {
  static const std::shared_ptr<spdlog::logger> logger = GetLogger("client");
  return logger;
}

}  // namespace strand::client
