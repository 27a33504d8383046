// strand topics create|list|describe|delete|add-partitions

#include <fmt/format.h>

#include <memory>

#include "common/kafka_error.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/format_topics.h"
#include "tools/cli/json_text.h"
#include "tools/cli/parse.h"

namespace strand::cli {
namespace {

bool Is(const common::v1::Error& error, KafkaError code) {
  return error.code() == static_cast<int32_t>(code);
}

// Adds parsed "1:2:3,..." assignments to a request's repeated ReplicaAssignment field.
template <typename Field>
absl::Status AddAssignments(const std::string& text, Field* field) {
  auto assignment = ParseReplicaAssignment(text);
  if (!assignment.ok()) return assignment.status();
  for (const std::vector<int32_t>& replicas : *assignment) {
    field->Add()->mutable_replicas()->Add(replicas.begin(), replicas.end());
  }
  return absl::OkStatus();
}

struct CreateArgs {
  std::string name;
  int32_t partitions = 0;
  int32_t replication_factor = 0;
  std::vector<std::string> configs;
  std::string assignment;
  bool if_not_exists = false;
  bool validate_only = false;
};

int RunCreate(const CliContext& context, const CreateArgs& args) {
  admin::v1::CreateTopicsRequest request;
  request.set_validate_only(args.validate_only);
  admin::v1::NewTopic* topic = request.add_topics();
  topic->set_name(args.name);
  topic->set_partitions(args.partitions);
  topic->set_replication_factor(args.replication_factor);
  auto configs = ParseConfigPairs(args.configs);
  if (!configs.ok())
    return ReportUsage(context.err, "--config: " + std::string(configs.status().message()));
  topic->mutable_configs()->insert(configs->begin(), configs->end());
  if (!args.assignment.empty()) {
    if (absl::Status s = AddAssignments(args.assignment, topic->mutable_assignments()); !s.ok()) {
      return ReportUsage(context.err, "--replica-assignment: " + std::string(s.message()));
    }
  }
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.CreateTopics(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (response->topics_size() != 1) {
      return ReportBadAnswer(context.err, "the answer names no topic");
    }
    const admin::v1::TopicResult& result = response->topics(0);
    if (args.if_not_exists && Is(result.error(), KafkaError::kTopicAlreadyExists)) return kExitOk;
    if (HasError(result.error())) {
      return ReportError(context.err, result.error(), fmt::format("topic '{}'", args.name));
    }
    context.out << (args.validate_only
                        ? fmt::format("Topic {} can be created (validate only).\n", args.name)
                        : fmt::format("Created topic {} (id {}).\n", args.name, result.topic_id()));
    return kExitOk;
  });
}

void AddCreate(CLI::App& topics, CliContext& context) {
  auto args = std::make_shared<CreateArgs>();
  CLI::App* create = topics.add_subcommand("create", "create a topic");
  create->add_option("name", args->name, "topic name")->required();
  CLI::Option* partitions =
      create
          ->add_option("--partitions", args->partitions,
                       "number of partitions (default: the cluster's num.partitions)")
          ->check(CLI::Range(1, 1'000'000));
  CLI::Option* replication_factor =
      create
          ->add_option("--replication-factor", args->replication_factor,
                       "replicas per partition (default: default.replication.factor)")
          ->check(CLI::Range(1, 1'000));
  create->add_option("--config", args->configs, "topic config KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  create
      ->add_option("--replica-assignment", args->assignment,
                   "explicit placement: BROKER:BROKER:...,... one item per partition, the "
                   "first broker the preferred leader")
      ->excludes(partitions)
      ->excludes(replication_factor);
  create->add_flag("--if-not-exists", args->if_not_exists, "succeed if the topic exists");
  create->add_flag("--validate-only", args->validate_only, "check, but create nothing");
  create->callback([&context, args] {
    context.action = [&context, args] { return RunCreate(context, *args); };
  });
}

int RunList(const CliContext& context, bool json, bool include_internal) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    admin::v1::ListTopicsRequest request;
    request.set_include_internal(include_internal);
    auto response = admin.ListTopics(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) return ReportError(context.err, response->error(), "");
    context.out << (json ? JsonText(TopicListJson(*response)) : FormatTopicList(*response));
    return kExitOk;
  });
}

void AddList(CLI::App& topics, CliContext& context) {
  struct Args {
    bool json = false;
    bool include_internal = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* list = topics.add_subcommand("list", "list topics");
  list->add_flag("--json", args->json, "JSON instead of a table");
  list->add_flag("--include-internal", args->include_internal,
                 "also internal topics (names starting with __)");
  list->callback([&context, args] {
    context.action = [&context, args] {
      return RunList(context, args->json, args->include_internal);
    };
  });
}

int RunDescribe(const CliContext& context, const std::string& name, bool json) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    admin::v1::DescribeTopicsRequest request;
    request.add_names(name);
    auto response = admin.DescribeTopics(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    for (const admin::v1::TopicDescription& topic : response->topics()) {
      if (topic.name() != name) continue;
      if (HasError(topic.error())) {
        return ReportError(context.err, topic.error(), fmt::format("topic '{}'", name));
      }
      context.out << (json ? JsonText(TopicJson(topic)) : FormatTopic(topic));
      return kExitOk;
    }
    common::v1::Error missing;
    missing.set_code(static_cast<int32_t>(KafkaError::kUnknownTopicOrPartition));
    return ReportError(context.err, missing, fmt::format("the answer has no topic '{}'", name));
  });
}

