#pragma once

// BrokerConfig: a broker process's own settings (Kafka's broker-only names), given as
// --config key=value next to the static cluster settings. Names this file does not know are
// cluster settings (validated by the controller's definitions) and pass through to topics.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "broker/group/group_shard.h"
#include "broker/server/replica_fetcher.h"
#include "storage/log_config.h"

namespace strand::broker {

struct BrokerSettings {
  storage::LogManagerConfig logs;
  FetcherOptions fetcher;
  int64_t controlled_shutdown_timeout_ms = 30'000;  // controlled.shutdown.timeout.ms (Strand)
  int heartbeat_interval_ms = 500;                  // broker.heartbeat.interval.ms
  int64_t fetch_waiting_max = 10'000;               // strand.fetch.waiting.max
  int64_t readiness_isr_wait_ms = 300'000;          // strand.readiness.isr.wait.ms
  group::GroupConfig groups;                        // group.consumer.*, offsets.* (coordinator)
  int64_t offsets_retention_check_interval_ms = 600'000;  // offsets.retention.check.interval.ms
  int64_t offsets_commit_timeout_ms = 5'000;              // offsets.commit.timeout.ms
  std::map<std::string, std::string> cluster;             // the rest: static cluster settings
};

// Splits `configs` into broker settings and cluster settings; fails on a malformed value or a
// name that is neither.
absl::StatusOr<BrokerSettings> ParseBrokerSettings(
    const std::map<std::string, std::string>& configs);

// The broker-only names, with their meaning (for --help and docs).
const std::map<std::string, std::string>& BrokerSettingNames();

}  // namespace strand::broker
