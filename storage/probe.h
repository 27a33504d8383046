#pragma once

// StorageProbe: owns the storage module's Prometheus metrics. One per LogManager (shared by its
// logs); every method is thread-safe and cheap (atomic adds), so the append and flush paths call
// it directly. Metric names start with strand_storage_.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string_view>

namespace strand::storage {

class StorageProbe {
 public:
  // Registers the metrics in `registry`, or in a private registry when it is null.
  explicit StorageProbe(std::shared_ptr<prometheus::Registry> registry = nullptr);

  prometheus::Registry& registry() { return *registry_; }

  void OnAppend(int64_t bytes, int64_t batches, int64_t records);
  void OnAppendError(std::string_view error_name);
  void OnRead(int64_t bytes);
  // One group-commit fsync that made `batches` batches durable.
  void OnFlush(double fsync_seconds, int64_t batches);
  void OnFlushError();
  void OnSegmentRolled() { rolls_.Increment(); }
  void SegmentsChanged(int64_t delta) { segments_.Increment(static_cast<double>(delta)); }
  void LogsChanged(int64_t delta) { logs_.Increment(static_cast<double>(delta)); }
  void LogBytesChanged(int64_t delta) { log_bytes_.Increment(static_cast<double>(delta)); }
  void OnRecovery(bool clean, int64_t bytes_truncated, bool cut, int64_t indexes_rebuilt);
  void OnCorruptBatch() { corrupt_batches_.Increment(); }
  void OnRetentionDeleted(int64_t segments, int64_t bytes);
  void OnCleaned(int64_t bytes_read, int64_t bytes_reclaimed);
  void OnDiskFull() { disk_full_.Increment(); }
  int64_t disk_full_errors() const { return static_cast<int64_t>(disk_full_.Value()); }
  // Log directories set aside as strays (not adopted: another topic id, or none).
  void SetStrays(int64_t count) { strays_.Set(static_cast<double>(count)); }
  // The process's open file descriptors, its limit and the reserve logs may not use.
  void SetDescriptors(int64_t open, int64_t limit, int64_t reserve);
  void OnDescriptorRefusal() { descriptor_refusals_.Increment(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& appended_bytes_;
  prometheus::Counter& appended_batches_;
  prometheus::Counter& appended_records_;
  prometheus::Family<prometheus::Counter>& append_errors_;
  prometheus::Counter& read_bytes_;
  prometheus::Histogram& fsync_seconds_;
  prometheus::Histogram& batches_per_fsync_;
  prometheus::Counter& flush_errors_;
  prometheus::Counter& rolls_;
  prometheus::Gauge& segments_;
  prometheus::Gauge& logs_;
  prometheus::Gauge& log_bytes_;
  prometheus::Family<prometheus::Counter>& recoveries_;
  prometheus::Counter& recovery_truncated_bytes_;
  prometheus::Counter& index_rebuilds_;
  prometheus::Counter& corrupt_batches_;
  prometheus::Counter& retention_segments_;
  prometheus::Counter& retention_bytes_;
  prometheus::Counter& cleaner_read_bytes_;
  prometheus::Counter& cleaner_reclaimed_bytes_;
  prometheus::Counter& disk_full_;
  prometheus::Gauge& strays_;
  prometheus::Gauge& descriptors_open_;
  prometheus::Gauge& descriptors_limit_;
  prometheus::Gauge& descriptors_reserve_;
  prometheus::Counter& descriptor_refusals_;
};

}  // namespace strand::storage
