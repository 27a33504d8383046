// The uniform and range assignors: validity, balance and stickiness over seeded random specs
// (every failure names its seed), rack locality, co-partitioning, determinism, the name lookup
// and the limits. Properties are checked on the output rather than golden assignments, so the
// tests say what an assignor promises, not how it gets there.
#include "broker/group/assignor.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/random.h"

namespace strand::broker::group {
namespace {

using Owners = std::map<std::pair<std::string, int32_t>, std::string>;  // (topic, p) -> member

const PartitionAssignor& Uniform() { return *AssignorByName("uniform"); }
const PartitionAssignor& Range() { return *AssignorByName("range"); }

std::string MemberName(int i) { return fmt::format("member-{:02}", i); }

// 1-20 members, 1-5 topics of 1-50 partitions; every member subscribes to the same topics when
// `homogeneous`, else to a random non-empty subset.
AssignmentSpec RandomSpec(uint64_t seed, bool homogeneous) {
  Random random(seed);
  AssignmentSpec spec;
  const int topic_count = static_cast<int>(random.Range(1, 5));
  for (int t = 0; t < topic_count; ++t) {
    spec.topics[fmt::format("topic-{}", t)].partition_count =
        static_cast<int32_t>(random.Range(1, 50));
  }
  const int member_count = static_cast<int>(random.Range(1, 20));
  for (int m = 0; m < member_count; ++m) {
    MemberSpec member{.member_id = MemberName(m)};
    for (const auto& [name, topic] : spec.topics) {
      if (homogeneous || random.OneIn(2)) member.subscribed_topics.insert(name);
    }
    if (member.subscribed_topics.empty()) member.subscribed_topics.insert("topic-0");
    spec.members.push_back(std::move(member));
  }
  return spec;
}

// Fails the test unless every subscribed, existing partition has exactly one owner, who
// subscribes to its topic, and partition lists are sorted. Returns the owners.
Owners CheckValid(const AssignmentSpec& spec, const GroupAssignment& assignment) {
  Owners owners;
  EXPECT_EQ(assignment.size(), spec.members.size());
  for (const MemberSpec& member : spec.members) {
    auto it = assignment.find(member.member_id);
    if (it == assignment.end()) {
      ADD_FAILURE() << member.member_id << " missing from the assignment";
      continue;
    }
    for (const auto& [topic, partitions] : it->second) {
      EXPECT_TRUE(member.subscribed_topics.contains(topic)) << member.member_id << " " << topic;
      EXPECT_TRUE(std::is_sorted(partitions.begin(), partitions.end()));
      for (int32_t p : partitions) {
        auto [_, inserted] = owners.emplace(std::make_pair(topic, p), member.member_id);
        EXPECT_TRUE(inserted) << topic << "/" << p << " owned twice";
      }
    }
  }
  std::set<std::string> subscribed;
  for (const MemberSpec& member : spec.members) {
    subscribed.insert(member.subscribed_topics.begin(), member.subscribed_topics.end());
  }
  size_t expected = 0;
  for (const auto& [name, topic] : spec.topics) {
    if (!subscribed.contains(name)) continue;
    expected += topic.partition_count;
    for (int32_t p = 0; p < topic.partition_count; ++p) {
      EXPECT_TRUE(owners.contains({name, p})) << name << "/" << p << " unowned";
    }
  }
  EXPECT_EQ(owners.size(), expected);
  return owners;
}

int64_t Load(const TopicPartitions& topics) {
  int64_t load = 0;
  for (const auto& [_, partitions] : topics) load += static_cast<int64_t>(partitions.size());
  return load;
}

std::pair<int64_t, int64_t> LoadRange(const GroupAssignment& assignment) {
  int64_t low = INT64_MAX, high = 0;
  for (const auto& [_, topics] : assignment) {
    low = std::min(low, Load(topics));
    high = std::max(high, Load(topics));
  }
  return {low, high};
}

GroupAssignment MustAssign(const PartitionAssignor& assignor, const AssignmentSpec& spec) {
  absl::StatusOr<GroupAssignment> assignment = assignor.Assign(spec);
  EXPECT_TRUE(assignment.ok()) << assignment.status();
  return assignment.ok() ? *std::move(assignment) : GroupAssignment{};
}

// The next round's spec: each member's current assignment is what `assignment` gave it.
void Adopt(AssignmentSpec& spec, const GroupAssignment& assignment) {
  for (MemberSpec& member : spec.members) member.current = assignment.at(member.member_id);
}

int Moves(const Owners& before, const Owners& after) {
  int moves = 0;
  for (const auto& [partition, owner] : after) {
    auto it = before.find(partition);
    if (it != before.end() && it->second != owner) ++moves;
  }
  return moves;
}

TEST(UniformAssignor, Assign_RandomSpecs_ValidAndBalanced) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    const bool homogeneous = seed % 2 == 0;
    const AssignmentSpec spec = RandomSpec(seed, homogeneous);
    const GroupAssignment assignment = MustAssign(Uniform(), spec);
    CheckValid(spec, assignment);
    if (homogeneous) {
      const auto [low, high] = LoadRange(assignment);
      EXPECT_LE(high - low, 1);
      continue;
    }
    // Heterogeneous: no member could take a partition straight from one holding two more.
    for (const MemberSpec& taker : spec.members) {
      for (const auto& [giver, topics] : assignment) {
        for (const auto& [topic, partitions] : topics) {
          if (partitions.empty() || !taker.subscribed_topics.contains(topic)) continue;
          EXPECT_LE(Load(topics) - Load(assignment.at(taker.member_id)), 1)
              << giver << " could give " << topic << " to " << taker.member_id;
        }
      }
    }
  }
}

