#pragma once

// The broker's loggers, each with the context prefix of what it concerns (common/logging.h):
// PartitionLogger(tp) logs "[orders-3] ..." on the "broker.partition" logger. Server-wide parts
// (the replica manager, the services) use GetLogger("broker.<part>") directly.

#include "common/logging.h"
#include "storage/log_manager.h"

namespace strand::broker {

class PartitionLogger : public ContextLogger {
 public:
  explicit PartitionLogger(const storage::TopicPartition& tp)
      : ContextLogger("broker.partition", tp.DirName()) {}
};

}  // namespace strand::broker
