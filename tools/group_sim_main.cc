// group-sim: the deterministic consumer-group simulator over a range of seeds (see
// tests/sim/group_world.h). Prints one line per failing seed with the command that replays it,
// then `N passed, M failed`; exits non-zero on any failure.
//
//   group-sim --seeds N --start-seed S [--members M] [--partitions P] [--steps K]

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "tests/sim/group_world.h"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic consumer-group simulator"};
  uint64_t seeds = 100, start_seed = 1;
  strand::broker::group::sim::GroupSimOptions options;
  app.add_option("--seeds", seeds, "number of seeds")->check(CLI::PositiveNumber);
  app.add_option("--start-seed", start_seed, "first seed");
  app.add_option("--members", options.members, "most members at once")->check(CLI::Range(1, 50));
  app.add_option("--partitions", options.partitions, "partitions at the start")
      ->check(CLI::Range(1, 1000));
  app.add_option("--steps", options.steps, "events in the fault phase")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app.add_flag("--verbose", options.verbose, "trace events to stderr");
  CLI11_PARSE(app, argc, argv);
  const auto started = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, events = 0, failovers = 0, commits_ok = 0, refused = 0,
           revocations = 0, lapsed = 0;
  for (uint64_t seed = start_seed; seed < start_seed + seeds; ++seed) {
    auto r = strand::broker::group::sim::RunGroupSimulation(options, seed);
    events += r.events;
    failovers += r.failovers;
    commits_ok += r.commits_ok;
    refused += r.commits_refused;
    revocations += r.revocations;
    lapsed += r.leases_lapsed;
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    std::printf(
        "FAIL seed=%lu checker=%s step=%lu time_ms=%ld: %s\n  replay: group-sim --seeds 1 "
        "--start-seed %lu --members %d --partitions %d --steps %lu --verbose\n",
        seed, r.checker.c_str(), r.step, r.time_ms, r.detail.c_str(), seed, options.members,
        options.partitions, options.steps);
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "group-sim: %lu seeds in %.1f s: %lu events, %lu coordinator failovers, %lu "
               "commits answered OK, %lu refused, %lu partitions revoked, %lu leases lapsed\n",
               seeds, seconds, events, failovers, commits_ok, refused, revocations, lapsed);
  std::printf("%lu passed, %lu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
