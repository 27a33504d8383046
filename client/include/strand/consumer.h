#pragma once

// strand::client::Consumer — reads records from a Strand cluster with the semantics of Kafka's
// Java consumer and its setting names (strand/properties.h).
//
//   auto consumer = strand::client::Consumer::Create({{"bootstrap.servers", "127.0.0.1:9101"},
//                                                     {"auto.offset.reset", "earliest"}});
//   (*consumer)->Assign({{"orders", 0}, {"orders", 1}});
//   while (running) {
//     absl::StatusOr<std::vector<ConsumerRecord>> records =
//         (*consumer)->Poll(std::chrono::milliseconds(500));
//     if (!records.ok()) ...  // e.g. OFFSET_OUT_OF_RANGE with auto.offset.reset=none
//     for (const ConsumerRecord& r : *records) ... r.partition(), r.offset(), r.value()
//   }
//
// Positions: each assigned partition has a position, the offset of the next record Poll returns.
// A partition without one (just assigned, or after SeekToBeginning/End) gets it from the leader
// (ListOffsets) by auto.offset.reset: earliest, latest, or none (Poll then fails with
// OFFSET_OUT_OF_RANGE naming the partitions). A fetch at an offset the log no longer (or not yet)
// has — OFFSET_OUT_OF_RANGE — resets the same way.
//
// Fetching: one Fetch request in flight per broker, for the partitions it leads (or the replica
// the leader prefers for this client.rack: KIP-392 follower fetching), with fetch.min.bytes,
// fetch.max.wait.ms (long poll), fetch.max.bytes, max.partition.fetch.bytes, isolation.level and
// each partition's leader epoch (fencing: a stale leader answers FENCED_LEADER_EPOCH, and the
// consumer refreshes metadata and follows the new leader). Records are decoded (and
// decompressed) once; the next fetch is sent before Poll returns, so fetching overlaps the
// application's processing. At most max.poll.records are returned per Poll; a partition with
// undelivered records is not fetched again until they are delivered (memory stays bounded by
// one fetch per broker).
//
// Consumer groups (group.id; Kafka 4's consumer protocol, KIP-848): Subscribe(topics) or
// SubscribePattern(regex) makes the consumer a member of its group. The broker's group
// coordinator assigns the partitions; a background thread heartbeats (every interval the
// coordinator names, and at once when the subscription or the owned partitions change) carrying
// the member's whole state. Assignment changes are applied by Poll, on the caller's thread:
// partitions taken away are committed (enable.auto.commit), handed to
// OnPartitionsRevoked and dropped before the coordinator hears that they are released, so no
// partition is consumed by two members at once; new ones start at their committed offset
// (OffsetFetch; auto.offset.reset without one) and are handed to OnPartitionsAssigned. A member
// the coordinator fenced (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) loses its partitions
// (OnPartitionsLost, no commit) and joins again. A consumer that does not Poll within
// max.poll.interval.ms leaves the group from the background thread; its next Poll reports the
// partitions lost and rejoins. Commits: CommitSync / CommitAsync / auto commit (positions every
// auto.commit.interval.ms from Poll, before a revocation and in Close); Committed reads them
// back. Assign with a group.id commits as a "simple" group (no membership). Close leaves the
// group (a static member, group.instance.id, leaves temporarily and keeps its partitions for the
// broker's session timeout). session.timeout.ms and heartbeat.interval.ms belong to the broker
// under this protocol: set, they are ignored with a warning.
//
//   auto consumer = strand::client::Consumer::Create({{"bootstrap.servers", "127.0.0.1:9101"},
//                                                     {"group.id", "billing"}});
//   (*consumer)->Subscribe({"orders"});
//   while (running) { auto records = (*consumer)->Poll(500ms); ... }  // commits every 5 s
//   (*consumer)->Close();  // commits, leaves the group
//
// Threading: like Kafka's consumer, not thread-safe — one thread uses it — except Wakeup, which
// any thread may call to make a blocked Poll return early (with CANCELLED). Rebalance listener
// and commit callbacks run on that thread, inside Poll, CommitSync, Unsubscribe or Close.

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strand/properties.h"
#include "strand/record.h"