TEST(RangeAssignor, Assign_RandomSpecs_ValidAndBalancedPerTopic) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    const AssignmentSpec spec = RandomSpec(seed, seed % 2 == 0);
    const GroupAssignment assignment = MustAssign(Range(), spec);
    CheckValid(spec, assignment);
    // Per topic, among its subscribers, counts differ by at most one, whatever the others do.
    for (const auto& [name, topic] : spec.topics) {
      int64_t low = INT64_MAX, high = 0;
      for (const MemberSpec& member : spec.members) {
        if (!member.subscribed_topics.contains(name)) continue;
        const TopicPartitions& mine = assignment.at(member.member_id);
        const int64_t count = mine.contains(name) ? mine.at(name).size() : 0;
        low = std::min(low, count), high = std::max(high, count);
      }
      if (high > 0) {
        EXPECT_LE(high - low, 1) << name;
      }
    }
  }
}

// Fresh range assignment: contiguous ranges in member-id order, the first ones one longer.
TEST(RangeAssignor, Assign_Fresh_ContiguousRangesExtrasFirst) {
  AssignmentSpec spec;
  spec.topics["t"].partition_count = 7;
  for (int m : {2, 0, 1})
    spec.members.push_back({.member_id = MemberName(m), .subscribed_topics = {"t"}});
  const GroupAssignment assignment = MustAssign(Range(), spec);
  EXPECT_EQ(assignment.at(MemberName(0)).at("t"), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(assignment.at(MemberName(1)).at("t"), (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(assignment.at(MemberName(2)).at("t"), (std::vector<int32_t>{5, 6}));
}

class BothAssignors : public testing::TestWithParam<std::string> {
 protected:
  const PartitionAssignor& assignor() const { return *AssignorByName(GetParam()); }
};

TEST_P(BothAssignors, Assign_UnchangedMembership_IdenticalAssignment) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    AssignmentSpec spec = RandomSpec(seed, seed % 2 == 0);
    const GroupAssignment first = MustAssign(assignor(), spec);
    Adopt(spec, first);
    EXPECT_EQ(MustAssign(assignor(), spec), first);
  }
}

TEST_P(BothAssignors, Assign_MemberJoins_MovesOnlyItsShare) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    AssignmentSpec spec = RandomSpec(seed, /*homogeneous=*/true);
    const GroupAssignment before = MustAssign(assignor(), spec);
    const Owners owners_before = CheckValid(spec, before);
    Adopt(spec, before);
    // The newcomer sorts in the middle of the ids so that range's order shifts too.
    spec.members.push_back({.member_id = MemberName(0) + "-new",
                            .subscribed_topics = spec.members[0].subscribed_topics});
    const GroupAssignment after = MustAssign(assignor(), spec);
    const Owners owners_after = CheckValid(spec, after);
    EXPECT_EQ(Moves(owners_before, owners_after), Load(after.at(MemberName(0) + "-new")));
    if (GetParam() == "uniform") {
      const auto [low, high] = LoadRange(after);
      EXPECT_LE(high - low, 1);
    }
  }
}

