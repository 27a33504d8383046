#include "storage/log_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "storage/errc.h"

namespace strand::storage {
LogLoader::LogLoader(Filesystem& fs, std::string dir, const LogConfig& config, Clock& clock,
                     const ContextLogger& log)
    : fs_(fs), dir_(std::move(dir)), config_(config), clock_(clock), log_(log) {}

absl::StatusOr<LoadedLog> LogLoader::Load() {
  int64_t started_us = clock_.NowMonotonicUs();
  STRAND_RETURN_IF_ERROR(fs_.CreateDirectories(dir_));
  auto listing = CleanAndList();
  if (!listing.ok()) return listing.status();
  LoadCheckpoints();
  STRAND_RETURN_IF_ERROR(OpenSegments(*listing));
  STRAND_RETURN_IF_ERROR(Finish());
  out_.report.duration_us = clock_.NowMonotonicUs() - started_us;
  return std::move(out_);
}

absl::StatusOr<LogLoader::Listing> LogLoader::CleanAndList() {
  auto names = fs_.List(dir_);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (name.ends_with(".tmp") || name.ends_with(".cleaned") || name.ends_with(".deleted")) {
      STRAND_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, name)));
      out_.report.leftovers_removed.push_back(name);
    }
  }
  for (const std::string& name : *names) {
    if (auto swap = Segment::ParseSwapFileName(name)) {
      STRAND_RETURN_IF_ERROR(CompleteSwap(name, swap->first, swap->second, *names));
    }
  }
  names = fs_.List(dir_);
  if (!names.ok()) return names.status();
  Listing listing;
  std::set<int64_t> bases;
  for (const std::string& name : *names) {
    if (auto base = Segment::ParseFileName(name, ".log")) bases.insert(base->value());
  }
  for (const std::string& name : *names) {
    auto base = Segment::ParseFileName(name, ".index");
    if (!base) base = Segment::ParseFileName(name, ".timeindex");
    if (base && !bases.contains(base->value())) {
      STRAND_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, name)));
      out_.report.leftovers_removed.push_back(name);
    }
  }
  for (int64_t b : bases) listing.segment_bases.push_back(Offset(b));
  return listing;
}

absl::Status LogLoader::CompleteSwap(const std::string& name, Offset base, Offset end,
                                     const std::vector<std::string>& names) {
  // The swap file is complete and fsynced before it is given this name, so it replaces every
  // segment in its range, whatever the interrupted swap had already done.
  for (const std::string& other : names) {
    auto b = Segment::ParseFileName(other, ".log");
    if (b && *b >= base && *b < end) {
      STRAND_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, other)));
      STRAND_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, Segment::FileName(*b, ".index"))));
      STRAND_RETURN_IF_ERROR(fs_.Remove(JoinPath(dir_, Segment::FileName(*b, ".timeindex"))));
    }
  }
  STRAND_RETURN_IF_ERROR(
      fs_.Rename(JoinPath(dir_, name), JoinPath(dir_, Segment::FileName(base, ".log"))));
  STRAND_RETURN_IF_ERROR(fs_.SyncDirectory(dir_));
  out_.report.swaps_completed.push_back(name);
  return absl::OkStatus();
}

void LogLoader::LoadCheckpoints() {
  std::string path = JoinPath(dir_, kCheckpointFile);
  auto text = ReadSmallFile(fs_, path, 4096);
  if (text.ok()) {
    auto parsed = LogCheckpoint::Parse(*text);
    if (parsed.ok()) {
      checkpoint_ = *parsed;
      checkpoint_valid_ = true;
    } else {
      out_.report.warnings.push_back(std::string(MessageOf(parsed.status())));
    }
  }
  auto epochs = ReadSmallFile(fs_, JoinPath(dir_, kEpochCheckpointFile), 16 << 20);
  if (epochs.ok()) {
    auto parsed = LeaderEpochCache::Parse(*epochs);
    if (parsed.ok()) {
      out_.epochs = std::move(*parsed);
      epochs_valid_ = true;
    } else {
      out_.report.warnings.push_back(std::string(MessageOf(parsed.status())));
    }
  }
}