namespace strand::client {

enum class OffsetResetPolicy { kLatest, kEarliest, kNone };

// The validated settings of a consumer (Kafka's names in the comments).
struct ConsumerConfig {
  std::vector<std::string> bootstrap_servers;  // bootstrap.servers
  std::string client_id;                       // client.id
  std::string group_id;                        // group.id
  std::string group_instance_id;               // group.instance.id
  std::string group_remote_assignor;           // group.remote.assignor
  bool enable_auto_commit = true;              // enable.auto.commit (false without a group.id)
  int64_t auto_commit_interval_ms = 5'000;     // auto.commit.interval.ms
  // Broker-owned under the consumer group protocol: read, never used (see ignored_settings).
  int64_t session_timeout_ms = 45'000;     // session.timeout.ms
  int64_t heartbeat_interval_ms = 3'000;   // heartbeat.interval.ms
  int64_t max_poll_interval_ms = 300'000;  // max.poll.interval.ms (also the rebalance timeout)
  OffsetResetPolicy auto_offset_reset = OffsetResetPolicy::kLatest;  // auto.offset.reset
  int32_t fetch_min_bytes = 1;                                       // fetch.min.bytes
  int32_t fetch_max_bytes = 52'428'800;                              // fetch.max.bytes
  int32_t fetch_max_wait_ms = 500;                                   // fetch.max.wait.ms
  int32_t max_partition_fetch_bytes = 1 << 20;                       // max.partition.fetch.bytes
  int32_t max_poll_records = 500;                                    // max.poll.records
  bool read_committed = false;               // isolation.level=read_committed
  std::string client_rack;                   // client.rack
  bool check_crcs = true;                    // check.crcs
  int64_t request_timeout_ms = 30'000;       // request.timeout.ms
  int64_t default_api_timeout_ms = 60'000;   // default.api.timeout.ms
  int64_t retry_backoff_ms = 100;            // retry.backoff.ms
  int64_t retry_backoff_max_ms = 1'000;      // retry.backoff.max.ms
  int64_t metadata_max_age_ms = 300'000;     // metadata.max.age.ms
  int64_t connect_timeout_ms = 10'000;       // socket.connection.setup.timeout.ms
  int64_t reconnect_backoff_max_ms = 1'000;  // reconnect.backoff.max.ms
  bool tls = false;                          // security.protocol=ssl
  std::string ssl_ca_location, ssl_certificate_location, ssl_key_location;
  // Settings the user gave that this consumer ignores (session.timeout.ms,
  // heartbeat.interval.ms): the consumer warns about them once, when created.
  std::vector<std::string> ignored_settings;

  // Checks every key and value (strand/properties.h) and Kafka's rules between them
  // (enable.auto.commit=true and group.instance.id need a group.id; group.protocol=classic is
  // refused).
  static absl::StatusOr<ConsumerConfig> FromProperties(const Properties& properties);
};

// An offset found by OffsetsForTimes.
struct OffsetAndTimestamp {
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
  int32_t leader_epoch = -1;
};

// A committed offset: the offset of the next record to read, the leader epoch of the last
// record read (-1 unknown) and a free-form string kept with it (offset.metadata.max.bytes).
struct OffsetAndMetadata {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  bool operator==(const OffsetAndMetadata&) const = default;
};

// Kafka's ConsumerRebalanceListener: told about assignment changes of a subscribed consumer, on
// the thread that polls (inside Poll, Unsubscribe or Close). Positions can be read and set
// (Position, Seek, Committed, CommitSync) from the callbacks.
class ConsumerRebalanceListener {
 public:
  virtual ~ConsumerRebalanceListener() = default;
  // Partitions taken away in an orderly way, before the coordinator hears they are released
  // (with enable.auto.commit their positions were just committed): the place to commit or
  // flush what was processed. Also on Unsubscribe and Close. Not called with an empty list.
  virtual void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) {}
  // New partitions, positioned at their committed offsets (auto.offset.reset without one);
  // a Seek here overrides. Not called with an empty list.
  virtual void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) {}
  // Partitions that may already belong to another member (this one was fenced, or left for not
  // polling): do not commit. Kafka's default calls OnPartitionsRevoked, and so does this one.
  virtual void OnPartitionsLost(const std::vector<TopicPartition>& partitions) {
    OnPartitionsRevoked(partitions);
  }
};

// Told how a CommitAsync ended (on the polling thread, inside a later Poll, CommitSync or
// Close): the offsets it carried and OK or the error.
using OffsetCommitCallback = std::function<void(
    const std::map<TopicPartition, OffsetAndMetadata>& offsets, const absl::Status& status)>;

class Consumer {
 public:
  // `credentials` as for Producer::Create.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const Properties& properties,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  static absl::StatusOr<std::unique_ptr<Consumer>> CreateFromConfig(
      const ConsumerConfig& config,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  virtual ~Consumer() = default;

  // Replaces the assignment (standalone consumption). Partitions kept keep their positions;
  // new ones start by auto.offset.reset (or a Seek). An empty list unassigns everything.
  // FAILED_PRECONDITION while subscribed.
  virtual absl::Status Assign(const std::vector<TopicPartition>& partitions) = 0;
  // The partitions assigned by Assign, or owned as a group member now.
  virtual std::vector<TopicPartition> Assignment() const = 0;

