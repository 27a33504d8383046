// strand consume --topic T [--partition P ... | --group G] [--from-beginning |
//                --offset earliest|latest|N] [--max-records N] [--idle-timeout-ms MS]
//                [--format TEMPLATE | --json] [-X KEY=VALUE ...] [--config-file FILE]
//
// Reads the topic's partitions (or the listed ones) with an assigned consumer and prints each
// record on stdout, one line per record, until --max-records are printed, no record came for
// --idle-timeout-ms, or forever. "Processed a total of N records" goes to stderr at the end.
// With --group G it subscribes as a member of consumer group G instead: the group's coordinator
// hands out the partitions, each starts at the group's committed offset (--from-beginning:
// earliest where none is committed), and what was printed is committed (auto commit, and on
// exit, when the consumer leaves the group).

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "strand/consumer.h"
#include "tools/cli/client_options.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/record_format.h"

namespace strand::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct ConsumeArgs {
  std::string topic;
  std::string group;
  std::vector<int32_t> partitions;
  bool from_beginning = false;
  std::string offset;
  int64_t max_records = 0;      // 0: no limit
  int64_t idle_timeout_ms = 0;  // 0: wait forever
  std::string format = "{value}";
  bool json = false;
  ClientPropertyArgs client;
};

// --offset: "earliest", "latest" or a non-negative offset.
struct StartOffset {
  enum class Kind { kDefault, kEarliest, kLatest, kExact } kind = Kind::kDefault;
  int64_t offset = -1;
};

absl::StatusOr<StartOffset> ParseStartOffset(const ConsumeArgs& args) {
  StartOffset start;
  if (args.from_beginning) start.kind = StartOffset::Kind::kEarliest;
  if (args.offset.empty()) return start;
  if (args.offset == "earliest") {
    start.kind = StartOffset::Kind::kEarliest;
  } else if (args.offset == "latest") {
    start.kind = StartOffset::Kind::kLatest;
  } else {
    size_t used = 0;
    try {
      start.offset = std::stoll(args.offset, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != args.offset.size() || start.offset < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "--offset: expected earliest, latest or an offset >= 0, not '{}'", args.offset));
    }
    if (args.partitions.empty()) {
      return absl::InvalidArgumentError("--offset N needs --partition (an offset is per partition)");
    }
    start.kind = StartOffset::Kind::kExact;
  }
  return start;
}

