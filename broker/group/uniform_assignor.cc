// The uniform assignor: every subscribed partition goes to exactly one of its topic's
// subscribers, with member loads as even as the subscriptions allow, moving as little as
// possible from the current assignment, and preferring a member in a rack that holds a replica
// of the partition whenever that costs no balance.
//
// How: (1) every member keeps what it holds; (2) each free partition goes to a least-loaded
// subscriber, a rack-local one among equals, the most constrained partitions first; (3) while
// some member could gain a partition from one holding two or more than it does, directly or
// through a chain of members that each pass one partition on (an augmenting path, found by a
// breadth-first search over members and topics), the chain moves. When no such path exists no
// move can make the loads more even, so the result is as balanced as the subscriptions allow;
// with identical subscriptions the loads differ by at most one. (4) Partitions that moved in
// this round may swap owners in pairs when that puts one in a rack holding a replica without
// taking the other out of one, which keeps loads as they are.
#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "broker/group/group_model.h"
#include "common/check.h"

namespace strand::broker::group {
namespace {

// Bounds the rack-improvement pass so that a pathological spec cannot stall the coordinator;
// the pass only improves locality, so stopping early leaves a valid, balanced assignment.
constexpr int64_t kRackSwapStepsMax = 20'000'000;

constexpr int32_t kNoRack = -1;

// One Assign call's working state: created, run once through Build on the calling thread,
// then discarded.
class UniformBuilder {
 public:
  explicit UniformBuilder(const GroupModel& model);
  GroupAssignment Build();

 private:
  using LoadKey = std::pair<int64_t, int32_t>;  // (load, member)

  void IndexRacks();
  void PlaceFree();
  int32_t LeastLoadedSubscriber(const std::set<LoadKey>& by_load, int32_t topic) const;
  void Balance();
  bool AugmentFrom(int32_t receiver);
  int32_t PickPartition(int32_t from, int32_t topic, int32_t to) const;
  void ImproveRacks();
  bool TrySwap(int32_t topic, int32_t partition, int64_t& steps);
  void Move(int32_t topic, int32_t partition, int32_t to);
  bool Subscribes(int32_t member, int32_t topic) const;
  bool Matches(int32_t member, int32_t topic, int32_t partition) const;
  bool Moved(int32_t topic, int32_t partition) const {
    return owner_[topic][partition] != model_.current_owner[topic][partition];
  }
  void SetLoad(int32_t member, int64_t load);

