#include "controller/state/config_defs.h"

#include "controller/state/metadata_image.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace strand::controller {
namespace {

constexpr double kLongMax = 9223372036854775807.0;
const std::string kLongMaxText = "9223372036854775807";

ConfigDef Long(std::string name, std::string def, double min, std::string synonym,
               std::string doc, double max = kLongMax) {
  return ConfigDef{std::move(name), ConfigType::kLong, std::move(def), std::move(doc),
                   min, max, {}, std::move(synonym)};
}

ConfigDef Int(std::string name, std::string def, double min, double max, std::string synonym,
              std::string doc) {
  return ConfigDef{std::move(name), ConfigType::kInt, std::move(def), std::move(doc),
                   min, max, {}, std::move(synonym)};
}

ConfigDef Bool(std::string name, std::string def, std::string synonym, std::string doc) {
  return ConfigDef{std::move(name), ConfigType::kBoolean, std::move(def), std::move(doc),
                   std::nullopt, std::nullopt, {}, std::move(synonym)};
}

ConfigDef OneOf(std::string name, std::string def, std::vector<std::string> allowed,
                std::string synonym, std::string doc, ConfigType type = ConfigType::kString) {
  return ConfigDef{std::move(name), type, std::move(def), std::move(doc), std::nullopt,
                   std::nullopt, std::move(allowed), std::move(synonym)};
}

absl::Status ValidateThrottledReplicas(const ConfigDef& def, std::string_view value) {
  auto parsed = ParseThrottledReplicas(value);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format("invalid value '{}' for {}: {}", value, def.name,
                                                std::string(parsed.status().message())));
}

ConfigDef ThrottledReplicasDef(std::string name, std::string side) {
  ConfigDef def{std::move(name),
                ConfigType::kList,
                "",
                fmt::format("Replicas whose replication is throttled on the {} side (to "
                            "{}.replication.throttled.rate): \"partition:brokerId\" pairs, "
                            "comma-separated, or \"*\" for all.",
                            side, side),
                std::nullopt,
                std::nullopt,
                {},
                ""};
  def.validator = ValidateThrottledReplicas;
  return def;
}

ConfigDef ThrottledRate(std::string name, std::string side) {
  ConfigDef def = Long(std::move(name), kLongMaxText, 0, "",
                       fmt::format("Bytes per second this broker moves, as the {}, for the "
                                   "replicas listed in the topics' {}.replication.throttled."
                                   "replicas that are not in the ISR (all of them together).",
                                   side, side));
  def.per_broker = true;
  return def;
}