void AddDescribe(CLI::App& topics, CliContext& context) {
  struct Args {
    std::string name;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* describe =
      topics.add_subcommand("describe", "partitions (leader, epoch, replicas, ISR) and configs");
  describe->add_option("name", args->name, "topic name")->required();
  describe->add_flag("--json", args->json, "one JSON object instead of a table");
  describe->callback([&context, args] {
    context.action = [&context, args] { return RunDescribe(context, args->name, args->json); };
  });
}

int RunDelete(const CliContext& context, const std::string& name, bool if_exists) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    admin::v1::DeleteTopicsRequest request;
    request.add_names(name);
    auto response = admin.DeleteTopics(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    for (const admin::v1::TopicResult& result : response->topics()) {
      if (if_exists && Is(result.error(), KafkaError::kUnknownTopicOrPartition)) return kExitOk;
      if (HasError(result.error())) {
        return ReportError(context.err, result.error(), fmt::format("topic '{}'", name));
      }
    }
    context.out << fmt::format("Deleted topic {}.\n", name);
    return kExitOk;
  });
}

void AddDelete(CLI::App& topics, CliContext& context) {
  struct Args {
    std::string name;
    bool if_exists = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* remove = topics.add_subcommand("delete", "delete a topic and its data");
  remove->add_option("name", args->name, "topic name")->required();
  remove->add_flag("--if-exists", args->if_exists, "succeed if the topic does not exist");
  remove->callback([&context, args] {
    context.action = [&context, args] { return RunDelete(context, args->name, args->if_exists); };
  });
}

struct AddPartitionsArgs {
  std::string name;
  int32_t total = 0;
  std::string assignment;
  bool validate_only = false;
};

int RunAddPartitions(const CliContext& context, const AddPartitionsArgs& args) {
  admin::v1::CreatePartitionsRequest request;
  request.set_topic(args.name);
  request.set_total_count(args.total);
  request.set_validate_only(args.validate_only);
  if (!args.assignment.empty()) {
    if (absl::Status s = AddAssignments(args.assignment, request.mutable_assignments()); !s.ok()) {
      return ReportUsage(context.err, "--replica-assignment: " + std::string(s.message()));
    }
  }
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.CreatePartitions(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) {
      return ReportError(context.err, response->error(), fmt::format("topic '{}'", args.name));
    }
    context.out << (args.validate_only
                        ? fmt::format("Topic {} can grow to {} partitions (validate only).\n",
                                      args.name, args.total)
                        : fmt::format("Topic {} now has {} partitions.\n", args.name, args.total));
    return kExitOk;
  });
}

void AddAddPartitions(CLI::App& topics, CliContext& context) {
  auto args = std::make_shared<AddPartitionsArgs>();
  CLI::App* add = topics.add_subcommand(
      "add-partitions", "grow a topic to a new partition count (partitions are never removed)");
  add->add_option("name", args->name, "topic name")->required();
  add->add_option("--partitions", args->total, "the new total number of partitions")
      ->required()
      ->check(CLI::Range(1, 1'000'000));
  add->add_option("--replica-assignment", args->assignment,
                  "placement of the new partitions only: BROKER:BROKER:...,...");
  add->add_flag("--validate-only", args->validate_only, "check, but change nothing");
  add->callback([&context, args] {
    context.action = [&context, args] { return RunAddPartitions(context, *args); };
  });
}

}  // namespace

void AddTopicsCommands(CLI::App& app, CliContext& context) {
  CLI::App* topics = app.add_subcommand("topics", "create, list, describe, delete, grow topics");
  topics->require_subcommand(1);
  AddCreate(*topics, context);
  AddList(*topics, context);
  AddDescribe(*topics, context);
  AddDelete(*topics, context);
  AddAddPartitions(*topics, context);
}

}  // namespace strand::cli
