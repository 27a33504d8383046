// strand configs describe|alter (--topic T | --broker ID | --cluster)

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <set>

#include "tools/cli/commands.h"
#include "tools/cli/config_resource.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/format_configs.h"
#include "tools/cli/json_text.h"
#include "tools/cli/parse.h"

namespace strand::cli {
namespace {

// The options naming the resource, shared by describe and alter.
struct ResourceArgs {
  std::string topic;
  int32_t broker = -1;
  bool cluster = false;
  CLI::Option* topic_option = nullptr;
  CLI::Option* broker_option = nullptr;

  void Register(CLI::App& command) {
    topic_option = command.add_option("--topic", topic, "a topic's configs");
    broker_option = command.add_option("--broker", broker, "one broker's configs (by id)");
    command.add_flag("--cluster", cluster, "cluster-wide broker defaults");
  }
  absl::StatusOr<ConfigResource> Resolve() const {
    std::optional<std::string> t;
    std::optional<int32_t> b;
    if (topic_option->count() > 0) t = topic;
    if (broker_option->count() > 0) b = broker;
    return ResolveConfigResource(t, b, cluster);
  }
};

struct DescribeArgs {
  ResourceArgs resource;
  bool all = false;
  bool json = false;
};

int RunDescribe(const CliContext& context, const DescribeArgs& args) {
  auto resource = args.resource.Resolve();
  if (!resource.ok()) return ReportUsage(context.err, std::string(resource.status().message()));
  return WithAdmin(context, [&](client::AdminClient& admin) {
    admin::v1::DescribeConfigsRequest request;
    request.set_resource_type(resource->type);
    request.set_resource_name(resource->name);
    request.set_include_defaults(args.all);
    auto response = admin.DescribeConfigs(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) {
      return ReportError(context.err, response->error(), ResourceLabel(*resource));
    }
    context.out << (args.json ? JsonText(ConfigsJson(*resource, *response))
                              : FormatConfigs(*resource, *response));
    return kExitOk;
  });
}

struct AlterArgs {
  ResourceArgs resource;
  std::vector<std::string> set;
  std::vector<std::string> remove;
  bool validate_only = false;
};

// The changes of an alter command; a usage error when there are none or a key is both set and
// deleted.
absl::StatusOr<admin::v1::AlterConfigsRequest> BuildAlter(const AlterArgs& args,
                                                          const ConfigResource& resource) {
  auto set = ParseConfigPairs(args.set);
  if (!set.ok()) return absl::InvalidArgumentError("--set: " + std::string(set.status().message()));
  if (set->empty() && args.remove.empty()) {
    return absl::InvalidArgumentError("nothing to alter: give --set KEY=VALUE or --delete KEY");
  }
  admin::v1::AlterConfigsRequest request;
  request.set_resource_type(resource.type);
  request.set_resource_name(resource.name);
  request.set_validate_only(args.validate_only);
  for (const auto& [key, value] : *set) {
    admin::v1::ConfigChange* change = request.add_changes();
    change->set_name(key);
    change->set_value(value);
    change->set_op(admin::v1::SET);
  }
  std::set<std::string> deleted;
  for (const std::string& key : args.remove) {
    if (set->count(key) > 0 || !deleted.insert(key).second || key.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("--delete '{}': empty, repeated, or also given to --set", key));
    }
    admin::v1::ConfigChange* change = request.add_changes();
    change->set_name(key);
    change->set_op(admin::v1::DELETE);
  }
  return request;
}

int RunAlter(const CliContext& context, const AlterArgs& args) {
  auto resource = args.resource.Resolve();
  if (!resource.ok()) return ReportUsage(context.err, std::string(resource.status().message()));
  auto request = BuildAlter(args, *resource);
  if (!request.ok()) return ReportUsage(context.err, std::string(request.status().message()));
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.AlterConfigs(*request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) {
      return ReportError(context.err, response->error(), ResourceLabel(*resource));
    }
    context.out << fmt::format("{} {} config change(s) of {}.\n",
                               args.validate_only ? "Validated" : "Applied",
                               request->changes_size(), ResourceLabel(*resource));
    return kExitOk;
  });
}

void AddDescribe(CLI::App& configs, CliContext& context) {
  auto args = std::make_shared<DescribeArgs>();
  CLI::App* describe = configs.add_subcommand(
      "describe", "configs of a topic, a broker or the cluster (dynamic ones; --all for every)");
  args->resource.Register(*describe);
  describe->add_flag("--all", args->all, "also settings left at their defaults");
  describe->add_flag("--json", args->json, "JSON instead of a table");
  describe->callback([&context, args] {
    context.action = [&context, args] { return RunDescribe(context, *args); };
  });
}

void AddAlter(CLI::App& configs, CliContext& context) {
  auto args = std::make_shared<AlterArgs>();
  CLI::App* alter =
      configs.add_subcommand("alter", "set or delete configs of a topic, a broker or the cluster");
  args->resource.Register(*alter);
  alter->add_option("--set", args->set, "KEY=VALUE to set (repeatable; one pair each)")
      ->allow_extra_args(false);
  alter->add_option("--delete", args->remove, "KEY to reset to its inherited value (repeatable)")
      ->allow_extra_args(false);
  alter->add_flag("--validate-only", args->validate_only, "check, but change nothing");
  alter->callback(
      [&context, args] { context.action = [&context, args] { return RunAlter(context, *args); }; });
}

}  // namespace

void AddConfigsCommands(CLI::App& app, CliContext& context) {
  CLI::App* configs = app.add_subcommand("configs", "describe and alter dynamic configs");
  configs->require_subcommand(1);
  AddDescribe(*configs, context);
  AddAlter(*configs, context);
}

}  // namespace strand::cli
