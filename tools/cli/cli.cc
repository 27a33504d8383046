#include "tools/cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "common/logging.h"
#include "tools/cli/commands.h"
#include "tools/cli/context.h"
#include "tools/cli/exit_codes.h"

namespace strand::cli {
namespace {

std::string DefaultBootstrap() {
  const char* env = std::getenv(kBootstrapEnv);
  return env != nullptr && *env != '\0' ? env : kDefaultBootstrap;
}

void AddGlobalOptions(CLI::App& app, CliContext& context) {
  app.add_option("--bootstrap", context.bootstrap,
                 "controllers or brokers to ask, HOST:PORT[,HOST:PORT...] (default: $" +
                     std::string(kBootstrapEnv) + ", else " + kDefaultBootstrap + ")");
  app.add_option("--command-config", context.command_config,
                 "a .properties file of client settings for every command, e.g. "
                 "security.protocol=ssl and ssl.*.location (default: $" +
                     std::string(kCommandConfigEnv) + ")");
  app.add_option("--timeout-ms", context.timeout_ms,
                 "give up after this long, retries included (default " +
                     std::to_string(kTimeoutMsDefault) + ")")
      ->check(CLI::Range(int64_t{1}, kTimeoutMsMax));
  app.add_flag("-v,--verbose", context.verbose, "log retries and failovers to stderr");
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  return RunCli(argc, argv, std::cin, out, err);
}

int RunCli(int argc, const char* const* argv, std::istream& in, std::ostream& out,
           std::ostream& err) {
  CliContext context(in, out, err);
  context.bootstrap = DefaultBootstrap();
  if (const char* env = std::getenv(kCommandConfigEnv); env != nullptr) context.command_config = env;
  CLI::App app(
      "strand: use and administer a Strand cluster (produce, consume, perf, topics, configs, "
      "cluster, leaders, partitions, groups, drill)",
      "strand");
  // Global options may also follow the subcommands: strand topics list --bootstrap h:p.
  app.fallthrough();
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "error: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  AddGlobalOptions(app, context);
  AddClusterCommands(app, context);
  AddTopicsCommands(app, context);
  AddConfigsCommands(app, context);
  AddLeadersCommands(app, context);
  AddPartitionsCommands(app, context);
  AddProduceCommand(app, context);
  AddConsumeCommand(app, context);
  AddPerfCommands(app, context);
  AddGroupsCommands(app, context);
  AddDrillCommands(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help (exit 0) or the error with a hint; every parse error is a usage error.
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  InitLogging(context.verbose ? "debug" : "warn");
  if (!context.action) return kExitUsage;  // unreachable: a leaf subcommand is required
  return context.action();
}

}  // namespace strand::cli
