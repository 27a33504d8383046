#pragma once

// TimeIndex: a segment's sparse map from timestamps to offsets. Each entry says "up to this
// offset, no record has a timestamp above this one": (largest timestamp seen so far, base offset
// of the batch holding it). Entries are added beside offset-index entries whenever the largest
// timestamp has grown, and once more when the segment closes, so the last entry carries the
// segment's largest timestamp (retention.ms reads it).
//
// Written to "<base>.timeindex" in Kafka's layout: big-endian 8-byte timestamp, then 4-byte
// offset relative to the segment base. Checked by Parse like the offset index. Not thread-safe:
// the Segment guards it.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/byte_buffer.h"
#include "common/ids.h"

namespace strand::storage {

class TimeIndex {
 public:
  static constexpr int kEntryBytes = 12;

  struct Entry {
    int64_t timestamp;
    Offset offset;
  };

  explicit TimeIndex(Offset base) : base_(base) {}

  // Adds an entry when `timestamp` exceeds the last entry's (otherwise does nothing); offsets
  // must not go backwards.
  void MaybeAppend(int64_t timestamp, Offset offset);
  // The entry with the largest timestamp strictly below `timestamp`: every record before its
  // offset has a smaller timestamp, so a search for the first record at or after `timestamp`
  // may start there. {-1, base} when there is none.
  Entry Lookup(int64_t timestamp) const;
  // Drops entries whose offset is at or beyond `offset`.
  void TruncateToOffset(Offset offset);

  std::optional<Entry> last() const;
  size_t entries() const { return entries_.size(); }

  ByteBuffer Serialize() const;
  static absl::StatusOr<TimeIndex> Parse(Offset base, std::span<const uint8_t> bytes);
  // Reads just the last entry of a serialized index (to learn a closed segment's largest
  // timestamp without loading its index); nullopt when the bytes are not whole entries.
  static std::optional<Entry> ParseLastEntry(Offset base, std::span<const uint8_t> last_entry);

 private:
  struct Packed {
    int64_t timestamp;
    uint32_t relative_offset;
  };
  Offset base_;
  std::vector<Packed> entries_;
};

}  // namespace strand::storage
