// Producer: the public face (strand/producer.h) over the accumulator, the metadata manager and the
// sender thread.

#include "strand/producer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mutex>

#include "absl/container/inlined_vector.h"
#include "client/common/broker_channels.h"
#include "client/common/metadata_manager.h"
#include "client/logger.h"
#include "client/producer/accumulator.h"
#include "client/producer/memory_budget.h"
#include "client/producer/partitioner.h"
#include "client/producer/sender.h"
#include "common/clock.h"
#include "common/status.h"

namespace strand::client {
namespace {

ChannelOptions ChannelOptionsOf(const ProducerConfig& c) {
  ChannelOptions o;
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.reconnect_backoff_max_ms = c.reconnect_backoff_max_ms;
  return o;
}

MetadataOptions MetadataOptionsOf(const ProducerConfig& c) {
  MetadataOptions o;
  o.request_timeout_ms = c.request_timeout_ms;
  o.retry_backoff_ms = c.retry_backoff_ms;
  o.retry_backoff_max_ms = c.retry_backoff_max_ms;
  o.max_age_ms = c.metadata_max_age_ms;
  return o;
}

class ProducerImpl final : public Producer {
 public:
  ProducerImpl(const ProducerConfig& config, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : config_(config),
        clock_(SystemClock::Instance()),
        channels_(std::move(credentials), ChannelOptionsOf(config)),
        metadata_(config.bootstrap_servers, channels_, MetadataOptionsOf(config), clock_),
        memory_(config.buffer_memory_bytes),
        accumulator_(AccumulatorConfig::From(config), memory_),
        sender_(config_, accumulator_, metadata_, channels_, clock_, counters_) {
    metadata_.set_listener([this] { sender_.Wakeup(); });
    sender_.Start();
  }

  ~ProducerImpl() override {
    Close(std::chrono::milliseconds::max());
    metadata_.set_listener(nullptr);
  }

  absl::Status Send(ProducerRecord record, SendCallback callback) override;
  void Flush() override;
  void Close(std::chrono::milliseconds timeout) override;
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic) override;
  ProducerMetrics metrics() const override;
  const ProducerConfig& config() const override { return config_; }

 private:
  // The topic's partition count, waiting for its metadata until `deadline_ms` if need be.
  absl::StatusOr<int32_t> WaitForTopic(const std::string& topic, int64_t deadline_ms);

