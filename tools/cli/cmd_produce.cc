// strand produce --topic T [--key-separator SEP] [--headers K=V,...] [--partition P] [--acks A]
//                [--compression C] [--print-offsets] [-X KEY=VALUE ...] [--config-file FILE]
//
// One record per stdin line, sent with the producer (batching, retries, idempotence as
// configured). With --print-offsets, one line per input line, in input order, as each record is
// acknowledged: "PARTITION<TAB>OFFSET", or "error<TAB>NAME" for a record that was not delivered.

#include <fmt/format.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "strand/producer.h"
#include "tools/cli/client_options.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/record_format.h"

namespace strand::cli {
namespace {

struct ProduceArgs {
  std::string topic;
  int32_t partition = -1;
  std::string key_separator;
  std::vector<std::string> headers;
  std::string acks;
  std::string compression;
  bool print_offsets = false;
  ClientPropertyArgs client;
};

// The outcomes of the records sent so far, printed in input order as the oldest ones complete
// (--print-offsets), and the failures, reported as they happen. Callbacks run on the producer's
// sender thread; the reading thread adds entries. Thread-safe.
class Outcomes {
 public:
  Outcomes(std::ostream& out, std::ostream& err, bool print_offsets)
      : out_(out), err_(err), print_offsets_(print_offsets) {}

  // A new record (input line `line`); returns its sequence number.
  int64_t Add(int64_t line) {
    std::lock_guard lock(mu_);
    pending_.push_back({line, false, {}});
    return next_++;
  }
  void Complete(int64_t seq, const absl::StatusOr<client::RecordMetadata>& result) {
    std::lock_guard lock(mu_);
    Entry& e = pending_[static_cast<size_t>(seq - first_)];
    e.done = true;
    if (result.ok()) {
      e.text = fmt::format("{}\t{}\n", result->partition, result->offset);
    } else {
      ++failures_;
      e.text = fmt::format("error\t{}\n", client::KafkaErrorNameOf(result.status()));
      err_ << fmt::format("error: stdin line {}: {}\n", e.line, std::string(result.status().message()));
      err_.flush();
    }
    while (!pending_.empty() && pending_.front().done) {
      if (print_offsets_) out_ << pending_.front().text;
      pending_.pop_front();
      ++first_;
    }
    if (print_offsets_) out_.flush();
  }
  int64_t failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  struct Entry {
    int64_t line = 0;
    bool done = false;
    std::string text;
  };
  std::ostream& out_;
  std::ostream& err_;
  const bool print_offsets_;
  mutable std::mutex mu_;
  std::deque<Entry> pending_;
  int64_t first_ = 0;  // sequence number of pending_.front()
  int64_t next_ = 0;
  int64_t failures_ = 0;
};

// Reads stdin to the end (or a bad line) and sends each line; returns the exit code.
int SendLines(const CliContext& context, const ProduceArgs& args, client::Producer& producer,
              const std::vector<client::Header>& headers) {
  auto outcomes = std::make_shared<Outcomes>(context.out, context.err, args.print_offsets);
  std::string line;
  int64_t line_number = 0;
  int exit_code = kExitOk;
  while (std::getline(context.in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    auto kv = SplitLine(line, args.key_separator);
    if (!kv.ok()) {
      context.err << fmt::format(
          "error: stdin line {}: no key separator '{}'; stopped reading (the lines before it "
          "were sent)\n",
          line_number, args.key_separator);
      exit_code = kExitBadInput;
      break;
    }
    client::ProducerRecord record;
    record.topic = args.topic;
    if (args.partition >= 0) record.partition = args.partition;
    record.key = std::move(kv->key);
    record.value = std::move(kv->value);
    record.headers = headers;
    const int64_t seq = outcomes->Add(line_number);
    absl::Status queued = producer.Send(
        std::move(record), [outcomes, seq](const absl::StatusOr<client::RecordMetadata>& result) {
          outcomes->Complete(seq, result);
        });
    if (!queued.ok()) outcomes->Complete(seq, queued);
  }
  producer.Flush();
  producer.Close();
  if (exit_code == kExitOk && outcomes->failures() > 0) exit_code = kExitRequestError;
  return exit_code;
}

int RunProduce(const CliContext& context, const ProduceArgs& args) {
  auto headers = ParseHeaders(args.headers);
  if (!headers.ok()) {
    return ReportUsage(context.err, "--headers: " + std::string(headers.status().message()));
  }
  client::Properties overrides;
  if (!args.acks.empty()) overrides["acks"] = args.acks;
  if (!args.compression.empty()) overrides["compression.type"] = args.compression;
  auto properties =
      BuildClientProperties(context, args.client, ClientKind::kProducer, overrides);
  if (!properties.ok()) return ReportUsage(context.err, std::string(properties.status().message()));
  auto producer = client::Producer::Create(*properties);
  if (!producer.ok()) return ReportClientFailure(context.err, producer.status());
  absl::StatusOr<int32_t> partitions = (*producer)->PartitionCount(args.topic);
  if (!partitions.ok()) return ReportClientFailure(context.err, partitions.status());
  if (args.partition >= *partitions) {
    return ReportUsage(context.err,
                       fmt::format("--partition {}: topic {} has {} partition(s)", args.partition,
                                   args.topic, *partitions));
  }
  return SendLines(context, args, **producer, *headers);
}

}  // namespace

void AddProduceCommand(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<ProduceArgs>();
  CLI::App* produce = app.add_subcommand(
      "produce",
      "send stdin to a topic, one record per line (the brokers must be in --bootstrap)");
  produce->add_option("--topic", args->topic, "the topic to write to")->required();
  produce
      ->add_option("--key-separator", args->key_separator,
                   "split each line at the first SEP into key and value (a line without it is an "
                   "error, exit 4); without it the line is the value and the key is null")
      ->check([](const std::string& s) { return s.empty() ? "must not be empty" : ""; });
  produce
      ->add_option("--headers", args->headers,
                   "headers for every record, KEY=VALUE[,KEY=VALUE...] (repeatable)")
      ->allow_extra_args(false);
  produce
      ->add_option("--partition", args->partition,
                   "write every record to this partition (default: by key, murmur2 like Kafka; "
                   "sticky for null keys)")
      ->check(CLI::Range(0, 1'000'000));
  produce->add_option("--acks", args->acks, "all (default), -1, 1 or 0")
      ->check(CLI::IsMember({"all", "-1", "0", "1"}));
  produce
      ->add_option("--compression", args->compression,
                   "compression.type: none (default), gzip, snappy, lz4, zstd")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  produce->add_flag("--print-offsets", args->print_offsets,
                    "print PARTITION<TAB>OFFSET per input line, in input order, once acknowledged "
                    "(error<TAB>NAME when not delivered)");
  AddClientPropertyOptions(*produce, args->client);
  produce->callback([&context, args] {
    context.action = [&context, args] { return RunProduce(context, *args); };
  });
}

}  // namespace strand::cli
