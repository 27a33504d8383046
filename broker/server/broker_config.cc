#include "broker/server/broker_config.h"

#include <charconv>
#include <functional>

#include <fmt/format.h>

#include "controller/state/config_defs.h"

namespace strand::broker {
namespace {

struct Setting {
  std::string help;
  int64_t min;
  int64_t max;
  std::function<void(BrokerSettings&, int64_t)> apply;
};

const std::map<std::string, Setting>& Settings() {
  static const auto* settings = new std::map<std::string, Setting>{
      {"log.retention.check.interval.ms",
       {"How often retention deletes old segments", 1, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.retention_check_interval_ms = v; }}},
      {"log.flush.offset.checkpoint.interval.ms",
       {"How often recovery points and high watermarks are checkpointed", 1, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.checkpoint_interval_ms = v; }}},
      {"log.flush.scheduler.interval.ms",
       {"How often flush.ms deadlines are checked", 1, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.flush_check_interval_ms = v; }}},
      {"num.recovery.threads.per.data.dir",
       {"Threads that open and recover logs at start-up", 1, 64,
        [](BrokerSettings& s, int64_t v) { s.logs.recovery_threads = static_cast<int32_t>(v); }}},
      {"strand.flush.threads",
       {"Group-commit flusher threads", 1, 64,
        [](BrokerSettings& s, int64_t v) { s.logs.flush_threads = static_cast<int32_t>(v); }}},
      {"log.cleaner.threads",
       {"Compaction threads (0: no compaction)", 0, 64,
        [](BrokerSettings& s, int64_t v) { s.logs.cleaner_threads = static_cast<int32_t>(v); }}},
      {"log.cleaner.backoff.ms",
       {"Pause between compaction rounds with nothing to do", 1, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.cleaner_backoff_ms = v; }}},
      {"log.cleaner.dedupe.buffer.size",
       {"Memory for compaction's key map", 1 << 20, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.cleaner_dedupe_buffer_bytes = v; }}},
      {"file.delete.delay.ms",
       {"Delay before the files of a deleted log are removed", 0, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.log_delete_delay_ms = v; }}},
      {"strand.logs.max",
       {"Most partition logs this broker may hold", 1, INT32_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.logs_max = static_cast<int32_t>(v); }}},
      {"strand.file.descriptors.reserve",
       {"File descriptors below the process limit that logs may not use (0: an eighth of the "
        "limit, 64 to 4096)",
        0, 1'000'000, [](BrokerSettings& s, int64_t v) { s.logs.file_descriptors_reserve = v; }}},
      {"strand.open.segments.max",
       {"Sealed segments kept open (files and indexes)", 16, INT32_MAX,
        [](BrokerSettings& s, int64_t v) { s.logs.open_segments_max = static_cast<int32_t>(v); }}},
      {"replica.fetch.wait.max.ms",
       {"Longest a follower's fetch waits at the leader for new data", 1, 60'000,
        [](BrokerSettings& s, int64_t v) { s.fetcher.max_wait_ms = static_cast<int32_t>(v); }}},
      {"replica.fetch.max.bytes",
       {"Bytes a follower asks for per partition per fetch", 1024, 32 << 20,
        [](BrokerSettings& s, int64_t v) {
          s.fetcher.partition_max_bytes = static_cast<int32_t>(v);
        }}},
      {"replica.fetch.response.max.bytes",
       {"Bytes a follower asks for per fetch", 1024, 48 << 20,
        [](BrokerSettings& s, int64_t v) { s.fetcher.max_bytes = static_cast<int32_t>(v); }}},
      {"replica.fetch.backoff.ms",
       {"Pause after a failed follower fetch", 1, 60'000,
        [](BrokerSettings& s, int64_t v) { s.fetcher.backoff_ms = static_cast<int32_t>(v); }}},
      {"controlled.shutdown.timeout.ms",
       {"Longest a SIGTERM waits for leaderships to move away before exiting anyway", 0, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.controlled_shutdown_timeout_ms = v; }}},
      {"strand.readiness.isr.wait.ms",
       {"After a start, longest readiness waits for this broker's replicas to rejoin their ISRs",
        0, 86'400'000, [](BrokerSettings& s, int64_t v) { s.readiness_isr_wait_ms = v; }}},
      {"strand.fetch.waiting.max",
       {"Long-polling fetches parked at once; past it a fetch is answered at once with what "
        "there is",
        1, 1'000'000, [](BrokerSettings& s, int64_t v) { s.fetch_waiting_max = v; }}},
      {"group.consumer.session.timeout.ms",
       {"A consumer-group member that sends no heartbeat for this long is removed", 1'000,
        3'600'000,
        [](BrokerSettings& s, int64_t v) {
          s.groups.session_timeout_ms = static_cast<int32_t>(v);
        }}},
      {"group.consumer.heartbeat.interval.ms",
       {"How often consumer-group members heartbeat (told to them by the coordinator)", 100,
        600'000,
        [](BrokerSettings& s, int64_t v) {
          s.groups.heartbeat_interval_ms = static_cast<int32_t>(v);
        }}},
      {"group.consumer.max.size",
       {"Most members of one consumer group (GROUP_MAX_SIZE_REACHED past it)", 1, 100'000,
        [](BrokerSettings& s, int64_t v) { s.groups.max_size = static_cast<int32_t>(v); }}},
      {"offset.metadata.max.bytes",
       {"Longest metadata string of a committed offset", 0, 1 << 20,
        [](BrokerSettings& s, int64_t v) {
          s.groups.offset_metadata_max_bytes = static_cast<int32_t>(v);
        }}},
      {"offsets.retention.minutes",
       {"Committed offsets of a group without members expire this long after their commit", 1,
        INT64_MAX / 60'000,
        [](BrokerSettings& s, int64_t v) { s.groups.offsets_retention_ms = v * 60'000; }}},
      {"offsets.retention.check.interval.ms",
       {"How often expired offsets are looked for", 1, INT64_MAX,
        [](BrokerSettings& s, int64_t v) { s.offsets_retention_check_interval_ms = v; }}},
      {"offsets.commit.timeout.ms",
       {"Longest a group write (commit, heartbeat) waits for every in-sync replica of its "
        "__consumer_offsets partition",
        1, 600'000, [](BrokerSettings& s, int64_t v) { s.offsets_commit_timeout_ms = v; }}},
      {"strand.group.offsets.max",
       {"Most committed offsets one group may hold", 1, 100'000'000,
        [](BrokerSettings& s, int64_t v) {
          s.groups.offsets_per_group_max = static_cast<int32_t>(v);
        }}},
      {"strand.group.coordinator.groups.max",
       {"Most groups one __consumer_offsets partition may hold", 1, 100'000'000,
        [](BrokerSettings& s, int64_t v) { s.groups.groups_max = static_cast<int32_t>(v); }}},
      {"broker.heartbeat.interval.ms",
       {"How often the broker heartbeats to the active controller", 10, 60'000,
        [](BrokerSettings& s, int64_t v) { s.heartbeat_interval_ms = static_cast<int>(v); }}},
  };
  return *settings;
}

}  // namespace

const std::map<std::string, std::string>& BrokerSettingNames() {
  static const auto* names = [] {
    auto* out = new std::map<std::string, std::string>;
    for (const auto& [name, s] : Settings()) (*out)[name] = s.help;
    return out;
  }();
  return *names;
}

absl::StatusOr<BrokerSettings> ParseBrokerSettings(
    const std::map<std::string, std::string>& configs) {
  BrokerSettings out;
  for (const auto& [name, value] : configs) {
    auto it = Settings().find(name);
    if (it == Settings().end()) {
      if (absl::Status s = controller::ValidateClusterConfig(name, value); !s.ok()) return s;
      out.cluster[name] = value;
      continue;
    }
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return absl::InvalidArgumentError(fmt::format("{}: '{}' is not an integer", name, value));
    }
    if (v < it->second.min || v > it->second.max) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {} is outside [{}, {}]", name, v, it->second.min, it->second.max));
    }
    it->second.apply(out, v);
  }
  return out;
}

}  // namespace strand::broker
