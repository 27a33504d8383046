#include "raft/driver/raft_probe.h"

namespace strand::raft {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
}

}  // namespace

RaftProbe::RaftProbe(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& r = *registry_;
  term_ = &BuildGauge().Name("strand_raft_term").Help("Current Raft term").Register(r).Add({});
  is_leader_ = &BuildGauge()
                    .Name("strand_raft_is_leader")
                    .Help("1 when this node leads the quorum")
                    .Register(r)
                    .Add({});
  role_ = &BuildGauge()
               .Name("strand_raft_role")
               .Help("0 follower, 1 pre-candidate, 2 candidate, 3 leader, 4 observer")
               .Register(r)
               .Add({});
  leader_id_ = &BuildGauge()
                    .Name("strand_raft_leader_id")
                    .Help("Node id of the known leader, -1 when none")
                    .Register(r)
                    .Add({});
  auto& index = BuildGauge().Name("strand_raft_index").Help("Raft log positions").Register(r);
  last_index_ = &index.Add({{"kind", "last"}});
  commit_index_ = &index.Add({{"kind", "commit"}});
  applied_index_ = &index.Add({{"kind", "applied"}});
  snapshot_index_ = &index.Add({{"kind", "snapshot"}});
  leader_changes_ = &BuildCounter()
                         .Name("strand_raft_leader_changes_total")
                         .Help("Times the known leader changed")
                         .Register(r)
                         .Add({});
  auto& proposals =
      BuildCounter().Name("strand_raft_proposals_total").Help("Proposals by outcome").Register(r);
  proposals_ok_ = &proposals.Add({{"result", "committed"}});
  proposals_failed_ = &proposals.Add({{"result", "failed"}});
  auto& messages = BuildCounter()
                       .Name("strand_raft_messages_total")
                       .Help("Raft messages by direction")
                       .Register(r);
  messages_sent_ = &messages.Add({{"direction", "sent"}});
  messages_received_ = &messages.Add({{"direction", "received"}});
  auto& snapshots = BuildCounter()
                        .Name("strand_raft_snapshots_total")
                        .Help("Snapshots taken locally or installed from the leader")
                        .Register(r);
  snapshots_taken_ = &snapshots.Add({{"kind", "taken"}});
  snapshots_installed_ = &snapshots.Add({{"kind", "installed"}});
  entries_persisted_ = &BuildCounter()
                            .Name("strand_raft_entries_persisted_total")
                            .Help("Log entries written to storage")
                            .Register(r)
                            .Add({});
  persist_latency_ = &BuildHistogram()
                          .Name("strand_raft_persist_seconds")
                          .Help("Time to persist one Ready (one fsync when required)")
                          .Register(r)
                          .Add({}, LatencyBuckets());
  commit_latency_ = &BuildHistogram()
                         .Name("strand_raft_commit_seconds")
                         .Help("Time from proposal to applied, on the proposing node")
                         .Register(r)
                         .Add({}, LatencyBuckets());
  read_latency_ = &BuildHistogram()
                       .Name("strand_raft_read_barrier_seconds")
                       .Help("Time for a linearizable read barrier (ReadIndex)")
                       .Register(r)
                       .Add({}, LatencyBuckets());
}

void RaftProbe::SetState(Role role, Term term, NodeId leader) {
  term_->Set(static_cast<double>(term.value()));
  is_leader_->Set(role == Role::kLeader ? 1 : 0);
  role_->Set(static_cast<double>(role));
  leader_id_->Set(leader.value());
}

void RaftProbe::SetIndexes(LogIndex last, LogIndex commit, LogIndex applied, LogIndex snapshot) {
  last_index_->Set(static_cast<double>(last.value()));
  commit_index_->Set(static_cast<double>(commit.value()));
  applied_index_->Set(static_cast<double>(applied.value()));
  snapshot_index_->Set(static_cast<double>(snapshot.value()));
}

}  // namespace strand::raft
