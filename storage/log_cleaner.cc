#include "storage/log_cleaner.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "common/check.h"
#include "record/batch_validator.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"
#include "storage/errc.h"
#include "storage/probe.h"
#include "storage/segment_budget.h"

namespace strand::storage {
namespace {

constexpr int64_t kReadChunkBytes = 4 << 20;
// Bytes a map entry costs besides its key (hash table slot, string header, offset).
constexpr int64_t kEntryOverheadBytes = 48;

// key -> offset of its latest record in the mapped range.
class OffsetMap {
 public:
  explicit OffsetMap(int64_t budget_bytes) : budget_bytes_(budget_bytes) {}

  int64_t bytes() const { return bytes_; }
  bool Fits(int64_t more) const { return bytes_ + more <= budget_bytes_; }
  int64_t CostOf(std::string_view key) const {
    return map_.contains(Absl(key)) ? 0 : static_cast<int64_t>(key.size()) + kEntryOverheadBytes;
  }
  void Put(std::string_view key, Offset offset) {
    auto [it, inserted] = map_.try_emplace(std::string(key), offset.value());
    if (inserted) {
      bytes_ += static_cast<int64_t>(key.size()) + kEntryOverheadBytes;
    } else {
      it->second = std::max(it->second, offset.value());
    }
  }
  // The latest offset of `key`, if mapped.
  std::optional<Offset> Latest(std::string_view key) const {
    auto it = map_.find(Absl(key));
    if (it == map_.end()) return std::nullopt;
    return Offset(it->second);
  }

 private:
  // Debian's Abseil has its own string_view type; heterogeneous lookup needs it.
  static absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

  const int64_t budget_bytes_;
  int64_t bytes_ = 0;
  absl::flat_hash_map<std::string, int64_t> map_;
};

// Calls fn(batch bytes) for every batch of `segment` below `end` (CRC-checked by the read).
absl::Status ForEachBatch(Segment& segment, Offset end,
                          const std::function<absl::Status(std::span<const uint8_t>)>& fn,
                          int64_t* bytes_read) {
  Offset next = segment.base_offset();
  while (next < end) {
    auto read = segment.Read(next, kReadChunkBytes, end, /*verify=*/true);
    if (!read.ok()) return read.status();
    if (read->data.empty()) break;
    *bytes_read += static_cast<int64_t>(read->data.size());
    auto extents = record::SplitBatches(read->data.span());
    if (!extents.ok()) return extents.status();
    for (const record::BatchExtent& e : *extents) {
      STRAND_RETURN_IF_ERROR(fn(read->data.span().subspan(e.position, e.size)));
    }
    next = read->next_offset;
  }
  return absl::OkStatus();
}

}  // namespace

struct LogCleaner::Plan {
  LogConfig config;
  std::vector<std::shared_ptr<Segment>> segments;  // cleanable, ascending
  std::vector<Offset> ends;                        // each one's end (the next base)
  size_t first_dirty = 0;                          // index of the first dirty segment
  int64_t generation = 0;
  int64_t cleanable_bytes = 0;
  int64_t dirty_bytes = 0;
  bool max_lag_due = false;
};

absl::StatusOr<LogCleaner::Plan> LogCleaner::MakePlan(Log& log, int64_t now_ms) {
  Plan plan;
  std::vector<std::shared_ptr<Segment>> segments;
  Offset high_watermark, cleaner_offset;
  {
    absl::ReaderMutexLock lock(&log.mu_);
    plan.config = log.config_;
    segments = log.segments_;
    high_watermark = log.high_watermark_;
    cleaner_offset = log.cleaner_offset_;
    plan.generation = log.generation_;
  }
  if (!Compacts(plan.config.cleanup_policy)) return plan;
  // Only what no reader below the high watermark can still see change, and only sealed segments
  // old enough for min.compaction.lag.ms.
  Offset first_uncleanable = std::min(segments.back()->base_offset(), high_watermark);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto& s = segments[i];
    Offset end = segments[i + 1]->base_offset();
    if (end > first_uncleanable || !s->sealed()) break;
    if (plan.config.min_compaction_lag_ms > 0 &&
        s->max_timestamp() > now_ms - plan.config.min_compaction_lag_ms) {
      break;
    }
    plan.segments.push_back(s);
    plan.ends.push_back(end);
  }
  plan.first_dirty = plan.segments.size();
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    int64_t size = plan.segments[i]->size_bytes();
    plan.cleanable_bytes += size;
    if (plan.ends[i] > cleaner_offset) {
      plan.first_dirty = std::min(plan.first_dirty, i);
      plan.dirty_bytes += size;
    }
  }
  if (plan.first_dirty < plan.segments.size() && plan.config.max_compaction_lag_ms < kNever) {
    int64_t ts = plan.segments[plan.first_dirty]->max_timestamp();
    plan.max_lag_due = ts >= 0 && now_ms - ts > plan.config.max_compaction_lag_ms;
  }
  return plan;
}

