#include "storage/segment.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "common/check.h"
#include "record/batch_validator.h"
#include "record/record_batch_reader.h"
#include "storage/errc.h"
#include "storage/segment_budget.h"

namespace strand::storage {
namespace {

namespace L = record::batch_layout;

constexpr int64_t kScanChunkBytes = 1 << 20;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// The position of the first non-zero byte in [from, end) of `file`, or -1.
absl::StatusOr<int64_t> FirstNonZero(File& file, int64_t from, int64_t end) {
  ByteBuffer chunk(static_cast<size_t>(std::min<int64_t>(kScanChunkBytes, end - from)));
  for (int64_t at = from; at < end;) {
    int64_t n = std::min<int64_t>(static_cast<int64_t>(chunk.size()), end - at);
    auto got = file.ReadAt(at, chunk.span().first(static_cast<size_t>(n)));
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    const uint8_t* p = chunk.data();
    const uint8_t* hit = std::find_if(p, p + *got, [](uint8_t b) { return b != 0; });
    if (hit != p + *got) return at + (hit - p);
    at += static_cast<int64_t>(*got);
  }
  return int64_t{-1};
}

BatchPlacement PlacementOf(const record::RecordBatchHeader& h) {
  return {h.base_offset, h.last_offset(), h.max_timestamp, h.size_bytes()};
}

absl::StatusOr<std::string> ReadWholeFile(Filesystem& fs, const std::string& path) {
  return ReadSmallFile(fs, path, int64_t{1} << 31);
}

}  // namespace

std::string Segment::FileName(Offset base, std::string_view suffix) {
  return fmt::format("{:020d}{}", base.value(), suffix);
}

std::optional<Offset> Segment::ParseFileName(std::string_view name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
  int64_t base = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, base);
  if (ec != std::errc() || ptr != name.data() + 20 || base < 0) return std::nullopt;
  return Offset(base);
}

std::string Segment::SwapFileName(Offset base, Offset end) {
  return fmt::format("{:020d}-{:020d}.log.swap", base.value(), end.value());
}

