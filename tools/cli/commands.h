#pragma once

// Registration of the strand CLI's command groups. Each adds its subcommands to `app`; a leaf
// subcommand's callback stores its action in `context.action`, which RunCli runs after parsing.

#include <CLI/CLI.hpp>

#include "tools/cli/context.h"

namespace strand::cli {

void AddClusterCommands(CLI::App& app, CliContext& context);     // cluster describe
void AddTopicsCommands(CLI::App& app, CliContext& context);      // topics create|list|...
void AddConfigsCommands(CLI::App& app, CliContext& context);     // configs describe|alter
void AddLeadersCommands(CLI::App& app, CliContext& context);     // leaders elect
void AddPartitionsCommands(CLI::App& app, CliContext& context);  // partitions reassign|list-...
void AddProduceCommand(CLI::App& app, CliContext& context);      // produce (stdin lines)
void AddConsumeCommand(CLI::App& app, CliContext& context);      // consume
void AddPerfCommands(CLI::App& app, CliContext& context);        // perf produce|consume
void AddGroupsCommands(CLI::App& app, CliContext& context);      // groups list|describe|...
void AddDrillCommands(CLI::App& app, CliContext& context);       // drill list|run

}  // namespace strand::cli
