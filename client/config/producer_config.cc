// ProducerConfig::FromProperties: the table checks (config_values.h), then Kafka's rules between
// settings (ProducerConfig.postProcessAndValidateIdempotenceConfigs and the delivery timeout
// check in KafkaProducer).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/config/config_values.h"
#include "client/config/shared_settings.h"
#include "client/logger.h"
#include "strand/producer.h"

namespace strand::client {
namespace {

constexpr int32_t kIdempotenceInFlightMax = 5;

CompressionType ParseCompressionType(const std::string& name) {
  if (name == "gzip") return CompressionType::kGzip;
  if (name == "snappy") return CompressionType::kSnappy;
  if (name == "lz4") return CompressionType::kLz4;
  if (name == "zstd") return CompressionType::kZstd;
  return CompressionType::kNone;
}

// Kafka's level settings mapped to the codec library's: 0 means "the codec's default" to
// record/compression.h. lz4's default 9 is Kafka's fast compressor (level 9 is only used
// for the high-compression one when set explicitly).
int32_t CompressionLevel(const ConfigValues& v, CompressionType type) {
  switch (type) {
    case CompressionType::kGzip: {
      const int32_t level = v.GetInt("compression.gzip.level");
      return level == -1 ? 0 : level;
    }
    case CompressionType::kLz4:
      return v.IsSet("compression.lz4.level") ? v.GetInt("compression.lz4.level") : 0;
    case CompressionType::kZstd:
      return v.GetInt("compression.zstd.level");
    default:
      return 0;
  }
}

// Kafka's idempotence rules: explicit enable.idempotence=true with a conflicting setting is an
// error; the default (true) quietly gives way to it.
void ApplyIdempotenceRules(const ConfigValues& v, ProducerConfig* c,
                           std::vector<std::string>* problems) {
  std::vector<std::string> conflicts;
  if (c->acks != -1) conflicts.push_back(fmt::format("acks={} (needs all)", c->acks));
  if (c->retries == 0) conflicts.push_back("retries=0 (needs > 0)");
  if (c->max_in_flight_requests_per_connection > kIdempotenceInFlightMax) {
    conflicts.push_back(fmt::format("max.in.flight.requests.per.connection={} (needs <= {})",
                                    c->max_in_flight_requests_per_connection,
                                    kIdempotenceInFlightMax));
  }
  if (!c->enable_idempotence || conflicts.empty()) return;
  if (v.IsSet("enable.idempotence")) {
    for (const std::string& conflict : conflicts) {
      problems->push_back(fmt::format("enable.idempotence=true conflicts with {}", conflict));
    }
    return;
  }
  ClientLogger()->info("idempotence disabled: {}", fmt::join(conflicts, ", "));
  c->enable_idempotence = false;
}

}  // namespace

absl::StatusOr<ProducerConfig> ProducerConfig::FromProperties(const Properties& properties) {
  absl::StatusOr<ConfigValues> parsed = ConfigValues::Parse(properties, ClientRole::kProducer);
  if (!parsed.ok()) return parsed.status();
  const ConfigValues& v = *parsed;
  std::vector<std::string> problems;
  ProducerConfig c;
  ReadSharedClientSettings(v, &c, &problems);
  const std::string& acks = v.GetString("acks");
  c.acks = acks == "all" ? -1 : std::stoi(acks);
  c.batch_size_bytes = v.GetInt("batch.size");
  c.linger_ms = v.GetLong("linger.ms");
  c.buffer_memory_bytes = v.GetLong("buffer.memory");
  c.max_block_ms = v.GetLong("max.block.ms");
  c.retries = v.GetInt("retries");
  c.delivery_timeout_ms = v.GetInt("delivery.timeout.ms");
  c.max_in_flight_requests_per_connection = v.GetInt("max.in.flight.requests.per.connection");
  c.enable_idempotence = v.GetBool("enable.idempotence");
  c.compression = ParseCompressionType(v.GetString("compression.type"));
  c.compression_level = CompressionLevel(v, c.compression);
  c.max_request_size_bytes = v.GetInt("max.request.size");
  c.partitioner_ignore_keys = v.GetBool("partitioner.ignore.keys");
  if (!v.GetString("transactional.id").empty()) {
    problems.push_back("transactional.id: transactions are not supported yet");
  }
  if (c.ssl_certificate_location.empty() != c.ssl_key_location.empty()) {
    problems.push_back("ssl.certificate.location and ssl.key.location go together");
  }
  ApplyIdempotenceRules(v, &c, &problems);
  const int64_t delivery_min_ms = c.linger_ms + c.request_timeout_ms;
  if (c.delivery_timeout_ms < delivery_min_ms) {
    if (v.IsSet("delivery.timeout.ms")) {
      problems.push_back(
          fmt::format("delivery.timeout.ms={} must be at least linger.ms + request.timeout.ms = {}",
                      c.delivery_timeout_ms, delivery_min_ms));
    } else {
      c.delivery_timeout_ms = delivery_min_ms;
    }
  }
  if (!problems.empty()) return ConfigError(problems);
  return c;
}

}  // namespace strand::client
