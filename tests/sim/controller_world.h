#pragma once

// ControllerWorld: a deterministic simulation of the controller quorum, from one seed.
//
// Three (or five) controllers run the real Raft core and the real QuorumController over a
// SimNetwork; simulated brokers register, heartbeat, change ISRs as partition leaders, crash and
// restart with new incarnations, and ask for controlled shutdown; an admin client creates and
// deletes topics, adds partitions, changes configs, elects leaders and reassigns partitions.
// Controllers crash (losing unsynced writes) and restart; links between any two parties are cut
// and healed. Checked after every event, on every controller's committed image:
//
//   partition-leadership   a partition's leader is in its ISR, is a replica, and is a registered,
//                          unfenced broker — or the partition is offline (leader -1); the ISR is
//                          a non-empty subset of the replicas
//   leader-epoch-monotonic leader and partition epochs never go back
//   single-active          no two controllers act as active in the same term
//   metadata-log-safety    every controller applies the same batch at the same index
//
// After faults stop: a controller is active, every broker is registered and unfenced, and a new
// topic is created with a leader for every partition, within bounded simulated time.

#include <cstdint>
#include <string>

namespace strand::controller::sim {

struct ControllerSimOptions {
  int controllers = 3;
  int brokers = 4;
  uint64_t steps = 20'000;
  bool verbose = false;
};

struct ControllerSimResult {
  bool ok = true;
  std::string checker;
  std::string detail;
  uint64_t step = 0;
  int64_t time_us = 0;
  uint64_t events = 0;
  uint64_t activations = 0;
  uint64_t topics_created = 0;
  uint64_t fencings = 0;
  uint64_t broker_restarts = 0;
};

ControllerSimResult RunControllerSimulation(const ControllerSimOptions& options, uint64_t seed);

}  // namespace strand::controller::sim
