#pragma once

// The drill's checker: what was acknowledged, consumed and committed during a drill against what
// every replica holds afterwards. Pure: the drill (drill.h) gathers the inputs from the cluster
// and the workload; tests feed it by hand. A run passes only when every count it returns that
// names a violation is zero.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strand::drill {

// A record the workload wrote: values are "RUN:PRODUCER:SEQUENCE:padding", unique per run.
struct AckedRecord {
  int32_t partition = 0;
  int64_t offset = -1;  // as the acknowledgement reported it
  std::string value;
};

struct StoredRecord {
  int64_t offset = -1;
  std::string value;
};

// One replica's copy of a partition, read up to its high watermark after the drill.
struct ReplicaCopy {
  int node = -1;
  bool leader = false;
  std::string error;  // not empty: the copy could not be read (it counts as divergent)
  std::vector<StoredRecord> records;
};

struct PartitionCopies {
  int32_t partition = 0;
  std::vector<ReplicaCopy> replicas;  // the leader's first
};

struct ConsumerObservations {
  // Consumed values, each once per delivery (a record delivered again after a rebalance shows
  // twice: that is allowed, at-least-once).
  std::vector<std::string> consumed;
  // A member saw a partition's offsets go back within one assignment, or started an assignment
  // below an offset the group had committed: each a line of text.
  std::vector<std::string> offsets_back;
  // Per partition, the highest offset whose commit the coordinator acknowledged, and what the
  // group's committed offset is after the drill (-1: none).
  std::map<int32_t, int64_t> acknowledged_commits;
  std::map<int32_t, int64_t> final_commits;
  bool drained = false;  // consumers read every partition up to its last acknowledged record
};

struct Verdict {
  int64_t acknowledged = 0;
  int64_t lost = 0;            // acknowledged, not in the leader's log
  int64_t duplicated = 0;      // in the leader's log more than once
  int64_t reordered = 0;       // one producer's records in a partition out of send order
  int64_t offset_changed = 0;  // found at another offset than the one acknowledged
  int64_t divergent_replicas = 0;
  int64_t consumer_offsets_back = 0;
  int64_t committed_offsets_lost = 0;     // the group's offset below an acknowledged commit
  int64_t consumed_missing = 0;           // acknowledged but never delivered to the group
  std::vector<std::string> lost_records;  // "partition 0 offset 17: VALUE", at most kNamedMax
  std::vector<std::string> violations;    // one line per kind of violation, with examples

  static constexpr size_t kNamedMax = 20;
  bool ok() const { return violations.empty(); }
};

// `acked`: every acknowledged record. `copies`: every partition's replicas. `consumers`: null
// when the workload had no consumer group.
Verdict Check(const std::vector<AckedRecord>& acked, const std::vector<PartitionCopies>& copies,
              const ConsumerObservations* consumers);

// The producer and sequence number in a workload value; false for a value the workload did not
// write.
bool ParseValue(const std::string& value, int* producer, int64_t* sequence);

}  // namespace strand::drill
