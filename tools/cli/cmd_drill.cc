// strand drill list [--json]
// strand drill run SCENARIO... --target local --dir DIR [--seed N] [--repeat N] [--json] ...
// strand drill run SCENARIO... --target kubernetes --namespace NS [--kubectl PATH]
//     [--context CTX] [--seed N] ...   (mTLS client settings: strand's --command-config)
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

#include "strand/admin.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/drill/drill.h"
#include "tools/drill/kubernetes_target.h"

namespace strand::cli {
namespace {

struct RunArgs {
  std::vector<std::string> scenarios;
  std::string target = "local";
  std::string dir;                   // --target local
  std::string kubernetes_namespace;  // --target kubernetes
  std::string kubectl = "kubectl";
  std::string context;
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

// The target --target names; an error already reported (the exit code) otherwise.
absl::StatusOr<std::unique_ptr<drill::Target>> OpenTargetOrReport(const CliContext& context,
                                                                  const RunArgs& args,
                                                                  int& exit_code) {
  auto usage = [&](std::string message) {
    exit_code = ReportUsage(context.err, message);
    return absl::InvalidArgumentError(message);
  };
  if (args.target == "local") {
    if (args.dir.empty()) return usage("--target local needs --dir");
    auto target = drill::OpenLocalTarget(args.dir);
    if (!target.ok()) return usage(std::string(target.status().message()));
    return target;
  }
  if (args.target != "kubernetes") {
    return usage(fmt::format("--target {}: 'local' or 'kubernetes'", args.target));
  }
  if (args.kubernetes_namespace.empty()) return usage("--target kubernetes needs --namespace");
  drill::KubernetesTargetOptions options;
  options.kubernetes_namespace = args.kubernetes_namespace;
  options.kubectl = args.kubectl;
  options.context = args.context;
  options.command_config = context.command_config;  // strand --command-config
  auto target = drill::OpenKubernetesTarget(options);
  if (!target.ok()) {
    // kubectl could not reach the API server: as an unreachable cluster (exit 3).
    if (client::IsUnreachable(target.status())) {
      exit_code = ReportFailure(context.err, target.status());
      return target.status();
    }
    return usage(std::string(target.status().message()));
  }
  return target;
}

// How to run one scenario of this run again.
std::string ReplayCommand(const CliContext& context, const RunArgs& args,
                          const drill::ScenarioReport& report) {
  if (args.target != "kubernetes") {
    return fmt::format("strand drill run {} --target local --dir {} --seed {}", report.scenario,
                       args.dir, report.seed);
  }
  std::string where = fmt::format("--target kubernetes --namespace {}", args.kubernetes_namespace);
  if (args.kubectl != "kubectl") where += " --kubectl " + args.kubectl;
  if (!args.context.empty()) where += " --context " + args.context;
  const std::string config =
      context.command_config.empty() ? "" : " --command-config " + context.command_config;
  return fmt::format("strand{} drill run {} {} --seed {}", config, report.scenario, where,
                     report.seed);
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
  int exit_code = kExitOk;
  auto target = OpenTargetOrReport(context, args, exit_code);
  if (!target.ok()) return exit_code;

  drill::DrillOptions options;
  options.seed = args.seed_given ? args.seed : std::random_device{}();
  options.repeat = args.repeat;
  options.rate = args.rate;
  options.partitions = args.partitions;
  options.producers = args.producers;
  options.consumers = args.consumers;
  // The acknowledgement logs: beside a local cluster, else in ./strand-drills.
  options.work_dir = !args.work_dir.empty()   ? args.work_dir
                     : args.target == "local" ? args.dir + "/drills"
                                              : "strand-drills";
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
        context.out << "  replay: " << ReplayCommand(context, args, report) << "\n";
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
  run->add_option("--target", args->target,
                  "where the cluster runs: local (default; --dir) or kubernetes (--namespace; "
                  "docs/drills-kubernetes.md)");
  run->add_option("--dir", args->dir,
                  "local: the cluster's directory (scripts/local-cluster.sh up --dir)");
  run->add_option("--namespace", args->kubernetes_namespace,
                  "kubernetes: the namespace of the strand-controller and strand-broker "
                  "StatefulSets; the drill must resolve and reach their pods' DNS names, and an "
                  "mTLS cluster (the prod overlay) needs strand's --command-config");
  run->add_option("--kubectl", args->kubectl, "kubernetes: kubectl to run (default: on PATH)");
  run->add_option("--context", args->context,
                  "kubernetes: the kubeconfig context (default: its current one)");
  run->add_option("--work-dir", args->work_dir,
                  "where acknowledgement logs go (default: DIR/drills, or ./strand-drills "
                  "for kubernetes)");
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
