#pragma once

// strand::client::Producer — sends records to a Strand cluster with the semantics of Kafka's
// Java producer and its setting names (strand/properties.h).
//
//   auto producer = strand::client::Producer::Create({{"bootstrap.servers", "127.0.0.1:9101"}});
//   if (!producer.ok()) ...  // a bad setting: the message names every problem
//   absl::Status queued = (*producer)->Send(
//       {.topic = "orders", .key = "customer-7", .value = "{...}"},
//       [](const absl::StatusOr<RecordMetadata>& result) {  // on the producer's sender thread
//         if (result.ok()) ... result->partition, result->offset
//         else ... KafkaErrorOf(result.status())
//       });
//   (*producer)->Flush();  // every record sent so far has had its callback
//
// Partitioning (Kafka's default partitioner, byte for byte): an explicit partition wins; else a
// key goes to toPositive(murmur2(key)) % partitions; a null key (or partitioner.ignore.keys) goes
// to a "sticky" partition that changes each time a batch for it is started (KIP-480), chosen at
// random among partitions that have a leader.
//
// Batching: records are encoded straight into a per-partition batch (RecordBatch v2) of
// batch.size bytes; a batch is sent when full, after linger.ms (default 5, as in Kafka 4), on
// Flush, or on Close. Compression (compression.type) is applied per batch when it is sent.
// buffer.memory bounds the bytes of unsent batches; Send blocks up to max.block.ms for room, then
// fails with REQUEST_TIMED_OUT.
//
// Delivery: a failed batch is retried (retries, retry.backoff.ms doubling to retry.backoff.max.ms)
// until delivery.timeout.ms after Send; NOT_LEADER_OR_FOLLOWER and friends refresh metadata and
// follow the leader. With enable.idempotence (the default; needs acks=all) every batch carries the
// producer id, epoch and per-partition sequence, so a retried batch is never written twice and
// batches stay in order even with 5 requests in flight. Without idempotence, retries may reorder
// batches when max.in.flight.requests.per.connection > 1 (as in Kafka).
//
// Threading: Send is thread-safe. It never waits for the network; it blocks only while
// buffer.memory is exhausted or while a topic's metadata is first fetched (both bounded by
// max.block.ms). One sender thread per producer builds requests, handles answers and runs the
// callbacks: a callback must be quick and must not call Flush or Close (it may call Send, which
// then fails at once instead of blocking). Flush and Close are thread-safe and blocking.
// Connections: one gRPC channel per broker, shared by every partition it leads.

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strand/properties.h"
#include "strand/record.h"

namespace strand::client {

enum class CompressionType { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// The validated settings of a producer (Kafka's names in the comments).
struct ProducerConfig {
  std::vector<std::string> bootstrap_servers;  // bootstrap.servers
  std::string client_id;                       // client.id
  int32_t acks = -1;                           // acks (all = -1)
  int32_t batch_size_bytes = 262144;           // batch.size
  int64_t linger_ms = 5;                       // linger.ms
  int64_t buffer_memory_bytes = 32 << 20;      // buffer.memory
  int64_t max_block_ms = 60'000;               // max.block.ms
  int32_t retries = 2147483647;                // retries
  int64_t retry_backoff_ms = 100;              // retry.backoff.ms
  int64_t retry_backoff_max_ms = 1'000;        // retry.backoff.max.ms
  int64_t delivery_timeout_ms = 120'000;       // delivery.timeout.ms
  int64_t request_timeout_ms = 30'000;         // request.timeout.ms
  int32_t max_in_flight_requests_per_connection = 5;
  bool enable_idempotence = true;                        // enable.idempotence
  CompressionType compression = CompressionType::kNone;  // compression.type
  int32_t compression_level = 0;                         // compression.<codec>.level; 0 the default
  int32_t max_request_size_bytes = 1 << 20;              // max.request.size
  int64_t metadata_max_age_ms = 300'000;                 // metadata.max.age.ms
  int64_t connect_timeout_ms = 10'000;                   // socket.connection.setup.timeout.ms
  int64_t reconnect_backoff_max_ms = 1'000;              // reconnect.backoff.max.ms
  bool partitioner_ignore_keys = false;                  // partitioner.ignore.keys
  bool tls = false;                                      // security.protocol=ssl
  std::string ssl_ca_location, ssl_certificate_location, ssl_key_location;

  // Checks every key and value (strand/properties.h) and Kafka's rules between them:
  // enable.idempotence=true given explicitly with acks other than all, retries=0 or
  // max.in.flight.requests.per.connection > 5 is an error; left at its default, idempotence is
  // turned off by such settings instead (as Kafka does). delivery.timeout.ms given explicitly
  // must be >= linger.ms + request.timeout.ms; left at its default it is raised to that.
  static absl::StatusOr<ProducerConfig> FromProperties(const Properties& properties);
};

using SendCallback = std::function<void(const absl::StatusOr<RecordMetadata>&)>;

struct ProducerMetrics {
  int64_t records_sent = 0;    // acknowledged by the cluster
  int64_t records_failed = 0;  // reported to callbacks with an error
  int64_t batches_sent = 0;    // produce attempts of a batch, retries included
  int64_t batches_retried = 0;
  int64_t requests_sent = 0;
  int64_t metadata_refreshes = 0;
  int64_t epoch_bumps = 0;  // idempotent producer epoch resets
  int64_t buffer_available_bytes = 0;
};

class Producer {
 public:
  // `credentials`: null means security.protocol decides (plaintext, or TLS from ssl.*.location);
  // given, they are used for every broker connection (inject TLS credentials here).
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const Properties& properties,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  // The same from settings already validated (a distinct name: a braced list of pairs would
  // otherwise be ambiguous between the two).
  static absl::StatusOr<std::unique_ptr<Producer>> CreateFromConfig(
      const ProducerConfig& config,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  // Closes with no time limit for delivery (see Close).
  virtual ~Producer() = default;

  // Queues the record. OK: `callback` (may be null) will be called exactly once, on the sender
  // thread, with the record's partition and offset or its delivery error. Not OK: nothing was
  // queued and the callback will not be called — INVALID_ARGUMENT (empty topic, bad partition),
  // MESSAGE_TOO_LARGE (record over max.request.size or buffer.memory), UNKNOWN_TOPIC_OR_PARTITION
  // or REQUEST_TIMED_OUT (no metadata / no buffer room within max.block.ms), or the producer is
  // closed (FAILED_PRECONDITION).
  virtual absl::Status Send(ProducerRecord record, SendCallback callback) = 0;

  // Makes every queued record sendable now and waits until each record sent before the call has
  // had its callback (success or failure).
  virtual void Flush() = 0;

  // Refuses new records, sends what is queued and waits up to `timeout` for it, then fails what
  // is left (callbacks with REQUEST_TIMED_OUT "producer closed") and stops the sender thread.
  // Idempotent.
  virtual void Close(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) = 0;

  // Partitions of a topic (waits up to max.block.ms for its metadata).
  virtual absl::StatusOr<int32_t> PartitionCount(const std::string& topic) = 0;

  virtual ProducerMetrics metrics() const = 0;
  virtual const ProducerConfig& config() const = 0;
};

}  // namespace strand::client
