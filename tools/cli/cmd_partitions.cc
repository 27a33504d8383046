// strand leaders elect; strand partitions reassign|list-reassignments

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <variant>

#include "common/kafka_error.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/format_partitions.h"
#include "tools/cli/format_topics.h"
#include "tools/cli/json_text.h"
#include "tools/cli/parse.h"

namespace strand::cli {
namespace {

struct ElectArgs {
  bool unclean = false;
  bool preferred = false;
  std::string topic;
  int32_t partition = -1;
  CLI::Option* partition_option = nullptr;
};

// Every partition of `topic` (one DescribeTopics call), or a reported failure's exit code.
std::variant<std::vector<admin::v1::TopicPartition>, int> PartitionsOf(const CliContext& context,
                                                                       client::AdminClient& admin,
                                                                       const std::string& topic) {
  admin::v1::DescribeTopicsRequest request;
  request.add_names(topic);
  auto response = admin.DescribeTopics(request);
  if (!response.ok()) return ReportFailure(context.err, response.status());
  for (const admin::v1::TopicDescription& t : response->topics()) {
    if (t.name() != topic) continue;
    if (HasError(t.error())) {
      return ReportError(context.err, t.error(), fmt::format("topic '{}'", topic));
    }
    std::vector<admin::v1::TopicPartition> partitions;
    for (const admin::v1::PartitionInfo& p : t.partitions()) {
      partitions.emplace_back().set_topic(topic);
      partitions.back().set_partition(p.partition());
    }
    return partitions;
  }
  return ReportBadAnswer(context.err, fmt::format("the answer has no topic '{}'", topic));
}

// Prints one line per partition; returns the exit code (ELECTION_NOT_NEEDED is no failure).
int ReportElection(const CliContext& context, const admin::v1::ElectLeadersResponse& response) {
  std::vector<admin::v1::ElectionResult> results(response.results().begin(),
                                                 response.results().end());
  std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.partition().topic(), a.partition().partition()) <
           std::make_pair(b.partition().topic(), b.partition().partition());
  });
  int exit_code = kExitOk;
  for (const admin::v1::ElectionResult& r : results) {
    const std::string name = PartitionName(r.partition());
    if (r.error().code() == static_cast<int32_t>(KafkaError::kElectionNotNeeded)) {
      context.out << fmt::format("{}: no election needed (leader {})\n", name, r.leader());
    } else if (HasError(r.error())) {
      common::v1::Error error = r.error();
      error.set_message(
          fmt::format("{}: {}", name, error.message().empty() ? "failed" : error.message()));
      exit_code = ReportError(context.err, error, name);
    } else {
      context.out << fmt::format("{}: leader is now {}\n", name, r.leader());
    }
  }
  if (results.empty()) context.out << "No partitions to elect.\n";
  return exit_code;
}

