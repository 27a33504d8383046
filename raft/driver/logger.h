#pragma once

// The Raft library's logger ("raft"); lines carry a context prefix such as "[raft node=2 term=7]".

#include "common/logging.h"

namespace strand::raft {

inline spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = GetLogger("raft");
  return *logger;
}

}  // namespace strand::raft
