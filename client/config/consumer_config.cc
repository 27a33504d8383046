// ConsumerConfig::FromProperties: the table checks (config_values.h) plus the rules between
// settings.

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
  c.group_remote_assignor = v.GetString("group.remote.assignor");
  if (v.GetString("group.protocol") == "classic") {
    problems.push_back(
        "group.protocol: classic is not supported (the classic group protocol comes with the "
        "Kafka listener); use consumer, the default");
  }
  // Kafka's rule: without a group there is nothing to commit to, so auto commit is off by
  // default and an explicit true is a mistake.
  c.enable_auto_commit = v.GetBool("enable.auto.commit") && !c.group_id.empty();
  if (c.group_id.empty() && v.IsSet("enable.auto.commit") && v.GetBool("enable.auto.commit")) {
    problems.push_back("enable.auto.commit=true needs a group.id");
  }
  if (c.group_id.empty() && !c.group_instance_id.empty()) {
    problems.push_back("group.instance.id needs a group.id");
  }
  c.auto_commit_interval_ms = v.GetInt("auto.commit.interval.ms");
  // Broker-owned under the consumer protocol: kept for the record, never used.
  c.session_timeout_ms = v.GetInt("session.timeout.ms");
  c.heartbeat_interval_ms = v.GetInt("heartbeat.interval.ms");
  for (const char* name : {"session.timeout.ms", "heartbeat.interval.ms"}) {
    if (v.IsSet(name)) c.ignored_settings.emplace_back(name);
  }
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
  if (c.ssl_certificate_location.empty() != c.ssl_key_location.empty()) {
    problems.push_back("ssl.certificate.location and ssl.key.location go together");
  }
  if (!problems.empty()) return ConfigError(problems);
  return c;
}

}  // namespace strand::client
