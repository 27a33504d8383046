#include "storage/offset_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/big_endian.h"
#include "common/check.h"
#include "storage/errc.h"

namespace strand::storage {

void OffsetIndex::Append(Offset offset, int64_t position) {
  int64_t relative = offset - base_;
  STRAND_CHECK_MSG(relative >= 0 && relative <= std::numeric_limits<int32_t>::max(),
                   "offset {} does not fit the index of segment {}", offset, base_);
  STRAND_CHECK(position >= 0 && position <= std::numeric_limits<int32_t>::max());
  if (!entries_.empty()) {
    STRAND_CHECK_MSG(
        relative > entries_.back().relative_offset && position > entries_.back().position,
        "index entry ({}, {}) after ({}, {})", relative, position, entries_.back().relative_offset,
        entries_.back().position);
  }
  entries_.push_back({static_cast<uint32_t>(relative), static_cast<uint32_t>(position)});
}

OffsetIndex::Entry OffsetIndex::Lookup(Offset target) const {
  int64_t relative = target - base_;
  if (relative < 0 || entries_.empty()) return {base_, 0};
  auto it = std::upper_bound(entries_.begin(), entries_.end(), relative,
                             [](int64_t r, const Packed& e) { return r < e.relative_offset; });
  if (it == entries_.begin()) return {base_, 0};
  --it;
  return {base_ + it->relative_offset, it->position};
}

void OffsetIndex::TruncateToPosition(int64_t position) {
  while (!entries_.empty() && entries_.back().position >= position) entries_.pop_back();
}

std::optional<OffsetIndex::Entry> OffsetIndex::last() const {
  if (entries_.empty()) return std::nullopt;
  return Entry{base_ + entries_.back().relative_offset, entries_.back().position};
}

ByteBuffer OffsetIndex::Serialize() const {
  ByteBuffer out(entries_.size() * kEntryBytes);
  uint8_t* p = out.data();
  for (const auto& e : entries_) {
    StoreBigEndian32(p, e.relative_offset);
    StoreBigEndian32(p + 4, e.position);
    p += kEntryBytes;
  }
  return out;
}

absl::StatusOr<OffsetIndex> OffsetIndex::Parse(Offset base, std::span<const uint8_t> bytes,
                                               int64_t log_size) {
  auto bad = [&](std::string_view why) {
    return StorageError(Errc::kCorruptLog,
                        fmt::format("offset index of segment {}: {}", base, why));
  };
  if (bytes.size() % kEntryBytes != 0) {
    return bad(fmt::format("size {} is not a multiple of {}", bytes.size(), kEntryBytes));
  }
  OffsetIndex index(base);
  index.entries_.reserve(bytes.size() / kEntryBytes);
  for (size_t at = 0; at < bytes.size(); at += kEntryBytes) {
    uint32_t relative = LoadBigEndian32(bytes.data() + at);
    uint32_t position = LoadBigEndian32(bytes.data() + at + 4);
    if (relative > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()) ||
        position >= static_cast<uint64_t>(log_size)) {
      return bad(
          fmt::format("entry {} ({}, {}) is out of range", at / kEntryBytes, relative, position));
    }
    if (!index.entries_.empty() && (relative <= index.entries_.back().relative_offset ||
                                    position <= index.entries_.back().position)) {
      return bad(fmt::format("entry {} is out of order", at / kEntryBytes));
    }
    index.entries_.push_back({relative, position});
  }
  return index;
}

}  // namespace strand::storage