std::vector<ConfigDef> MakeTopicDefs() {
  return {
      OneOf("cleanup.policy", "delete", {"delete", "compact"}, "log.cleanup.policy",
            "Retention policy: delete old segments, compact to the newest record per key, or both "
            "(\"compact,delete\").",
            ConfigType::kList),
      OneOf("compression.type", "producer",
            {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}, "compression.type",
            "Codec of stored batches: \"producer\" keeps what the producer sent; a codec "
            "(uncompressed, gzip, snappy, lz4, zstd) makes the leader recompress batches sent "
            "with another."),
      Long("delete.retention.ms", "86400000", 0, "log.cleaner.delete.retention.ms",
           "How long tombstones are kept on a compacted topic."),
      Long("file.delete.delay.ms", "60000", 0, "log.segment.delete.delay.ms",
           "Delay before a deleted segment's files are removed."),
      Long("flush.messages", "1", 1, "log.flush.interval.messages",
           "Messages between fsyncs. 1 (Strand's default) fsyncs every batch before it counts "
           "as durable."),
      Long("flush.ms", kLongMaxText, 0, "log.flush.interval.ms",
           "Maximum time a message stays unflushed."),
      Int("index.interval.bytes", "4096", 0, 2147483647, "log.index.interval.bytes",
          "Bytes between entries of the sparse offset index."),
      Long("max.compaction.lag.ms", kLongMaxText, 1, "log.cleaner.max.compaction.lag.ms",
           "Longest time a record may stay uncompacted."),
      Int("max.message.bytes", "1048588", 0, 2147483647, "message.max.bytes",
          "Largest record batch the topic accepts."),
      OneOf("message.timestamp.type", "CreateTime", {"CreateTime", "LogAppendTime"},
            "log.message.timestamp.type",
            "Whether record timestamps are the producer's or the broker's append time."),
      Long("message.timestamp.before.max.ms", kLongMaxText, 0,
           "log.message.timestamp.before.max.ms",
           "Largest allowed age of a CreateTime timestamp relative to the broker's clock."),
      Long("message.timestamp.after.max.ms", "3600000", 0, "log.message.timestamp.after.max.ms",
           "Largest allowed lead of a CreateTime timestamp over the broker's clock."),
      ConfigDef{"min.cleanable.dirty.ratio",
                ConfigType::kDouble,
                "0.5",
                "Fraction of the log that must be uncompacted before compaction runs.",
                0.0,
                1.0,
                {},
                "log.cleaner.min.cleanable.ratio"},
      Long("min.compaction.lag.ms", "0", 0, "log.cleaner.min.compaction.lag.ms",
           "Shortest time a record stays uncompacted."),
      Int("min.insync.replicas", "1", 1, 2147483647, "min.insync.replicas",
          "Fewest in-sync replicas for an acks=all write to succeed (else NOT_ENOUGH_REPLICAS)."),
      Bool("preallocate", "true", "log.preallocate",
           "Reserve space ahead of a segment's end (Strand's default: faster appends)."),
      Long("retention.bytes", "-1", -1, "log.retention.bytes",
           "Largest size of a partition's log before old segments are deleted; -1: no limit."),
      Long("retention.ms", "604800000", -1, "log.retention.ms",
           "Age after which old segments are deleted; -1: no limit."),
      Int("segment.bytes", "1073741824", 14, 2147483647, "log.segment.bytes",
          "Size at which a new segment is rolled."),
      Int("segment.index.bytes", "10485760", 4, 2147483647, "log.index.size.max.bytes",
          "Size of a segment's offset index file."),
      Long("segment.jitter.ms", "0", 0, "log.roll.jitter.ms",
           "Random jitter subtracted from segment.ms."),
      Long("segment.ms", "604800000", 1, "log.roll.ms",
           "Age at which a new segment is rolled even if not full."),
      Bool("unclean.leader.election.enable", "false", "unclean.leader.election.enable",
           "Elect an out-of-sync replica when no in-sync one is alive (may lose data)."),
      ThrottledReplicasDef("leader.replication.throttled.replicas", "leader"),
      ThrottledReplicasDef("follower.replication.throttled.replicas", "follower"),
      Bool("strand.verify.crc.on.read", "true", "strand.verify.crc.on.read",
           "Check each stored batch's CRC the first time it is read after the log opens."),
      Long("strand.decompressed.batch.bytes.max", "67108864", 1024,
           "strand.decompressed.batch.bytes.max",
           "Largest decompressed size of one batch the broker will validate."),
      Bool("strand.validate.compressed.records", "true", "strand.validate.compressed.records",
           "Decompress and check the records of compressed batches on produce."),
      Long("strand.preallocate.chunk.bytes", "8388608", 0, "strand.preallocate.chunk.bytes",
           "Most space a segment reserves ahead of its end when preallocate is on."),
  };
}

ConfigDef PerBroker(ConfigDef def) {
  def.per_broker = true;
  return def;
}

