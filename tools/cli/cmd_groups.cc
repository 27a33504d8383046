// strand groups list|describe|delete|delete-offsets|reset-offsets: the admin side of consumer
// groups, as kafka-consumer-groups.sh offers it. Every call goes through AdminClient's group
// methods (brokers only; per-group calls to the group's coordinator).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/kafka_error.h"
#include "strand/record.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/format_groups.h"
#include "tools/cli/json_text.h"
#include "tools/cli/parse.h"

namespace strand::cli {
namespace {

namespace gv1 = ::strand::group::v1;

bool Is(const common::v1::Error& error, KafkaError code) {
  return error.code() == static_cast<int32_t>(code);
}

// A composite call's failure: a Kafka error (its message starts with the name) or a refusal is
// an answer from the cluster (exit 1); no answer is exit 3.
int ReportStatus(std::ostream& err, const absl::Status& status) {
  if (client::KafkaErrorOf(status) || status.code() == absl::StatusCode::kFailedPrecondition) {
    err << "error: " << status.message() << "\n";
    return kExitRequestError;
  }
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return ReportUsage(err, std::string(status.message()));
  }
  return ReportFailure(err, status);
}

// ---------------------------------------------------------------- list

struct ListArgs {
  bool json = false;
  std::vector<std::string> states;
};

int RunList(const CliContext& context, const ListArgs& args) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    gv1::ListGroupsRequest request;
    for (const std::string& s : args.states) request.add_states(s);
    auto response = admin.ListGroups(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    context.out << (args.json ? JsonText(GroupListJson(*response)) : FormatGroupList(*response));
    // A partial list: say whose groups are missing, and fail so scripts notice.
    if (!response->unreachable_coordinators().empty() || HasError(response->error())) {
      return ReportError(context.err, response->error(),
                         fmt::format("the groups of broker(s) {} are missing",
                                     fmt::join(response->unreachable_coordinators(), ",")));
    }
    return kExitOk;
  });
}

void AddList(CLI::App& groups, CliContext& context) {
  auto args = std::make_shared<ListArgs>();
  CLI::App* list = groups.add_subcommand("list", "every group of the cluster");
  list->add_flag("--json", args->json, "JSON instead of a table");
  list->add_option("--state", args->states,
                   "only groups in this state: Empty, Assigning, Reconciling, Stable (repeatable)")
      ->check(CLI::IsMember({"Empty", "Assigning", "Reconciling", "Stable"}));
  list->callback(
      [&context, args] { context.action = [&context, args] { return RunList(context, *args); }; });
}

// ---------------------------------------------------------------- describe

struct DescribeArgs {
  std::vector<std::string> groups;
  bool members = false;
  bool offsets = false;
  bool json = false;
};

int RunDescribe(const CliContext& context, const DescribeArgs& args) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    gv1::DescribeGroupsRequest request;
    for (const std::string& g : args.groups) request.add_group_ids(g);
    request.set_include_offsets(args.json || args.offsets || !args.members);
    auto response = admin.DescribeGroups(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    int code = kExitOk;
    nlohmann::ordered_json json;
    json["groups"] = nlohmann::ordered_json::array();
    std::string text;
    for (const gv1::DescribedGroup& g : response->groups()) {
      if (Is(g.error(), KafkaError::kGroupIdNotFound)) {
        code = ReportBadAnswer(
            context.err,
            fmt::format("GROUP_ID_NOT_FOUND: Consumer group '{}' does not exist.", g.group_id()));
        continue;
      }
      if (HasError(g.error())) {
        code = ReportError(context.err, g.error(), fmt::format("group '{}'", g.group_id()));
        continue;
      }
      json["groups"].push_back(GroupJson(g));
      if (!text.empty()) text += "\n";
      text += FormatGroupSummary(g);
      if (g.members().empty()) {
        text += fmt::format("Consumer group '{}' has no active members.\n", g.group_id());
      }
      if (args.offsets || !args.members) text += "\n" + FormatGroupOffsets(g);
      if (args.members) text += "\n" + FormatGroupMembers(g);
    }
    context.out << (args.json ? JsonText(json) : text);
    return code;
  });
}

void AddDescribe(CLI::App& groups, CliContext& context) {
  auto args = std::make_shared<DescribeArgs>();
  CLI::App* describe = groups.add_subcommand(
      "describe", "state, committed offsets with lag (default) and members of groups");
  describe->add_option("group", args->groups, "group id(s)")->required();
  describe->add_flag("--members", args->members,
                     "the members: epoch, state, assignment (alone: without the offsets)");
  describe->add_flag("--offsets", args->offsets,
                     "committed offsets, log end offsets and lag per partition (the default)");
  describe->add_flag("--json", args->json, "JSON (members and offsets) instead of tables");
  describe->callback([&context, args] {
    context.action = [&context, args] { return RunDescribe(context, *args); };
  });
}

