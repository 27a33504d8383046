#include "storage/probe.h"

#include <string>

namespace strand::storage {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

StorageProbe::StorageProbe(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()),
      appended_bytes_(Counter(*registry_, "strand_storage_appended_bytes_total",
                              "Bytes of record batches appended to partition logs")),
      appended_batches_(Counter(*registry_, "strand_storage_appended_batches_total",
                                "Record batches appended to partition logs")),
      appended_records_(Counter(*registry_, "strand_storage_appended_records_total",
                                "Records appended to partition logs")),
      append_errors_(BuildCounter()
                         .Name("strand_storage_append_errors_total")
                         .Help("Appends refused or failed, by storage error")
                         .Register(*registry_)),
      read_bytes_(Counter(*registry_, "strand_storage_read_bytes_total",
                          "Bytes of record batches served by log reads")),
      fsync_seconds_(
          BuildHistogram()
              .Name("strand_storage_fsync_duration_seconds")
              .Help("Latency of one group-commit fsync of a partition log")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001,
                                                               0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1, 0.25, 0.5, 1, 2.5})),
      batches_per_fsync_(BuildHistogram()
                             .Name("strand_storage_batches_per_fsync")
                             .Help("Batches made durable by one fsync (group commit width)")
                             .Register(*registry_)
                             .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32,
                                                                              64, 128, 256, 1024})),
      flush_errors_(Counter(*registry_, "strand_storage_flush_errors_total",
                            "Failed fsyncs (each takes a log offline)")),
      rolls_(Counter(*registry_, "strand_storage_segment_rolls_total", "Segments rolled")),
      segments_(BuildGauge()
                    .Name("strand_storage_segments")
                    .Help("Segments in all open logs")
                    .Register(*registry_)
                    .Add({})),
      logs_(BuildGauge()
                .Name("strand_storage_logs")
                .Help("Open partition logs")
                .Register(*registry_)
                .Add({})),
      log_bytes_(BuildGauge()
                     .Name("strand_storage_log_size_bytes")
                     .Help("Bytes of log data in all open logs")
                     .Register(*registry_)
                     .Add({})),
      recoveries_(BuildCounter()
                      .Name("strand_storage_recoveries_total")
                      .Help("Logs opened, by kind: clean (no scan), scanned, cut (data removed)")
                      .Register(*registry_)),
      recovery_truncated_bytes_(Counter(*registry_, "strand_storage_recovery_truncated_bytes_total",
                                        "Bytes cut from logs by crash recovery")),
      index_rebuilds_(Counter(*registry_, "strand_storage_index_rebuilds_total",
                              "Segment indexes rebuilt because they were missing or damaged")),
      corrupt_batches_(Counter(*registry_, "strand_storage_corrupt_batches_total",
                               "Stored batches found corrupt (checksum) and not served")),
      retention_segments_(Counter(*registry_, "strand_storage_retention_deleted_segments_total",
                                  "Segments deleted by retention")),
      retention_bytes_(Counter(*registry_, "strand_storage_retention_deleted_bytes_total",
                               "Bytes deleted by retention")),
      cleaner_read_bytes_(Counter(*registry_, "strand_storage_cleaner_read_bytes_total",
                                  "Bytes the log cleaner read while compacting")),
      cleaner_reclaimed_bytes_(Counter(*registry_, "strand_storage_cleaner_reclaimed_bytes_total",
                                       "Bytes removed from logs by compaction")),
      disk_full_(Counter(*registry_, "strand_storage_disk_full_errors_total",
                         "Writes that failed because the disk was full")),
      strays_(Gauge(*registry_, "strand_storage_stray_logs",
                    "Log directories set aside as strays (kept for the operator, never served)")),
      descriptors_open_(Gauge(*registry_, "strand_storage_open_file_descriptors",
                              "File descriptors open in the process")),
      descriptors_limit_(Gauge(*registry_, "strand_storage_file_descriptor_limit",
                               "The process's file descriptor limit (RLIMIT_NOFILE)")),
      descriptors_reserve_(Gauge(*registry_, "strand_storage_file_descriptor_reserve",
                                 "File descriptors below the limit that logs may not use")),
      descriptor_refusals_(Counter(*registry_, "strand_storage_descriptor_refusals_total",
                                   "Log creations refused for want of file descriptors")) {}

void StorageProbe::SetDescriptors(int64_t open, int64_t limit, int64_t reserve) {
  descriptors_open_.Set(static_cast<double>(open));
  descriptors_limit_.Set(static_cast<double>(limit));
  descriptors_reserve_.Set(static_cast<double>(reserve));
}

void StorageProbe::OnAppend(int64_t bytes, int64_t batches, int64_t records) {
  appended_bytes_.Increment(static_cast<double>(bytes));
  appended_batches_.Increment(static_cast<double>(batches));
  appended_records_.Increment(static_cast<double>(records));
}

void StorageProbe::OnAppendError(std::string_view error_name) {
  append_errors_.Add({{"error", std::string(error_name)}}).Increment();
}

void StorageProbe::OnRead(int64_t bytes) { read_bytes_.Increment(static_cast<double>(bytes)); }

void StorageProbe::OnFlush(double fsync_seconds, int64_t batches) {
  fsync_seconds_.Observe(fsync_seconds);
  batches_per_fsync_.Observe(static_cast<double>(batches));
}

void StorageProbe::OnFlushError() { flush_errors_.Increment(); }

void StorageProbe::OnRecovery(bool clean, int64_t bytes_truncated, bool cut,
                              int64_t indexes_rebuilt) {
  recoveries_.Add({{"kind", cut ? "cut" : clean ? "clean" : "scanned"}}).Increment();
  recovery_truncated_bytes_.Increment(static_cast<double>(bytes_truncated));
  index_rebuilds_.Increment(static_cast<double>(indexes_rebuilt));
}

void StorageProbe::OnRetentionDeleted(int64_t segments, int64_t bytes) {
  retention_segments_.Increment(static_cast<double>(segments));
  retention_bytes_.Increment(static_cast<double>(bytes));
}

void StorageProbe::OnCleaned(int64_t bytes_read, int64_t bytes_reclaimed) {
  cleaner_read_bytes_.Increment(static_cast<double>(bytes_read));
  cleaner_reclaimed_bytes_.Increment(static_cast<double>(bytes_reclaimed));
}

}  // namespace strand::storage
