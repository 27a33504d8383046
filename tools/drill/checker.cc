#include "tools/drill/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace strand::drill {
namespace {

constexpr size_t kExamples = 3;

// Collects examples of one kind of violation and turns them into one line.
class Tally {
 public:
  explicit Tally(std::string what) : what_(std::move(what)) {}
  void Add(std::string example) {
    ++count_;
    if (examples_.size() < kExamples) examples_.push_back(std::move(example));
  }
  int64_t count() const { return count_; }
  void Report(std::vector<std::string>& violations) const {
    if (count_ == 0) return;
    std::string line = fmt::format("{} {}", count_, what_);
    for (size_t i = 0; i < examples_.size(); ++i) line += (i == 0 ? ": " : "; ") + examples_[i];
    if (count_ > static_cast<int64_t>(examples_.size())) line += "; ...";
    violations.push_back(std::move(line));
  }

 private:
  std::string what_;
  int64_t count_ = 0;
  std::vector<std::string> examples_;
};

// A value without its padding, for reports: "RUN:PRODUCER:SEQUENCE:SENT".
std::string Shown(const std::string& value) {
  size_t end = 0;
  for (int field = 0; field < 4 && end != std::string::npos; ++field) {
    end = value.find(':', end == 0 ? 0 : end + 1);
  }
  return end == std::string::npos ? value : value.substr(0, end);
}

}  // namespace

bool ParseValue(const std::string& value, int* producer, int64_t* sequence) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(value), ':');
  return parts.size() >= 3 && absl::SimpleAtoi(parts[1], producer) &&
         absl::SimpleAtoi(parts[2], sequence);
}

Verdict Check(const std::vector<AckedRecord>& acked, const std::vector<PartitionCopies>& copies,
              const ConsumerObservations* consumers) {
  Verdict v;
  v.acknowledged = static_cast<int64_t>(acked.size());
  Tally lost("acknowledged records lost"), duplicated("records in a log more than once"),
      reordered("records out of their producer's order"),
      moved("acknowledged records at another offset than acknowledged"),
      divergent("replicas that differ from their leader"), back("consumer offsets that went back"),
      commits("committed group offsets lost"),
      missing("acknowledged records never consumed by the group");

  // Where each value is in its partition's leader log.
  std::map<int32_t, std::unordered_map<std::string, int64_t>> offset_of;
  for (const PartitionCopies& p : copies) {
    auto& where = offset_of[p.partition];
    if (p.replicas.empty()) continue;
    const ReplicaCopy& leader = p.replicas.front();
    for (const StoredRecord& r : leader.records) {
      if (!where.emplace(r.value, r.offset).second) {
        duplicated.Add(fmt::format("partition {} offsets {} and {}: {}", p.partition,
                                   where[r.value], r.offset, Shown(r.value)));
      }
    }
    for (size_t i = 1; i < p.replicas.size(); ++i) {
      const ReplicaCopy& copy = p.replicas[i];
      if (!copy.error.empty()) {
        divergent.Add(fmt::format("partition {} replica {}: unreadable ({})", p.partition,
                                  copy.node, copy.error));
        continue;
      }
      if (copy.records.size() != leader.records.size()) {
        divergent.Add(fmt::format("partition {} replica {}: {} records, leader {} has {}",
                                  p.partition, copy.node, copy.records.size(), leader.node,
                                  leader.records.size()));
        continue;
      }
      for (size_t j = 0; j < copy.records.size(); ++j) {
        if (copy.records[j].offset != leader.records[j].offset ||
            copy.records[j].value != leader.records[j].value) {
          divergent.Add(
              fmt::format("partition {} replica {}: offset {} holds '{}', leader {} "
                          "'{}'",
                          p.partition, copy.node, copy.records[j].offset, copy.records[j].value,
                          leader.node, leader.records[j].value));
          break;
        }
      }
    }
  }

  // Per (partition, producer): log offsets in sequence order must increase.
  std::map<std::pair<int32_t, int>, std::map<int64_t, int64_t>> order;
  for (const AckedRecord& a : acked) {
    const auto& where = offset_of[a.partition];
    auto it = where.find(a.value);
    if (it == where.end()) {
      const std::string name =
          fmt::format("partition {} offset {}: {}", a.partition, a.offset, Shown(a.value));
      lost.Add(name);
      if (v.lost_records.size() < Verdict::kNamedMax) v.lost_records.push_back(name);
      continue;
    }
    if (it->second != a.offset) {
      moved.Add(fmt::format("partition {}: {} acknowledged at {}, found at {}", a.partition,
                            Shown(a.value), a.offset, it->second));
    }
    int producer = 0;
    int64_t sequence = 0;
    if (ParseValue(a.value, &producer, &sequence)) {
      order[{a.partition, producer}][sequence] = it->second;
    }
  }
  for (const auto& [key, by_sequence] : order) {
    int64_t previous = -1, previous_sequence = -1;
    for (const auto& [sequence, offset] : by_sequence) {
      if (offset <= previous) {
        reordered.Add(
            fmt::format("partition {} producer {}: sequence {} at offset {} before "
                        "sequence {} at offset {}",
                        key.first, key.second, sequence, offset, previous_sequence, previous));
      }
      previous = offset;
      previous_sequence = sequence;
    }
  }

  if (consumers != nullptr) {
    for (const std::string& line : consumers->offsets_back) back.Add(line);
    for (const auto& [partition, offset] : consumers->acknowledged_commits) {
      auto it = consumers->final_commits.find(partition);
      const int64_t final_offset = it == consumers->final_commits.end() ? -1 : it->second;
      if (final_offset < offset) {
        commits.Add(fmt::format("partition {}: commit of {} acknowledged, the group has {}",
                                partition, offset, final_offset));
      }
    }
    if (consumers->drained) {
      std::unordered_set<std::string> seen(consumers->consumed.begin(), consumers->consumed.end());
      for (const AckedRecord& a : acked) {
        if (!seen.count(a.value)) {
          missing.Add(
              fmt::format("partition {} offset {}: {}", a.partition, a.offset, Shown(a.value)));
        }
      }
    } else {
      v.violations.push_back(
          "the consumer group did not read every partition to its last "
          "acknowledged record");
    }
  }

  v.lost = lost.count();
  v.duplicated = duplicated.count();
  v.reordered = reordered.count();
  v.offset_changed = moved.count();
  v.divergent_replicas = divergent.count();
  v.consumer_offsets_back = back.count();
  v.committed_offsets_lost = commits.count();
  v.consumed_missing = missing.count();
  for (const Tally* t :
       {&lost, &duplicated, &reordered, &moved, &divergent, &back, &commits, &missing}) {
    t->Report(v.violations);
  }
  return v;
}

}  // namespace strand::drill