// ---------------------------------------------------------------- delete

int RunDelete(const CliContext& context, const std::vector<std::string>& groups) {
  return WithAdmin(context, [&](client::AdminClient& admin) {
    gv1::DeleteGroupsRequest request;
    for (const std::string& g : groups) request.add_group_ids(g);
    auto response = admin.DeleteGroups(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    int code = kExitOk;
    for (const gv1::DeletedGroup& g : response->groups()) {
      if (HasError(g.error())) {
        code = ReportError(context.err, g.error(), fmt::format("group '{}'", g.group_id()));
        continue;
      }
      context.out << fmt::format("Deleted group {}.\n", g.group_id());
    }
    return code;
  });
}

void AddDelete(CLI::App& groups, CliContext& context) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* remove = groups.add_subcommand(
      "delete", "delete groups and their committed offsets (refused while they have members)");
  remove->add_option("group", *names, "group id(s)")->required();
  remove->callback([&context, names] {
    context.action = [&context, names] { return RunDelete(context, *names); };
  });
}

// ---------------------------------------------------------------- delete-offsets

struct DeleteOffsetsArgs {
  std::string group;
  std::vector<std::string> topics;
};

int RunDeleteOffsets(const CliContext& context, const DeleteOffsetsArgs& args) {
  gv1::OffsetDeleteRequest request;
  request.set_group_id(args.group);
  for (const std::string& text : args.topics) {
    auto topic = ParseTopicPartitions(text);
    if (!topic.ok()) {
      return ReportUsage(context.err, "--topic " + std::string(topic.status().message()));
    }
    gv1::OffsetFetchTopic* t = request.add_topics();
    t->set_name(topic->topic);
    t->mutable_partitions()->Add(topic->partitions.begin(), topic->partitions.end());
  }
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto response = admin.DeleteOffsets(request);
    if (!response.ok()) return ReportFailure(context.err, response.status());
    if (HasError(response->error())) {
      return ReportError(context.err, response->error(), fmt::format("group '{}'", args.group));
    }
    context.out << FormatOffsetDelete(*response);
    for (const auto& t : response->topics()) {
      for (const auto& p : t.partitions()) {
        if (HasError(p.error())) return kExitRequestError;
      }
    }
    return kExitOk;
  });
}

void AddDeleteOffsets(CLI::App& groups, CliContext& context) {
  auto args = std::make_shared<DeleteOffsetsArgs>();
  CLI::App* remove = groups.add_subcommand(
      "delete-offsets", "delete a group's committed offsets of topics no member subscribes to");
  remove->add_option("group", args->group, "group id")->required();
  remove
      ->add_option("--topic", args->topics,
                   "TOPIC (every partition with a committed offset) or TOPIC:P,P,... (repeatable)")
      ->required()
      ->allow_extra_args(false);
  remove->callback([&context, args] {
    context.action = [&context, args] { return RunDeleteOffsets(context, *args); };
  });
}

// ---------------------------------------------------------------- reset-offsets

struct ResetArgs {
  std::string group;
  bool to_earliest = false;
  bool to_latest = false;
  std::string to_datetime;
  std::optional<int64_t> to_offset;
  std::optional<int64_t> shift_by;
  std::vector<std::string> topics;
  bool all_topics = false;
  bool execute = false;
  bool json = false;
};

// The spec from the arguments; a usage error names what is wrong.
absl::StatusOr<client::OffsetResetSpec> ResetSpec(const ResetArgs& args) {
  client::OffsetResetSpec spec;
  spec.group_id = args.group;
  int strategies = 0;
  if (args.to_earliest) ++strategies, spec.strategy = client::OffsetResetStrategy::kToEarliest;
  if (args.to_latest) ++strategies, spec.strategy = client::OffsetResetStrategy::kToLatest;
  if (!args.to_datetime.empty()) {
    ++strategies;
    spec.strategy = client::OffsetResetStrategy::kToDatetime;
    auto ms = ParseDateTime(args.to_datetime);
    if (!ms.ok()) {
      return absl::InvalidArgumentError("--to-datetime " + std::string(ms.status().message()));
    }
    spec.value = *ms;
  }
  if (args.to_offset) {
    ++strategies;
    spec.strategy = client::OffsetResetStrategy::kToOffset;
    spec.value = *args.to_offset;
  }
  if (args.shift_by) {
    ++strategies;
    spec.strategy = client::OffsetResetStrategy::kShiftBy;
    spec.value = *args.shift_by;
  }
  if (strategies != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by");
  }
  if (args.all_topics == !args.topics.empty()) {
    return absl::InvalidArgumentError("give either --topic (repeatable) or --all-topics");
  }
  spec.all_topics = args.all_topics;
  for (const std::string& text : args.topics) {
    auto topic = ParseTopicPartitions(text);
    if (!topic.ok()) {
      return absl::InvalidArgumentError("--topic " + std::string(topic.status().message()));
    }
    spec.topics.push_back({topic->topic, topic->partitions});
  }
  return spec;
}