TEST_P(BothAssignors, Assign_MemberLeaves_MovesOnlyItsPartitions) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    AssignmentSpec spec = RandomSpec(seed, /*homogeneous=*/true);
    if (spec.members.size() < 2) continue;
    const GroupAssignment before = MustAssign(assignor(), spec);
    Adopt(spec, before);
    const size_t leaving = seed % spec.members.size();
    const std::string leaver = spec.members[leaving].member_id;
    spec.members.erase(spec.members.begin() + leaving);
    const Owners owners_after = CheckValid(spec, MustAssign(assignor(), spec));
    Owners owners_before;
    for (const auto& [member, topics] : before) {
      for (const auto& [topic, partitions] : topics) {
        for (int32_t p : partitions) owners_before[{topic, p}] = member;
      }
    }
    for (const auto& [partition, owner] : owners_after) {
      const std::string& old_owner = owners_before.at(partition);
      if (old_owner != leaver) {
        EXPECT_EQ(owner, old_owner) << partition.first << "/" << partition.second;
      }
    }
  }
}

// The fewest moves any balanced assignment needs: of `held` (what each remaining member holds
// now), at most min(held, base) stay with each member, plus one more for as many members
// holding more than the base as there are extra partitions.
int64_t MovesMin(int64_t partitions, const std::vector<int64_t>& held) {
  const auto members = static_cast<int64_t>(held.size());
  const int64_t base = partitions / members;
  int64_t extras = partitions % members;
  int64_t kept = 0;
  for (int64_t count : held) {
    kept += std::min(count, base);
    if (count > base && extras > 0) ++kept, --extras;
  }
  return partitions - kept;
}

// Members join and leave at random (their ids random, so they sort anywhere); after each change
// the assignment moves no more partitions than balance demands: in total for uniform, per topic
// for range.
TEST_P(BothAssignors, Assign_Churn_MovesTheMinimum) {
  const bool per_topic = GetParam() == "range";
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    Random random(seed * 7919);
    AssignmentSpec spec = RandomSpec(seed, /*homogeneous=*/true);
    const std::set<std::string> topics = spec.members[0].subscribed_topics;
    for (int round = 0; round < 15; ++round) {
      SCOPED_TRACE(fmt::format("round {}", round));
      const GroupAssignment before = MustAssign(assignor(), spec);
      const Owners owners_before = CheckValid(spec, before);
      Adopt(spec, before);
      if (spec.members.size() > 1 && random.OneIn(2)) {
        spec.members.erase(spec.members.begin() + random.Uniform(spec.members.size()));
      } else {
        spec.members.push_back({.member_id = fmt::format("m-{}", random.Uniform(1'000'000)),
                                .subscribed_topics = topics});
      }
      const Owners owners_after = CheckValid(spec, MustAssign(assignor(), spec));
      // Moves counted from the owners before; a departed member's partitions all move.
      int64_t moves = 0, moves_min = 0;
      for (const auto& [partition, owner] : owners_after) {
        moves += owners_before.at(partition) != owner;
      }
      for (const std::string& topic : per_topic ? topics : std::set<std::string>{""}) {
        std::vector<int64_t> held;
        int64_t partitions = 0;
        for (const MemberSpec& member : spec.members) {
          int64_t count = 0;
          for (const auto& [name, owned] : member.current) {
            if (topic.empty() || name == topic) count += static_cast<int64_t>(owned.size());
          }
          held.push_back(count);
        }
        for (const auto& [name, metadata] : spec.topics) {
          if (topic.empty() || name == topic) partitions += metadata.partition_count;
        }
        moves_min += MovesMin(partitions, held);
      }
      EXPECT_EQ(moves, moves_min);
    }
  }
}

TEST_P(BothAssignors, Assign_MemberOrderInSpec_DoesNotMatter) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    AssignmentSpec spec = RandomSpec(seed, seed % 2 == 0);
    const GroupAssignment forward = MustAssign(assignor(), spec);
    std::reverse(spec.members.begin(), spec.members.end());
    EXPECT_EQ(MustAssign(assignor(), spec), forward);
  }
}