  // Joins the group (group.id) subscribed to these topics, or changes the subscription of a
  // member (the coordinator then revokes and assigns). An empty list is Unsubscribe. Returns at
  // once: membership and assignment happen in the background and are applied by Poll.
  // INVALID_ARGUMENT without group.id; FAILED_PRECONDITION after Assign (Unsubscribe first).
  // `listener` (may be null) is told about assignment changes from now on.
  virtual absl::Status Subscribe(const std::vector<std::string>& topics,
                                 std::shared_ptr<ConsumerRebalanceListener> listener = nullptr) = 0;
  // The same with the topics whose whole name matches an RE2 regular expression, evaluated by
  // the coordinator (topics created later join the subscription).
  virtual absl::Status SubscribePattern(
      const std::string& re2, std::shared_ptr<ConsumerRebalanceListener> listener = nullptr) = 0;
  // Leaves the group (auto commit and OnPartitionsRevoked first) or drops the manual assignment.
  virtual absl::Status Unsubscribe() = 0;

  // Commits the positions of the assigned partitions (those with one), retrying retriable
  // errors (coordinator moves, STALE_MEMBER_EPOCH) within default.api.timeout.ms. A member that
  // was fenced fails with its error (UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH). Also finishes any
  // CommitAsync in flight first (their callbacks run here).
  virtual absl::Status CommitSync() = 0;
  virtual absl::Status CommitSync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) = 0;
  // Sends the commit and returns; `callback` (may be null) runs in a later Poll, CommitSync or
  // Close with the result. One attempt: a retriable error reaches the callback as is.
  virtual void CommitAsync(OffsetCommitCallback callback = nullptr) = 0;
  virtual void CommitAsync(const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                           OffsetCommitCallback callback) = 0;
  // The group's committed offsets of these partitions (nullopt: none), within
  // default.api.timeout.ms.
  virtual absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndMetadata>>> Committed(
      const std::vector<TopicPartition>& partitions) = 0;
  // The member id this consumer joins its group with (a UUID made once per consumer, KIP-1082).
  virtual std::string MemberId() const = 0;

  // Records from the assigned partitions, at most max.poll.records, waiting up to `timeout` for
  // some. Errors: OFFSET_OUT_OF_RANGE (auto.offset.reset=none; no position or out of range),
  // CANCELLED (Wakeup), UNKNOWN_TOPIC_OR_PARTITION (an assigned partition does not exist), and a
  // member's fatal group errors with the coordinator's message (GROUP_MAX_SIZE_REACHED,
  // UNSUPPORTED_ASSIGNOR, INVALID_GROUP_ID, GROUP_AUTHORIZATION_FAILED, ...; every Poll until
  // Unsubscribe or a new Subscribe). Leader changes, dead brokers, coordinator moves and
  // retriable errors are handled inside (metadata refresh, backoff). Group members also apply
  // assignment changes and auto commits here (see above).
  virtual absl::StatusOr<std::vector<ConsumerRecord>> Poll(std::chrono::milliseconds timeout) = 0;

  // Sets the position of an assigned partition; the next Poll starts there.
  virtual absl::Status Seek(const TopicPartition& tp, int64_t offset) = 0;
  // The first / next-to-be-written offset, looked up lazily (at the next Poll or Position).
  // An empty list means every assigned partition.
  virtual absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions) = 0;
  virtual absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions) = 0;
  // The offset of the next record Poll returns for `tp` (resolving a pending reset first, within
  // default.api.timeout.ms).
  virtual absl::StatusOr<int64_t> Position(const TopicPartition& tp) = 0;

  // For each partition, the earliest offset whose timestamp is >= the given one (nullopt: no such
  // record). Blocks up to default.api.timeout.ms.
  virtual absl::StatusOr<std::map<TopicPartition, std::optional<OffsetAndTimestamp>>>
  OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps_ms) = 0;
  virtual absl::StatusOr<std::map<TopicPartition, int64_t>> BeginningOffsets(
      const std::vector<TopicPartition>& partitions) = 0;
  virtual absl::StatusOr<std::map<TopicPartition, int64_t>> EndOffsets(
      const std::vector<TopicPartition>& partitions) = 0;
  // A topic's partition count (waits for its metadata up to default.api.timeout.ms).
  virtual absl::StatusOr<int32_t> PartitionCount(const std::string& topic) = 0;

  // Makes a Poll in progress (or the next one) return CANCELLED. Thread-safe.
  virtual void Wakeup() = 0;
  // A member commits (enable.auto.commit), hears OnPartitionsRevoked and leaves its group
  // (member epoch -1; -2 for a static member); then fetches in flight end. Idempotent; the
  // destructor calls it.
  virtual void Close() = 0;

  virtual const ConsumerConfig& config() const = 0;
};

}  // namespace strand::client
