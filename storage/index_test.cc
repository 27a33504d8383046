// Tests the sparse offset and time indexes: floor lookups, truncation, serialization in Kafka's
// byte layout, and that a damaged index file (torn entry, disorder, positions past the log) is
// refused so that the log rebuilds it. Also the log checkpoint file's round trip and damage
// detection, and the pure retention decision.
#include <gtest/gtest.h>

#include "storage/errc.h"
#include "storage/log_checkpoint.h"
#include "storage/offset_index.h"
#include "storage/retention.h"
#include "storage/time_index.h"

namespace strand::storage {
namespace {

TEST(OffsetIndex, FloorLookupAndTruncate) {
  OffsetIndex index(Offset(1000));
  index.Append(Offset(1010), 4096);
  index.Append(Offset(1020), 8200);
  index.Append(Offset(1035), 12300);
  EXPECT_EQ(index.Lookup(Offset(999)).position, 0);
  EXPECT_EQ(index.Lookup(Offset(1000)).position, 0);
  EXPECT_EQ(index.Lookup(Offset(1009)).position, 0);
  EXPECT_EQ(index.Lookup(Offset(1010)).position, 4096);
  EXPECT_EQ(index.Lookup(Offset(1034)).offset, Offset(1020));
  EXPECT_EQ(index.Lookup(Offset(5000)).position, 12300);
  index.TruncateToPosition(8200);
  EXPECT_EQ(index.entries(), 1u);
  EXPECT_EQ(index.Lookup(Offset(1034)).position, 4096);
}

TEST(OffsetIndex, SerializeParseAndDamage) {
  OffsetIndex index(Offset(7));
  index.Append(Offset(9), 100);
  index.Append(Offset(20), 300);
  ByteBuffer bytes = index.Serialize();
  ASSERT_EQ(bytes.size(), 16u);
  // Kafka's layout: relative offset then position, big-endian.
  EXPECT_EQ(bytes.data()[3], 2);
  EXPECT_EQ(bytes.data()[7], 100);
  auto back = OffsetIndex::Parse(Offset(7), bytes.span(), 400);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Lookup(Offset(25)).position, 300);
  EXPECT_EQ(StorageErrcOf(OffsetIndex::Parse(Offset(7), bytes.span(), 300).status()),
            Errc::kCorruptLog);  // a position past the log
  EXPECT_FALSE(OffsetIndex::Parse(Offset(7), bytes.span().first(12), 400).ok());  // torn
  ByteBuffer swapped = ByteBuffer::CopyOf(bytes.span());
  std::swap_ranges(swapped.data(), swapped.data() + 8, swapped.data() + 8);
  EXPECT_FALSE(OffsetIndex::Parse(Offset(7), swapped.span(), 400).ok());  // out of order
}

TEST(TimeIndex, StrictlyBelowLookup) {
  TimeIndex index(Offset(0));
  index.MaybeAppend(100, Offset(0));
  index.MaybeAppend(100, Offset(5));  // not larger: ignored
  index.MaybeAppend(250, Offset(10));
  index.MaybeAppend(400, Offset(20));
  EXPECT_EQ(index.entries(), 3u);
  EXPECT_EQ(index.Lookup(100).offset, Offset(0));  // nothing strictly below 100
  EXPECT_EQ(index.Lookup(101).offset, Offset(0));
  EXPECT_EQ(index.Lookup(250).offset, Offset(0));
  EXPECT_EQ(index.Lookup(251).offset, Offset(10));
  EXPECT_EQ(index.Lookup(10000).offset, Offset(20));
  EXPECT_EQ(index.last()->timestamp, 400);
  index.TruncateToOffset(Offset(10));
  EXPECT_EQ(index.last()->timestamp, 100);
  ByteBuffer bytes = index.Serialize();
  auto back = TimeIndex::Parse(Offset(0), bytes.span());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->entries(), 1u);
  auto last = TimeIndex::ParseLastEntry(Offset(0), bytes.span().last(12));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->timestamp, 100);
  EXPECT_FALSE(TimeIndex::Parse(Offset(0), bytes.span().first(5)).ok());
}

TEST(LogCheckpoint, RoundTripAndDamage) {
  LogCheckpoint c{Offset(1200), Offset(40),   Offset(1180), Offset(900),
                  true,         Offset(1250), Offset(1200), 123456};
  std::string text = c.Serialize();
  auto back = LogCheckpoint::Parse(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->recovery_point, Offset(1200));
  EXPECT_EQ(back->high_watermark, Offset(1180));
  EXPECT_TRUE(back->clean_shutdown);
  EXPECT_EQ(back->clean_active_size, 123456);
  for (size_t i = 0; i < text.size(); i += 3) {
    std::string damaged = text;
    damaged[i] ^= 0x01;
    EXPECT_FALSE(LogCheckpoint::Parse(damaged).ok()) << i;
  }
  EXPECT_FALSE(LogCheckpoint::Parse(text.substr(0, text.size() / 2)).ok());
  EXPECT_FALSE(LogCheckpoint::Parse("").ok());
}

std::vector<SegmentFacts> Facts(std::initializer_list<std::pair<int64_t, int64_t>> sizes_times) {
  std::vector<SegmentFacts> facts;
  int64_t base = 0;
  for (auto [size, ts] : sizes_times) {
    facts.push_back({Offset(base), Offset(base + 10), size, ts});
    base += 10;
  }
  return facts;
}

TEST(Retention, ByTimeSizeAndLogStart_NeverTheActiveSegment) {
  LogConfig c{.retention_ms = 1000, .retention_bytes = kUnlimited};
  auto facts = Facts({{100, 1000}, {100, 1500}, {100, 5000}, {100, 6000}});
  // now 5000: segments whose newest record is older than 4000 go, in order.
  EXPECT_EQ(DecideRetention(facts, c, 5000, Offset(0)).segments, 2u);
  EXPECT_EQ(DecideRetention(facts, c, 5000, Offset(0)).reason, RetentionReason::kTime);
  // Everything expired: the active (last) segment stays.
  EXPECT_EQ(DecideRetention(facts, c, 100000, Offset(0)).segments, 3u);
  // Never above the high watermark, whatever the records' age.
  EXPECT_EQ(DecideRetention(facts, c, 100000, Offset(0), Offset(10)).segments, 1u);
  EXPECT_EQ(DecideRetention(facts, c, 100000, Offset(0), Offset(9)).segments, 0u);
  // By size: keep at least retention.bytes.
  c = {.retention_ms = -1, .retention_bytes = 150};
  EXPECT_EQ(DecideRetention(facts, c, 0, Offset(0)).segments, 2u);
  c.retention_bytes = 400;
  EXPECT_EQ(DecideRetention(facts, c, 0, Offset(0)).segments, 0u);
  // Below the log start: always, even for compacted topics.
  c = {.retention_ms = -1, .cleanup_policy = CleanupPolicy::kCompact};
  EXPECT_EQ(DecideRetention(facts, c, 0, Offset(20)).segments, 2u);
  EXPECT_EQ(DecideRetention(facts, c, 0, Offset(20)).reason, RetentionReason::kBelowLogStart);
  // Compact-only topics ignore time and size.
  c.retention_ms = 1;
  c.retention_bytes = 1;
  EXPECT_EQ(DecideRetention(facts, c, 100000, Offset(0)).segments, 0u);
  // A segment without timestamps is never deleted by time (and stops the prefix).
  c = {.retention_ms = 1000};
  EXPECT_EQ(DecideRetention(Facts({{100, -1}, {100, 1}, {1, 1}}), c, 100000, Offset(0)).segments,
            0u);
}

}  // namespace
}  // namespace strand::storage
