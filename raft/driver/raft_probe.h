#pragma once

// RaftProbe: the Prometheus metrics of one Raft node (names prefixed strand_raft_). Owned by
// the driver; updated from its thread only.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

#include "raft/core/types.h"

namespace strand::raft {

class RaftProbe {
 public:
  // A null registry gives a probe whose metrics go nowhere (tests, tools).
  explicit RaftProbe(std::shared_ptr<prometheus::Registry> registry);

  void SetState(Role role, Term term, NodeId leader);
  void SetIndexes(LogIndex last, LogIndex commit, LogIndex applied, LogIndex snapshot);
  void LeaderChanged() { leader_changes_->Increment(); }
  void Proposal(bool ok) { (ok ? proposals_ok_ : proposals_failed_)->Increment(); }
  void PersistLatency(double seconds) { persist_latency_->Observe(seconds); }
  void CommitLatency(double seconds) { commit_latency_->Observe(seconds); }
  void ReadLatency(double seconds) { read_latency_->Observe(seconds); }
  void MessagesSent(size_t n) { messages_sent_->Increment(static_cast<double>(n)); }
  void MessagesReceived(size_t n) { messages_received_->Increment(static_cast<double>(n)); }
  void SnapshotTaken() { snapshots_taken_->Increment(); }
  void SnapshotInstalled() { snapshots_installed_->Increment(); }
  void EntriesPersisted(size_t n) { entries_persisted_->Increment(static_cast<double>(n)); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // keeps the metrics alive
  prometheus::Gauge* term_;
  prometheus::Gauge* is_leader_;
  prometheus::Gauge* role_;
  prometheus::Gauge* leader_id_;
  prometheus::Gauge* last_index_;
  prometheus::Gauge* commit_index_;
  prometheus::Gauge* applied_index_;
  prometheus::Gauge* snapshot_index_;
  prometheus::Counter* leader_changes_;
  prometheus::Counter* proposals_ok_;
  prometheus::Counter* proposals_failed_;
  prometheus::Counter* messages_sent_;
  prometheus::Counter* messages_received_;
  prometheus::Counter* snapshots_taken_;
  prometheus::Counter* snapshots_installed_;
  prometheus::Counter* entries_persisted_;
  prometheus::Histogram* persist_latency_;
  prometheus::Histogram* commit_latency_;
  prometheus::Histogram* read_latency_;
};

}  // namespace strand::raft
