// replication-sim: the deterministic partition-replication simulator over a range of seeds (see
// tests/sim/replication_world.h). Prints one line per failing seed with the command that replays
// it, then `N passed, M failed`; exits non-zero on any failure.
//
//   replication-sim --seeds N --start-seed S [--brokers 3|4|5] [--steps K] [--verbose]

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "tests/sim/replication_world.h"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic partition-replication simulator"};
  uint64_t seeds = 100, start_seed = 1;
  strand::broker::sim::ReplicationSimOptions options;
  app.add_option("--seeds", seeds, "number of seeds")->check(CLI::PositiveNumber);
  app.add_option("--start-seed", start_seed, "first seed");
  app.add_option("--brokers", options.brokers, "replicas of the partition")
      ->check(CLI::Range(3, 5));
  app.add_option("--steps", options.steps, "events in the fault phase")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app.add_flag("--verbose", options.verbose, "trace events (and the brokers' logs) to stderr");
  CLI11_PARSE(app, argc, argv);
  // The real Partition and Log log as they would in a broker; only worth reading when tracing.
  strand::InitLogging(options.verbose ? "info" : "off");
  const auto started = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, events = 0, acked = 0, leaders = 0, crashes = 0,
           truncations = 0;
  for (uint64_t seed = start_seed; seed < start_seed + seeds; ++seed) {
    auto r = strand::broker::sim::RunReplicationSimulation(options, seed);
    events += r.events;
    acked += r.acked_batches;
    leaders += r.leader_changes;
    crashes += r.crashes;
    truncations += r.truncations;
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    std::printf("FAIL seed=%lu checker=%s step=%lu time_ms=%ld: %s\n  replay: replication-sim "
                "--seeds 1 --start-seed %lu --brokers %d --steps %lu --verbose\n",
                seed, r.checker.c_str(), r.step, r.time_ms, r.detail.c_str(), seed,
                options.brokers, options.steps);
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "replication-sim: %lu seeds in %.1f s: %lu events, %lu acknowledged batches, %lu "
               "leaderships, %lu crashes, %lu truncations\n",
               seeds, seconds, events, acked, leaders, crashes, truncations);
  std::printf("%lu passed, %lu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
