// raft-sim: runs the deterministic Raft simulator over a range of seeds (see tests/sim/).
//
//   raft-sim --seeds N --start-seed S [--nodes 3|5] [--observers O] [--steps K]
//   raft-sim --list-mutants
//   raft-sim --mutant NAME --seeds 1000 --expect-violation
//
// Prints one line per failing seed with the command that replays it, then `N passed, M failed`.
// Exits non-zero on any failure. With --expect-violation (for proving the checkers catch planted
// bugs) it stops at the first safety violation and exits zero only if it found one.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "raft/core/mutants.h"
#include "tests/sim/sim_world.h"

namespace {

using strand::raft::sim::SimOptions;
using strand::raft::sim::SimResult;
namespace mutant = strand::raft::mutant;

std::string ReplayCommand(const SimOptions& o, uint64_t seed, const std::string& mutant_name) {
  std::string cmd = fmt::format(
      "raft-sim --seeds 1 --start-seed {} --nodes {} --observers {} "
      "--steps {}",
      seed, o.voters, o.observers, o.steps);
  if (!mutant_name.empty()) cmd += " --mutant " + mutant_name;
  return cmd + " --verbose";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Deterministic Raft simulator: safety checked after every event, liveness after "
      "faults stop."};
  uint64_t seeds = 100, start_seed = 1;
  SimOptions options;
  std::string mutant_name;
  bool list_mutants = false, expect_violation = false;
  app.add_option("--seeds", seeds, "number of seeds to run")->check(CLI::PositiveNumber);
  app.add_option("--start-seed", start_seed, "first seed");
  app.add_option("--nodes", options.voters, "voters in the quorum")->check(CLI::IsMember({3, 5}));
  app.add_option("--observers", options.observers, "non-voting observers")->check(CLI::Range(0, 3));
  app.add_option("--steps", options.steps, "events in the fault phase")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app.add_option("--mutant", mutant_name, "plant a known bug in the core (see --list-mutants)");
  app.add_flag("--list-mutants", list_mutants, "list the plantable bugs and exit");
  app.add_flag("--expect-violation", expect_violation,
               "stop at the first safety violation; exit 0 only if one was found");
  app.add_flag("--verbose", options.verbose, "trace every event to stderr");
  CLI11_PARSE(app, argc, argv);

  if (list_mutants) {
    for (const auto& m : mutant::AllMutants()) {
      std::printf("%-24s %s\n", std::string(m.name).c_str(), std::string(m.description).c_str());
    }
    return 0;
  }
  if (!mutant_name.empty()) {
    auto m = mutant::MutantByName(mutant_name);
    if (!m) {
      std::fprintf(stderr, "raft-sim: unknown mutant '%s' (see --list-mutants)\n",
                   mutant_name.c_str());
      return 2;
    }
    mutant::SetActive(*m);
  }

  const auto started = std::chrono::steady_clock::now();
  uint64_t passed = 0, failed = 0, events = 0, commits = 0, leaders = 0, crashes = 0, snapshots = 0,
           reads = 0;
  for (uint64_t seed = start_seed; seed < start_seed + seeds; ++seed) {
    SimResult r = strand::raft::sim::RunSimulation(options, seed);
    events += r.stats.events;
    commits += r.stats.committed;
    leaders += r.stats.leaders;
    crashes += r.stats.crashes;
    snapshots += r.stats.snapshots_installed;
    reads += r.stats.reads_served;
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    std::printf("FAIL seed=%lu checker=%s step=%lu time_ms=%ld: %s\n  replay: %s\n", seed,
                r.checker.c_str(), r.step, r.time_us / 1000, r.detail.c_str(),
                ReplayCommand(options, seed, mutant_name).c_str());
    std::fflush(stdout);
    if (expect_violation && r.checker != "liveness") {
      std::printf("violation found at seed %lu after %lu seeds\n", seed, seed - start_seed + 1);
      std::printf("%lu passed, %lu failed\n", passed, failed);
      return 0;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "raft-sim: %lu seeds in %.1f s: %lu events, %lu committed entries, %lu crashes, "
               "%lu snapshots installed, %lu reads checked\n",
               seeds, seconds, events, commits, crashes, snapshots, reads);
  (void)leaders;
  std::printf("%lu passed, %lu failed\n", passed, failed);
  if (expect_violation) {
    std::printf("no safety violation found in %lu seeds\n", seeds);
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
