#pragma once

// OffsetIndex: a segment's sparse map from offsets to file positions — one entry per
// index.interval.bytes of log data, pointing at the start of a batch. A lookup returns the
// nearest entry at or below the target, from which a short forward scan of batch headers finds
// the batch itself.
//
// The entries live in memory (8 bytes per entry: ~2 MiB for a full 1 GiB segment at the default
// interval) and are written to "<base>.index" when a segment is closed, in Kafka's layout:
// big-endian 4-byte offset relative to the segment base, then 4-byte position. An index file is
// never trusted blindly: Parse checks it against the log's size and rejects any disorder, and a
// rejected or missing index is rebuilt from the log.
//
// Not thread-safe: the Segment guards it.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "common/ids.h"

namespace strand::storage {

class OffsetIndex {
 public:
  static constexpr int kEntryBytes = 8;

  struct Entry {
    Offset offset;
    int64_t position;
  };

  explicit OffsetIndex(Offset base) : base_(base) {}

  // Adds an entry; both offset and position must exceed the last entry's, and the offset must
  // be within 2^31 of the base.
  void Append(Offset offset, int64_t position);
  // The entry with the largest offset <= target, or {base, 0}.
  Entry Lookup(Offset target) const;
  // Drops entries at or beyond `position` (after the log is truncated there).
  void TruncateToPosition(int64_t position);
  void Clear() { entries_.clear(); }

  Offset base_offset() const { return base_; }
  size_t entries() const { return entries_.size(); }
  int64_t size_bytes() const { return static_cast<int64_t>(entries_.size()) * kEntryBytes; }
  std::optional<Entry> last() const;

  ByteBuffer Serialize() const;
  // Fails with Errc::kCorruptLog when the bytes are not a well-ordered index of a log of
  // `log_size` bytes.
  static absl::StatusOr<OffsetIndex> Parse(Offset base, std::span<const uint8_t> bytes,
                                           int64_t log_size);

 private:
  struct Packed {
    uint32_t relative_offset;
    uint32_t position;
  };
  Offset base_;
  std::vector<Packed> entries_;
};

}  // namespace strand::storage