absl::Status LogLoader::OpenSegments(const Listing& listing) {
  int64_t now = clock_.NowWallMs();
  if (listing.segment_bases.empty()) {
    Offset start = checkpoint_valid_ ? checkpoint_.log_start_offset : Offset(0);
    auto segment = Segment::Create(fs_, dir_, start, now, config_.index_interval_bytes,
                                   config_.preallocate, config_.preallocate_chunk_bytes);
    if (!segment.ok()) return segment.status();
    out_.segments.push_back(std::move(*segment));
    out_.report.clean_shutdown = !checkpoint_valid_ || checkpoint_.clean_shutdown;
    epochs_valid_ = true;  // nothing to learn from
    return absl::OkStatus();
  }
  for (Offset base : listing.segment_bases) {
    auto segment = Segment::OpenExisting(fs_, dir_, base, config_.index_interval_bytes);
    if (!segment.ok()) return segment.status();
    out_.segments.push_back(std::move(*segment));
  }
  out_.report.segments = static_cast<int32_t>(out_.segments.size());
  if (!checkpoint_valid_) {
    out_.report.warnings.push_back("no usable log.checkpoint: recovering every segment");
  }
  out_.report.recovery_point = checkpoint_valid_ ? checkpoint_.recovery_point : Offset(0);
  if (epochs_valid_ && TryCleanOpen()) return absl::OkStatus();
  Offset rp = out_.report.recovery_point;
  size_t first = 0;
  for (size_t i = 0; i < out_.segments.size(); ++i) {
    if (out_.segments[i]->base_offset() <= rp) first = i;
  }
  for (size_t i = 0; i < first; ++i) {
    STRAND_RETURN_IF_ERROR(
        OpenSealedOrRebuild(out_.segments[i], out_.segments[i + 1]->base_offset()));
  }
  if (!epochs_valid_) STRAND_RETURN_IF_ERROR(RebuildEpochs());
  return RecoverFrom(first);
}

bool LogLoader::TryCleanOpen() {
  if (!checkpoint_valid_ || !checkpoint_.clean_shutdown ||
      checkpoint_.recovery_point != checkpoint_.clean_log_end_offset) {
    return false;
  }
  auto& last = out_.segments.back();
  if (last->base_offset() != checkpoint_.clean_active_base) return false;
  absl::Status active =
      last->OpenActiveFromIndexes(checkpoint_.clean_log_end_offset, checkpoint_.clean_active_size);
  if (!active.ok()) {
    out_.report.warnings.push_back(
        fmt::format("clean-shutdown state not usable: {}", MessageOf(active)));
    return false;
  }
  for (size_t i = 0; i + 1 < out_.segments.size(); ++i) {
    absl::Status s = OpenSealedOrRebuild(out_.segments[i], out_.segments[i + 1]->base_offset());
    if (!s.ok()) {
      out_.report.warnings.push_back(std::string(MessageOf(s)));
      return false;
    }
  }
  out_.report.clean_shutdown = true;
  return true;
}

absl::Status LogLoader::OpenSealedOrRebuild(const std::shared_ptr<Segment>& segment,
                                            Offset next_base) {
  absl::Status trusted = segment->OpenSealed(next_base);
  if (trusted.ok()) return absl::OkStatus();
  std::string name = Segment::FileName(segment->base_offset(), ".log");
  log_.Warn("rebuilding the indexes of {}: {}", name, MessageOf(trusted));
  out_.report.indexes_rebuilt.push_back(name);
  auto scan = segment->Recover(/*truncate=*/false, [](const record::RecordBatchHeader&) {});
  if (!scan.ok()) return scan.status();
  if (!scan->complete) {
    // Below the recovery point the log cannot be cut (later segments hold acknowledged data):
    // the damage is reported and reads reaching it fail instead of skipping it.
    segment->MarkDamaged(scan->valid_bytes, scan->next_offset, scan->stop_reason);
    out_.report.damaged_segments.push_back(fmt::format("{} from offset {} (position {}): {}", name,
                                                       scan->next_offset, scan->valid_bytes,
                                                       scan->stop_reason));
  }
  return segment->Seal();
}

void LogLoader::LearnEpoch(const record::RecordBatchHeader& h) {
  if (h.partition_leader_epoch.value() < 0) return;
  auto latest = out_.epochs.Latest();
  if (!latest || h.partition_leader_epoch > latest->epoch) {
    out_.epochs.Assign(h.partition_leader_epoch, h.base_offset);
  }
}

absl::Status LogLoader::RebuildEpochs() {
  // The epoch checkpoint is gone: learn epochs from the batch headers below the recovery
  // point too (the scan from the recovery point learns the rest).
  out_.report.warnings.push_back("leader-epoch-checkpoint rebuilt from batch headers");
  out_.epochs.Clear();
  Offset rp = out_.report.recovery_point;
  for (const auto& segment : out_.segments) {
    if (segment->base_offset() > rp) break;
    if (segment->sealed()) {
      absl::Status s =
          segment->ForEachHeader([&](const record::RecordBatchHeader& h) { LearnEpoch(h); });
      if (!s.ok()) log_.Warn("epoch rebuild stopped early: {}", MessageOf(s));
    }
  }
  epochs_valid_ = true;
  return absl::OkStatus();
}