  const GroupModel& model_;
  std::vector<std::vector<int32_t>> owner_;                  // topic -> partition -> member
  std::vector<int64_t> load_;                                // member -> partitions owned
  std::vector<std::map<int32_t, std::set<int32_t>>> owned_;  // member -> topic -> partitions
  std::set<LoadKey> by_load_;
  std::vector<std::set<LoadKey>> rack_by_load_;                     // rack -> its members by load
  std::vector<int32_t> member_rack_;                                // member -> rack id or kNoRack
  std::vector<std::vector<std::vector<int32_t>>> partition_racks_;  // topic -> partition -> racks
  bool rack_aware_ = false;
};

UniformBuilder::UniformBuilder(const GroupModel& model)
    : model_(model),
      owner_(model.current_owner),
      load_(model.members.size(), 0),
      owned_(model.members.size()),
      member_rack_(model.members.size(), kNoRack) {
  IndexRacks();
  for (int32_t t = 0; t < static_cast<int32_t>(owner_.size()); ++t) {
    for (int32_t p = 0; p < static_cast<int32_t>(owner_[t].size()); ++p) {
      if (owner_[t][p] == kNoMember) continue;
      owned_[owner_[t][p]][t].insert(p);
      ++load_[owner_[t][p]];
    }
  }
  for (int32_t m = 0; m < static_cast<int32_t>(load_.size()); ++m) {
    by_load_.insert({load_[m], m});
    if (member_rack_[m] != kNoRack) rack_by_load_[member_rack_[m]].insert({load_[m], m});
  }
}

// Racks become small integers; a partition's racks that no member is in are dropped, since
// they cannot make any member a better owner.
void UniformBuilder::IndexRacks() {
  std::map<std::string, int32_t> rack_ids;
  for (int32_t m = 0; m < static_cast<int32_t>(model_.members.size()); ++m) {
    const auto& rack = model_.members[m]->rack;
    if (!rack.has_value()) continue;
    auto [it, inserted] = rack_ids.emplace(*rack, static_cast<int32_t>(rack_ids.size()));
    member_rack_[m] = it->second;
  }
  rack_by_load_.resize(rack_ids.size());
  partition_racks_.resize(model_.topics.size());
  for (size_t t = 0; t < model_.topics.size(); ++t) {
    const auto& racks = model_.topics[t]->partition_racks;
    if (racks.empty() || rack_ids.empty()) continue;
    partition_racks_[t].resize(racks.size());
    for (size_t p = 0; p < racks.size(); ++p) {
      for (const std::string& rack : racks[p]) {
        auto it = rack_ids.find(rack);
        if (it == rack_ids.end()) continue;
        partition_racks_[t][p].push_back(it->second);
        rack_aware_ = true;
      }
      std::sort(partition_racks_[t][p].begin(), partition_racks_[t][p].end());
    }
  }
}

bool UniformBuilder::Subscribes(int32_t member, int32_t topic) const {
  const auto& topics = model_.member_topics[member];
  return std::binary_search(topics.begin(), topics.end(), topic);
}

bool UniformBuilder::Matches(int32_t member, int32_t topic, int32_t partition) const {
  if (member_rack_[member] == kNoRack || partition_racks_[topic].empty()) return false;
  const auto& racks = partition_racks_[topic][partition];
  return std::binary_search(racks.begin(), racks.end(), member_rack_[member]);
}

void UniformBuilder::SetLoad(int32_t member, int64_t load) {
  by_load_.erase({load_[member], member});
  by_load_.insert({load, member});
  if (member_rack_[member] != kNoRack) {
    auto& rack_set = rack_by_load_[member_rack_[member]];
    rack_set.erase({load_[member], member});
    rack_set.insert({load, member});
  }
  load_[member] = load;
}

void UniformBuilder::Move(int32_t topic, int32_t partition, int32_t to) {
  const int32_t from = owner_[topic][partition];
  if (from != kNoMember) {
    auto it = owned_[from].find(topic);
    it->second.erase(partition);
    if (it->second.empty()) owned_[from].erase(it);
    SetLoad(from, load_[from] - 1);
  }
  owner_[topic][partition] = to;
  owned_[to][topic].insert(partition);
  SetLoad(to, load_[to] + 1);
}

int32_t UniformBuilder::LeastLoadedSubscriber(const std::set<LoadKey>& by_load,
                                              int32_t topic) const {
  for (const auto& [load, member] : by_load) {
    if (Subscribes(member, topic)) return member;
  }
  return kNoMember;
}

void UniformBuilder::PlaceFree() {
  // Partitions few members may own go first, while those members still have room.
  std::vector<std::pair<size_t, std::pair<int32_t, int32_t>>>
      free_partitions;  // (subscribers, (t, p))
  for (int32_t t = 0; t < static_cast<int32_t>(owner_.size()); ++t) {
    for (int32_t p = 0; p < static_cast<int32_t>(owner_[t].size()); ++p) {
      if (owner_[t][p] == kNoMember)
        free_partitions.push_back({model_.topic_members[t].size(), {t, p}});
    }
  }
  std::sort(free_partitions.begin(), free_partitions.end());
  for (const auto& [subscribers, topic_partition] : free_partitions) {
    const auto [t, p] = topic_partition;
    int32_t best = LeastLoadedSubscriber(by_load_, t);
    STRAND_CHECK(best != kNoMember);  // the model holds only subscribed topics
    if (rack_aware_ && !Matches(best, t, p)) {
      for (int32_t rack : partition_racks_[t][p]) {
        const int32_t local = LeastLoadedSubscriber(rack_by_load_[rack], t);
        if (local == kNoMember || load_[local] != load_[best]) continue;
        if (!Matches(best, t, p) || local < best) best = local;
      }
    }
    Move(t, p, best);
  }
}

// Which of `from`'s partitions of `topic` to hand to `to`: one local to `to`'s rack and not
// to `from`'s first, then the highest-numbered.
int32_t UniformBuilder::PickPartition(int32_t from, int32_t topic, int32_t to) const {
  const std::set<int32_t>& partitions = owned_[from].at(topic);
  int32_t best = kNoMember;
  int best_score = -1;
  for (auto it = partitions.rbegin(); it != partitions.rend(); ++it) {
    const int score = (rack_aware_ ? 2 * Matches(to, topic, *it) + !Matches(from, topic, *it) : 0);
    if (score > best_score) best = *it, best_score = score;
  }
  return best;
}

// Runs augmenting paths until none is left. Only a member holding at least two fewer than the
// most loaded can gain, which keeps the search to the members that matter.
void UniformBuilder::Balance() {
  while (!by_load_.empty()) {
    const int64_t load_max = by_load_.rbegin()->first;
    if (load_max - by_load_.begin()->first <= 1) return;
    bool moved = false;
    std::vector<int32_t> receivers;
    for (const auto& [load, member] : by_load_) {
      if (load > load_max - 2) break;
      receivers.push_back(member);
    }
    for (int32_t receiver : receivers) {
      if (AugmentFrom(receiver)) {
        moved = true;
        break;
      }
    }
    if (!moved) return;
  }
}

// Breadth-first over members: `receiver` can take a partition of any topic it subscribes to
// from that partition's owner, who can in turn take from the owners of its own topics, and so
// on. If some reachable member holds at least two more than `receiver`, one partition passes
// along each link of the path to it: the donor loses one, the receiver gains one, the members
// between keep their load.
bool UniformBuilder::AugmentFrom(int32_t receiver) {
  const auto member_count = model_.members.size();
  std::vector<std::pair<int32_t, int32_t>> parent(member_count, {kNoMember, -1});  // (to, topic)
  std::vector<bool> member_seen(member_count, false);
  std::vector<bool> topic_seen(model_.topics.size(), false);
  std::deque<int32_t> queue{receiver};
  member_seen[receiver] = true;
  int32_t donor = kNoMember;
  while (!queue.empty()) {
    const int32_t taker = queue.front();
    queue.pop_front();
    for (int32_t t : model_.member_topics[taker]) {
      if (topic_seen[t]) continue;
      topic_seen[t] = true;
      for (int32_t holder : model_.topic_members[t]) {
        if (member_seen[holder] || !owned_[holder].contains(t)) continue;
        member_seen[holder] = true;
        parent[holder] = {taker, t};
        queue.push_back(holder);
        if (donor == kNoMember || load_[holder] > load_[donor]) donor = holder;
      }
    }
  }
  if (donor == kNoMember || load_[donor] < load_[receiver] + 2) return false;
  for (int32_t giver = donor; giver != receiver;) {
    const auto [taker, topic] = parent[giver];
    Move(topic, PickPartition(giver, topic, taker), taker);
    giver = taker;
  }
  return true;
}

// Swaps pairs of partitions that moved this round so that more of them sit in a rack holding
// a replica; loads do not change, and partitions that stayed put are never touched.
void UniformBuilder::ImproveRacks() {
  if (!rack_aware_) return;
  int64_t steps = 0;
  for (int32_t t = 0; t < static_cast<int32_t>(owner_.size()); ++t) {
    for (int32_t p = 0; p < static_cast<int32_t>(owner_[t].size()); ++p) {
      if (steps > kRackSwapStepsMax) return;
      if (!Moved(t, p) || Matches(owner_[t][p], t, p)) continue;
      TrySwap(t, p, steps);
    }
  }
}

// Partition (topic, partition) is away from its racks at owner `a`. Look for a member `b` in
// one of its racks, subscribed to it, holding a moved partition that is away from `b`'s rack
// and that `a` may own; swapping puts the first home and the second no further away.
bool UniformBuilder::TrySwap(int32_t topic, int32_t partition, int64_t& steps) {
  const int32_t a = owner_[topic][partition];
  for (int32_t b : model_.topic_members[topic]) {
    if (b == a || !Matches(b, topic, partition)) continue;
    for (const auto& [other_topic, partitions] : owned_[b]) {
      if (!Subscribes(a, other_topic)) continue;
      for (int32_t other : partitions) {
        if (++steps > kRackSwapStepsMax) return false;
        if (!Moved(other_topic, other) || Matches(b, other_topic, other)) continue;
        // Move invalidates the iterators above, so return right after.
        Move(topic, partition, b);
        Move(other_topic, other, a);
        return true;
      }
    }
  }
  return false;
}

GroupAssignment UniformBuilder::Build() {
  PlaceFree();
  Balance();
  ImproveRacks();
  GroupAssignment assignment = EmptyAssignment(model_);
  for (int32_t m = 0; m < static_cast<int32_t>(owned_.size()); ++m) {
    TopicPartitions& topics = assignment[model_.members[m]->member_id];
    for (const auto& [t, partitions] : owned_[m]) {
      topics[model_.topic_names[t]].assign(partitions.begin(), partitions.end());
    }
  }
  return assignment;
}

}  // namespace

absl::StatusOr<GroupAssignment> UniformAssignor::Assign(const AssignmentSpec& spec,
                                                        const AssignmentLimits& limits) const {
  if (absl::Status status = ValidateSpec(spec, limits); !status.ok()) return status;
  const GroupModel model = BuildGroupModel(spec);
  return UniformBuilder(model).Build();
}

}  // namespace strand::broker::group
