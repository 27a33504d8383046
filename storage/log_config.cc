#include "storage/log_config.h"

#include "record/compression.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>

#include "storage/errc.h"

namespace strand::storage {
namespace {

absl::Status Bad(std::string_view what) { return StorageError(Errc::kInvalidConfig, what); }

absl::Status Range(std::string_view name, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Bad(fmt::format("{} = {} is outside [{}, {}]", name, v, lo, hi));
  }
  return absl::OkStatus();
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool ParseBool(std::string_view s, bool* out) {
  if (s == "true") return *out = true, true;
  if (s == "false") return *out = false, true;
  return false;
}

}  // namespace

std::string_view CleanupPolicyName(CleanupPolicy p) {
  switch (p) {
    case CleanupPolicy::kDelete:
      return "delete";
    case CleanupPolicy::kCompact:
      return "compact";
    case CleanupPolicy::kCompactDelete:
      return "compact,delete";
  }
  return "delete";
}

absl::Status LogConfig::Validate() const {
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  // Positions in the offset index are 32-bit, so a segment holds at most 2 GiB.
  STRAND_RETURN_IF_ERROR(Range("segment.bytes", segment_bytes, 14, kInt32Max));
  STRAND_RETURN_IF_ERROR(Range("segment.ms", segment_ms, 1, kNever));
  STRAND_RETURN_IF_ERROR(Range("segment.jitter.ms", segment_jitter_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("file.delete.delay.ms", file_delete_delay_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("segment.index.bytes", segment_index_bytes, 8, kInt32Max));
  STRAND_RETURN_IF_ERROR(Range("retention.ms", retention_ms, -1, kNever));
  STRAND_RETURN_IF_ERROR(Range("retention.bytes", retention_bytes, -1, kNever));
  STRAND_RETURN_IF_ERROR(Range("delete.retention.ms", delete_retention_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("min.compaction.lag.ms", min_compaction_lag_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("max.compaction.lag.ms", max_compaction_lag_ms, 1, kNever));
  if (!(min_cleanable_dirty_ratio >= 0 && min_cleanable_dirty_ratio <= 1)) {
    return Bad(
        fmt::format("min.cleanable.dirty.ratio = {} is outside [0, 1]", min_cleanable_dirty_ratio));
  }
  STRAND_RETURN_IF_ERROR(Range("flush.messages", flush_messages, 1, kNever));
  STRAND_RETURN_IF_ERROR(Range("flush.ms", flush_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("index.interval.bytes", index_interval_bytes, 0, kInt32Max));
  STRAND_RETURN_IF_ERROR(Range("max.message.bytes", max_message_bytes, 0, kInt32Max));
  STRAND_RETURN_IF_ERROR(
      Range("message.timestamp.before.max.ms", message_timestamp_before_max_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(
      Range("message.timestamp.after.max.ms", message_timestamp_after_max_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(Range("strand.decompressed.batch.bytes.max", decompressed_batch_bytes_max,
                               1024, int64_t{1} << 32));
  STRAND_RETURN_IF_ERROR(
      Range("strand.preallocate.chunk.bytes", preallocate_chunk_bytes, 1 << 16, kInt32Max));
  return absl::OkStatus();
}

absl::StatusOr<LogConfig> LogConfig::FromProperties(const std::map<std::string, std::string>& props,
                                                    const LogConfig& base) {
  LogConfig c = base;
  using IntSetter = std::function<void(int64_t)>;
  const std::map<std::string_view, IntSetter> ints = {
      {"segment.bytes", [&](int64_t v) { c.segment_bytes = v; }},
      {"segment.ms", [&](int64_t v) { c.segment_ms = v; }},
      {"segment.jitter.ms", [&](int64_t v) { c.segment_jitter_ms = v; }},
      {"segment.index.bytes", [&](int64_t v) { c.segment_index_bytes = v; }},
      {"retention.ms", [&](int64_t v) { c.retention_ms = v; }},
      {"retention.bytes", [&](int64_t v) { c.retention_bytes = v; }},
      {"file.delete.delay.ms", [&](int64_t v) { c.file_delete_delay_ms = v; }},
      {"delete.retention.ms", [&](int64_t v) { c.delete_retention_ms = v; }},
      {"min.compaction.lag.ms", [&](int64_t v) { c.min_compaction_lag_ms = v; }},
      {"max.compaction.lag.ms", [&](int64_t v) { c.max_compaction_lag_ms = v; }},
      {"flush.messages", [&](int64_t v) { c.flush_messages = v; }},
      {"flush.ms", [&](int64_t v) { c.flush_ms = v; }},
      {"index.interval.bytes",
       [&](int64_t v) { c.index_interval_bytes = static_cast<int32_t>(v); }},
      {"max.message.bytes", [&](int64_t v) { c.max_message_bytes = static_cast<int32_t>(v); }},
      {"message.timestamp.before.max.ms",
       [&](int64_t v) { c.message_timestamp_before_max_ms = v; }},
      {"message.timestamp.after.max.ms", [&](int64_t v) { c.message_timestamp_after_max_ms = v; }},
      {"strand.decompressed.batch.bytes.max",
       [&](int64_t v) { c.decompressed_batch_bytes_max = v; }},
      {"strand.preallocate.chunk.bytes", [&](int64_t v) { c.preallocate_chunk_bytes = v; }},
  };
  for (const auto& [name, value] : props) {
    if (auto it = ints.find(name); it != ints.end()) {
      int64_t v = 0;
      if (!ParseInt(value, &v)) return Bad(fmt::format("{} = '{}' is not an integer", name, value));
      if ((name == "index.interval.bytes" || name == "max.message.bytes") &&
          (v < 0 || v > std::numeric_limits<int32_t>::max())) {
        return Bad(fmt::format("{} = {} does not fit 32 bits", name, v));
      }
      it->second(v);
    } else if (name == "cleanup.policy") {
      if (value == "delete")
        c.cleanup_policy = CleanupPolicy::kDelete;
      else if (value == "compact")
        c.cleanup_policy = CleanupPolicy::kCompact;
      else if (value == "compact,delete" || value == "delete,compact")
        c.cleanup_policy = CleanupPolicy::kCompactDelete;
      else
        return Bad(fmt::format("cleanup.policy = '{}' is not delete, compact or both", value));
    } else if (name == "min.cleanable.dirty.ratio") {
      char* end = nullptr;
      c.min_cleanable_dirty_ratio = std::strtod(value.c_str(), &end);
      if (end != value.c_str() + value.size() || value.empty()) {
        return Bad(fmt::format("{} = '{}' is not a number", name, value));
      }
    } else if (name == "compression.type") {
      if (value == "producer") {
        c.compression_type = std::nullopt;
      } else if (value == "uncompressed") {
        c.compression_type = record::Compression::kNone;
      } else if (auto codec = record::ParseCompression(value);
                 codec && *codec != record::Compression::kNone) {
        c.compression_type = *codec;
      } else {
        return Bad(fmt::format("{} = '{}' is not producer, uncompressed, gzip, snappy, lz4 or zstd",
                               name, value));
      }
    } else if (name == "message.timestamp.type") {
      if (value == "CreateTime")
        c.message_timestamp_type = record::TimestampType::kCreateTime;
      else if (value == "LogAppendTime")
        c.message_timestamp_type = record::TimestampType::kLogAppendTime;
      else
        return Bad(fmt::format("{} = '{}' is not CreateTime or LogAppendTime", name, value));
    } else if (name == "preallocate" || name == "strand.verify.crc.on.read" ||
               name == "strand.validate.compressed.records") {
      bool b = false;
      if (!ParseBool(value, &b)) return Bad(fmt::format("{} = '{}' is not a boolean", name, value));
      if (name == "preallocate")
        c.preallocate = b;
      else if (name == "strand.verify.crc.on.read")
        c.verify_crc_on_read = b;
      else
        c.validate_compressed_records = b;
    } else {
      return Bad(fmt::format("unknown log setting '{}'", name));
    }
  }
  STRAND_RETURN_IF_ERROR(c.Validate());
  return c;
}

std::map<std::string, std::string> LogConfig::ToProperties() const {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return {
      {"segment.bytes", std::to_string(segment_bytes)},
      {"segment.ms", std::to_string(segment_ms)},
      {"segment.jitter.ms", std::to_string(segment_jitter_ms)},
      {"segment.index.bytes", std::to_string(segment_index_bytes)},
      {"retention.ms", std::to_string(retention_ms)},
      {"retention.bytes", std::to_string(retention_bytes)},
      {"file.delete.delay.ms", std::to_string(file_delete_delay_ms)},
      {"cleanup.policy", std::string(CleanupPolicyName(cleanup_policy))},
      {"delete.retention.ms", std::to_string(delete_retention_ms)},
      {"min.compaction.lag.ms", std::to_string(min_compaction_lag_ms)},
      {"max.compaction.lag.ms", std::to_string(max_compaction_lag_ms)},
      {"min.cleanable.dirty.ratio", fmt::format("{}", min_cleanable_dirty_ratio)},
      {"flush.messages", std::to_string(flush_messages)},
      {"flush.ms", std::to_string(flush_ms)},
      {"index.interval.bytes", std::to_string(index_interval_bytes)},
      {"max.message.bytes", std::to_string(max_message_bytes)},
      {"compression.type", !compression_type ? std::string("producer")
                           : *compression_type == record::Compression::kNone
                               ? std::string("uncompressed")
                               : std::string(record::CompressionName(*compression_type))},
      {"message.timestamp.type", message_timestamp_type == record::TimestampType::kCreateTime
                                     ? "CreateTime"
                                     : "LogAppendTime"},
      {"message.timestamp.before.max.ms", std::to_string(message_timestamp_before_max_ms)},
      {"message.timestamp.after.max.ms", std::to_string(message_timestamp_after_max_ms)},
      {"preallocate", b(preallocate)},
      {"strand.decompressed.batch.bytes.max", std::to_string(decompressed_batch_bytes_max)},
      {"strand.verify.crc.on.read", b(verify_crc_on_read)},
      {"strand.validate.compressed.records", b(validate_compressed_records)},
      {"strand.preallocate.chunk.bytes", std::to_string(preallocate_chunk_bytes)},
  };
}

absl::Status LogManagerConfig::Validate() const {
  if (data_dir.empty()) return Bad("log.dirs (data_dir) is empty");
  STRAND_RETURN_IF_ERROR(Range("logs_max", logs_max, 1, 10'000'000));
  STRAND_RETURN_IF_ERROR(Range("num.recovery.threads.per.data.dir", recovery_threads, 1, 256));
  STRAND_RETURN_IF_ERROR(Range("flush_threads", flush_threads, 1, 256));
  STRAND_RETURN_IF_ERROR(
      Range("log.flush.scheduler.interval.ms", flush_check_interval_ms, 1, 3600'000));
  STRAND_RETURN_IF_ERROR(
      Range("log.retention.check.interval.ms", retention_check_interval_ms, 1, kNever));
  STRAND_RETURN_IF_ERROR(
      Range("log.flush.offset.checkpoint.interval.ms", checkpoint_interval_ms, 1, kNever));
  STRAND_RETURN_IF_ERROR(Range("log.cleaner.threads", cleaner_threads, 0, 64));
  STRAND_RETURN_IF_ERROR(Range("log.cleaner.dedupe.buffer.size", cleaner_dedupe_buffer_bytes,
                               1 << 16, int64_t{1} << 40));
  STRAND_RETURN_IF_ERROR(Range("log.cleaner.backoff.ms", cleaner_backoff_ms, 1, kNever));
  STRAND_RETURN_IF_ERROR(Range("open_segments_max", open_segments_max, 1, 1'000'000));
  STRAND_RETURN_IF_ERROR(Range("file.delete.delay.ms", log_delete_delay_ms, 0, kNever));
  STRAND_RETURN_IF_ERROR(
      Range("strand.file.descriptors.reserve", file_descriptors_reserve, 0, 1'000'000));
  return absl::OkStatus();
}

}  // namespace strand::storage