std::optional<double> LogCleaner::DirtyRatio(Log& log, int64_t now_ms) {
  LogCleaner probe(0, SystemClock::Instance());
  auto plan = probe.MakePlan(log, now_ms);
  if (!plan.ok() || plan->cleanable_bytes == 0) return std::nullopt;
  return static_cast<double>(plan->dirty_bytes) / static_cast<double>(plan->cleanable_bytes);
}

namespace {

struct GroupOutput {
  int64_t bytes_before = 0;
  int64_t bytes_after = 0;
  int64_t records_removed = 0;
  int64_t tombstones_removed = 0;
  int64_t next_horizon_ms = kNever;
};

// Decides what of one batch survives and appends it to `out`.
absl::Status FilterBatch(std::span<const uint8_t> batch, const OffsetMap& map,
                         const LogConfig& config, int64_t now_ms, GroupOutput* stats,
                         ByteBuffer* out) {
  record::RecordBatchHeader h = record::RecordBatchHeader::Parse(batch);
  if (h.is_control()) {  // transaction markers stay until transactions are cleaned too
    out->Append(batch);
    return absl::OkStatus();
  }
  auto decoded =
      record::DecodedBatch::Decode(batch, static_cast<size_t>(config.decompressed_batch_bytes_max));
  if (!decoded.ok()) return decoded.status();
  std::vector<const record::RecordView*> kept;
  bool needs_horizon = false;
  for (const record::RecordView& r : decoded->records()) {
    bool keep = r.key.has_value();
    if (keep) {
      auto latest = map.Latest(*r.key);
      keep = !latest || r.offset >= *latest;
    }
    if (keep && !r.value) {
      // A tombstone: kept until delete.retention.ms after a pass first kept it.
      if (h.has_delete_horizon() && now_ms >= h.base_timestamp) {
        keep = false;
        ++stats->tombstones_removed;
      } else if (!h.has_delete_horizon()) {
        needs_horizon = true;
      }
    }
    if (keep) {
      kept.push_back(&r);
    } else {
      ++stats->records_removed;
    }
  }
  if (kept.empty()) return absl::OkStatus();
  if (kept.size() == decoded->records().size() && !needs_horizon) {
    out->Append(batch);  // unchanged: copied byte for byte
    if (h.has_delete_horizon()) {
      stats->next_horizon_ms = std::min(stats->next_horizon_ms, h.base_timestamp);
    }
    return absl::OkStatus();
  }
  record::BatchOptions options{
      .compression = h.compression(),
      .timestamp_type = h.timestamp_type(),
      .log_append_time_ms = h.max_timestamp,
      .base_offset = h.base_offset,
      .partition_leader_epoch = h.partition_leader_epoch,
      .producer_id = h.producer_id,
      .producer_epoch = h.producer_epoch,
      .base_sequence = h.base_sequence,
      .transactional = h.is_transactional(),
  };
  bool has_tombstone = std::any_of(kept.begin(), kept.end(), [](auto* r) { return !r->value; });
  if (h.has_delete_horizon() && has_tombstone) {
    options.delete_horizon_ms = h.base_timestamp;
  } else if (needs_horizon) {
    options.delete_horizon_ms = now_ms + config.delete_retention_ms;
  }
  if (options.delete_horizon_ms) {
    stats->next_horizon_ms = std::min(stats->next_horizon_ms, *options.delete_horizon_ms);
  }
  record::RecordBatchBuilder builder(options);
  for (const record::RecordView* r : kept) {
    builder.AppendWithOffsetDelta(r->offset_delta, r->timestamp, r->key, r->value, r->headers);
  }
  auto rebuilt = builder.Build();
  if (!rebuilt.ok()) return rebuilt.status();
  out->Append(rebuilt->span());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CleanerStats> LogCleaner::Clean(Log& log, bool force) {
  absl::MutexLock maintenance(&log.maintenance_mu_);
  int64_t now = clock_.NowWallMs();
  auto plan = MakePlan(log, now);
  if (!plan.ok()) return plan.status();
  CleanerStats stats;
  if (plan->cleanable_bytes > 0) {
    stats.dirty_ratio = static_cast<double>(plan->dirty_bytes) / plan->cleanable_bytes;
  }
  bool due = plan->dirty_bytes > 0 &&
             (stats.dirty_ratio >= plan->config.min_cleanable_dirty_ratio || plan->max_lag_due);
  if (plan->segments.empty() || !(due || force)) return stats;

  // 1. Map the dirty segments, as many as the dedupe buffer holds (at least one).
  OffsetMap map(dedupe_buffer_bytes_);
  size_t mapped = plan->first_dirty;
  for (size_t i = plan->first_dirty; i < plan->segments.size(); ++i) {
    std::vector<std::pair<std::string, Offset>> entries;
    int64_t cost = 0;
    absl::Status scanned = ForEachBatch(
        *plan->segments[i], plan->ends[i],
        [&](std::span<const uint8_t> batch) -> absl::Status {
          record::RecordBatchHeader h = record::RecordBatchHeader::Parse(batch);
          if (h.is_control()) return absl::OkStatus();
          auto decoded = record::DecodedBatch::Decode(
              batch, static_cast<size_t>(plan->config.decompressed_batch_bytes_max));
          if (!decoded.ok()) return decoded.status();
          for (const record::RecordView& r : decoded->records()) {
            if (!r.key) continue;
            cost += map.CostOf(*r.key);
            entries.emplace_back(std::string(*r.key), r.offset);
          }
          return absl::OkStatus();
        },
        &stats.bytes_read);
    if (!scanned.ok()) return scanned;
    if (i > plan->first_dirty && !map.Fits(cost)) break;  // the next pass takes the rest
    for (const auto& [key, offset] : entries) map.Put(key, offset);
    mapped = i + 1;
  }
  stats.cleaned = true;
  stats.cleaned_up_to = plan->ends[mapped - 1];

  // 2. Rewrite the cleanable segments up to the end of the mapped range, in groups.
  size_t begin = 0;
  int64_t expected_generation = plan->generation;
  while (begin < mapped) {
    size_t end = begin + 1;
    int64_t size = plan->segments[begin]->size_bytes();
    Offset base = plan->segments[begin]->base_offset();
    while (end < mapped && size + plan->segments[end]->size_bytes() <= plan->config.segment_bytes &&
           plan->ends[end] - base <= std::numeric_limits<int32_t>::max()) {
      size += plan->segments[end]->size_bytes();
      ++end;
    }
    GroupOutput group;
    ByteBuffer out;
    for (size_t i = begin; i < end; ++i) {
      group.bytes_before += plan->segments[i]->size_bytes();
      STRAND_RETURN_IF_ERROR(ForEachBatch(
          *plan->segments[i], plan->ends[i],
          [&](std::span<const uint8_t> batch) {
            return FilterBatch(batch, map, plan->config, now, &group, &out);
          },
          &stats.bytes_read));
    }
    group.bytes_after = static_cast<int64_t>(out.size());
    auto swapped = SwapIn(log, *plan, begin, end, out, &expected_generation);
    if (!swapped.ok()) return swapped.status();
    if (!*swapped) {
      ++stats.groups_aborted;
      return stats;  // the log changed under us: give up this pass
    }
    stats.bytes_before += group.bytes_before;
    stats.bytes_after += group.bytes_after;
    stats.records_removed += group.records_removed;
    stats.tombstones_removed += group.tombstones_removed;
    stats.next_tombstone_horizon_ms =
        std::min(stats.next_tombstone_horizon_ms, group.next_horizon_ms);
    stats.segments_rewritten += static_cast<int32_t>(end - begin);
    begin = end;
  }

  // 3. Remember how far the log is compacted.
  {
    absl::MutexLock lock(&log.mu_);
    log.cleaner_offset_ = std::max(log.cleaner_offset_, stats.cleaned_up_to);
  }
  STRAND_RETURN_IF_ERROR(log.WriteCheckpoint(false));
  if (log.probe_) log.probe_->OnCleaned(stats.bytes_read, stats.bytes_before - stats.bytes_after);
  log.log_.Info(
      "compacted {} segments up to offset {}: {} -> {} bytes, {} records and {} "
      "tombstones removed",
      stats.segments_rewritten, stats.cleaned_up_to, stats.bytes_before, stats.bytes_after,
      stats.records_removed, stats.tombstones_removed);
  return stats;
}

absl::StatusOr<bool> LogCleaner::SwapIn(Log& log, const Plan& plan, size_t begin, size_t end,
                                        const ByteBuffer& data, int64_t* expected_generation) {
  Filesystem& fs = log.fs_;
  Offset base = plan.segments[begin]->base_offset();
  Offset limit = plan.ends[end - 1];
  std::string cleaned = JoinPath(log.dir_, Segment::FileName(base, ".log.cleaned"));
  std::string swap = JoinPath(log.dir_, Segment::SwapFileName(base, limit));
  {
    auto file = fs.Open(cleaned, OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    STRAND_RETURN_IF_ERROR((*file)->WriteAt(0, data.span()));
    STRAND_RETURN_IF_ERROR((*file)->Sync());
  }
  // From here the output is complete: recovery finishes the swap if we crash.
  STRAND_RETURN_IF_ERROR(fs.Rename(cleaned, swap));
  STRAND_RETURN_IF_ERROR(fs.SyncDirectory(log.dir_));
  // Index the output (and check it once more) before taking any lock.
  auto fresh = Segment::OpenAt(fs, log.dir_, base, swap, plan.config.index_interval_bytes);
  if (!fresh.ok()) return fresh.status();
  auto scan = (*fresh)->Recover(/*truncate=*/false, [](const record::RecordBatchHeader&) {});
  if (!scan.ok()) return scan.status();
  STRAND_CHECK_MSG(scan->complete && scan->valid_bytes == static_cast<int64_t>(data.size()),
                   "compaction output {} does not read back: {}", swap, scan->stop_reason);
  {
    absl::MutexLock append(&log.append_mu_);
    absl::MutexLock flush(&log.flush_mu_);
    std::vector<std::shared_ptr<Segment>> replaced;
    {
      absl::ReaderMutexLock lock(&log.mu_);
      if (log.generation_ != *expected_generation || !log.failure_.ok() || log.closed_) {
        (void)fs.Remove(swap);
        return false;
      }
    }
    // From the first removal on, the directory holds the swap's result only in the .swap file:
    // if a step fails the log goes offline, and reopening it completes the swap.
    for (size_t i = begin; i < end; ++i) {
      absl::Status removed = plan.segments[i]->DeleteFiles();
      if (!removed.ok()) {
        log.Fail(removed);
        return removed;
      }
    }
    absl::Status renamed =
        (*fresh)->RenameLogFile(JoinPath(log.dir_, Segment::FileName(base, ".log")));
    if (!renamed.ok()) {
      log.Fail(renamed);
      return renamed;
    }
    (*fresh)->set_budget(log.budget_);
    {
      absl::MutexLock lock(&log.mu_);
      auto first = std::find(log.segments_.begin(), log.segments_.end(), plan.segments[begin]);
      STRAND_CHECK(first != log.segments_.end());
      auto last = first + static_cast<ptrdiff_t>(end - begin);
      *first = *fresh;
      log.segments_.erase(first + 1, last);
      ++log.generation_;
      *expected_generation = log.generation_;
    }
  }
  log.CountSegments(
      1 - static_cast<int64_t>(end - begin), (*fresh)->size_bytes() - [&] {
        int64_t b = 0;
        for (size_t i = begin; i < end; ++i) b += plan.segments[i]->size_bytes();
        return b;
      }());
  STRAND_RETURN_IF_ERROR(fs.SyncDirectory(log.dir_));
  STRAND_RETURN_IF_ERROR((*fresh)->Seal());  // index files, now under the final name
  return true;
}

}  // namespace strand::storage
