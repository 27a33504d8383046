// strand perf produce --topic T --records N --record-size B [--throughput R] [--acks A]
//                     [--compression C] [--reporting-interval-ms MS] [--json] [-X KEY=VALUE ...]
// strand perf consume --topic T --records N [--group G] [--idle-timeout-ms MS]
//                     [--reporting-interval-ms MS] [--json] [-X KEY=VALUE ...]
//                     (--group: as a member of consumer group G, the group assigning the
//                     partitions and auto commit on; the elapsed time includes joining)
//
// Throughput and latency in the manner of Kafka's kafka-producer-perf-test and
// kafka-consumer-perf-test: progress lines on stderr every reporting interval, a summary on
// stdout at the end (one JSON object with --json). See docs/operations.md ("strand perf").

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "strand/consumer.h"
#include "strand/producer.h"
#include "tools/cli/client_options.h"
#include "tools/cli/commands.h"
#include "tools/cli/errors.h"
#include "tools/cli/exit_codes.h"
#include "tools/cli/json_text.h"
#include "tools/cli/perf_stats.h"

namespace strand::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kBytesPerMb = 1024.0 * 1024.0;  // as Kafka's perf tools: MB means MiB

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

// Runs `report` every `interval_ms` on its own thread until destroyed.
class Reporter {
 public:
  Reporter(int64_t interval_ms, std::function<void()> report)
      : thread_([this, interval_ms, report = std::move(report)] {
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                               [&] { return stop_; })) {
            lock.unlock();
            report();
            lock.lock();
          }
        }) {}
  ~Reporter() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest exists
};

nlohmann::ordered_json LatencyJson(const LatencyHistogram& h) {
  return {{"avg", h.mean_us() / 1000.0},      {"p50", Ms(h.PercentileUs(50))},
          {"p95", Ms(h.PercentileUs(95))},    {"p99", Ms(h.PercentileUs(99))},
          {"p999", Ms(h.PercentileUs(99.9))}, {"max", Ms(h.max_us())}};
}

std::string LatencyText(const LatencyHistogram& h) {
  return fmt::format(
      "{:.2f} ms avg latency, {:.2f} ms max latency, {:.2f} ms 50th, {:.2f} ms 95th, {:.2f} ms "
      "99th, {:.2f} ms 99.9th",
      h.mean_us() / 1000.0, Ms(h.max_us()), Ms(h.PercentileUs(50)), Ms(h.PercentileUs(95)),
      Ms(h.PercentileUs(99)), Ms(h.PercentileUs(99.9)));
}

// ---- perf produce

struct PerfProduceArgs {
  std::string topic;
  int64_t records = 0;
  int32_t record_size = 0;
  double throughput = -1;
  std::string acks = "all";
  std::string compression = "none";
  int64_t reporting_interval_ms = 5'000;
  bool json = false;
  ClientPropertyArgs client;
};

// What the callbacks (on the producer's sender thread) and the reporter share.
struct ProduceStats {
  std::mutex mu;
  LatencyHistogram total;
  LatencyHistogram window;
  Clock::time_point window_start;
  int64_t acked = 0;
  int64_t failed = 0;
  std::string first_error;

  void Done(Clock::time_point sent, const absl::Status& status) {
    const int64_t micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
    std::lock_guard lock(mu);
    if (!status.ok()) {
      if (failed++ == 0) first_error = std::string(status.message());
      return;
    }
    ++acked;
    total.Record(micros);
    window.Record(micros);
  }
};

