#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace strand {
namespace {

std::mutex& LoggerMutex() {
  static std::mutex mu;
  return mu;
}

spdlog::level::level_enum& DefaultLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

}  // namespace

void InitLogging(std::string_view level) {
  std::lock_guard lock(LoggerMutex());
  DefaultLevel() = spdlog::level::from_str(std::string(level));
  spdlog::set_level(DefaultLevel());
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n %v");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(DefaultLevel()); });
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  std::lock_guard lock(LoggerMutex());
  if (auto logger = spdlog::get(name)) return logger;
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(DefaultLevel());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n %v");
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace strand
