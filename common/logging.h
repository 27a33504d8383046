#pragma once

// Structured logging on spdlog. Each module asks for its named logger once (see the module's
// logger.h) and prefixes every line with its context, e.g. "[raft node=2 term=7]".
//
// InitLogging is called once by a binary's main; library code never configures sinks.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace strand {

// level: trace, debug, info, warn, error, critical, off. Logs go to stderr.
void InitLogging(std::string_view level);

// Returns the named logger, creating it (sharing the default sinks) on first use.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

// A named logger with a context prefix: ContextLogger("storage", "orders-3").Info("rolled {}", n)
// logs "[orders-3] rolled 1200". Formatting is skipped when the level is off. Modules wrap it in
// their logger.h with their logger name and context.
class ContextLogger {
 public:
  ContextLogger(const std::string& logger, std::string_view context)
      : logger_(GetLogger(logger)), prefix_(fmt::format("[{}] ", context)) {}

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
  const std::string& prefix() const { return prefix_; }

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

}  // namespace strand