int RunPerfProduce(const CliContext& context, const PerfProduceArgs& args) {
  client::Properties overrides = {{"acks", args.acks}, {"compression.type", args.compression}};
  auto properties =
      BuildClientProperties(context, args.client, ClientKind::kProducer, overrides);
  if (!properties.ok()) return ReportUsage(context.err, std::string(properties.status().message()));
  auto producer = client::Producer::Create(*properties);
  if (!producer.ok()) return ReportClientFailure(context.err, producer.status());
  absl::StatusOr<int32_t> partitions = (*producer)->PartitionCount(args.topic);
  if (!partitions.ok()) return ReportClientFailure(context.err, partitions.status());

  const std::vector<std::string> payloads =
      MakePayloads(args.record_size, PayloadPoolSize(args.record_size), std::random_device{}());
  auto stats = std::make_shared<ProduceStats>();
  const Clock::time_point start = Clock::now();
  stats->window_start = start;
  std::mutex err_mu;
  int64_t sync_failures = 0;
  {
    Reporter reporter(args.reporting_interval_ms, [&] {
      std::lock_guard lock(stats->mu);
      const Clock::time_point now = Clock::now();
      const double seconds = std::max(1e-9, Seconds(now - stats->window_start));
      const auto n = static_cast<double>(stats->window.count());
      context.err << fmt::format(
          "{} records sent, {:.1f} records/sec ({:.2f} MB/sec), {:.2f} ms avg latency, {:.2f} "
          "ms max latency.\n",
          stats->window.count(), n / seconds,
          n * static_cast<double>(args.record_size) / kBytesPerMb / seconds,
          stats->window.mean_us() / 1000.0, Ms(stats->window.max_us()));
      context.err.flush();
      stats->window.Reset();
      stats->window_start = now;
    });
    const Throttle throttle(args.throughput, start);
    for (int64_t i = 0; i < args.records; ++i) {
      throttle.WaitForTurn(i);
      client::ProducerRecord record;
      record.topic = args.topic;
      record.value = payloads[static_cast<size_t>(i) % payloads.size()];
      const Clock::time_point sent = Clock::now();
      // A raw pointer: the callback stays small enough for std::function to hold without an
      // allocation, and the producer is closed (every callback run) before `stats` goes.
      absl::Status queued = (*producer)->Send(
          std::move(record),
          [s = stats.get(), sent](const absl::StatusOr<client::RecordMetadata>& r) {
            s->Done(sent, r.status());
          });
      if (!queued.ok()) {
        ++sync_failures;
        stats->Done(sent, queued);
      }
    }
    (*producer)->Flush();
  }
  const double seconds = std::max(1e-9, Seconds(Clock::now() - start));
  (*producer)->Close();
  const client::ProducerMetrics metrics = (*producer)->metrics();

  std::lock_guard lock(stats->mu);
  const auto acked = static_cast<double>(stats->acked);
  const double records_per_sec = acked / seconds;
  const double mb_per_sec = acked * args.record_size / kBytesPerMb / seconds;
  if (args.json) {
    nlohmann::ordered_json json;
    json["topic"] = args.topic;
    json["records"] = stats->acked;
    json["failed"] = stats->failed;
    json["record_size"] = args.record_size;
    json["acks"] = args.acks;
    json["compression"] = args.compression;
    json["throughput_limit"] = args.throughput > 0 ? nlohmann::ordered_json(args.throughput)
                                                   : nlohmann::ordered_json(nullptr);
    json["elapsed_ms"] = seconds * 1000.0;
    json["records_per_sec"] = records_per_sec;
    json["mb_per_sec"] = mb_per_sec;
    json["latency_ms"] = LatencyJson(stats->total);
    json["producer"] = {{"requests", metrics.requests_sent},
                        {"batches", metrics.batches_sent},
                        {"batches_retried", metrics.batches_retried},
                        {"epoch_bumps", metrics.epoch_bumps},
                        {"metadata_refreshes", metrics.metadata_refreshes}};
    context.out << JsonText(json);
  } else {
    context.out << fmt::format("{} records sent, {:.1f} records/sec ({:.2f} MB/sec), {}.\n",
                               stats->acked, records_per_sec, mb_per_sec,
                               LatencyText(stats->total));
  }
  if (stats->failed > 0) {
    context.err << fmt::format("error: {} record(s) not delivered ({} refused by Send); first: {}\n",
                               stats->failed, sync_failures, stats->first_error);
    return kExitRequestError;
  }
  return kExitOk;
}

// ---- perf consume

