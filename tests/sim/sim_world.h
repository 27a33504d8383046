#pragma once

// SimWorld: one deterministic simulation run of a Raft cluster, from one seed.
//
// Nodes are RawNodes over MemoryStorage (whose crash loses unsynced writes) on a SimNetwork,
// driven by a discrete-event scheduler in simulated microseconds. Every source of
// nondeterminism — timing, faults, client operations, the nodes' election jitter — is drawn
// from Randoms seeded by the run's seed, so a seed replays exactly.
//
// A run has two phases. The fault phase processes `steps` events while a chaos generator
// crashes and restarts nodes (some in the middle of handling a Ready), partitions the network
// (including one-way cuts), drops, duplicates and delays messages, and clients propose, read
// and ask for leadership transfers. The SafetyChecker runs at every event. Then faults stop:
// the network heals, every node restarts, and the liveness check requires a leader to be
// elected and new proposals accepted by it to be committed and applied on every node, with all
// nodes' state machines converging — all within a bounded simulated time.

#include <cstdint>
#include <optional>
#include <string>

#include "raft/core/mutants.h"

namespace strand::raft::sim {

struct SimOptions {
  int voters = 3;
  int observers = 1;
  uint64_t steps = 20'000;  // events in the fault phase
  bool verbose = false;     // trace every event to stderr
};

struct SimStats {
  uint64_t events = 0;
  uint64_t leaders = 0;
  uint64_t crashes = 0;
  uint64_t partitions = 0;
  uint64_t proposals_accepted = 0;
  uint64_t committed = 0;
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  uint64_t reads_served = 0;
  uint64_t transfers = 0;
  int64_t sim_time_us = 0;
};

struct SimResult {
  bool ok = true;
  std::string checker;  // which property failed
  std::string detail;
  uint64_t step = 0;
  int64_t time_us = 0;
  SimStats stats;
};

SimResult RunSimulation(const SimOptions& options, uint64_t seed);

}  // namespace strand::raft::sim
