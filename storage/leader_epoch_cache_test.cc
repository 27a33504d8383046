// Tests LeaderEpochCache against Kafka's LeaderEpochFileCache semantics (KIP-101/279): assign
// removes conflicting entries, EndOffsetFor answers with the floor epoch and the next epoch's
// start (or the log end for the latest, or undefined past the latest), truncation from either
// end, and the checkpoint text format (with every kind of damage refused).
#include "storage/leader_epoch_cache.h"

#include <gtest/gtest.h>

#include "storage/errc.h"

namespace strand::storage {
namespace {

LeaderEpoch E(int32_t e) { return LeaderEpoch(e); }
Offset O(int64_t o) { return Offset(o); }

TEST(LeaderEpochCache, Assign_RepeatsAndConflicts) {
  LeaderEpochCache c;
  EXPECT_TRUE(c.Assign(E(1), O(0)));
  EXPECT_FALSE(c.Assign(E(1), O(5)));  // same epoch, later offset: nothing new
  EXPECT_TRUE(c.Assign(E(3), O(10)));
  EXPECT_TRUE(c.Assign(E(4), O(20)));
  // Epoch 3 again at 15: entries with epoch >= 3 or start >= 15 go.
  EXPECT_TRUE(c.Assign(E(3), O(15)));
  EXPECT_EQ(c.entries(), (std::vector<EpochEntry>{{E(1), O(0)}, {E(3), O(15)}}));
  // A lower epoch at a later offset removes the later epochs too.
  EXPECT_TRUE(c.Assign(E(2), O(30)));
  EXPECT_EQ(c.entries(), (std::vector<EpochEntry>{{E(1), O(0)}, {E(2), O(30)}}));
}

TEST(LeaderEpochCache, EndOffsetFor_KafkaSemantics) {
  LeaderEpochCache c;
  c.Assign(E(2), O(10));
  c.Assign(E(4), O(20));
  c.Assign(E(6), O(30));
  Offset leo(42);
  EXPECT_EQ(c.EndOffsetFor(E(6), leo), (EpochEndOffset{E(6), O(42)}));  // latest: log end
  EXPECT_EQ(c.EndOffsetFor(E(4), leo), (EpochEndOffset{E(4), O(30)}));
  EXPECT_EQ(c.EndOffsetFor(E(5), leo), (EpochEndOffset{E(4), O(30)}));  // unknown: floor epoch
  EXPECT_EQ(c.EndOffsetFor(E(1), leo), (EpochEndOffset{E(1), O(10)}));  // below all
  EXPECT_EQ(c.EndOffsetFor(E(7), leo), (EpochEndOffset{kNoLeaderEpoch, kUndefinedOffset}));
  EXPECT_EQ(c.EndOffsetFor(kNoLeaderEpoch, leo),
            (EpochEndOffset{kNoLeaderEpoch, kUndefinedOffset}));
  EXPECT_EQ(LeaderEpochCache().EndOffsetFor(E(1), leo),
            (EpochEndOffset{kNoLeaderEpoch, kUndefinedOffset}));
}

TEST(LeaderEpochCache, Truncation) {
  LeaderEpochCache c;
  c.Assign(E(2), O(10));
  c.Assign(E(4), O(20));
  c.Assign(E(6), O(30));
  EXPECT_FALSE(c.TruncateFromEnd(O(31)));
  EXPECT_TRUE(c.TruncateFromEnd(O(30)));  // an epoch starting at the new end goes
  EXPECT_EQ(c.Latest()->epoch, E(4));
  EXPECT_TRUE(c.TruncateFromStart(O(25)));  // epoch 4 now starts at 25; epoch 2 gone
  EXPECT_EQ(c.entries(), (std::vector<EpochEntry>{{E(4), O(25)}}));
  EXPECT_FALSE(c.TruncateFromStart(O(5)));
  EXPECT_EQ(c.EpochFor(O(26)), E(4));
  EXPECT_EQ(c.EpochFor(O(1)), std::nullopt);
}

TEST(LeaderEpochCache, Checkpoint_RoundTripAndDamage) {
  LeaderEpochCache c;
  c.Assign(E(3), O(100));
  c.Assign(E(5), O(250));
  std::string text = c.Serialize();
  EXPECT_EQ(text, "0\n2\n3 100\n5 250\n");
  auto back = LeaderEpochCache::Parse(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->entries(), c.entries());
  EXPECT_TRUE(LeaderEpochCache::Parse("0\n0\n").ok());
  for (std::string bad : {"", "1\n0\n", "0\n3\n3 100\n", "0\n1\n3\n", "0\n2\n5 100\n3 250\n",
                          "0\n2\n3 100\n4 100\n", "0\n1\nx 1\n", "0\n1\n-1 5\n"}) {
    auto parsed = LeaderEpochCache::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(StorageErrcOf(parsed.status()), Errc::kCorruptLog) << bad;
  }
}

}  // namespace
}  // namespace strand::storage