// Positions the assigned partitions.
absl::Status Position(client::Consumer& consumer, const std::vector<client::TopicPartition>& tps,
                      const StartOffset& start) {
  switch (start.kind) {
    case StartOffset::Kind::kDefault:
      return absl::OkStatus();  // auto.offset.reset (latest unless set)
    case StartOffset::Kind::kEarliest:
      return consumer.SeekToBeginning(tps);
    case StartOffset::Kind::kLatest:
      return consumer.SeekToEnd(tps);
    case StartOffset::Kind::kExact:
      for (const client::TopicPartition& tp : tps) {
        if (absl::Status s = consumer.Seek(tp, start.offset); !s.ok()) return s;
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// With --max-records the last Poll may return records that are not printed: move those
// partitions back to the first of them, so that a group commits only what was printed.
void RewindUnprinted(client::Consumer& consumer, const std::vector<client::ConsumerRecord>& records,
                     size_t printed) {
  std::set<client::TopicPartition> rewound;
  for (size_t i = printed; i < records.size(); ++i) {
    const client::TopicPartition tp = records[i].topic_partition();
    if (rewound.insert(tp).second) (void)consumer.Seek(tp, records[i].offset());
  }
}

// Polls and prints until done; returns the exit code.
int PrintRecords(const CliContext& context, const ConsumeArgs& args, client::Consumer& consumer,
                 const RecordFormat& format) {
  int64_t printed = 0;
  Clock::time_point last_record = Clock::now();
  int exit_code = kExitOk;
  while (args.max_records == 0 || printed < args.max_records) {
    int64_t wait_ms = 1'000;
    if (args.idle_timeout_ms > 0) {
      const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                              last_record);
      if (idle.count() >= args.idle_timeout_ms) {
        if (args.max_records > 0) {
          context.err << fmt::format(
              "error: {} of {} record(s) before {} ms without a record (--idle-timeout-ms)\n",
              printed, args.max_records, args.idle_timeout_ms);
          exit_code = kExitIncomplete;
        }
        break;
      }
      wait_ms = std::min(wait_ms, args.idle_timeout_ms - idle.count());
    }
    auto records = consumer.Poll(std::chrono::milliseconds(wait_ms));
    if (!records.ok()) {
      exit_code = ReportClientFailure(context.err, records.status());
      break;
    }
    if (records->empty()) continue;
    last_record = Clock::now();
    std::string text;
    size_t taken = 0;
    for (const client::ConsumerRecord& r : *records) {
      if (args.max_records > 0 && printed == args.max_records) break;
      text += args.json ? RecordJson(r).dump(-1, ' ', false,
                                             nlohmann::ordered_json::error_handler_t::replace) +
                              "\n"
                        : format.Render(r);
      ++printed;
      ++taken;
    }
    if (taken < records->size()) RewindUnprinted(consumer, *records, taken);
    context.out << text;
    context.out.flush();
  }
  context.err << "Processed a total of " << printed << " records\n";
  return exit_code;
}

int RunConsume(const CliContext& context, const ConsumeArgs& args) {
  auto format = RecordFormat::Parse(args.format);
  if (!format.ok()) {
    return ReportUsage(context.err, "--format: " + std::string(format.status().message()));
  }
  auto start = ParseStartOffset(args);
  if (!start.ok()) return ReportUsage(context.err, std::string(start.status().message()));
  client::Properties overrides;
  if (args.group.empty()) {
    overrides["enable.auto.commit"] = "false";  // without a group there is nothing to commit to
  } else {
    overrides["group.id"] = args.group;  // auto commit: Kafka's default for a group
  }
  if (start->kind == StartOffset::Kind::kEarliest) overrides["auto.offset.reset"] = "earliest";
  if (start->kind == StartOffset::Kind::kLatest && !args.group.empty()) {
    overrides["auto.offset.reset"] = "latest";
  }
  auto properties = BuildClientProperties(context, args.client, ClientKind::kConsumer, overrides);
  if (!properties.ok()) return ReportUsage(context.err, std::string(properties.status().message()));
  auto consumer = client::Consumer::Create(*properties);
  if (!consumer.ok()) return ReportClientFailure(context.err, consumer.status());
  absl::StatusOr<int32_t> count = (*consumer)->PartitionCount(args.topic);
  if (!args.group.empty()) {
    // The topic must exist (as without a group); its partitions come from the coordinator.
    if (!count.ok()) return ReportClientFailure(context.err, count.status());
    if (absl::Status s = (*consumer)->Subscribe({args.topic}); !s.ok()) {
      return ReportClientFailure(context.err, s);
    }
    const int exit_code = PrintRecords(context, args, **consumer, *format);
    (*consumer)->Close();  // commits what was printed and leaves the group
    return exit_code;
  }
  if (!count.ok()) return ReportClientFailure(context.err, count.status());
  std::vector<client::TopicPartition> tps;
  if (args.partitions.empty()) {
    for (int32_t p = 0; p < *count; ++p) tps.push_back({args.topic, p});
  }
  for (int32_t p : args.partitions) {
    if (p >= *count) {
      return ReportUsage(context.err, fmt::format("--partition {}: topic {} has {} partition(s)",
                                                  p, args.topic, *count));
    }
    tps.push_back({args.topic, p});
  }
  if (absl::Status s = (*consumer)->Assign(tps); !s.ok()) {
    return ReportClientFailure(context.err, s);
  }
  if (absl::Status s = Position(**consumer, tps, *start); !s.ok()) {
    return ReportClientFailure(context.err, s);
  }
  return PrintRecords(context, args, **consumer, *format);
}

}  // namespace

void AddConsumeCommand(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<ConsumeArgs>();
  CLI::App* consume = app.add_subcommand(
      "consume", "print a topic's records on stdout (the brokers must be in --bootstrap)");
  consume->add_option("--topic", args->topic, "the topic to read")->required();
  CLI::Option* partition =
      consume
          ->add_option("--partition", args->partitions,
                       "read only this partition (repeatable; default: every partition)")
          ->check(CLI::Range(0, 1'000'000))
          ->allow_extra_args(false);
  consume
      ->add_option("--group", args->group,
                   "consume as a member of this consumer group: the group assigns the "
                   "partitions, reading starts at its committed offsets and what is printed is "
                   "committed (enable.auto.commit)")
      ->excludes(partition);
  CLI::Option* from_beginning = consume->add_flag(
      "--from-beginning", args->from_beginning,
      "start at each partition's first record (default: only records written from now on; "
      "with --group: where the group has no committed offset)");
  consume
      ->add_option("--offset", args->offset,
                   "start at earliest, latest, or offset N (N needs --partition; with --group: "
                   "earliest or latest where the group has no committed offset)")
      ->excludes(from_beginning);
  consume
      ->add_option("--max-records", args->max_records,
                   "exit after printing this many records (exit 5 if --idle-timeout-ms passes "
                   "first)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 62));
  consume
      ->add_option("--idle-timeout-ms", args->idle_timeout_ms,
                   "exit once no record has come for this long (default: wait forever)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  CLI::Option* json = consume->add_flag(
      "--json", args->json,
      "one JSON object per line: {topic, partition, offset, timestamp, timestamp_type, key, "
      "value, headers: [{key, value}]}");
  consume
      ->add_option("--format", args->format,
                   "line template (default '{value}'): {topic} {partition} {offset} {timestamp} "
                   "{timestamp_type} {leader_epoch} {key} {value} {headers}, escapes \\t \\n")
      ->excludes(json);
  AddClientPropertyOptions(*consume, args->client);
  consume->callback([&context, args] {
    context.action = [&context, args] { return RunConsume(context, *args); };
  });
}

}  // namespace strand::cli