std::optional<std::pair<Offset, Offset>> Segment::ParseSwapFileName(std::string_view name) {
  constexpr std::string_view kSuffix = ".log.swap";
  if (name.size() != 41 + kSuffix.size() || name[20] != '-' || !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  auto base = ParseFileName(name.substr(0, 20), "");
  auto end = ParseFileName(name.substr(21, 20), "");
  if (!base || !end || *end < *base) return std::nullopt;
  return std::make_pair(*base, *end);
}

Segment::Segment(Filesystem& fs, std::string dir, Offset base, int32_t index_interval_bytes)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      index_interval_bytes_(index_interval_bytes),
      log_path_(JoinPath(dir_, FileName(base, ".log"))),
      next_offset_(base.value()),
      offset_index_(base),
      time_index_(base),
      max_timestamp_offset_(base) {}

Segment::~Segment() {
  if (budget_ != nullptr) budget_->Forget(this);
}

std::string Segment::index_path() const { return JoinPath(dir_, FileName(base_, ".index")); }
std::string Segment::time_index_path() const {
  return JoinPath(dir_, FileName(base_, ".timeindex"));
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(Filesystem& fs, const std::string& dir,
                                                         Offset base, int64_t now_ms,
                                                         int32_t index_interval_bytes,
                                                         bool preallocate,
                                                         int64_t preallocate_chunk_bytes) {
  std::shared_ptr<Segment> s(new Segment(fs, dir, base, index_interval_bytes));
  auto file = fs.Open(s->log_path_, OpenMode::kCreateExclusive);
  if (!file.ok()) return file.status();
  absl::MutexLock lock(&s->mu_);
  s->file_ = std::move(*file);
  s->indexes_loaded_ = true;
  s->rolling_timestamp_ms_ = now_ms;
  s->preallocate_ = preallocate;
  s->preallocate_chunk_bytes_ = preallocate_chunk_bytes;
  return s;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::OpenExisting(Filesystem& fs,
                                                               const std::string& dir, Offset base,
                                                               int32_t index_interval_bytes) {
  std::shared_ptr<Segment> s(new Segment(fs, dir, base, index_interval_bytes));
  auto size = fs.FileSize(s->log_path_);
  if (!size.ok()) return size.status();
  s->size_ = *size;
  return s;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::OpenAt(Filesystem& fs, const std::string& dir,
                                                         Offset base, const std::string& path,
                                                         int32_t index_interval_bytes) {
  std::shared_ptr<Segment> s(new Segment(fs, dir, base, index_interval_bytes));
  s->log_path_ = path;
  auto size = fs.FileSize(path);
  if (!size.ok()) return size.status();
  s->size_ = *size;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Scanning and loading

absl::StatusOr<SegmentScan> Segment::Scan(
    File& file, absl::FunctionRef<void(const record::RecordBatchHeader&, int64_t)> fn) {
  SegmentScan scan;
  scan.next_offset = base_;
  auto file_size = file.Size();
  if (!file_size.ok()) return file_size.status();
  scan.file_bytes = *file_size;
  ByteBuffer window;
  int64_t window_start = 0;
  // Makes the window cover [pos, end), reading from pos on when it does not.
  auto ensure = [&](int64_t pos, int64_t end) -> absl::Status {
    if (pos >= window_start && end <= window_start + static_cast<int64_t>(window.size())) {
      return absl::OkStatus();
    }
    int64_t length = std::min(std::max(kScanChunkBytes, end - pos), scan.file_bytes - pos);
    window.ResizeUninitialized(static_cast<size_t>(length));
    auto n = file.ReadAt(pos, window.span());
    if (!n.ok()) return n.status();
    window.ResizeUninitialized(*n);
    window_start = pos;
    if (pos + static_cast<int64_t>(*n) < end) {
      return StorageError(Errc::kIoError, fmt::format("{}: short read at {}", log_path_, pos));
    }
    return absl::OkStatus();
  };
  auto stop = [&](std::string reason) {
    scan.complete = false;
    scan.stop_reason = std::move(reason);
  };
  record::ValidationOptions options{.mode = record::ValidationMode::kStored,
                                    .batch_bytes_max = std::numeric_limits<int64_t>::max(),
                                    .walk_records = false,
                                    .walk_compressed_records = false};
  int64_t pos = 0;
  while (pos < scan.file_bytes) {
    int64_t remaining = scan.file_bytes - pos;
    int64_t header_bytes = std::min<int64_t>(remaining, L::kHeaderSize);
    STRAND_RETURN_IF_ERROR(ensure(pos, pos + header_bytes));
    const uint8_t* p = window.data() + (pos - window_start);
    if (AllZero(p, header_bytes)) {
      // Preallocated space never written ends the data — unless something follows it (pages
      // written out of order before a power loss): that is a cut like any other.
      auto data_at = FirstNonZero(file, pos, scan.file_bytes);
      if (!data_at.ok()) return data_at.status();
      if (*data_at < 0) {
        scan.stopped_at_zeros = true;
        stop(fmt::format("unwritten (zero) space from position {}", pos));
      } else {
        stop(fmt::format("zero bytes at position {} followed by data at {}", pos, *data_at));
      }
      break;
    }
    if (remaining < static_cast<int64_t>(L::kHeaderSize)) {
      stop(fmt::format("a torn batch header of {} bytes at position {}", remaining, pos));
      break;
    }
    int64_t size = record::BatchSizeAt(p);
    if (size < static_cast<int64_t>(L::kHeaderSize) || size > remaining) {
      stop(fmt::format("the batch at position {} claims {} bytes but {} remain (torn write?)", pos,
                       size, remaining));
      break;
    }
    STRAND_RETURN_IF_ERROR(ensure(pos, pos + size));
    p = window.data() + (pos - window_start);
    auto summary = record::ValidateBatch({p, static_cast<size_t>(size)}, options);
    if (!summary.ok()) {
      stop(fmt::format("the batch at position {} (offset {}) is invalid: {}", pos,
                       record::BaseOffsetAt(p), MessageOf(summary.status())));
      break;
    }
    const record::RecordBatchHeader& h = summary->header;
    if (h.base_offset < scan.next_offset || !CanHold(h.last_offset())) {
      stop(
          fmt::format("the batch at position {} has offsets {}..{}, expected {} or later in "
                      "segment {}",
                      pos, h.base_offset, h.last_offset(), scan.next_offset, base_));
      break;
    }
    fn(h, pos);
    pos += size;
    scan.valid_bytes = pos;
    scan.next_offset = h.next_offset();
    ++scan.batches;
  }
  return scan;
}

void Segment::ResetIndexesLocked() {
  offset_index_ = OffsetIndex(base_);
  time_index_ = TimeIndex(base_);
  bytes_since_index_entry_ = 0;
  max_timestamp_ = record::kNoTimestamp;
  max_timestamp_offset_ = base_;
  hint_offset_ = Offset(-1);
}

void Segment::IndexBatchLocked(const BatchPlacement& b, int64_t position) {
  if (b.max_timestamp > max_timestamp_.load(std::memory_order_relaxed)) {
    max_timestamp_.store(b.max_timestamp, std::memory_order_release);
    max_timestamp_offset_ = b.base_offset;
  }
  if (rolling_timestamp_ms_.load() == record::kNoTimestamp && b.max_timestamp >= 0) {
    rolling_timestamp_ms_ = b.max_timestamp;
  }
  // An entry marks the start of the first batch after index.interval.bytes of data.
  if (position > 0 && bytes_since_index_entry_ >= index_interval_bytes_) {
    offset_index_.Append(b.base_offset, position);
    if (max_timestamp_ >= 0) time_index_.MaybeAppend(max_timestamp_, max_timestamp_offset_);
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += b.size_bytes;
}

absl::StatusOr<SegmentScan> Segment::Recover(
    bool truncate, absl::FunctionRef<void(const record::RecordBatchHeader&)> on_batch) {
  absl::MutexLock lock(&mu_);
  if (!file_) {
    auto file = fs_.Open(log_path_, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    file_ = std::move(*file);
  }
  ResetIndexesLocked();
  rolling_timestamp_ms_ = record::kNoTimestamp;
  auto scan = Scan(*file_, [&](const record::RecordBatchHeader& h, int64_t position) {
    IndexBatchLocked(PlacementOf(h), position);
    on_batch(h);
  });
  if (!scan.ok()) return scan.status();
  if (truncate && scan->valid_bytes < scan->file_bytes) {
    STRAND_RETURN_IF_ERROR(file_->Truncate(scan->valid_bytes));
  }
  indexes_loaded_ = true;
  verified_bytes_ = scan->valid_bytes;
  size_.store(scan->valid_bytes, std::memory_order_release);
  next_offset_.store(scan->next_offset.value(), std::memory_order_release);
  return scan;
}

absl::Status Segment::OpenSealed(Offset next_segment_base) {
  next_offset_.store(next_segment_base.value(), std::memory_order_release);
  auto bad = [&](std::string_view why) {
    return StorageError(Errc::kCorruptLog, fmt::format("segment {}: {}", base_, why));
  };
  // The offset index: whole entries, the last one inside the log.
  auto index_size = fs_.FileSize(index_path());
  if (!index_size.ok()) return bad("offset index missing");
  if (*index_size % OffsetIndex::kEntryBytes != 0) return bad("offset index has a torn entry");
  auto time_size = fs_.FileSize(time_index_path());
  if (!time_size.ok()) return bad("time index missing");
  if (*time_size % TimeIndex::kEntryBytes != 0) return bad("time index has a torn entry");
  int64_t tail_from = 0;
  Offset tail_floor = base_;
  if (*index_size > 0) {
    auto file = fs_.Open(index_path(), OpenMode::kRead);
    if (!file.ok()) return file.status();
    uint8_t last[OffsetIndex::kEntryBytes];
    auto n = (*file)->ReadAt(*index_size - OffsetIndex::kEntryBytes, last);
    if (!n.ok()) return n.status();
    auto entry = OffsetIndex::Parse(base_, last, size_bytes());
    if (!entry.ok()) return bad("offset index points past the log");
    tail_from = entry->last()->position;
    tail_floor = entry->last()->offset;
  }
  {
    // The batches from the last index entry on must end exactly at the end of the file: a
    // segment cut short (or grown) since it was sealed is caught here, at a few header reads.
    auto log_file = fs_.Open(log_path_, OpenMode::kRead);
    if (!log_file.ok()) return log_file.status();
    int64_t position = tail_from;
    while (position < size_bytes()) {
      auto h = ReadHeader(**log_file, position, size_bytes(), tail_floor);
      if (!h.ok()) return bad(fmt::format("its tail does not parse: {}", MessageOf(h.status())));
      position += h->size_bytes();
      tail_floor = h->next_offset();
    }
  }
  if (size_bytes() > 0) {
    // A non-empty sealed segment always has its final time-index entry.
    if (*time_size == 0) return bad("time index is empty");
    auto file = fs_.Open(time_index_path(), OpenMode::kRead);
    if (!file.ok()) return file.status();
    uint8_t last[TimeIndex::kEntryBytes];
    auto n = (*file)->ReadAt(*time_size - TimeIndex::kEntryBytes, last);
    if (!n.ok()) return n.status();
    auto entry = TimeIndex::ParseLastEntry(base_, last);
    if (!entry) return bad("time index last entry is out of range");
    max_timestamp_ = entry->timestamp;
    absl::MutexLock lock(&mu_);
    max_timestamp_offset_ = entry->offset;
  }
  sealed_ = true;
  absl::MutexLock lock(&mu_);
  file_.reset();
  indexes_loaded_ = false;
  return absl::OkStatus();
}

absl::Status Segment::OpenActiveFromIndexes(Offset log_end_offset, int64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  auto file = fs_.Open(log_path_, OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  file_ = std::move(*file);
  auto actual = file_->Size();
  if (!actual.ok()) return actual.status();
  if (*actual != size_bytes) {
    return StorageError(Errc::kCorruptLog,
                        fmt::format("segment {} has {} bytes, the clean shutdown recorded {}",
                                    base_, *actual, size_bytes));
  }
  size_.store(size_bytes, std::memory_order_release);
  STRAND_RETURN_IF_ERROR(LoadIndexesLocked(*file_));
  next_offset_.store(log_end_offset.value(), std::memory_order_release);
  // Continue the index-interval count from the last entry, and learn segment.ms's start.
  auto last = offset_index_.last();
  bytes_since_index_entry_ = size_bytes - (last ? last->position : 0);
  if (size_bytes > 0) {
    auto first = ReadHeader(*file_, 0, size_bytes, base_);
    if (!first.ok()) return first.status();
    rolling_timestamp_ms_ = first->max_timestamp;
  }
  return absl::OkStatus();
}

absl::Status Segment::LoadIndexesLocked(File& file) {
  auto index_text = ReadWholeFile(fs_, index_path());
  if (!index_text.ok()) return index_text.status();
  auto time_text = ReadWholeFile(fs_, time_index_path());
  if (!time_text.ok()) return time_text.status();
  auto as_bytes = [](const std::string& s) {
    return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto index = OffsetIndex::Parse(base_, as_bytes(*index_text), size_bytes());
  if (!index.ok()) return index.status();
  auto time = TimeIndex::Parse(base_, as_bytes(*time_text));
  if (!time.ok()) return time.status();
  offset_index_ = std::move(*index);
  time_index_ = std::move(*time);
  if (auto last = time_index_.last()) {
    max_timestamp_ = last->timestamp;
    max_timestamp_offset_ = last->offset;
  }
  indexes_loaded_ = true;
  return absl::OkStatus();
}

absl::Status Segment::RebuildIndexesLocked(File& file) {
  int64_t known_size = size_bytes();
  ResetIndexesLocked();
  auto scan = Scan(file, [&](const record::RecordBatchHeader& h, int64_t position) {
    IndexBatchLocked(PlacementOf(h), position);
  });
  if (!scan.ok()) return scan.status();
  if (!scan->complete || scan->valid_bytes < known_size) {
    damaged_position_ = scan->valid_bytes;
    damaged_offset_ = scan->next_offset;
    damaged_reason_ = scan->stop_reason;
  }
  if (max_timestamp_ >= 0) time_index_.MaybeAppend(max_timestamp_, max_timestamp_offset_);
  indexes_loaded_ = true;
  return absl::OkStatus();
}

void Segment::MarkDamaged(int64_t position, Offset offset, std::string reason) {
  absl::MutexLock lock(&mu_);
  damaged_position_ = position;
  damaged_offset_ = offset;
  damaged_reason_ = std::move(reason);
}

int64_t Segment::DamagedLimit() const {
  int64_t damaged = damaged_position_.load();
  return damaged >= 0 ? std::min(damaged, size_bytes()) : size_bytes();
}

absl::Status Segment::DamagedError(Offset offset) const {
  absl::MutexLock lock(&mu_);
  return StorageError(
      Errc::kCorruptLog,
      fmt::format("segment {} is damaged from offset {} (position {}): {}; offset {} is not "
                  "served",
                  base_, damaged_offset_, damaged_position_.load(), damaged_reason_, offset));
}

absl::StatusOr<std::shared_ptr<File>> Segment::Acquire() {
  std::shared_ptr<File> file;
  bool rebuilt = false;
  {
    absl::MutexLock lock(&mu_);
    if (!file_) {
      auto opened = fs_.Open(log_path_, OpenMode::kReadWrite);
      if (!opened.ok()) return opened.status();
      file_ = std::move(*opened);
    }
    if (!indexes_loaded_ && !LoadIndexesLocked(*file_).ok()) {
      // Damaged after the start-up check passed (or changed since): rebuild from the log.
      STRAND_RETURN_IF_ERROR(RebuildIndexesLocked(*file_));
      rebuilt = true;
    }
    file = file_;
  }
  if (rebuilt && sealed_) (void)PersistIndexes();  // best effort; rebuilt again if it fails
  if (sealed_ && budget_ != nullptr) budget_->Touch(shared_from_this());
  return file;
}

void Segment::ReleaseResources() {
  if (!sealed_) return;
  absl::MutexLock lock(&mu_);
  // The largest timestamp stays known (retention needs it); the rest reloads on next use.
  int64_t max_timestamp = max_timestamp_;
  Offset max_timestamp_offset = max_timestamp_offset_;
  file_.reset();
  ResetIndexesLocked();
  verified_bytes_ = 0;  // what is read back from disk later is checked again
  max_timestamp_ = max_timestamp;
  max_timestamp_offset_ = max_timestamp_offset;
  indexes_loaded_ = false;
}

// ---------------------------------------------------------------------------------------------
// Writing

absl::Status Segment::EnsureAllocated(File& file, int64_t end) {
  if (!preallocate_ || end <= allocated_bytes_) return absl::OkStatus();
  // Reserve ahead as much as the segment already holds, between 64 KiB and the chunk: an idle
  // partition reserves little, a busy one a chunk at a time.
  int64_t ahead = std::clamp<int64_t>(end, 64 << 10, preallocate_chunk_bytes_);
  int64_t target = end + ahead;
  absl::Status s = file.Allocate(allocated_bytes_, target - allocated_bytes_);
  if (!s.ok()) {
    // Not fatal: the write itself will tell whether the space exists. Stop trying.
    preallocate_ = false;
    return s;
  }
  allocated_bytes_ = target;
  return absl::OkStatus();
}

absl::Status Segment::Append(std::span<const uint8_t> bytes,
                             std::span<const BatchPlacement> batches) {
  std::shared_ptr<File> file;
  {
    absl::ReaderMutexLock lock(&mu_);
    file = file_;
  }
  STRAND_CHECK_MSG(file && !sealed_, "append to sealed segment {}", base_);
  int64_t position = size_bytes();
  (void)EnsureAllocated(*file, position + static_cast<int64_t>(bytes.size()));
  absl::Status written = file->WriteAt(position, bytes);
  if (!written.ok()) {
    // Cut off whatever prefix reached the file so that the segment stays as it was.
    absl::Status cut = file->Truncate(position);
    allocated_bytes_ = std::min(allocated_bytes_, position);
    if (!cut.ok()) {
      return StorageError(Errc::kLogFailed,
                          fmt::format("{}; then could not cut the partial write back: {}",
                                      MessageOf(written), MessageOf(cut)));
    }
    return written;
  }
  {
    absl::MutexLock lock(&mu_);
    int64_t at = position;
    for (const BatchPlacement& b : batches) {
      IndexBatchLocked(b, at);
      at += b.size_bytes;
    }
    STRAND_CHECK(at == position + static_cast<int64_t>(bytes.size()));
  }
  next_offset_.store(batches.back().last_offset.value() + 1, std::memory_order_release);
  int64_t end = position + static_cast<int64_t>(bytes.size());
  // The log validated these batches (CRC included) just before writing them.
  int64_t expected = position;
  verified_bytes_.compare_exchange_strong(expected, end);
  size_.store(end, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<Offset> Segment::TruncateTo(Offset offset) {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  auto found = FindBatchIn(**file, offset, size_bytes());
  if (!found.ok()) return found.status();
  if (!*found) return std::min(offset, next_offset());
  int64_t new_size = (*found)->position;
  STRAND_RETURN_IF_ERROR((*file)->Truncate(new_size));
  STRAND_RETURN_IF_ERROR((*file)->Sync());
  allocated_bytes_ = std::min(allocated_bytes_, new_size);
  Offset new_next = std::min(offset, (*found)->header.base_offset);
  {
    absl::MutexLock lock(&mu_);
    offset_index_.TruncateToPosition(new_size);
    time_index_.TruncateToOffset((*found)->header.base_offset);
    size_.store(new_size, std::memory_order_release);
    RecomputeTailLocked(**file);
    hint_offset_ = Offset(-1);
    if (damaged_position_ >= new_size) damaged_position_ = -1;
    if (verified_bytes_ > new_size) verified_bytes_ = new_size;
  }
  next_offset_.store(new_next.value(), std::memory_order_release);
  // The segment takes appends again; its index files are stale until it is sealed anew.
  sealed_ = false;
  STRAND_RETURN_IF_ERROR(fs_.Remove(index_path()));
  STRAND_RETURN_IF_ERROR(fs_.Remove(time_index_path()));
  return new_next;
}

void Segment::RecomputeTailLocked(File& file) {
  auto last_time = time_index_.last();
  max_timestamp_ = last_time ? last_time->timestamp : record::kNoTimestamp;
  max_timestamp_offset_ = last_time ? last_time->offset : base_;
  auto last_entry = offset_index_.last();
  int64_t position = last_entry ? last_entry->position : 0;
  bytes_since_index_entry_ = size_bytes() - position;
  Offset floor = last_entry ? last_entry->offset : base_;
  while (position < size_bytes()) {
    auto h = ReadHeader(file, position, size_bytes(), floor);
    if (!h.ok()) break;  // the data was checked when written; reads will report damage
    if (h->max_timestamp > max_timestamp_) {
      max_timestamp_ = h->max_timestamp;
      max_timestamp_offset_ = h->base_offset;
    }
    position += h->size_bytes();
    floor = h->next_offset();
  }
  if (size_bytes() == 0) rolling_timestamp_ms_ = record::kNoTimestamp;
}

absl::Status Segment::Sync() {
  std::shared_ptr<File> file;
  {
    absl::ReaderMutexLock lock(&mu_);
    file = file_;
  }
  if (!file) return absl::OkStatus();  // released: everything was synced when sealed
  return file->Sync();
}

absl::Status Segment::PersistIndexes() {
  ByteBuffer index, time;
  {
    absl::ReaderMutexLock lock(&mu_);
    index = offset_index_.Serialize();
    time = time_index_.Serialize();
  }
  STRAND_RETURN_IF_ERROR(WriteFileAtomically(fs_, index_path(), index.view()));
  return WriteFileAtomically(fs_, time_index_path(), time.view());
}

absl::Status Segment::Seal() {
  std::shared_ptr<File> file;
  {
    absl::MutexLock lock(&mu_);
    file = file_;
    if (max_timestamp_ >= 0) time_index_.MaybeAppend(max_timestamp_, max_timestamp_offset_);
  }
  if (!file) return absl::OkStatus();  // already sealed and released
  if (allocated_bytes_ > size_bytes()) {
    STRAND_RETURN_IF_ERROR(file->Truncate(size_bytes()));
    allocated_bytes_ = size_bytes();
  }
  preallocate_ = false;
  STRAND_RETURN_IF_ERROR(file->Sync());
  STRAND_RETURN_IF_ERROR(PersistIndexes());
  sealed_ = true;
  return absl::OkStatus();
}

absl::Status Segment::WriteIndexFiles() {
  std::shared_ptr<File> file;
  {
    absl::MutexLock lock(&mu_);
    file = file_;
    if (max_timestamp_ >= 0) time_index_.MaybeAppend(max_timestamp_, max_timestamp_offset_);
  }
  if (file && allocated_bytes_ > size_bytes()) {
    STRAND_RETURN_IF_ERROR(file->Truncate(size_bytes()));
    allocated_bytes_ = size_bytes();
  }
  if (file) STRAND_RETURN_IF_ERROR(file->Sync());
  return PersistIndexes();
}

absl::Status Segment::DeleteFiles() {
  STRAND_RETURN_IF_ERROR(fs_.Remove(log_path_));
  STRAND_RETURN_IF_ERROR(fs_.Remove(index_path()));
  return fs_.Remove(time_index_path());
}

absl::StatusOr<std::vector<std::string>> Segment::MarkDeleted() {
  std::vector<std::string> renamed;
  for (const std::string& path : {log_path_, index_path(), time_index_path()}) {
    const std::string to = path + ".deleted";
    absl::Status s = fs_.Rename(path, to);
    // An index never written (an empty segment) may be missing.
    if (!s.ok()) {
      auto exists = fs_.Exists(path);
      if (!exists.ok() || *exists) return s;
    }
    if (s.ok()) renamed.push_back(to);
  }
  return renamed;
}

absl::Status Segment::RenameLogFile(const std::string& new_path) {
  STRAND_RETURN_IF_ERROR(fs_.Rename(log_path_, new_path));
  log_path_ = new_path;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Reading

absl::StatusOr<record::RecordBatchHeader> Segment::ReadHeader(File& file, int64_t position,
                                                              int64_t limit, Offset floor) {
  auto bad = [&](std::string_view why) {
    return StorageError(
        Errc::kCorruptLog,
        fmt::format("segment {}: batch header at position {}: {}", base_, position, why));
  };
  if (limit - position < static_cast<int64_t>(L::kHeaderSize)) return bad("truncated");
  uint8_t bytes[L::kHeaderSize];
  auto n = file.ReadAt(position, bytes);
  if (!n.ok()) return n.status();
  if (*n != L::kHeaderSize) return bad("short read");
  record::RecordBatchHeader h = record::RecordBatchHeader::Parse(bytes);
  if (h.magic != L::kMagicV2) return bad(fmt::format("magic {}", h.magic));
  if (h.size_bytes() < static_cast<int64_t>(L::kHeaderSize) || h.size_bytes() > limit - position) {
    return bad(fmt::format("length {} does not fit", h.size_bytes()));
  }
  if (h.base_offset < floor || h.last_offset_delta < 0 || !CanHold(h.last_offset())) {
    return bad(fmt::format("offsets {}..{} out of order (expected {} or later)", h.base_offset,
                           h.last_offset(), floor));
  }
  return h;
}

int64_t Segment::StartPosition(Offset target) {
  absl::ReaderMutexLock lock(&mu_);
  if (hint_offset_ == target) return hint_position_;
  return offset_index_.Lookup(target).position;
}

absl::StatusOr<std::optional<BatchLocation>> Segment::FindBatchIn(File& file, Offset target,
                                                                  int64_t limit) {
  int64_t position = StartPosition(target);
  Offset floor = base_;
  while (position < limit) {
    auto h = ReadHeader(file, position, limit, floor);
    if (!h.ok()) return h.status();
    if (h->last_offset() >= target) return BatchLocation{position, *h};
    position += h->size_bytes();
    floor = h->next_offset();
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<BatchLocation>> Segment::FindBatch(Offset target, Offset upper) {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  auto found = FindBatchIn(**file, target, DamagedLimit());
  if (!found.ok()) return found.status();
  if (!*found && damaged_position_ >= 0) return DamagedError(target);
  if (*found && (*found)->header.base_offset >= upper) return std::nullopt;
  return found;
}

absl::StatusOr<SegmentRead> Segment::Read(Offset start, int64_t max_bytes, Offset upper,
                                          bool verify) {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  int64_t limit = DamagedLimit();
  auto found = FindBatchIn(**file, start, limit);
  if (!found.ok()) return found.status();
  SegmentRead out;
  out.next_offset = start;
  if (!*found) {
    if (damaged_position_ >= 0) return DamagedError(start);
    return out;
  }
  const int64_t position = (*found)->position;
  const record::RecordBatchHeader& first = (*found)->header;
  if (first.last_offset() >= upper) {
    out.reached_upper = true;
    return out;
  }
  // Read max_bytes from the first batch on (the first batch whole even when larger), then keep
  // the whole batches below `upper` that verify.
  int64_t want = std::min(std::max(max_bytes, first.size_bytes()), limit - position);
  // Straight from the file (the page cache) into the buffer the fetch path puts on the wire: its
  // only copy of the bytes.
  out.data.ResizeUninitialized(static_cast<size_t>(want));
  uint8_t* const bytes = out.data.data();
  auto n = (*file)->ReadAt(position, std::span<uint8_t>(bytes, static_cast<size_t>(want)));
  if (!n.ok()) return n.status();
  int64_t got = static_cast<int64_t>(*n);
  int64_t kept = 0;
  Offset floor = first.base_offset;
  while (kept + static_cast<int64_t>(L::kHeaderSize) <= got) {
    const uint8_t* p = bytes + kept;
    record::RecordBatchHeader h = record::RecordBatchHeader::Parse(p);
    if (h.magic != L::kMagicV2 || h.size_bytes() < static_cast<int64_t>(L::kHeaderSize) ||
        h.base_offset < floor || h.last_offset_delta < 0) {
      if (kept == 0) {
        return StorageError(
            Errc::kCorruptLog,
            fmt::format("segment {}: malformed batch at position {}", base_, position));
      }
      break;  // the next read starts here and reports it
    }
    if (kept + h.size_bytes() > got) break;  // partial: not returned
    if (h.last_offset() >= upper) {
      out.reached_upper = true;
      break;
    }
    int64_t batch_end = position + kept + h.size_bytes();
    if (verify && batch_end > verified_bytes_.load(std::memory_order_acquire) &&
        record::ComputeBatchCrc({p, static_cast<size_t>(h.size_bytes())}) != h.crc) {
      if (kept == 0) {
        return StorageError(Errc::kCorruptLog,
                            fmt::format("segment {}: the batch at offset {} (position {}) fails "
                                        "its CRC-32C check and is not served",
                                        base_, h.base_offset, position + kept));
      }
      break;
    }
    kept += h.size_bytes();
    floor = h.next_offset();
    out.next_offset = floor;
  }
  out.data.ResizeUninitialized(static_cast<size_t>(kept));
  if (verify && kept > 0) {
    // A checked range that continues the verified prefix extends it.
    int64_t expected = position;
    while (expected >= position && expected < position + kept &&
           !verified_bytes_.compare_exchange_weak(expected, position + kept)) {
    }
  }
  if (kept > 0) {
    absl::MutexLock lock(&mu_);
    hint_offset_ = out.next_offset;
    hint_position_ = position + kept;
  }
  return out;
}

absl::StatusOr<std::optional<TimestampMatch>> Segment::FindTimestamp(
    int64_t timestamp, Offset floor_offset, Offset upper, size_t decompressed_max_bytes) {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  Offset from;
  {
    absl::ReaderMutexLock lock(&mu_);
    from = time_index_.Lookup(timestamp).offset;
  }
  int64_t limit = DamagedLimit();
  auto found = FindBatchIn(**file, from, limit);
  if (!found.ok()) return found.status();
  if (!*found) return std::nullopt;
  int64_t position = (*found)->position;
  Offset floor = base_;
  while (position < limit) {
    auto h = ReadHeader(**file, position, limit, floor);
    if (!h.ok()) return h.status();
    if (h->base_offset >= upper) return std::nullopt;
    if (h->max_timestamp >= timestamp) {
      ByteBuffer batch(static_cast<size_t>(h->size_bytes()));
      auto n = (*file)->ReadAt(position, batch.span());
      if (!n.ok()) return n.status();
      if (record::ComputeBatchCrc(batch.span()) != h->crc) {
        return StorageError(Errc::kCorruptLog,
                            fmt::format("segment {}: the batch at offset {} fails its CRC-32C "
                                        "check",
                                        base_, h->base_offset));
      }
      auto decoded = record::DecodedBatch::Decode(batch.span(), decompressed_max_bytes);
      if (!decoded.ok()) return decoded.status();
      for (const record::RecordView& r : decoded->records()) {
        if (r.offset >= upper) return std::nullopt;
        if (r.offset >= floor_offset && r.timestamp >= timestamp) {
          return TimestampMatch{r.timestamp, r.offset, h->partition_leader_epoch};
        }
      }
    }
    position += h->size_bytes();
    floor = h->next_offset();
  }
  return std::nullopt;
}

absl::Status Segment::ForEachHeader(absl::FunctionRef<void(const record::RecordBatchHeader&)> fn) {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  int64_t position = 0, limit = DamagedLimit();
  Offset floor = base_;
  while (position < limit) {
    auto h = ReadHeader(**file, position, limit, floor);
    if (!h.ok()) return h.status();
    fn(*h);
    position += h->size_bytes();
    floor = h->next_offset();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::pair<Offset, int64_t>>> Segment::Verify() {
  auto file = Acquire();
  if (!file.ok()) return file.status();
  auto scan = Scan(**file, [](const record::RecordBatchHeader&, int64_t) {});
  if (!scan.ok()) return scan.status();
  if (scan->complete && scan->valid_bytes >= size_bytes()) return std::nullopt;
  return std::make_pair(scan->next_offset, scan->valid_bytes);
}

// ---------------------------------------------------------------------------------------------
// Facts

Offset Segment::max_timestamp_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return max_timestamp_offset_;
}

bool Segment::IndexFull(int64_t segment_index_bytes) const {
  absl::ReaderMutexLock lock(&mu_);
  return offset_index_.size_bytes() + OffsetIndex::kEntryBytes > segment_index_bytes;
}

bool Segment::CanHold(Offset last) const {
  int64_t relative = last - base_;
  return relative >= 0 && relative <= kInt32Max;
}

}  // namespace strand::storage
