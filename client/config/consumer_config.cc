// ConsumerConfig::FromProperties: the table checks (config_values.h) plus the rules between
// settings.

#include <fmt/format.h>

#include "client/config/config_values.h"
#include "client/config/shared_settings.h"
#include "strand/consumer.h"

namespace strand::client {

absl::StatusOr<ConsumerConfig> ConsumerConfig::FromProperties(const Properties& properties) {
  absl::StatusOr<ConfigValues> parsed = ConfigValues::Parse(properties, ClientRole::kConsumer);
  if (!parsed.ok()) return parsed.status();
  const ConfigValues& v = *parsed;
  std::vector<std::string> problems;
  ConsumerConfig c;
  ReadSharedClientSettings(v, &c, &problems);
  c.group_id = v.GetString("group.id");
  c.group_instance_id = v.GetString("group.instance.id");
  c.enable_auto_commit = v.GetBool("enable.auto.commit");
  c.auto_commit_interval_ms = v.GetInt("auto.commit.interval.ms");
  c.session_timeout_ms = v.GetInt("session.timeout.ms");
  c.heartbeat_interval_ms = v.GetInt("heartbeat.interval.ms");
  c.max_poll_interval_ms = v.GetInt("max.poll.interval.ms");
  const std::string& reset = v.GetString("auto.offset.reset");
  c.auto_offset_reset = reset == "earliest" ? OffsetResetPolicy::kEarliest
                        : reset == "none"   ? OffsetResetPolicy::kNone
                                            : OffsetResetPolicy::kLatest;
  c.fetch_min_bytes = v.GetInt("fetch.min.bytes");
  c.fetch_max_bytes = v.GetInt("fetch.max.bytes");
  c.fetch_max_wait_ms = v.GetInt("fetch.max.wait.ms");
  c.max_partition_fetch_bytes = v.GetInt("max.partition.fetch.bytes");
  c.max_poll_records = v.GetInt("max.poll.records");
  c.read_committed = v.GetString("isolation.level") == "read_committed";
  c.client_rack = v.GetString("client.rack");
  c.check_crcs = v.GetBool("check.crcs");
  c.default_api_timeout_ms = v.GetInt("default.api.timeout.ms");
  if (c.heartbeat_interval_ms >= c.session_timeout_ms) {
    problems.push_back(
        fmt::format("heartbeat.interval.ms ({}) must be below session.timeout.ms ({})",
                    c.heartbeat_interval_ms, c.session_timeout_ms));
  }
  if (c.ssl_certificate_location.empty() != c.ssl_key_location.empty()) {
    problems.push_back("ssl.certificate.location and ssl.key.location go together");
  }
  if (!problems.empty()) return ConfigError(problems);
  return c;
}

}  // namespace strand::client