absl::Status LogLoader::RecoverFrom(size_t first) {
  for (size_t i = first; i < out_.segments.size(); ++i) {
    const auto& segment = out_.segments[i];
    bool last = i + 1 == out_.segments.size();
    if (i > 0 && segment->base_offset() < out_.segments[i - 1]->next_offset()) {
      SegmentScan overlap;
      overlap.complete = false;
      overlap.stop_reason =
          fmt::format("segment {} starts below the end of the one before ({})",
                      segment->base_offset(), out_.segments[i - 1]->next_offset());
      overlap.valid_bytes = out_.segments[i - 1]->size_bytes();
      overlap.file_bytes = overlap.valid_bytes;
      overlap.next_offset = out_.segments[i - 1]->next_offset();
      return CutAfter(i - 1, overlap);
    }
    auto scan = segment->Recover(/*truncate=*/true,
                                 [&](const record::RecordBatchHeader& h) { LearnEpoch(h); });
    if (!scan.ok()) return scan.status();
    ++out_.report.segments_scanned;
    out_.report.bytes_scanned += scan->valid_bytes;
    out_.report.batches_scanned += scan->batches;
    if (!scan->complete) {
      if (scan->stopped_at_zeros) {
        // Preallocated space never written: the end of this segment's data, not damage.
        out_.report.unwritten_bytes_trimmed += scan->file_bytes - scan->valid_bytes;
      } else {
        return CutAfter(i, *scan);
      }
    }
    if (!last) STRAND_RETURN_IF_ERROR(segment->Seal());
  }
  return absl::OkStatus();
}

absl::Status LogLoader::CutAfter(size_t index, const SegmentScan& scan) {
  RecoveryCut cut;
  cut.segment_base = out_.segments[index]->base_offset();
  cut.position = scan.valid_bytes;
  cut.offset = scan.next_offset;
  cut.reason = scan.stop_reason;
  cut.bytes_removed = scan.file_bytes - scan.valid_bytes;
  for (size_t j = index + 1; j < out_.segments.size(); ++j) {
    cut.bytes_removed += out_.segments[j]->size_bytes();
    ++cut.segments_removed;
    STRAND_RETURN_IF_ERROR(out_.segments[j]->DeleteFiles());
  }
  out_.segments.resize(index + 1);
  log_.Warn("cut the log at offset {} (segment {}, position {}): {}; removed {} bytes", cut.offset,
            cut.segment_base, cut.position, cut.reason, cut.bytes_removed);
  out_.report.cut = std::move(cut);
  return absl::OkStatus();
}

absl::Status LogLoader::Finish() {
  auto& segments = out_.segments;
  out_.log_end_offset = segments.back()->next_offset();
  Offset log_start = segments.front()->base_offset();
  if (checkpoint_valid_) log_start = std::max(log_start, checkpoint_.log_start_offset);
  if (log_start > out_.log_end_offset) {
    // DeleteRecords moved the start past what survived: restart the log there (Kafka does too).
    out_.report.warnings.push_back(
        fmt::format("log start {} is past the recovered end {}: restarting the log at the start",
                    log_start, out_.log_end_offset));
    for (auto& s : segments) STRAND_RETURN_IF_ERROR(s->DeleteFiles());
    segments.clear();
    auto fresh =
        Segment::Create(fs_, dir_, log_start, clock_.NowWallMs(), config_.index_interval_bytes,
                        config_.preallocate, config_.preallocate_chunk_bytes);
    if (!fresh.ok()) return fresh.status();
    segments.push_back(std::move(*fresh));
    out_.log_end_offset = log_start;
    out_.epochs.Clear();
  }
  out_.log_start_offset = log_start;
  out_.epochs.TruncateFromEnd(out_.log_end_offset);
  out_.epochs.TruncateFromStart(log_start);
  Offset hw = checkpoint_valid_ ? checkpoint_.high_watermark : log_start;
  out_.high_watermark = std::clamp(hw, log_start, out_.log_end_offset);
  Offset cleaner = checkpoint_valid_ ? checkpoint_.cleaner_offset : log_start;
  out_.cleaner_offset = std::clamp(cleaner, log_start, out_.log_end_offset);
  // After a process crash the recovered data may sit only in the page cache: make it durable
  // before anything counts on it. Every segment but the last was sealed (fsynced) above.
  STRAND_RETURN_IF_ERROR(segments.back()->Sync());
  out_.recovery_point = segments.back()->base_offset();
  out_.report.log_start_offset = log_start;
  out_.report.log_end_offset = out_.log_end_offset;

  STRAND_RETURN_IF_ERROR(
      WriteFileAtomically(fs_, JoinPath(dir_, kEpochCheckpointFile), out_.epochs.Serialize()));
  LogCheckpoint checkpoint;
  checkpoint.recovery_point = out_.recovery_point;
  checkpoint.log_start_offset = log_start;
  checkpoint.high_watermark = out_.high_watermark;
  checkpoint.cleaner_offset = out_.cleaner_offset;
  return WriteFileAtomically(fs_, JoinPath(dir_, kCheckpointFile), checkpoint.Serialize());
}

}  // namespace strand::storage