  const ProducerConfig config_;
  const Clock& clock_;
  ProducerCounters counters_;
  BrokerChannels channels_;
  MetadataManager metadata_;
  MemoryBudget memory_;
  Accumulator accumulator_;
  Sender sender_;
  std::mutex close_mu_;
  bool closed_ = false;
};

absl::Status ProducerImpl::Send(ProducerRecord record, SendCallback callback) {
  if (record.topic.empty()) return absl::InvalidArgumentError("the record has no topic");
  const bool on_sender = sender_.OnSenderThread();
  int32_t partitions = accumulator_.PartitionCount(record.topic);
  if (partitions < 0) {
    // The sender thread cannot wait for metadata it fetches itself.
    const int64_t wait_ms = on_sender ? 0 : config_.max_block_ms;
    absl::StatusOr<int32_t> count = WaitForTopic(record.topic, clock_.NowMonotonicMs() + wait_ms);
    if (!count.ok()) return count.status();
    partitions = *count;
  }
  int32_t partition = -1;
  if (record.partition) {
    if (*record.partition < 0 || *record.partition >= partitions) {
      return absl::InvalidArgumentError(
          fmt::format("partition {} of topic {} does not exist (it has {})", *record.partition,
                      record.topic, partitions));
    }
    partition = *record.partition;
  } else if (record.key && !config_.partitioner_ignore_keys) {
    partition = PartitionForKey(*record.key, partitions);
  }
  absl::InlinedVector<record::RecordHeaderView, 4> headers;
  for (const Header& h : record.headers) {
    headers.push_back({h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
  }
  Accumulator::RecordRef ref;
  ref.topic = record.topic;
  ref.partition = partition;
  ref.timestamp_ms = record.timestamp_ms >= 0 ? record.timestamp_ms : clock_.NowWallMs();
  if (record.key) ref.key = *record.key;
  if (record.value) ref.value = *record.value;
  ref.headers = headers;
  absl::StatusOr<Accumulator::AppendResult> appended =
      accumulator_.Append(ref, callback, clock_.NowMonotonicMs(), !on_sender);
  if (!appended.ok()) return appended.status();
  if (appended->wake_sender) sender_.Wakeup();
  return absl::OkStatus();
}

absl::StatusOr<int32_t> ProducerImpl::WaitForTopic(const std::string& topic, int64_t deadline_ms) {
  metadata_.AddTopics({topic});
  sender_.Wakeup();
  while (true) {
    auto cluster = metadata_.current();
    const TopicMetadata* t = cluster->topic(topic);
    if (t != nullptr && t->error == KafkaError::kNone && !t->partitions.empty()) {
      accumulator_.SetTopicPartitions(topic, static_cast<int32_t>(t->partitions.size()),
                                      t->available_partitions);
      return static_cast<int32_t>(t->partitions.size());
    }
    if (clock_.NowMonotonicMs() >= deadline_ms) {
      if (metadata_.version() == 0) {
        return KafkaStatus(
            KafkaError::kNetworkException,
            fmt::format("cannot reach the cluster: no metadata from {} within max.block.ms ({} "
                        "ms); last error: {}",
                        fmt::join(config_.bootstrap_servers, ", "), config_.max_block_ms,
                        MessageOf(metadata_.last_error())));
      }
      if (t != nullptr) {
        return KafkaStatus(
            t->error == KafkaError::kNone ? KafkaError::kUnknownTopicOrPartition : t->error,
            fmt::format("topic {} not present in metadata after {} ms", topic,
                        config_.max_block_ms));
      }
      return KafkaStatus(
          KafkaError::kRequestTimedOut,
          fmt::format("topic {} not present in metadata after {} ms", topic, config_.max_block_ms));
    }
    // Ask for a refresh ourselves: the one that added the topic may be over already (another
    // thread added it first), and nothing else would start the one we wait for.
    metadata_.RequestUpdate();
    sender_.Wakeup();
    metadata_.AwaitRefresh(deadline_ms);
  }
}

void ProducerImpl::Flush() {
  if (sender_.OnSenderThread()) {
    ClientLogger()->warn("Flush called from a send callback: ignored (it would wait forever)");
    return;
  }
  const uint64_t mark = accumulator_.BeginFlush();
  sender_.Wakeup();
  accumulator_.AwaitFlush(mark);
  accumulator_.EndFlush();
}

void ProducerImpl::Close(std::chrono::milliseconds timeout) {
  if (sender_.OnSenderThread()) {
    ClientLogger()->warn("Close called from a send callback: ignored (it would wait forever)");
    return;
  }
  std::lock_guard lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  accumulator_.Close();
  const int64_t timeout_ms =
      timeout.count() > INT64_MAX / 2 ? INT64_MAX / 2 : std::max<int64_t>(0, timeout.count());
  sender_.Stop(timeout_ms);
  memory_.Close();
}

absl::StatusOr<int32_t> ProducerImpl::PartitionCount(const std::string& topic) {
  const int32_t known = accumulator_.PartitionCount(topic);
  if (known > 0) return known;
  return WaitForTopic(topic, clock_.NowMonotonicMs() + config_.max_block_ms);
}

ProducerMetrics ProducerImpl::metrics() const {
  ProducerMetrics m;
  m.records_sent = counters_.records_sent.load();
  m.records_failed = counters_.records_failed.load();
  m.batches_sent = counters_.batches_sent.load();
  m.batches_retried = counters_.batches_retried.load();
  m.requests_sent = counters_.requests_sent.load();
  m.metadata_refreshes = static_cast<int64_t>(metadata_.attempts());
  m.epoch_bumps = counters_.epoch_bumps.load();
  m.buffer_available_bytes = memory_.available_bytes();
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(
    const Properties& properties, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  absl::StatusOr<ProducerConfig> config = ProducerConfig::FromProperties(properties);
  if (!config.ok()) return config.status();
  return CreateFromConfig(*config, std::move(credentials));
}

absl::StatusOr<std::unique_ptr<Producer>> Producer::CreateFromConfig(
    const ProducerConfig& config, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto resolved = ClientCredentials(config, std::move(credentials));
  if (!resolved.ok()) return resolved.status();
  return std::unique_ptr<Producer>(new ProducerImpl(config, *std::move(resolved)));
}

}  // namespace strand::client