struct PerfConsumeArgs {
  std::string topic;
  std::string group;
  int64_t records = 0;
  int64_t idle_timeout_ms = 10'000;
  int64_t reporting_interval_ms = 5'000;
  bool json = false;
  ClientPropertyArgs client;
};

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int RunPerfConsume(const CliContext& context, const PerfConsumeArgs& args) {
  client::Properties overrides = {{"auto.offset.reset", "earliest"}};
  if (args.group.empty()) {
    overrides["enable.auto.commit"] = "false";
  } else {
    overrides["group.id"] = args.group;  // with Kafka's default auto commit
  }
  auto properties = BuildClientProperties(context, args.client, ClientKind::kConsumer, overrides);
  if (!properties.ok()) return ReportUsage(context.err, std::string(properties.status().message()));
  auto consumer = client::Consumer::Create(*properties);
  if (!consumer.ok()) return ReportClientFailure(context.err, consumer.status());
  absl::StatusOr<int32_t> count = (*consumer)->PartitionCount(args.topic);
  if (!count.ok()) return ReportClientFailure(context.err, count.status());
  if (args.group.empty()) {
    std::vector<client::TopicPartition> tps;
    for (int32_t p = 0; p < *count; ++p) tps.push_back({args.topic, p});
    if (absl::Status s = (*consumer)->Assign(tps); !s.ok()) {
      return ReportClientFailure(context.err, s);
    }
  } else if (absl::Status s = (*consumer)->Subscribe({args.topic}); !s.ok()) {
    return ReportClientFailure(context.err, s);
  }

  // Counted by this thread only; the reporter reads the atomics.
  std::atomic<int64_t> consumed{0}, bytes{0};
  LatencyHistogram age;  // now - the record's timestamp: end-to-end latency when consuming live
  const Clock::time_point start = Clock::now();
  Clock::time_point first_record{}, last_record = start;
  int exit_code = kExitOk;
  {
    int64_t window_records = 0, window_bytes = 0;
    Clock::time_point window_start = start;
    Reporter reporter(args.reporting_interval_ms, [&] {
      const Clock::time_point now = Clock::now();
      const int64_t n = consumed.load(), b = bytes.load();
      const double seconds = std::max(1e-9, Seconds(now - window_start));
      context.err << fmt::format("{} records consumed, {:.1f} records/sec ({:.2f} MB/sec).\n",
                                 n - window_records,
                                 static_cast<double>(n - window_records) / seconds,
                                 static_cast<double>(b - window_bytes) / kBytesPerMb / seconds);
      context.err.flush();
      window_records = n;
      window_bytes = b;
      window_start = now;
    });
    while (consumed.load() < args.records) {
      const auto idle =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_record);
      if (idle.count() >= args.idle_timeout_ms) {
        context.err << fmt::format(
            "error: {} of {} record(s) before {} ms without a record (--idle-timeout-ms)\n",
            consumed.load(), args.records, args.idle_timeout_ms);
        exit_code = kExitIncomplete;
        break;
      }
      auto polled = (*consumer)->Poll(std::chrono::milliseconds(
          std::min<int64_t>(1'000, args.idle_timeout_ms - idle.count())));
      if (!polled.ok()) {
        exit_code = ReportClientFailure(context.err, polled.status());
        break;
      }
      if (polled->empty()) continue;
      const Clock::time_point now = Clock::now();
      if (consumed.load() == 0) first_record = now;
      last_record = now;
      const int64_t now_ms = WallMs();
      int64_t n = 0, b = 0;
      for (const client::ConsumerRecord& r : *polled) {
        if (consumed.load() + n == args.records) break;
        ++n;
        b += static_cast<int64_t>(r.key().value_or("").size() + r.value().value_or("").size());
        age.Record((now_ms - r.timestamp_ms()) * 1000);
      }
      bytes += b;
      consumed += n;
    }
  }
  const double seconds = std::max(1e-9, Seconds(last_record - start));
  const double fetch_seconds =
      consumed.load() > 0 ? std::max(1e-9, Seconds(last_record - first_record)) : 1e-9;
  const auto n = static_cast<double>(consumed.load());
  const double mb = static_cast<double>(bytes.load()) / kBytesPerMb;
  if (args.json) {
    nlohmann::ordered_json json;
    json["topic"] = args.topic;
    json["group"] = args.group.empty() ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(args.group);
    json["records"] = consumed.load();
    json["bytes"] = bytes.load();
    json["elapsed_ms"] = seconds * 1000.0;
    json["records_per_sec"] = n / seconds;
    json["mb_per_sec"] = mb / seconds;
    json["fetch_ms"] = fetch_seconds * 1000.0;
    json["fetch_records_per_sec"] = n / fetch_seconds;
    json["fetch_mb_per_sec"] = mb / fetch_seconds;
    json["record_age_ms"] = LatencyJson(age);
    context.out << JsonText(json);
  } else {
    context.out << fmt::format(
        "{} records consumed ({:.2f} MB) in {:.1f} s, {:.1f} records/sec ({:.2f} MB/sec); from "
        "the first record: {:.1f} records/sec ({:.2f} MB/sec); record age (now - timestamp): "
        "{}.\n",
        consumed.load(), mb, seconds, n / seconds, mb / seconds, n / fetch_seconds,
        mb / fetch_seconds, LatencyText(age));
  }
  return exit_code;
}

void AddPerfProduce(CLI::App& perf, CliContext& context) {
  auto args = std::make_shared<PerfProduceArgs>();
  CLI::App* produce = perf.add_subcommand(
      "produce", "producer throughput and latency (like kafka-producer-perf-test)");
  produce->add_option("--topic", args->topic, "the topic to write to")->required();
  produce->add_option("--records", args->records, "how many records to send")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  produce
      ->add_option("--record-size", args->record_size,
                   "value size in bytes (random letters A-Z; no key)")
      ->required()
      ->check(CLI::Range(0, 64 << 20));
  produce
      ->add_option("--throughput", args->throughput,
                   "at most this many records per second (default: as fast as possible)")
      ->check(CLI::PositiveNumber);
  produce->add_option("--acks", args->acks, "all (default), -1, 1 or 0")
      ->check(CLI::IsMember({"all", "-1", "0", "1"}));
  produce
      ->add_option("--compression", args->compression,
                   "compression.type: none (default), gzip, snappy, lz4, zstd")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  produce
      ->add_option("--reporting-interval-ms", args->reporting_interval_ms,
                   "progress on stderr this often (default 5000)")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  produce->add_flag("--json", args->json, "the summary as one JSON object");
  AddClientPropertyOptions(*produce, args->client);
  produce->callback([&context, args] {
    context.action = [&context, args] { return RunPerfProduce(context, *args); };
  });
}

void AddPerfConsume(CLI::App& perf, CliContext& context) {
  auto args = std::make_shared<PerfConsumeArgs>();
  CLI::App* consume = perf.add_subcommand(
      "consume", "consumer throughput from the start of a topic (like kafka-consumer-perf-test)");
  consume->add_option("--topic", args->topic, "the topic to read")->required();
  consume->add_option("--records", args->records, "how many records to read")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  consume
      ->add_option("--idle-timeout-ms", args->idle_timeout_ms,
                   "give up (exit 5) after this long without a record (default 10000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  consume
      ->add_option("--reporting-interval-ms", args->reporting_interval_ms,
                   "progress on stderr this often (default 5000)")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  consume->add_option("--group", args->group,
                      "consume as a member of this consumer group (the group assigns the "
                      "partitions and starts at its committed offsets; auto commit on)");
  consume->add_flag("--json", args->json, "the summary as one JSON object");
  AddClientPropertyOptions(*consume, args->client);
  consume->callback([&context, args] {
    context.action = [&context, args] { return RunPerfConsume(context, *args); };
  });
}

}  // namespace

void AddPerfCommands(CLI::App& app, CliContext& context) {
  CLI::App* perf = app.add_subcommand("perf", "throughput and latency tests");
  perf->require_subcommand(1);
  AddPerfProduce(*perf, context);
  AddPerfConsume(*perf, context);
}

}  // namespace strand::cli
