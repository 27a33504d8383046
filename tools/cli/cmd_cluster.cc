// strand cluster describe [--json]

#include <memory>

#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/format_cluster.h"
#include "tools/cli/json_text.h"

namespace strand::cli {
namespace {

int RunDescribe(const CliContext& context, bool json) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto cluster = admin.DescribeCluster();
    if (!cluster.ok()) return ReportFailure(context.err, cluster.status());
    if (HasError(cluster->error())) return ReportError(context.err, cluster->error(), "");
    context.out << (json ? JsonText(ClusterJson(*cluster)) : FormatCluster(*cluster));
    return kExitOk;
  });
}

}  // namespace

void AddClusterCommands(CLI::App& app, CliContext& context) {
  CLI::App* cluster = app.add_subcommand("cluster", "the cluster as a whole");
  cluster->require_subcommand(1);
  CLI::App* describe = cluster->add_subcommand(
      "describe", "cluster id, controllers (active/standby), brokers, partition health");
  auto json = std::make_shared<bool>(false);
  describe->add_flag("--json", *json, "one JSON object instead of tables");
  describe->callback([&context, json] {
    context.action = [&context, json] { return RunDescribe(context, *json); };
  });
}

}  // namespace strand::cli
