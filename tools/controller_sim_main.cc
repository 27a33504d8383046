// controller-sim: the deterministic controller-quorum simulator over a range of seeds (see
// tests/sim/controller_world.h). Prints one line per failing seed with the command that replays
// it, then `N passed, M failed`; exits non-zero on any failure.
//
//   controller-sim --seeds N --start-seed S [--controllers 3|5] [--brokers B] [--steps K]

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "tests/sim/controller_world.h"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic controller-quorum simulator"};
  uint64_t seeds = 100, start_seed = 1;
  strand::controller::sim::ControllerSimOptions options;
  app.add_option("--seeds", seeds, "number of seeds")->check(CLI::PositiveNumber);
  app.add_option("--start-seed", start_seed, "first seed");
  app.add_option("--controllers", options.controllers, "voters")->check(CLI::IsMember({3, 5}));
  app.add_option("--brokers", options.brokers, "simulated brokers")->check(CLI::Range(1, 16));
  app.add_option("--steps", options.steps, "events in the fault phase")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app.add_flag("--verbose", options.verbose, "trace events to stderr");
  CLI11_PARSE(app, argc, argv);
  const auto started = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, events = 0, activations = 0, topics = 0, restarts = 0;
  for (uint64_t seed = start_seed; seed < start_seed + seeds; ++seed) {
    auto r = strand::controller::sim::RunControllerSimulation(options, seed);
    events += r.events;
    activations += r.activations;
    topics += r.topics_created;
    restarts += r.broker_restarts;
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    std::printf("FAIL seed=%lu checker=%s step=%lu time_ms=%ld: %s\n  replay: controller-sim "
                "--seeds 1 --start-seed %lu --controllers %d --brokers %d --steps %lu --verbose\n",
                seed, r.checker.c_str(), r.step, r.time_us / 1000, r.detail.c_str(), seed,
                options.controllers, options.brokers, options.steps);
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "controller-sim: %lu seeds in %.1f s: %lu events, %lu activations, %lu topics "
               "created, %lu broker restarts\n",
               seeds, seconds, events, activations, topics, restarts);
  std::printf("%lu passed, %lu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
