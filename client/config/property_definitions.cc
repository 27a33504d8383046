// The table of every client setting: Kafka's names, types and defaults (Kafka 4.0 defaults, e.g.
// linger.ms=5 from KIP-1030), with a bound on every number. Bounds are generous but finite: a
// value beyond them is a typo (an hour of linger, a gigabyte batch), not a tuning choice.

#include <limits>

#include "strand/properties.h"

namespace strand::client {
namespace {

constexpr uint8_t kP = static_cast<uint8_t>(ClientRole::kProducer);
constexpr uint8_t kC = static_cast<uint8_t>(ClientRole::kConsumer);
constexpr uint8_t kBoth = kP | kC;

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

PropertyDefinition Int(std::string_view name, std::string_view def, int64_t min, int64_t max,
                       uint8_t roles, std::string_view doc) {
  return {name, PropertyType::kInt, def, min, max, {}, roles, false, doc};
}
PropertyDefinition Long(std::string_view name, std::string_view def, int64_t min, int64_t max,
                        uint8_t roles, std::string_view doc) {
  return {name, PropertyType::kLong, def, min, max, {}, roles, false, doc};
}
PropertyDefinition Bool(std::string_view name, std::string_view def, uint8_t roles,
                        std::string_view doc) {
  return {name, PropertyType::kBool, def, 0, 0, {}, roles, false, doc};
}
PropertyDefinition String(std::string_view name, std::string_view def, uint8_t roles,
                          std::string_view doc) {
  return {name, PropertyType::kString, def, 0, 0, {}, roles, false, doc};
}
PropertyDefinition Enum(std::string_view name, std::string_view def,
                        std::vector<std::string_view> allowed, uint8_t roles,
                        std::string_view doc) {
  return {name, PropertyType::kEnum, def, 0, 0, std::move(allowed), roles, false, doc};
}

std::vector<PropertyDefinition> MakeDefinitions() {
  std::vector<PropertyDefinition> d;
  // ---- Both clients.
  d.push_back({"bootstrap.servers",
               PropertyType::kList,
               "",
               0,
               0,
               {},
               kBoth,
               true,
               "host:port[,host:port...] of any brokers; the rest of the cluster is learnt from "
               "their metadata"});
  d.push_back(String("client.id", "", kBoth, "a name for logs"));
  d.push_back(Int("request.timeout.ms", "30000", 1, kDayMs, kBoth,
                  "how long one request may wait for its answer before it is retried"));
  d.push_back(Long("retry.backoff.ms", "100", 0, kHourMs, kBoth,
                   "first wait before retrying a failed request (doubles, +-20% jitter)"));
  d.push_back(
      Long("retry.backoff.max.ms", "1000", 0, kHourMs, kBoth, "the longest wait between retries"));
  d.push_back(Long("metadata.max.age.ms", "300000", 0, kDayMs, kBoth,
                   "refresh metadata at least this often even without errors"));
  d.push_back(Long("socket.connection.setup.timeout.ms", "10000", 1, kHourMs, kBoth,
                   "bound on one connection attempt"));
  d.push_back(Long("reconnect.backoff.max.ms", "1000", 1, kHourMs, kBoth,
                   "the longest wait between reconnection attempts to a broker"));
  d.push_back(Enum("security.protocol", "plaintext", {"plaintext", "ssl"}, kBoth,
                   "plaintext, or ssl (TLS; CA and client certificate from ssl.*.location or "
                   "from credentials passed to Create)"));
  d.push_back(String("ssl.ca.location", "", kBoth, "PEM file of the CAs to trust (ssl)"));
  d.push_back(String("ssl.certificate.location", "", kBoth,
                     "PEM file of this client's certificate, for mutual TLS"));
  d.push_back(String("ssl.key.location", "", kBoth, "PEM file of this client's private key"));
  // ---- Producer.
  d.push_back(
      Enum("acks", "all", {"all", "-1", "0", "1"}, kP,
           "0: do not wait; 1: the leader wrote it; all (-1): every in-sync replica has it"));
  // 256 KiB rather than Kafka's 16384: one partition takes 5 batches in flight, so its rate is
  // capped near 5 x batch.size per round trip; batches start at 16 KiB and double while their
  // partition stays busy (Accumulator::NewBatchCapacity), so a slow partition holds no more.
  d.push_back(Int("batch.size", "262144", 0, 64 * kMiB, kP,
                  "most bytes per partition batch (after compression, estimated): batches start "
                  "at 16384 and double up to it while the partition is busy; 0 disables batching"));
  d.push_back(Long("linger.ms", "5", 0, kHourMs, kP,
                   "wait this long for more records before sending a batch that is not full"));
  d.push_back(Long("buffer.memory", "33554432", 64 * 1024, 16 * kGiB, kP,
                   "bytes of records waiting to be sent; Send blocks (max.block.ms) beyond"));
  d.push_back(Long("max.block.ms", "60000", 0, kDayMs, kP,
                   "how long Send may block for buffer memory or for a topic's metadata"));
  d.push_back(Int("retries", "2147483647", 0, kIntMax, kP,
                  "resends of a failed batch (delivery.timeout.ms bounds them in time)"));
  d.push_back(Int("delivery.timeout.ms", "120000", 1, kDayMs, kP,
                  "upper bound from Send to the callback, retries included; at least "
                  "linger.ms + request.timeout.ms"));
  d.push_back(Int("max.in.flight.requests.per.connection", "5", 1, 1000, kP,
                  "unanswered produce requests per broker; at most 5 with idempotence"));
  d.push_back(Bool("enable.idempotence", "true", kP,
                   "exactly one copy of each record, in order, across retries (needs acks=all, "
                   "retries > 0, max.in.flight <= 5)"));
  d.push_back(Enum("compression.type", "none", {"none", "gzip", "snappy", "lz4", "zstd"}, kP,
                   "codec for each batch"));
  d.push_back(Int("compression.gzip.level", "-1", -1, 9, kP, "gzip level; -1 the default (6)"));
  d.push_back(Int("compression.lz4.level", "9", 1, 17, kP, "lz4 level (Kafka's default 9)"));
  d.push_back(Int("compression.zstd.level", "3", -131072, 22, kP, "zstd level"));
  d.push_back(Int("max.request.size", "1048576", 1024, 256 * kMiB, kP,
                  "bytes per produce request; also the largest record"));
  d.push_back(Bool("partitioner.ignore.keys", "false", kP,
                   "partition keyed records like keyless ones (sticky) instead of by murmur2"));
  d.push_back(String("transactional.id", "", kP, "transactions: not supported yet (leave empty)"));
  // ---- Consumer.
  d.push_back(String("group.id", "", kC,
                     "the consumer group: needed by Subscribe, and by commits (also with Assign)"));
  d.push_back(String("group.instance.id", "", kC,
                     "static membership id: Close leaves temporarily (member epoch -2) and a "
                     "restart within the broker's session timeout gets the same partitions"));
  d.push_back(Enum("group.protocol", "consumer", {"consumer", "classic"}, kC,
                   "consumer (KIP-848: the broker assigns); classic is refused (it comes with the "
                   "Kafka listener)"));
  d.push_back(String("group.remote.assignor", "", kC,
                     "the broker's assignor for this member: uniform or range; empty: the "
                     "broker's default (uniform)"));
  d.push_back(Bool("enable.auto.commit", "true", kC,
                   "commit positions every auto.commit.interval.ms from Poll, before partitions "
                   "are revoked and in Close (default true with a group.id, false without)"));
  d.push_back(Int("auto.commit.interval.ms", "5000", 0, kDayMs, kC, "auto-commit period"));
  d.push_back(Int("session.timeout.ms", "45000", 1, kHourMs, kC,
                  "ignored (warned once): the broker owns it under group.protocol=consumer "
                  "(group.consumer.session.timeout.ms)"));
  d.push_back(Int("heartbeat.interval.ms", "3000", 1, kHourMs, kC,
                  "ignored (warned once): the broker owns it under group.protocol=consumer "
                  "(group.consumer.heartbeat.interval.ms)"));
  d.push_back(Int("max.poll.interval.ms", "300000", 1, kDayMs, kC,
                  "longest gap between polls before the member leaves the group (its partitions "
                  "are lost; the next Poll rejoins); also the rebalance timeout"));
  d.push_back(Enum("auto.offset.reset", "latest", {"latest", "earliest", "none"}, kC,
                   "where to start without a valid position: latest, earliest, or none (Poll "
                   "fails)"));
  d.push_back(Int("fetch.min.bytes", "1", 0, 100 * kMiB, kC,
                  "the broker waits for this many bytes (up to fetch.max.wait.ms)"));
  d.push_back(Int("fetch.max.bytes", "52428800", 0, kGiB, kC, "bytes per fetch response"));
  d.push_back(Int("fetch.max.wait.ms", "500", 0, kHourMs, kC, "long-poll wait per fetch"));
  d.push_back(Int("max.partition.fetch.bytes", "1048576", 1, kGiB, kC,
                  "bytes per partition per fetch (a larger first batch is still returned)"));
  d.push_back(Int("max.poll.records", "500", 1, 1'000'000, kC, "records returned by one Poll"));
  d.push_back(Enum("isolation.level", "read_uncommitted", {"read_uncommitted", "read_committed"},
                   kC, "read_committed: only committed transactional records"));
  d.push_back(String("client.rack", "", kC,
                     "this client's rack: fetch from a replica in it when the leader says so"));
  d.push_back(Bool("check.crcs", "true", kC, "verify each fetched batch's CRC-32C"));
  d.push_back(Int("default.api.timeout.ms", "60000", 1, kDayMs, kC,
                  "bound on blocking calls without a timeout (Position, OffsetsForTimes, ...)"));
  return d;
}

}  // namespace

const std::vector<PropertyDefinition>& PropertyDefinitions() {
  static const std::vector<PropertyDefinition> definitions = MakeDefinitions();
  return definitions;
}

}  // namespace strand::client
