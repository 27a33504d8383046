#pragma once

// The storage module's logger: spdlog's "storage" logger with a context prefix naming the log,
// e.g. "[orders-3] rolled segment 1200 (1073741312 bytes)". Formatting is skipped when the level
// is off.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>

#include "common/logging.h"

namespace strand::storage {

class ContextLogger {
 public:
  explicit ContextLogger(std::string context)
      : logger_(GetLogger("storage")), prefix_("[" + std::move(context) + "] ") {}

  template <typename... Args>
  void Debug(fmt::format_string<Args...> format, Args&&... args) const {
    Log(spdlog::level::debug, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Info(fmt::format_string<Args...> format, Args&&... args) const {
    Log(spdlog::level::info, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Warn(fmt::format_string<Args...> format, Args&&... args) const {
    Log(spdlog::level::warn, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Error(fmt::format_string<Args...> format, Args&&... args) const {
    Log(spdlog::level::err, format, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void Log(spdlog::level::level_enum level, fmt::format_string<Args...> format,
           Args&&... args) const {
    if (!logger_->should_log(level)) return;
    logger_->log(level, "{}{}", prefix_, fmt::format(format, std::forward<Args>(args)...));
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::string prefix_;
};

}  // namespace strand::storage
