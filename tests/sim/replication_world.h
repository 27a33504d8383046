#pragma once

// ReplicationWorld: a deterministic simulation of one partition's replication, from one seed.
//
// Three brokers run the real broker::Partition over the real storage::Log on simulated disks
// (SimFilesystem: a crash loses what was not fsynced, and may leave torn tails), and the real
// QuorumController decides leadership, ISR changes and fencing (its quorum is modelled as one
// always-up controller with instant commit; controller-sim covers the quorum itself). Brokers
// register, heartbeat, follow the metadata log, reconcile their role as the real ReplicaManager
// does, fetch from the leader as followers, propose ISR changes, flush on their own schedule,
// and checkpoint their high watermark. An idempotent producer writes acks=all batches, one in
// flight, retrying on errors and timeouts with metadata from whichever broker it asks.
// Faults: broker crashes and restarts, pauses (SIGSTOP), and cut links (broker-controller,
// broker-broker, client-broker, in any combination), all healed at the end.
//
// Checked after every event:
//   no-acked-loss     a broker that becomes leader holds every acknowledged batch at its
//                     acknowledged offset; at the end every replica does, exactly once
//   hw-monotonic      a replica's high watermark never goes back (within one process life)
//   agree-below-hw    every replica holds the same batches below its high watermark
//   one-writer-epoch  at most one broker appends producer batches in any leader epoch
//   acked-durable-on-isr  when a leader answers acks=all, every ISR member that is up has the
//                     batch fsynced
//   producer-error    the producer never sees a non-retriable error (e.g. a sequence gap)
//   liveness          after faults stop, writes succeed again and the replicas converge

#include <cstdint>
#include <string>

namespace strand::broker::sim {

struct ReplicationSimOptions {
  int brokers = 3;
  uint64_t steps = 100'000;  // events in the fault phase
  bool verbose = false;
};

struct ReplicationSimResult {
  bool ok = true;
  std::string checker;
  std::string detail;
  uint64_t step = 0;
  int64_t time_ms = 0;
  uint64_t events = 0;
  uint64_t acked_batches = 0;
  uint64_t leader_changes = 0;
  uint64_t crashes = 0;
  uint64_t truncations = 0;
};

ReplicationSimResult RunReplicationSimulation(const ReplicationSimOptions& options, uint64_t seed);

}  // namespace strand::broker::sim
