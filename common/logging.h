#pragma once

// Structured logging on spdlog. Each module asks for its named logger once (see the module's
// logger.h) and prefixes every line with its context, e.g. "[raft node=2 term=7]".
//
// InitLogging is called once by a binary's main; library code never configures sinks.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace strand {

// level: trace, debug, info, warn, error, critical, off. Logs go to stderr.
void InitLogging(std::string_view level);

// Returns the named logger, creating it (sharing the default sinks) on first use.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

}  // namespace strand