TEST_P(BothAssignors, Assign_EmptyAndMissing_NoCrash) {
  EXPECT_TRUE(MustAssign(assignor(), AssignmentSpec{}).empty());
  AssignmentSpec spec;
  spec.topics["exists"].partition_count = 3;
  spec.members.push_back({.member_id = "a",
                          .subscribed_topics = {"exists", "missing"},
                          .current = {{"missing", {0}}, {"exists", {7, -1, 2}}}});
  spec.members.push_back({.member_id = "b"});  // subscribes to nothing
  const GroupAssignment assignment = MustAssign(assignor(), spec);
  EXPECT_EQ(assignment.at("a"), (TopicPartitions{{"exists", {0, 1, 2}}}));
  EXPECT_TRUE(assignment.at("b").empty());
}

TEST_P(BothAssignors, Assign_PastLimits_InvalidArgument) {
  AssignmentSpec spec;
  spec.topics["big"].partition_count = 1'000'001;
  spec.members.push_back({.member_id = "a", .subscribed_topics = {"big"}});
  absl::StatusOr<GroupAssignment> result = assignor().Assign(spec);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("1000001 partitions"), std::string::npos)
      << result.status();

  AssignmentSpec crowd;
  for (int m = 0; m < 10'001; ++m) crowd.members.push_back({.member_id = fmt::format("m{}", m)});
  result = assignor().Assign(crowd);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("10001 members"), std::string::npos) << result.status();

  AssignmentSpec twice;
  twice.members = {{.member_id = "a"}, {.member_id = "a"}};
  EXPECT_EQ(assignor().Assign(twice).status().code(), absl::StatusCode::kInvalidArgument);
  AssignmentSpec negative;
  negative.topics["t"].partition_count = -1;
  EXPECT_EQ(assignor().Assign(negative).status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Assignors, BothAssignors, testing::Values("uniform", "range"));

// Six members, two per rack; every partition has replicas in one rack (partition % 3), so each
// member can own only rack-local partitions and still be balanced.
TEST(UniformAssignor, Assign_RacksWithPerfectMatch_AllLocalAndBalanced) {
  for (int32_t partition_count : {6, 12, 18, 30}) {
    SCOPED_TRACE(fmt::format("{} partitions", partition_count));
    AssignmentSpec spec;
    for (const std::string topic : {"a", "b"}) {
      TopicSpec& metadata = spec.topics[topic];
      metadata.partition_count = partition_count;
      for (int32_t p = 0; p < partition_count; ++p) {
        metadata.partition_racks.push_back({fmt::format("rack-{}", p % 3)});
      }
    }
    for (int m = 0; m < 6; ++m) {
      spec.members.push_back({.member_id = MemberName(m),
                              .rack = fmt::format("rack-{}", (m * 7 + 1) % 3),
                              .subscribed_topics = {"a", "b"}});
    }
    const GroupAssignment assignment = MustAssign(Uniform(), spec);
    CheckValid(spec, assignment);
    const auto [low, high] = LoadRange(assignment);
    EXPECT_LE(high - low, 1);
    for (const MemberSpec& member : spec.members) {
      for (const auto& [topic, partitions] : assignment.at(member.member_id)) {
        for (int32_t p : partitions) {
          EXPECT_EQ(fmt::format("rack-{}", p % 3), *member.rack)
              << topic << "/" << p << " at " << member.member_id;
        }
      }
    }
  }
}

// Balance that only a chain of moves reaches: "solo" subscribes to t1 only, "both" to t1 and
// t2, "t2-only" to t2 only. From loads 0 / 1 / 2 no single move helps; both must pass its t1
// partition to solo and take one of t2-only's.
TEST(UniformAssignor, Assign_ChainOfMoves_Balances) {
  AssignmentSpec spec;
  spec.topics["t1"].partition_count = 1;
  spec.topics["t2"].partition_count = 2;
  spec.members = {
      {.member_id = "both", .subscribed_topics = {"t1", "t2"}, .current = {{"t1", {0}}}},
      {.member_id = "solo", .subscribed_topics = {"t1"}},
      {.member_id = "t2-only", .subscribed_topics = {"t2"}, .current = {{"t2", {0, 1}}}},
  };
  const GroupAssignment assignment = MustAssign(Uniform(), spec);
  CheckValid(spec, assignment);
  EXPECT_EQ(assignment.at("solo"), (TopicPartitions{{"t1", {0}}}));
  EXPECT_EQ(Load(assignment.at("both")), 1);
  EXPECT_EQ(Load(assignment.at("t2-only")), 1);
}

