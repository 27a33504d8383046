#pragma once

// Shared by the simulators (controller_world, replication_world): how a run reports a broken
// invariant, and the order of their event queues.

#include <string>

#include <fmt/format.h>

namespace strand::sim {

// A safety or liveness violation: thrown from the step that found it, caught by the run loop,
// which reports it with the seed.
struct SimViolation {
  std::string checker;
  std::string detail;
};

// The CHECK failure handler while a simulation runs: a failed STRAND_CHECK in the code under
// test becomes a "core-invariant" violation of this seed instead of an abort.
inline void ThrowViolationOnCheckFailure(const char* file, int line, const char* condition,
                                         const std::string& message) {
  throw SimViolation{"core-invariant",
                     fmt::format("{}:{}: CHECK({}) {}", file, line, condition, message)};
}

// Priority-queue order for events with `time` and `seq`: the earliest first, and among equal
// times the one scheduled first (so a seed replays exactly).
struct EarliestFirst {
  template <typename Event>
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

}  // namespace strand::sim