void PrintPlan(const CliContext& context, const client::OffsetResetPlan& plan, bool executed,
               bool json) {
  context.out << (json ? JsonText(ResetPlanJson(plan, executed)) : FormatResetPlan(plan));
}

int RunReset(const CliContext& context, const ResetArgs& args) {
  auto spec = ResetSpec(args);
  if (!spec.ok()) return ReportUsage(context.err, std::string(spec.status().message()));
  return WithAdmin(context, [&](client::AdminClient& admin) {
    auto plan = admin.PlanOffsetReset(*spec);
    if (!plan.ok()) return ReportStatus(context.err, plan.status());
    if (args.execute && !plan->resettable()) {
      return ReportBadAnswer(context.err,
                             fmt::format("Assignments can only be reset if the group '{}' is "
                                         "inactive, but the current state is {} ({} member(s)); "
                                         "nothing changed.",
                                         plan->group_id, plan->group_state, plan->members));
    }
    for (const client::OffsetResetEntry& e : plan->entries) {
      if (e.requested_offset == e.new_offset) continue;
      context.err << fmt::format("note: {}-{}: offset {} is outside the log [{}, {}]; using {}\n",
                                 e.topic, e.partition, e.requested_offset, e.log_start_offset,
                                 e.log_end_offset, e.new_offset);
    }
    if (plan->entries.empty()) {
      context.err << fmt::format("note: nothing to reset: group '{}' has no committed offsets\n",
                                 plan->group_id);
    }
    if (!args.execute) {
      PrintPlan(context, *plan, false, args.json);
      if (!plan->resettable()) {
        context.err << fmt::format(
            "note: group '{}' is {} with {} member(s): --execute will be refused until every "
            "member has left\n",
            plan->group_id, plan->group_state, plan->members);
      }
      context.err << "dry run: nothing changed; add --execute to apply these offsets\n";
      return kExitOk;
    }
    auto committed = admin.ExecuteOffsetReset(*plan);
    if (!committed.ok()) {
      if (committed.status().code() == absl::StatusCode::kFailedPrecondition) {
        return ReportBadAnswer(context.err,
                               std::string(committed.status().message()) + " Nothing changed.");
      }
      return ReportStatus(context.err, committed.status());
    }
    int code = kExitOk;
    for (const auto& t : committed->topics()) {
      for (const auto& p : t.partitions()) {
        if (HasError(p.error())) {
          code = ReportError(context.err, p.error(), fmt::format("{}-{}", t.name(), p.partition()));
        }
      }
    }
    PrintPlan(context, *plan, true, args.json);
    return code;
  });
}

void AddReset(CLI::App& groups, CliContext& context) {
  auto args = std::make_shared<ResetArgs>();
  CLI::App* reset = groups.add_subcommand(
      "reset-offsets",
      "move a group's committed offsets (dry run unless --execute; only while it has no members)");
  reset->add_option("group", args->group, "group id")->required();
  reset->add_flag("--to-earliest", args->to_earliest, "to each partition's first offset");
  reset->add_flag("--to-latest", args->to_latest, "to each partition's log end offset");
  reset->add_option("--to-datetime", args->to_datetime,
                    "to the first offset at or after YYYY-MM-DDTHH:mm:SS[.SSS][Z|+HH:MM] (no "
                    "zone: local time)");
  reset->add_option("--to-offset", args->to_offset, "to this offset (clamped to the log)");
  reset->add_option("--shift-by", args->shift_by,
                    "move the committed offset by N, negative backwards (clamped to the log)");
  reset
      ->add_option("--topic", args->topics, "TOPIC (every partition) or TOPIC:P,P,... (repeatable)")
      ->allow_extra_args(false);
  reset->add_flag("--all-topics", args->all_topics,
                  "every partition the group has a committed offset for");
  reset->add_flag("--execute", args->execute, "apply the plan (default: only print it)");
  reset->add_flag("--json", args->json, "the plan as JSON");
  reset->callback(
      [&context, args] { context.action = [&context, args] { return RunReset(context, *args); }; });
}

}  // namespace

void AddGroupsCommands(CLI::App& app, CliContext& context) {
  CLI::App* groups = app.add_subcommand(
      "groups", "list, describe (lag, members), delete consumer groups; reset or delete offsets");
  groups->require_subcommand(1);
  AddList(*groups, context);
  AddDescribe(*groups, context);
  AddDelete(*groups, context);
  AddDeleteOffsets(*groups, context);
  AddReset(*groups, context);
}

}  // namespace strand::cli