std::vector<ConfigDef> MakeClusterDefs() {
  return {
      Int("num.partitions", "1", 1, 100000, "", "Partitions of a topic created without a count."),
      Int("default.replication.factor", "1", 1, 32767, "",
          "Replication factor of a topic created without one."),
      // Read once, when the controller creates __consumer_offsets on a broker's first request
      // (TopicManager::CreateOffsetsTopic); a later change does not touch the existing topic.
      Int("offsets.topic.num.partitions", "50", 1, 100000, "",
          "Partitions of the internal __consumer_offsets topic, used when it is created."),
      Int("offsets.topic.replication.factor", "3", 1, 32767, "",
          "Replication factor of __consumer_offsets; its creation is refused with "
          "INVALID_REPLICATION_FACTOR while fewer live brokers are registered."),
      Bool("auto.leader.rebalance.enable", "true", "",
           "Move leadership back to preferred replicas when brokers are imbalanced."),
      Long("leader.imbalance.check.interval.seconds", "300", 1, "",
           "How often the controller checks leader imbalance."),
      Int("leader.imbalance.per.broker.percentage", "10", 0, 100, "",
          "Share of a broker's preferred partitions led elsewhere that triggers a rebalance."),
      PerBroker(Long("replica.lag.time.max.ms", "10000", 1, "",
                     "A follower not caught up for this long leaves the ISR.")),
      PerBroker(Long(
          "producer.id.expiration.ms", "86400000", 1, "",
          "Idempotent-producer state is forgotten after this long without writes (broker time).")),
      PerBroker(Int("strand.producer.ids.per.partition.max", "10000", 1, 10000000, "",
                    "Most idempotent producers a partition tracks; a new producer id past it is "
                    "refused with THROTTLING_QUOTA_EXCEEDED until some expire "
                    "(producer.id.expiration.ms).")),
      ThrottledRate("leader.replication.throttled.rate", "leader"),
      ThrottledRate("follower.replication.throttled.rate", "follower"),
      Int("max.broker.partitions", "4000", 1, 1000000, "",
          "Most partition replicas one broker may host; topic creation, added partitions and "
          "reassignments past it are refused with POLICY_VIOLATION (KIP-578)."),
      Int("max.partitions", "200000", 1, 10000000, "",
          "Most partitions in the cluster; creations past it are refused with POLICY_VIOLATION "
          "(KIP-578)."),
  };
}

bool ParseDouble(std::string_view value, double* out) {
  std::string copy(value);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

}  // namespace

// The registries are never destroyed: threads still running while a process exits (a Raft
// driver's loop reads cluster settings every tick) must not find them freed.
const std::vector<ConfigDef>& TopicConfigDefs() {
  static const auto* defs = new std::vector<ConfigDef>(MakeTopicDefs());
  return *defs;
}

const std::vector<ConfigDef>& ClusterConfigDefs() {
  static const auto* defs = new std::vector<ConfigDef>([] {
    std::vector<ConfigDef> all = MakeClusterDefs();
    for (const ConfigDef& topic : TopicConfigDefs()) {
      if (topic.cluster_synonym.empty()) continue;
      if (std::any_of(all.begin(), all.end(),
                      [&](const ConfigDef& d) { return d.name == topic.cluster_synonym; })) {
        continue;
      }
      ConfigDef synonym = topic;
      synonym.name = topic.cluster_synonym;
      synonym.cluster_synonym.clear();
      // The controllers read these two (ISR counts, elections): one value cluster-wide.
      synonym.per_broker =
          synonym.name != "min.insync.replicas" && synonym.name != "unclean.leader.election.enable";
      all.push_back(std::move(synonym));
    }
    return all;
  }());
  return *defs;
}

