#pragma once

// LogConfig: the per-log (per-topic) settings, named after Kafka's topic configs, and
// LogManagerConfig: the per-broker settings of the log manager. Every field has a bound that
// Validate() checks; units are last in the names. docs/configuration.md lists them with their
// Kafka names and defaults. Plain values; copy freely.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "record/record_batch.h"

namespace strand::storage {

inline constexpr int64_t kUnlimited = -1;
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

enum class CleanupPolicy : uint8_t {
  kDelete = 1,         // "delete": retention by time and size
  kCompact = 2,        // "compact": keep the newest record per key
  kCompactDelete = 3,  // "compact,delete": both
};
inline bool Compacts(CleanupPolicy p) { return p != CleanupPolicy::kDelete; }
inline bool Deletes(CleanupPolicy p) { return p != CleanupPolicy::kCompact; }

struct LogConfig {
  int64_t segment_bytes = 1 << 30;                        // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;            // segment.ms
  // segment.jitter.ms: each segment rolls up to this much before segment.ms (a fixed share per
  // log and segment, below min(jitter, segment.ms)), so that topics created together do not all
  // roll at the same moment.
  int64_t segment_jitter_ms = 0;
  int64_t segment_index_bytes = 10 << 20;                 // segment.index.bytes
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;          // retention.ms (-1: keep forever)
  int64_t retention_bytes = kUnlimited;                   // retention.bytes (-1: no size bound)
  // file.delete.delay.ms: a segment that retention or DeleteRecords removes is renamed
  // "<file>.deleted" at once and its files removed this much later (0: at once).
  int64_t file_delete_delay_ms = 60'000;
  CleanupPolicy cleanup_policy = CleanupPolicy::kDelete;  // cleanup.policy
  int64_t delete_retention_ms = 24LL * 3600 * 1000;       // delete.retention.ms
  int64_t min_compaction_lag_ms = 0;                      // min.compaction.lag.ms
  int64_t max_compaction_lag_ms = kNever;                 // max.compaction.lag.ms
  double min_cleanable_dirty_ratio = 0.5;                 // min.cleanable.dirty.ratio
  // Strand's default differs from Kafka's (which never fsyncs and relies on replication): every
  // batch is fsynced, with group commit, before it is reported durable.
  int64_t flush_messages = 1;                                         // flush.messages
  int64_t flush_ms = kNever;                                          // flush.ms
  int32_t index_interval_bytes = 4096;                                // index.interval.bytes
  int32_t max_message_bytes = 1048588;                                // max.message.bytes
  // compression.type: the codec a leader stores batches with, recompressing those a producer
  // sent with another (as Kafka does); nullopt ("producer", the default) keeps the bytes.
  std::optional<record::Compression> compression_type;
  record::TimestampType message_timestamp_type =
      record::TimestampType::kCreateTime;            // message.timestamp.type
  int64_t message_timestamp_before_max_ms = kNever;  // message.timestamp.before.max.ms
  // Kafka 4.0's default (KIP-1030): a far-future CreateTime would freeze time retention.
  int64_t message_timestamp_after_max_ms = 3'600'000;  // message.timestamp.after.max.ms
  // Strand's default differs from Kafka's: writes into reserved space skip per-write block
  // allocation (measured 10-25% faster appends on ext4); see strand.preallocate.chunk.bytes.
  bool preallocate = true;  // preallocate
  // Strand's own (strand.* names):
  int64_t decompressed_batch_bytes_max = 64 << 20;  // strand.decompressed.batch.bytes.max
  bool verify_crc_on_read = true;                   // strand.verify.crc.on.read
  bool validate_compressed_records = true;          // strand.validate.compressed.records
  int64_t preallocate_chunk_bytes = 8 << 20;        // strand.preallocate.chunk.bytes

  absl::Status Validate() const;

  // Applies Kafka-named properties (e.g. {"segment.bytes", "1048576"}) over `base`; unknown
  // names and malformed values fail with Errc::kInvalidConfig.
  static absl::StatusOr<LogConfig> FromProperties(const std::map<std::string, std::string>& props,
                                                  const LogConfig& base);
  std::map<std::string, std::string> ToProperties() const;
};

struct LogManagerConfig {
  std::string data_dir;
  int32_t logs_max = 10000;                         // logs one broker may hold
  int32_t recovery_threads = 2;                     // num.recovery.threads.per.data.dir
  int32_t flush_threads = 2;                        // group-commit flushers
  int64_t flush_check_interval_ms = 1000;           // log.flush.scheduler.interval.ms
  int64_t retention_check_interval_ms = 300000;     // log.retention.check.interval.ms
  int64_t checkpoint_interval_ms = 60000;           // log.flush.offset.checkpoint.interval.ms
  int32_t cleaner_threads = 1;                      // log.cleaner.threads (0: no compaction)
  int64_t cleaner_dedupe_buffer_bytes = 128 << 20;  // log.cleaner.dedupe.buffer.size
  int64_t cleaner_backoff_ms = 15000;               // log.cleaner.backoff.ms
  int32_t open_segments_max = 4096;                 // closed segments kept open (files+indexes)
  int64_t log_delete_delay_ms = 60000;              // file.delete.delay.ms (deleted logs)
  // File descriptors below RLIMIT_NOFILE that logs may not use (0: an eighth of the limit,
  // between 64 and 4,096); see DescriptorBudget.
  int64_t file_descriptors_reserve = 0;

  absl::Status Validate() const;
};

std::string_view CleanupPolicyName(CleanupPolicy p);

}  // namespace strand::storage
