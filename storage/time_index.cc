#include "storage/time_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/big_endian.h"
#include "common/check.h"
#include "storage/errc.h"

namespace strand::storage {

void TimeIndex::MaybeAppend(int64_t timestamp, Offset offset) {
  int64_t relative = offset - base_;
  STRAND_CHECK(relative >= 0 && relative <= std::numeric_limits<int32_t>::max());
  if (!entries_.empty()) {
    if (timestamp <= entries_.back().timestamp) return;
    STRAND_CHECK_MSG(relative >= entries_.back().relative_offset, "time index offset {} after {}",
                     relative, entries_.back().relative_offset);
  }
  entries_.push_back({timestamp, static_cast<uint32_t>(relative)});
}

TimeIndex::Entry TimeIndex::Lookup(int64_t timestamp) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp,
                             [](const Packed& e, int64_t t) { return e.timestamp < t; });
  if (it == entries_.begin()) return {-1, base_};
  --it;
  return {it->timestamp, base_ + it->relative_offset};
}

void TimeIndex::TruncateToOffset(Offset offset) {
  while (!entries_.empty() && base_ + entries_.back().relative_offset >= offset) {
    entries_.pop_back();
  }
}

std::optional<TimeIndex::Entry> TimeIndex::last() const {
  if (entries_.empty()) return std::nullopt;
  return Entry{entries_.back().timestamp, base_ + entries_.back().relative_offset};
}

ByteBuffer TimeIndex::Serialize() const {
  ByteBuffer out(entries_.size() * kEntryBytes);
  uint8_t* p = out.data();
  for (const auto& e : entries_) {
    StoreBigEndian64(p, static_cast<uint64_t>(e.timestamp));
    StoreBigEndian32(p + 8, e.relative_offset);
    p += kEntryBytes;
  }
  return out;
}

absl::StatusOr<TimeIndex> TimeIndex::Parse(Offset base, std::span<const uint8_t> bytes) {
  auto bad = [&](std::string_view why) {
    return StorageError(Errc::kCorruptLog, fmt::format("time index of segment {}: {}", base, why));
  };
  if (bytes.size() % kEntryBytes != 0) {
    return bad(fmt::format("size {} is not a multiple of {}", bytes.size(), kEntryBytes));
  }
  TimeIndex index(base);
  for (size_t at = 0; at < bytes.size(); at += kEntryBytes) {
    int64_t ts = static_cast<int64_t>(LoadBigEndian64(bytes.data() + at));
    uint32_t relative = LoadBigEndian32(bytes.data() + at + 8);
    if (relative > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()) || ts < -1) {
      return bad(fmt::format("entry {} is out of range", at / kEntryBytes));
    }
    if (!index.entries_.empty() && (ts <= index.entries_.back().timestamp ||
                                    relative < index.entries_.back().relative_offset)) {
      return bad(fmt::format("entry {} is out of order", at / kEntryBytes));
    }
    index.entries_.push_back({ts, relative});
  }
  return index;
}

std::optional<TimeIndex::Entry> TimeIndex::ParseLastEntry(Offset base,
                                                          std::span<const uint8_t> last_entry) {
  if (last_entry.size() != kEntryBytes) return std::nullopt;
  int64_t ts = static_cast<int64_t>(LoadBigEndian64(last_entry.data()));
  uint32_t relative = LoadBigEndian32(last_entry.data() + 8);
  if (relative > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()) || ts < -1) {
    return std::nullopt;
  }
  return Entry{ts, base + relative};
}

}  // namespace strand::storage