const ConfigDef* FindTopicConfig(std::string_view name) {
  for (const ConfigDef& d : TopicConfigDefs()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const ConfigDef* FindClusterConfig(std::string_view name) {
  for (const ConfigDef& d : ClusterConfigDefs()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::Status ValidateValue(const ConfigDef& def, std::string_view value) {
  if (def.validator) return def.validator(def, value);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("invalid value '{}' for {}: {}", value, def.name, why));
  };
  switch (def.type) {
    case ConfigType::kBoolean:
      if (value != "true" && value != "false") return bad("expected true or false");
      return absl::OkStatus();
    case ConfigType::kInt:
    case ConfigType::kLong: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || ptr != value.data() + value.size()) return bad("expected an integer");
      if (def.type == ConfigType::kInt &&
          (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())) {
        return bad("out of the 32-bit range");
      }
      const auto d = static_cast<double>(v);
      if ((def.min && d < *def.min) || (def.max && d > *def.max)) {
        return bad(fmt::format("must be between {:.0f} and {:.0f}", def.min.value_or(-kLongMax),
                               def.max.value_or(kLongMax)));
      }
      return absl::OkStatus();
    }
    case ConfigType::kDouble: {
      double d = 0;
      if (!ParseDouble(value, &d)) return bad("expected a number");
      if ((def.min && d < *def.min) || (def.max && d > *def.max)) {
        return bad(fmt::format("must be between {} and {}", *def.min, *def.max));
      }
      return absl::OkStatus();
    }
    case ConfigType::kString:
      if (!def.allowed.empty() &&
          std::find(def.allowed.begin(), def.allowed.end(), value) == def.allowed.end()) {
        return bad(fmt::format("allowed values are {}", fmt::join(def.allowed, ", ")));
      }
      return absl::OkStatus();
    case ConfigType::kList: {
      size_t start = 0;
      if (value.empty()) return bad("empty list");
      while (start <= value.size()) {
        size_t end = value.find(',', start);
        if (end == std::string_view::npos) end = value.size();
        std::string_view item = value.substr(start, end - start);
        if (!def.allowed.empty() &&
            std::find(def.allowed.begin(), def.allowed.end(), item) == def.allowed.end()) {
          return bad(fmt::format("list items must be among {}", fmt::join(def.allowed, ", ")));
        }
        start = end + 1;
      }
      return absl::OkStatus();
    }
  }
  return bad("unknown type");
}

absl::Status ValidateTopicConfig(std::string_view name, std::string_view value) {
  const ConfigDef* def = FindTopicConfig(name);
  if (def == nullptr) {
    return absl::InvalidArgumentError(fmt::format("unknown topic config '{}'", name));
  }
  return ValidateValue(*def, value);
}

absl::Status ValidateClusterConfig(std::string_view name, std::string_view value) {
  const ConfigDef* def = FindClusterConfig(name);
  if (def == nullptr) {
    return absl::InvalidArgumentError(fmt::format("unknown cluster config '{}'", name));
  }
  return ValidateValue(*def, value);
}

absl::Status ValidateBrokerConfig(std::string_view name, std::string_view value) {
  const ConfigDef* def = FindClusterConfig(name);
  if (def == nullptr) {
    return absl::InvalidArgumentError(fmt::format("unknown cluster config '{}'", name));
  }
  if (!def->per_broker) {
    return absl::InvalidArgumentError(
        fmt::format("{} cannot be set for one broker: it is a cluster-wide setting (set it for "
                    "the cluster instead)",
                    name));
  }
  return ValidateValue(*def, value);
}

absl::StatusOr<ThrottledReplicas> ParseThrottledReplicas(std::string_view value) {
  ThrottledReplicas out;
  std::string text;  // Kafka trims the whitespace around each entry
  for (char c : value) {
    if (c != ' ' && c != '\t') text.push_back(c);
  }
  if (text.empty()) return out;
  if (text == "*") {
    out.all = true;
    return out;
  }
  auto number = [](std::string_view digits, int32_t* v) {
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *v);
    return !digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size() && *v >= 0;
  };
  const std::string_view all = text;
  for (size_t start = 0; start <= all.size();) {
    size_t comma = all.find(',', start);
    if (comma == std::string_view::npos) comma = all.size();
    const std::string_view item = all.substr(start, comma - start);  // empty items are refused
    start = comma + 1;
    const size_t colon = item.find(':');
    int32_t partition = 0;
    int32_t broker = 0;
    if (colon == std::string_view::npos || !number(item.substr(0, colon), &partition) ||
        !number(item.substr(colon + 1), &broker)) {
      return absl::InvalidArgumentError(
          fmt::format("'{}' is not partition:brokerId; expected \"*\" or a comma-separated list of "
                      "partition:brokerId pairs (e.g. 0:101,0:102)",
                      item));
    }
    out.replicas.emplace_back(partition, broker);
  }
  return out;
}