int RunElect(const CliContext& context, const ElectArgs& args) {
  if (args.partition_option->count() > 0 && args.partition < 0) {
    return ReportUsage(context.err, "--partition must be >= 0");
  }
  return WithAdmin(context, [&](client::AdminClient& admin) {
    admin::v1::ElectLeadersRequest request;
    request.set_election_type(args.unclean ? admin::v1::UNCLEAN : admin::v1::PREFERRED);
    if (args.partition_option->count() > 0) {
      admin::v1::TopicPartition* tp = request.add_partitions();
      tp->set_topic(args.topic);
      tp->set_partition(args.partition);
    } else if (!args.topic.empty()) {
      auto partitions = PartitionsOf(context, admin, args.topic);
      if (const int* failed = std::get_if<int>(&partitions)) return *failed;
      for (auto& tp : std::get<0>(partitions)) *request.add_partitions() = std::move(tp);
    }
    auto response = admin.ElectLeaders(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    return ReportElection(context, *response);
  });
}

void AddElect(CLI::App& leaders, CliContext& context) {
  auto args = std::make_shared<ElectArgs>();
  CLI::App* elect = leaders.add_subcommand(
      "elect",
      "elect partition leaders: the preferred replica (default) or, unclean, any live one");
  CLI::Option* preferred = elect->add_flag("--preferred", args->preferred,
                                           "move leadership to the first replica if in the ISR");
  elect
      ->add_flag("--unclean", args->unclean,
                 "elect any live replica when no ISR member is alive (may lose data)")
      ->excludes(preferred);
  CLI::Option* topic =
      elect->add_option("--topic", args->topic, "only this topic (default: every partition)");
  args->partition_option =
      elect->add_option("--partition", args->partition, "only this partition of --topic")
          ->needs(topic);
  elect->callback(
      [&context, args] { context.action = [&context, args] { return RunElect(context, *args); }; });
}

struct ReassignArgs {
  std::string topic;
  int32_t partition = 0;
  std::string replicas;
  bool cancel = false;
};

int RunReassign(const CliContext& context, const ReassignArgs& args) {
  if (args.partition < 0) return ReportUsage(context.err, "--partition must be >= 0");
  if (args.replicas.empty() == !args.cancel) {
    return ReportUsage(context.err, "give either --replicas LIST or --cancel");
  }
  admin::v1::AlterPartitionReassignmentsRequest request;
  admin::v1::Reassignment* reassignment = request.add_reassignments();
  reassignment->mutable_partition()->set_topic(args.topic);
  reassignment->mutable_partition()->set_partition(args.partition);
  if (!args.cancel) {
    auto replicas = ParseBrokerList(args.replicas);
    if (!replicas.ok()) {
      return ReportUsage(context.err, "--replicas: " + std::string(replicas.status().message()));
    }
    reassignment->mutable_replicas()->Add(replicas->begin(), replicas->end());
  }
  const std::string name = PartitionName(reassignment->partition());
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.AlterPartitionReassignments(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    for (const admin::v1::ReassignmentResult& r : response->results()) {
      if (HasError(r.error())) return ReportError(context.err, r.error(), name);
    }
    context.out << (args.cancel ? fmt::format("Cancelled the reassignment of {}.\n", name)
                                : fmt::format("Reassigning {} to replicas {}.\n", name,
                                              IdList(reassignment->replicas())));
    return kExitOk;
  });
}

int RunListReassignments(const CliContext& context, bool json) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.ListPartitionReassignments();
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) return ReportError(context.err, response->error(), "");
    context.out << (json ? JsonText(ReassignmentsJson(*response)) : FormatReassignments(*response));
    return kExitOk;
  });
}

void AddReassign(CLI::App& partitions, CliContext& context) {
  auto args = std::make_shared<ReassignArgs>();
  CLI::App* reassign = partitions.add_subcommand(
      "reassign", "move a partition to a new replica set (or cancel a move in progress)");
  reassign->add_option("--topic", args->topic, "topic name")->required();
  reassign->add_option("--partition", args->partition, "partition number")->required();
  reassign->add_option("--replicas", args->replicas,
                       "target broker ids, e.g. 101,102,103 (the first is preferred leader)");
  reassign->add_flag("--cancel", args->cancel, "cancel the reassignment in progress");
  reassign->callback([&context, args] {
    context.action = [&context, args] { return RunReassign(context, *args); };
  });
}

void AddListReassignments(CLI::App& partitions, CliContext& context) {
  auto json = std::make_shared<bool>(false);
  CLI::App* list = partitions.add_subcommand("list-reassignments", "reassignments in progress");
  list->add_flag("--json", *json, "JSON instead of a table");
  list->callback([&context, json] {
    context.action = [&context, json] { return RunListReassignments(context, *json); };
  });
}

}  // namespace

void AddLeadersCommands(CLI::App& app, CliContext& context) {
  CLI::App* leaders = app.add_subcommand("leaders", "partition leadership");
  leaders->require_subcommand(1);
  AddElect(*leaders, context);
}

void AddPartitionsCommands(CLI::App& app, CliContext& context) {
  CLI::App* partitions = app.add_subcommand("partitions", "partition placement");
  partitions->require_subcommand(1);
  AddReassign(*partitions, context);
  AddListReassignments(*partitions, context);
}

}  // namespace strand::cli