// Racks steer only partitions that must move: a member keeps a partition held outside its
// rack, while the departed member's partitions go to members in their replicas' racks.
TEST(UniformAssignor, Assign_RacksAndStickiness_KeepsWhatItHolds) {
  AssignmentSpec spec;
  TopicSpec& topic = spec.topics["t"];
  topic.partition_count = 6;
  for (int32_t p = 0; p < 6; ++p) topic.partition_racks.push_back({p < 3 ? "east" : "west"});
  spec.members = {
      {.member_id = "a", .rack = "east", .subscribed_topics = {"t"}, .current = {{"t", {3}}}},
      {.member_id = "b", .rack = "west", .subscribed_topics = {"t"}, .current = {{"t", {0}}}},
  };
  // The departed member held 1, 2, 4 and 5.
  const GroupAssignment assignment = MustAssign(Uniform(), spec);
  EXPECT_EQ(assignment.at("a"), (TopicPartitions{{"t", {1, 2, 3}}}));
  EXPECT_EQ(assignment.at("b"), (TopicPartitions{{"t", {0, 4, 5}}}));
}

// A large homogeneous group, fresh and after one member joins, stays fast enough to run on a
// heartbeat path.
TEST(UniformAssignor, Assign_LargeGroup_Balanced) {
  AssignmentSpec spec;
  for (int t = 0; t < 10; ++t) spec.topics[fmt::format("topic-{}", t)].partition_count = 10'000;
  std::set<std::string> topics;
  for (const auto& [name, _] : spec.topics) topics.insert(name);
  for (int m = 0; m < 1'000; ++m) {
    spec.members.push_back({.member_id = fmt::format("m{:04}", m), .subscribed_topics = topics});
  }
  GroupAssignment assignment = MustAssign(Uniform(), spec);
  EXPECT_EQ(LoadRange(assignment), std::make_pair(int64_t{100}, int64_t{100}));
  Adopt(spec, assignment);
  spec.members.push_back({.member_id = "m-new", .subscribed_topics = topics});
  assignment = MustAssign(Uniform(), spec);
  EXPECT_EQ(LoadRange(assignment), std::make_pair(int64_t{99}, int64_t{100}));
  EXPECT_EQ(Load(assignment.at("m-new")), 99);
}

// Co-partitioned topics (same partition count, same subscribers) get the same partition
// numbers per member, fresh and after a member joins.
TEST(RangeAssignor, Assign_CoPartitionedTopics_SamePartitionNumbers) {
  AssignmentSpec spec;
  spec.topics["orders"].partition_count = 6;
  spec.topics["payments"].partition_count = 6;
  for (int m = 0; m < 3; ++m) {
    spec.members.push_back(
        {.member_id = MemberName(m), .subscribed_topics = {"orders", "payments"}});
  }
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    const GroupAssignment assignment = MustAssign(Range(), spec);
    CheckValid(spec, assignment);
    for (const auto& [member, topics] : assignment) {
      ASSERT_TRUE(topics.contains("orders")) << member;
      EXPECT_EQ(topics.at("orders"), topics.at("payments")) << member;
    }
    Adopt(spec, assignment);
    spec.members.push_back(
        {.member_id = MemberName(0) + "-new", .subscribed_topics = {"orders", "payments"}});
  }
}

TEST(AssignorByName, KnownAndUnknownNames) {
  ASSERT_NE(AssignorByName("uniform"), nullptr);
  ASSERT_NE(AssignorByName("range"), nullptr);
  EXPECT_EQ(AssignorByName("uniform")->Name(), "uniform");
  EXPECT_EQ(AssignorByName("range")->Name(), "range");
  EXPECT_NE(AssignorByName(kDefaultAssignorName), nullptr);
  EXPECT_EQ(AssignorByName("roundrobin"), nullptr);
  EXPECT_EQ(AssignorByName(""), nullptr);
}

}  // namespace
}  // namespace strand::broker::group