std::set<int32_t> ThrottledReplicas::PartitionsOn(int32_t broker) const {
  std::set<int32_t> out;
  for (const auto& [partition, id] : replicas) {
    if (id == broker) out.insert(partition);
  }
  return out;
}

int64_t ConfigAsLong(std::string_view value) {
  int64_t v = 0;
  std::from_chars(value.data(), value.data() + value.size(), v);
  return v;
}

bool ConfigAsBool(std::string_view value) { return value == "true"; }

std::string EffectiveClusterConfig(const MetadataImage& image, const std::string& name,
                                   const std::map<std::string, std::string>& static_configs,
                                   std::optional<int32_t> broker_id) {
  const ConfigDef* def = FindClusterConfig(name);
  if (broker_id && def != nullptr && def->per_broker) {
    if (auto v = image.config(ConfigResource{v1::BROKER, std::to_string(*broker_id)}, name)) {
      return *v;
    }
  }
  if (auto v = image.config(ConfigResource{v1::BROKER, ""}, name)) return *v;
  if (auto it = static_configs.find(name); it != static_configs.end()) return it->second;
  return def == nullptr ? std::string() : def->default_value;
}

std::string EffectiveTopicConfig(const MetadataImage& image, const std::string& topic,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& static_configs,
                                 std::optional<int32_t> broker_id) {
  if (auto v = image.config(ConfigResource{v1::TOPIC, topic}, name)) return *v;
  const ConfigDef* def = FindTopicConfig(name);
  if (def == nullptr) return std::string();
  // Topic-only settings (the throttled-replica lists) have no cluster-level default.
  if (def->cluster_synonym.empty()) return def->default_value;
  return EffectiveClusterConfig(image, def->cluster_synonym, static_configs, broker_id);
}

std::map<std::string, std::string> EffectiveTopicConfigs(
    const MetadataImage& image, const std::string& topic,
    const std::map<std::string, std::string>& static_configs, std::optional<int32_t> broker_id) {
  std::map<std::string, std::string> out;
  for (const ConfigDef& def : TopicConfigDefs()) {
    out[def.name] = EffectiveTopicConfig(image, topic, def.name, static_configs, broker_id);
  }
  return out;
}

namespace {

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

SettingDigests StaticSettingDigests(const std::map<std::string, std::string>& static_configs) {
  SettingDigests out;
  for (const ConfigDef& def : ClusterConfigDefs()) {
    auto it = static_configs.find(def.name);
    out[def.name] = Fnv1a64(it == static_configs.end() ? def.default_value : it->second);
  }
  return out;
}

std::vector<std::string> DifferingStaticSettings(const MetadataImage& image,
                                                 const SettingDigests& mine,
                                                 const SettingDigests& theirs,
                                                 std::optional<int32_t> broker_id) {
  std::vector<std::string> out;
  for (const auto& [name, digest] : mine) {
    auto it = theirs.find(name);
    if (it == theirs.end() || it->second == digest) continue;
    if (image.config(ConfigResource{v1::BROKER, ""}, name)) continue;  // overridden everywhere
    if (broker_id && image.config(ConfigResource{v1::BROKER, std::to_string(*broker_id)}, name)) {
      continue;  // overridden on that broker
    }
    out.push_back(name);
  }
  return out;
}

}  // namespace strand::controller
