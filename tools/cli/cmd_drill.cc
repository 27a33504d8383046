// strand drill list [--json]
// strand drill run SCENARIO... --target local --dir DIR [--seed N] [--repeat N] [--json] ...
//
// Failover drills (tools/drill/, docs/drills.md): each scenario runs a workload against the
// cluster, makes its fault, waits for recovery and checks that nothing acknowledged was lost.

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/drill/drill.h"

namespace strand::cli {
namespace {

struct RunArgs {
  std::vector<std::string> scenarios;
  std::string target = "local";
  std::string dir;
  std::string work_dir;
  uint64_t seed = 0;
  bool seed_given = false;
  int repeat = 1;
  int rate = 600;
  int partitions = 3;
  int producers = 2;
  int consumers = 2;
  bool json = false;
};

int RunList(const CliContext& context, bool json) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : drill::Scenarios()) {
      list.push_back({{"scenario", s.name}, {"summary", s.summary}});
    }
    context.out << list.dump() << "\n";
    return kExitOk;
  }
  for (const auto& s : drill::Scenarios()) {
    context.out << fmt::format("{:<18} {}\n", s.name, s.summary);
  }
  return kExitOk;
}

int RunDrills(const CliContext& context, const RunArgs& args) {
  std::vector<const drill::Scenario*> scenarios;
  for (const std::string& name : args.scenarios) {
    const drill::Scenario* s = drill::FindScenario(name);
    if (s == nullptr) {
      return ReportUsage(context.err,
                         fmt::format("no scenario '{}' (strand drill list names them)", name));
    }
    scenarios.push_back(s);
  }
  if (args.target != "local") {
    return ReportUsage(context.err, "--target: only 'local' is supported");
  }
  if (args.dir.empty()) return ReportUsage(context.err, "--target local needs --dir");
  auto target = drill::OpenLocalTarget(args.dir);
  if (!target.ok()) return ReportUsage(context.err, std::string(target.status().message()));

  drill::DrillOptions options;
  options.seed = args.seed_given ? args.seed : std::random_device{}();
  options.repeat = args.repeat;
  options.rate = args.rate;
  options.partitions = args.partitions;
  options.producers = args.producers;
  options.consumers = args.consumers;
  options.work_dir = args.work_dir.empty() ? args.dir + "/drills" : args.work_dir;
  std::error_code ec;
  std::filesystem::create_directories(options.work_dir, ec);
  if (ec)
    return ReportUsage(context.err,
                       fmt::format("--work-dir {}: {}", options.work_dir, ec.message()));
  options.progress = &context.err;
  options.progress_tty = &context.err == &std::cerr && ::isatty(STDERR_FILENO) == 1;

  bool passed = true;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    // Each scenario of a schedule gets its own seed, derived from the run's, so that any one of
    // them replays alone with --seed.
    drill::DrillOptions o = options;
    o.seed = options.seed + i;
    if (!args.json) {
      context.err << fmt::format("strand drill: {} (seed {}) on {}\n", scenarios[i]->name, o.seed,
                                 (*target)->Describe());
    }
    const drill::ScenarioReport report = drill::RunScenario(**target, *scenarios[i], o);
    passed = passed && report.ok();
    if (args.json) {
      context.out << drill::ReportJson(report).dump() << "\n" << std::flush;
    } else {
      context.out << drill::FormatReport(report) << std::flush;
      if (!report.ok()) {
        context.out << fmt::format(
            "  replay: strand drill run {} --target local --dir {} "
            "--seed {}\n",
            report.scenario, args.dir, report.seed);
      }
    }
  }
  return passed ? kExitOk : kExitDrillFailed;
}

}  // namespace

void AddDrillCommands(CLI::App& app, CliContext& context) {
  CLI::App* drill = app.add_subcommand(
      "drill",
      "failover drills: a workload, a fault, and a check that nothing acknowledged was "
      "lost (docs/drills.md)");
  drill->require_subcommand(1);

  CLI::App* list = drill->add_subcommand("list", "the scenarios");
  auto list_json = std::make_shared<bool>(false);
  list->add_flag("--json", *list_json, "a JSON array");
  list->callback([&context, list_json] {
    context.action = [&context, list_json] { return RunList(context, *list_json); };
  });

  CLI::App* run = drill->add_subcommand(
      "run", "run scenarios one after another (exit 0 only when every one passed)");
  auto args = std::make_shared<RunArgs>();
  run->add_option("scenario", args->scenarios, "scenario names (strand drill list)")->required();
  run->add_option("--target", args->target, "where the cluster runs: local (default)");
  run->add_option("--dir", args->dir,
                  "the local cluster's directory (scripts/local-cluster.sh up --dir)");
  run->add_option("--work-dir", args->work_dir,
                  "where acknowledgement logs go (default: DIR/drills)");
  run->add_option("--seed", args->seed, "replay a run: the seed its report printed")
      ->each([args](const std::string&) { args->seed_given = true; });
  run->add_option("--repeat", args->repeat, "faults per scenario (default 1)")
      ->check(CLI::Range(1, 1000));
  run->add_option("--rate", args->rate, "records per second, all producers (default 600)")
      ->check(CLI::Range(1, 100'000));
  run->add_option("--partitions", args->partitions, "partitions of the drill's topic (default 3)")
      ->check(CLI::Range(1, 64));
  run->add_option("--producers", args->producers, "idempotent producers (default 2)")
      ->check(CLI::Range(1, 16));
  run->add_option("--consumers", args->consumers, "consumers in the drill's group (default 2)")
      ->check(CLI::Range(0, 16));
  run->add_flag("--json", args->json, "one JSON object per scenario on stdout");
  run->callback([&context, args] {
    context.action = [&context, args] { return RunDrills(context, *args); };
  });
}

}  // namespace strand::cli
