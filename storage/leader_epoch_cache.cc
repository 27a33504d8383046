#include "storage/leader_epoch_cache.h"

#include <fmt/format.h>

#include <charconv>

#include "absl/strings/str_split.h"
#include "common/check.h"
#include "storage/errc.h"

namespace strand::storage {

bool LeaderEpochCache::Assign(LeaderEpoch epoch, Offset start_offset) {
  STRAND_CHECK_MSG(epoch.value() >= 0 && start_offset.value() >= 0, "epoch {} at offset {}", epoch,
                   start_offset);
  if (!entries_.empty()) {
    const EpochEntry& latest = entries_.back();
    if (latest.epoch == epoch && start_offset >= latest.start_offset) return false;
  }
  while (!entries_.empty() &&
         (entries_.back().epoch >= epoch || entries_.back().start_offset >= start_offset)) {
    entries_.pop_back();
  }
  entries_.push_back({epoch, start_offset});
  return true;
}

EpochEndOffset LeaderEpochCache::EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const {
  if (requested == kNoLeaderEpoch || entries_.empty()) return {kNoLeaderEpoch, kUndefinedOffset};
  if (requested == entries_.back().epoch) return {requested, log_end_offset};
  // The first entry with an epoch above the requested one ends the requested epoch's range.
  auto higher = std::upper_bound(entries_.begin(), entries_.end(), requested,
                                 [](LeaderEpoch e, const EpochEntry& x) { return e < x.epoch; });
  if (higher == entries_.end()) return {kNoLeaderEpoch, kUndefinedOffset};
  if (higher == entries_.begin()) return {requested, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

bool LeaderEpochCache::TruncateFromEnd(Offset end_offset) {
  bool changed = false;
  while (!entries_.empty() && entries_.back().start_offset >= end_offset) {
    entries_.pop_back();
    changed = true;
  }
  return changed;
}

bool LeaderEpochCache::TruncateFromStart(Offset start_offset) {
  size_t covered = 0;  // entries starting at or before start_offset
  while (covered < entries_.size() && entries_[covered].start_offset <= start_offset) ++covered;
  if (covered == 0) return false;
  EpochEntry first{entries_[covered - 1].epoch, start_offset};
  bool changed = covered > 1 || entries_[0].start_offset != start_offset;
  entries_.erase(entries_.begin(), entries_.begin() + covered);
  entries_.insert(entries_.begin(), first);
  return changed;
}

std::optional<EpochEntry> LeaderEpochCache::Latest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

std::optional<LeaderEpoch> LeaderEpochCache::EpochFor(Offset offset) const {
  std::optional<LeaderEpoch> found;
  for (const auto& e : entries_) {
    if (e.start_offset > offset) break;
    found = e.epoch;
  }
  return found;
}

std::string LeaderEpochCache::Serialize() const {
  std::string out = fmt::format("0\n{}\n", entries_.size());
  for (const auto& e : entries_) out += fmt::format("{} {}\n", e.epoch, e.start_offset);
  return out;
}

namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

absl::StatusOr<LeaderEpochCache> LeaderEpochCache::Parse(std::string_view text) {
  auto bad = [](std::string_view why) {
    return StorageError(Errc::kCorruptLog, fmt::format("leader-epoch-checkpoint: {}", why));
  };
  std::vector<std::string_view> lines;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    lines.emplace_back(line.data(), line.size());
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() < 2 || lines[0] != "0") return bad("missing version 0");
  size_t count = 0;
  if (!ParseNumber(lines[1], &count) || count != lines.size() - 2) {
    return bad("entry count does not match the lines");
  }
  LeaderEpochCache cache;
  for (size_t i = 2; i < lines.size(); ++i) {
    size_t space = lines[i].find(' ');
    int32_t epoch = 0;
    int64_t offset = 0;
    if (space == std::string_view::npos || !ParseNumber(lines[i].substr(0, space), &epoch) ||
        !ParseNumber(lines[i].substr(space + 1), &offset) || epoch < 0 || offset < 0) {
      return bad(fmt::format("malformed line {}", i + 1));
    }
    if (!cache.entries_.empty() && (cache.entries_.back().epoch.value() >= epoch ||
                                    cache.entries_.back().start_offset.value() >= offset)) {
      return bad(fmt::format("line {} does not increase", i + 1));
    }
    cache.entries_.push_back({LeaderEpoch(epoch), Offset(offset)});
  }
  return cache;
}

}  // namespace strand::storage
