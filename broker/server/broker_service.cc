#include "broker/server/broker_service.h"

#include <atomic>
#include <chrono>

#include <fmt/format.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "broker/server/fetch_response_wire.h"
#include "common/clock.h"
#include "common/error_proto.h"
#include "common/internal_topics.h"
#include "common/logging.h"
#include "controller/state/metadata_image.h"
#include "record/record_batch.h"
#include "storage/log.h"

namespace strand::broker {
namespace {

using controller::MetadataImage;
using controller::TopicImage;

constexpr int32_t kDefaultPartitionMaxBytes = 1 << 20;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void SetHint(v1::LeaderHint* hint, NodeId leader, LeaderEpoch epoch) {
  hint->set_leader_id(leader.value());
  hint->set_leader_epoch(epoch.value());
}

bool IsInternal(const std::string& topic) { return topic.rfind("__", 0) == 0; }

}  // namespace

BrokerServiceImpl::BrokerServiceImpl(BrokerServiceOptions options, MetadataFollower& metadata,
                                     ReplicaManager& replicas, FetchPurgatory& purgatory,
                                     ProducerIdSource& producer_ids, BrokerProbe& probe)
    : options_(std::move(options)),
      metadata_(metadata),
      replicas_(replicas),
      purgatory_(purgatory),
      producer_ids_(producer_ids),
      probe_(probe) {}

grpc::Status BrokerServiceImpl::OnPlane(unsigned plane, const char* what) const {
  if (options_.planes & plane) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      fmt::format("{} is not served on listener {} ({} plane): {}", what, options_.listener,
                  PlaneNames(options_.planes),
                  plane == kReplicationPlane ? "followers fetch on the inter-broker listener"
                                             : "clients use a client listener"));
}

KafkaError BrokerServiceImpl::MissingPartitionError(const storage::TopicPartition& tp,
                                                    NodeId* leader, int32_t* leader_epoch,
                                                    std::string* message) const {
  const KafkaError e = metadata_.Read([&](const MetadataImage& image) {
    const TopicImage* t = image.topic(tp.topic);
    if (t == nullptr || tp.partition < 0 ||
        tp.partition >= static_cast<int32_t>(t->partitions.size())) {
      return KafkaError::kUnknownTopicOrPartition;
    }
    *leader = t->partitions[tp.partition].leader;
    *leader_epoch = t->partitions[tp.partition].leader_epoch.value();
    return KafkaError::kNotLeaderOrFollower;
  });
  if (e == KafkaError::kUnknownTopicOrPartition) {
    *message = fmt::format("{}-{} does not exist", tp.topic, tp.partition);
    return e;
  }
  if (std::optional<std::string> why = replicas_.OfflineReason(tp)) {
    *message = fmt::format("the replica of {}-{} on broker {} is offline: {}", tp.topic,
                           tp.partition, options_.self, *why);
    return KafkaError::kKafkaStorageError;
  }
  *message = fmt::format("broker {} does not host {}-{}", options_.self, tp.topic, tp.partition);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Metadata

grpc::Status BrokerServiceImpl::Metadata(grpc::ServerContext*, const v1::MetadataRequest* req,
                                         v1::MetadataResponse* resp) {
  if (grpc::Status s = OnPlane(kClientPlane, "Metadata"); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  resp->set_cluster_id(options_.cluster_id);
  const bool controllers_silent = replicas_.ControllersSilent();  // else nothing is stranded
  metadata_.Read([&](const MetadataImage& image) {
    resp->set_controller_id(image.active_controller().value());
    resp->set_metadata_offset(image.offset());
    for (const auto& [id, b] : image.brokers()) {
      // As Kafka does: each broker's endpoint on the listener this request came in on.
      const controller::Listener* l = b.FindListener(options_.listener);
      if (b.fenced || l == nullptr) continue;
      auto* e = resp->add_brokers();
      e->set_id(id.value());
      e->set_host(l->host);
      e->set_port(l->port);
      e->set_rack(b.rack);
    }
    auto add_topic = [&](const TopicImage& t) {
      auto* tm = resp->add_topics();
      tm->set_name(t.name);
      tm->set_topic_id(t.id.ToString());
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        const controller::PartitionState& ps = t.partitions[i];
        auto* pm = tm->add_partitions();
        pm->set_partition(static_cast<int32_t>(i));
        pm->set_leader(ps.leader.value());
        pm->set_leader_epoch(ps.leader_epoch.value());
        // A leadership this broker gave up while cut off (Partition::CheckStranded): its
        // metadata may be stale, so it names no leader and the client asks another broker.
        if (ps.leader == options_.self && controllers_silent &&
            replicas_.Stranded(storage::TopicPartition{t.name, static_cast<int32_t>(i)})) {
          pm->set_leader(-1);
          SetKafkaErrorIfAny(pm->mutable_error(), KafkaError::kLeaderNotAvailable,
                             "the leader is cut off from the controllers; ask another broker");
        }
        for (NodeId r : ps.replicas) {
          pm->add_replicas(r.value());
          if (!image.BrokerIsActive(r)) pm->add_offline_replicas(r.value());
        }
        for (NodeId r : ps.isr) pm->add_isr(r.value());
        if (ps.leader == kNoNode) {
          SetKafkaErrorIfAny(pm->mutable_error(), KafkaError::kLeaderNotAvailable,
                             "no in-sync replica is alive");
        }
      }
    };
    if (req->topics().empty()) {
      for (const auto& [name, t] : image.topics()) {
        if (IsInternal(name) && !req->include_internal()) continue;
        add_topic(t);
      }
      return;
    }
    for (const std::string& name : req->topics()) {
      if (const TopicImage* t = image.topic(name)) {
        add_topic(*t);
      } else {
        auto* tm = resp->add_topics();
        tm->set_name(name);
        SetKafkaErrorIfAny(tm->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                           fmt::format("topic '{}' does not exist", name));
      }
    }
  });
  probe_.Request("Metadata", "NONE", SecondsSince(start));
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------------
// Produce

namespace {

// Refuses, before the records are copied for the append, a partition's records that could never
// be appended: more bytes than a segment holds, or one batch larger than max.message.bytes.
KafkaError OversizeRecordsError(const std::string& records, const storage::LogConfig& config,
                                std::string* message) {
  if (static_cast<int64_t>(records.size()) > config.segment_bytes) {
    *message = fmt::format("{} bytes of records exceed segment.bytes ({})", records.size(),
                           config.segment_bytes);
    return KafkaError::kRecordListTooLarge;
  }
  if (records.size() >= record::batch_layout::kLogOverhead) {
    const bool single_batch =
        record::BatchSizeAt(reinterpret_cast<const uint8_t*>(records.data())) ==
        static_cast<int64_t>(records.size());
    if (single_batch && static_cast<int64_t>(records.size()) > config.max_message_bytes) {
      *message = fmt::format("a batch of {} bytes exceeds max.message.bytes ({})", records.size(),
                             config.max_message_bytes);
      return KafkaError::kMessageTooLarge;
    }
  }
  return KafkaError::kNone;
}

// One produce request in flight: answered when every partition has its outcome.
struct ProduceCall {
  grpc::ServerUnaryReactor* reactor;
  BrokerProbe* probe;
  std::chrono::steady_clock::time_point start;
  std::atomic<int> pending{1};
  std::atomic<int16_t> first_error{0};

  void Error(KafkaError e) {
    int16_t none = 0;
    first_error.compare_exchange_strong(none, static_cast<int16_t>(e));
  }
  void Done() {
    if (pending.fetch_sub(1) != 1) return;
    const auto e = static_cast<KafkaError>(first_error.load());
    probe->Request("Produce", KafkaErrorName(e), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  }
};

}  // namespace

grpc::ServerUnaryReactor* BrokerServiceImpl::Produce(grpc::CallbackServerContext* context,
                                                     const v1::ProduceRequest* req,
                                                     v1::ProduceResponse* resp) {
  auto call = std::make_shared<ProduceCall>();
  call->reactor = context->DefaultReactor();
  if (grpc::Status s = OnPlane(kClientPlane, "Produce"); !s.ok()) {
    call->reactor->Finish(s);
    return call->reactor;
  }
  call->probe = &probe_;
  call->start = std::chrono::steady_clock::now();
  const int32_t acks = req->acks();
  const int64_t deadline =
      NowMs() + (req->timeout_ms() > 0 ? req->timeout_ms() : options_.produce_timeout_ms);

  // First the whole response skeleton (so that completions, which may run on other threads,
  // only ever fill in their own slot), then the appends.
  struct Work {
    std::shared_ptr<Partition> partition;
    v1::PartitionProduceResponse* slot;
    const std::string* records;
  };
  std::vector<Work> work;
  for (const v1::TopicProduceData& t : req->topics()) {
    auto* tr = resp->add_topics();
    tr->set_topic(t.topic());
    for (const v1::PartitionProduceData& pd : t.partitions()) {
      auto* pr = tr->add_partitions();
      pr->set_partition(pd.partition());
      pr->set_base_offset(-1);
      pr->set_log_append_time_ms(-1);
      pr->set_log_start_offset(-1);
      KafkaError error = KafkaError::kNone;
      std::string message;
      std::shared_ptr<Partition> p;
      if (acks != 0 && acks != 1 && acks != -1) {
        error = KafkaError::kInvalidRequiredAcks;
        message = fmt::format("acks must be 0, 1 or -1 (all), not {}", acks);
      } else if (req->timeout_ms() < 0) {
        error = KafkaError::kInvalidRequest;
        message = fmt::format("timeout_ms must not be negative (got {})", req->timeout_ms());
      } else if (!req->transactional_id().empty()) {
        error = KafkaError::kInvalidRequest;
        message = "transactional produce is not supported yet";
      } else if (IsReservedInternalTopic(t.topic())) {
        // As Kafka: only the broker's own coordinators write there (through Partition, not this
        // call).
        error = KafkaError::kInvalidTopicException;
        message = fmt::format("cannot produce to internal topic '{}'", t.topic());
      } else {
        const storage::TopicPartition tp{t.topic(), pd.partition()};
        p = replicas_.Get(tp);
        if (p == nullptr) {
          NodeId leader = kNoNode;
          int32_t epoch = -1;
          error = MissingPartitionError(tp, &leader, &epoch, &message);
          SetHint(pr->mutable_current_leader(), leader, LeaderEpoch(epoch));
        } else {
          error = OversizeRecordsError(pd.records(), p->log()->config(), &message);
        }
      }
      if (error != KafkaError::kNone) {
        SetKafkaErrorIfAny(pr->mutable_error(), error, message);
        call->Error(error);
        continue;
      }
      work.push_back(Work{std::move(p), pr, &pd.records()});
    }
  }
  call->pending.fetch_add(static_cast<int>(work.size()));
  for (Work& w : work) {
    // The log rewrites offsets and (for LogAppendTime) timestamps in place: give it a copy.
    std::string records = *w.records;
    std::span<uint8_t> span(reinterpret_cast<uint8_t*>(records.data()), records.size());
    const int64_t bytes = static_cast<int64_t>(records.size());
    auto* slot = w.slot;
    BrokerProbe* probe = &probe_;
    w.partition->Produce(
        span, static_cast<int16_t>(acks), deadline,
        [call, slot, bytes, probe, topic = w.partition->tp().topic](ProduceOutcome o) {
          if (o.held) probe->ProduceHeld();
          if (o.committed_us > 0 && o.appended_us > 0) {
            // Partition stamps come from the same monotonic clock (steady_clock).
            const auto us = [](int64_t d) { return static_cast<double>(d) / 1e6; };
            const int64_t start_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                         call->start.time_since_epoch())
                                         .count();
            // Committed implies durable on the leader, stamped in the same pass or earlier.
            probe->ProduceStages(us(o.appended_us - start_us),
                                 us(o.leader_durable_us - o.appended_us),
                                 us(o.committed_us - o.appended_us),
                                 us(SystemClock::Instance().NowMonotonicUs() - o.committed_us));
          }
          if (o.error != KafkaError::kNone) {
            SetKafkaErrorIfAny(slot->mutable_error(), o.error, o.message);
            if (o.error == KafkaError::kNotLeaderOrFollower ||
                o.error == KafkaError::kFencedLeaderEpoch) {
              SetHint(slot->mutable_current_leader(), o.leader, o.leader_epoch);
            }
            slot->set_log_start_offset(o.log_start_offset.value());
            call->Error(o.error);
          } else {
            slot->set_base_offset(o.base_offset.value());
            slot->set_log_append_time_ms(o.log_append_time_ms);
            slot->set_log_start_offset(o.log_start_offset.value());
            probe->BytesIn(topic, bytes, o.last_offset.value() - o.base_offset.value() + 1);
          }
          call->Done();
        });
  }
  call->Done();
  return call->reactor;
}

// ---------------------------------------------------------------------------------------------
// Fetch

namespace {

// Which size or wait of a fetch is negative (a message naming it), or "".
std::string NegativeFetchField(const v1::FetchRequest& req) {
  auto bad = [](std::string_view field, int64_t value) {
    return fmt::format("{} must not be negative (got {})", field, value);
  };
  if (req.max_bytes() < 0) return bad("max_bytes", req.max_bytes());
  if (req.min_bytes() < 0) return bad("min_bytes", req.min_bytes());
  if (req.max_wait_ms() < 0) return bad("max_wait_ms", req.max_wait_ms());
  for (const auto& t : req.topics()) {
    for (const auto& fp : t.partitions()) {
      if (fp.partition_max_bytes() < 0) {
        return bad(fmt::format("partition_max_bytes of {}-{}", t.topic(), fp.partition()),
                   fp.partition_max_bytes());
      }
    }
  }
  return "";
}

}  // namespace

struct BrokerServiceImpl::FetchCall {
  grpc::ServerUnaryReactor* reactor = nullptr;
  v1::FetchRequest request;
  // The answer: the message without records, and each partition's records (one buffer per
  // partition of `response`, in order), written to `wire` by Answer.
  v1::FetchResponse response;
  std::vector<ByteBuffer> records;
  grpc::ByteBuffer* wire = nullptr;
  std::chrono::steady_clock::time_point start;
  bool follower = false;
  int64_t max_bytes = 0;
  int64_t max_wait_ms = 0;
  // Set by TryFetch when the leader throttle held a replica back: how long until the quota has
  // bytes again (the long poll retries then rather than at max_wait_ms).
  int64_t throttle_delay_ms = -1;
};

void BrokerServiceImpl::Answer(FetchCall& call) {
  SerializeFetchResponse(call.response, call.records, call.wire);
  call.reactor->Finish(grpc::Status::OK);
}

grpc::ServerUnaryReactor* BrokerServiceImpl::Fetch(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  auto call = std::make_shared<FetchCall>();
  call->reactor = context->DefaultReactor();
  call->wire = response;
  call->start = std::chrono::steady_clock::now();
  {
    grpc::ByteBuffer bytes(*request);  // shares the slices (ProtoBufferReader wants non-const)
    grpc::ProtoBufferReader reader(&bytes);
    if (!reader.status().ok() || !call->request.ParseFromZeroCopyStream(&reader)) {
      call->reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                         "the request does not parse as a FetchRequest"));
      return call->reactor;
    }
  }
  const v1::FetchRequest* req = &call->request;
  v1::FetchResponse* resp = &call->response;
  call->follower = req->replica_id() >= 0;
  if (grpc::Status s = OnPlane(call->follower ? kReplicationPlane : kClientPlane,
                               call->follower ? "a follower fetch" : "a consumer fetch");
      !s.ok()) {
    call->reactor->Finish(s);
    return call->reactor;
  }
  if (std::string bad = NegativeFetchField(*req); !bad.empty()) {
    SetKafkaErrorIfAny(resp->mutable_error(), KafkaError::kInvalidRequest, bad);
    probe_.Request(call->follower ? "FetchFollower" : "FetchConsumer", "INVALID_REQUEST",
                   SecondsSince(call->start));
    Answer(*call);
    return call->reactor;
  }
  call->max_bytes = req->max_bytes() > 0
                        ? std::min<int64_t>(req->max_bytes(), options_.fetch_max_bytes)
                        : options_.fetch_max_bytes;
  call->max_wait_ms = std::clamp<int64_t>(req->max_wait_ms(), 0, options_.fetch_max_wait_ms);
  if (call->follower) {
    // Only the registered process of a broker may fetch as that broker's follower: its fetches
    // move the high watermark and answer acks=all producers. On TLS its certificate must name
    // that broker; an earlier incarnation, or anyone else claiming the broker's id, is refused.
    if (options_.guard) {
      if (grpc::Status s = options_.guard->CheckNode(
              *context, req->replica_id(),
              [&] { return fmt::format("a follower fetch as broker {}", req->replica_id()); });
          !s.ok()) {
        probe_.Request("FetchFollower", "PERMISSION_DENIED", SecondsSince(call->start));
        call->reactor->Finish(s);
        return call->reactor;
      }
    }
    if (std::string why = FollowerIdentityError(*req); !why.empty()) {
      SetKafkaErrorIfAny(resp->mutable_error(), KafkaError::kStaleBrokerEpoch, why);
      probe_.Request("FetchFollower", "STALE_BROKER_EPOCH", SecondsSince(call->start));
      Answer(*call);
      return call->reactor;
    }
  }
  // Followers' long polls (a few per broker) are not limited: answering them at once would only
  // make their fetchers spin.
  const bool no_room = !call->follower && purgatory_.waiting() >= options_.fetch_waiting_max;
  if (no_room) probe_.FetchNotParked();
  if (TryFetch(*call, call->max_wait_ms == 0 || no_room)) return call->reactor;
  std::vector<storage::TopicPartition> tps;
  for (const auto& t : req->topics()) {
    for (const auto& fp : t.partitions()) tps.push_back({t.topic(), fp.partition()});
  }
  const int64_t wait_ms = call->throttle_delay_ms >= 0
                              ? std::min(call->max_wait_ms, call->throttle_delay_ms)
                              : call->max_wait_ms;
  // Followers' fetches are retried by whoever reports progress (the producer's thread): they are
  // few, on the acks=all path, and small to read.
  purgatory_.Watch(
      tps, NowMs() + wait_ms, [this, call](bool final) { return TryFetch(*call, final); },
      /*inline_retry=*/call->follower);
  return call->reactor;
}

std::string BrokerServiceImpl::FollowerIdentityError(const v1::FetchRequest& req) const {
  const NodeId replica(req.replica_id());
  if (replica == options_.self) return "a broker does not fetch from itself";
  return metadata_.Read([&](const MetadataImage& image) -> std::string {
    const controller::BrokerRegistration* b = image.broker(replica);
    if (b == nullptr) return fmt::format("broker {} is not registered", replica);
    if (req.replica_epoch() != b->epoch) {
      return fmt::format("broker {} epoch {} is not its registration's ({})", replica,
                         req.replica_epoch(), b->epoch);
    }
    if (req.replica_incarnation() != b->incarnation_id) {
      return fmt::format(
          "the fetch does not come from broker {}'s registered process (its "
          "incarnation id does not match)",
          replica);
    }
    return "";
  });
}

bool BrokerServiceImpl::TryFetch(FetchCall& call, bool final) {
  const v1::FetchRequest& req = call.request;
  v1::FetchResponse& resp = call.response;
  resp.Clear();
  call.records.clear();
  int64_t total = 0;
  std::map<std::string, int64_t> out_by_topic;  // consumers only: strand_broker_topic_bytes_total
  bool errors = false;
  bool diverged = false;
  const int64_t now = NowMs();
  const NodeId replica(req.replica_id());
  const bool rack_aware = !call.follower && !req.rack_id().empty();
  ReplicationQuota& quota = replicas_.leader_quota();
  int64_t throttled_bytes = 0;  // of throttled partitions, counted once the answer goes
  bool held_back = false;
  call.throttle_delay_ms = -1;
  for (const v1::FetchTopic& t : req.topics()) {
    auto* tr = resp.add_topics();
    tr->set_topic(t.topic());
    for (const v1::FetchPartition& fp : t.partitions()) {
      auto* pr = tr->add_partitions();
      const size_t records_at = call.records.size();
      call.records.emplace_back();
      pr->set_partition(fp.partition());
      pr->set_high_watermark(-1);
      pr->set_last_stable_offset(-1);
      pr->set_log_start_offset(-1);
      pr->set_preferred_read_replica(-1);
      const storage::TopicPartition tp{t.topic(), fp.partition()};
      std::shared_ptr<Partition> p = replicas_.Get(tp);
      if (p == nullptr) {
        NodeId leader = kNoNode;
        int32_t epoch = -1;
        std::string message;
        const KafkaError e = MissingPartitionError(tp, &leader, &epoch, &message);
        SetKafkaErrorIfAny(pr->mutable_error(), e, message);
        SetHint(pr->mutable_current_leader(), leader, LeaderEpoch(epoch));
        errors = true;
        continue;
      }
      const int64_t partition_max =
          fp.partition_max_bytes() > 0 ? fp.partition_max_bytes() : kDefaultPartitionMaxBytes;
      const int64_t room = call.max_bytes - total;
      const int64_t limit = std::min(partition_max, room);
      ReadOutcome o;
      bool throttled = false;
      if (call.follower) {
        throttled = quota.IsThrottled(tp);
        int64_t follower_limit = limit;
        if (throttled && quota.HoldsBack(tp, p->InIsr(replica))) {
          follower_limit = 0;  // bookkeeping only: the follower's position still counts
          held_back = true;
          call.throttle_delay_ms = quota.DelayMs();
        }
        o = p->FollowerFetch(replica, Offset(fp.fetch_offset()),
                             LeaderEpoch(fp.last_fetched_epoch()), Offset(fp.durable_offset()),
                             LeaderEpoch(fp.current_leader_epoch()), follower_limit, now);
      } else {
        if (rack_aware && p->role() == PartitionRole::kLeader) {
          // KIP-392: point the consumer at an in-sync replica in its own rack.
          const NodeId preferred = metadata_.Read([&](const MetadataImage& image) {
            auto rack_of = [&](NodeId id) {
              const controller::BrokerRegistration* b = image.broker(id);
              return b == nullptr ? std::string() : b->rack;
            };
            if (rack_of(options_.self) == req.rack_id()) return options_.self;
            for (NodeId r : p->isr()) {
              if (image.BrokerIsActive(r) && rack_of(r) == req.rack_id()) return r;
            }
            return options_.self;
          });
          if (preferred != options_.self) {
            pr->set_preferred_read_replica(preferred.value());
            pr->set_high_watermark(p->high_watermark().value());
            pr->set_last_stable_offset(p->high_watermark().value());
            pr->set_log_start_offset(p->log()->LogStartOffset().value());
            errors = true;  // answer at once: the consumer moves to that replica
            continue;
          }
        }
        if (limit <= 0 && total > 0) {
          pr->set_high_watermark(p->high_watermark().value());
          pr->set_last_stable_offset(p->high_watermark().value());
          pr->set_log_start_offset(p->log()->LogStartOffset().value());
          continue;
        }
        o = p->ConsumerRead(Offset(fp.fetch_offset()), LeaderEpoch(fp.current_leader_epoch()),
                            std::max<int64_t>(limit, 1), rack_aware);
      }
      // A failed read or a divergence reads nothing (o.data.records is empty).
      if (o.error != KafkaError::kNone) {
        SetKafkaErrorIfAny(pr->mutable_error(), o.error, o.message);
        SetHint(pr->mutable_current_leader(), o.leader, o.leader_epoch);
        pr->set_log_start_offset(o.data.log_start_offset.value());
        pr->set_high_watermark(o.data.high_watermark.value());
        errors = true;
        continue;
      }
      pr->set_high_watermark(o.data.high_watermark.value());
      pr->set_last_stable_offset(o.data.high_watermark.value());
      pr->set_log_start_offset(o.data.log_start_offset.value());
      if (o.divergence) {
        pr->mutable_diverging_epoch()->set_epoch(o.divergence->epoch.value());
        pr->mutable_diverging_epoch()->set_end_offset(o.divergence->end_offset.value());
        diverged = true;
        continue;
      }
      // Read straight from the page cache into this buffer, which goes on the wire as it is.
      call.records[records_at] = std::move(o.data.records);
      if (const auto bytes = static_cast<int64_t>(call.records[records_at].size()); bytes > 0) {
        total += bytes;
        if (!call.follower) out_by_topic[p->tp().topic] += bytes;
        if (throttled) throttled_bytes += bytes;
      }
    }
  }
  const int32_t min_bytes = std::max(req.min_bytes(), 1);
  if (!(final || errors || diverged || total >= min_bytes)) return false;
  quota.Record(throttled_bytes);
  if (held_back) quota.NoteHeldBack();
  const std::string_view error = errors ? "PARTITION_ERRORS" : "NONE";
  probe_.Request(call.follower ? "FetchFollower" : "FetchConsumer", error,
                 SecondsSince(call.start));
  for (const auto& [topic, bytes] : out_by_topic) probe_.BytesOut(topic, bytes);
  Answer(call);
  return true;
}

// ---------------------------------------------------------------------------------------------
// ListOffsets

grpc::Status BrokerServiceImpl::ListOffsets(grpc::ServerContext*, const v1::ListOffsetsRequest* req,
                                            v1::ListOffsetsResponse* resp) {
  if (grpc::Status s = OnPlane(kClientPlane, "ListOffsets"); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  bool errors = false;
  for (const v1::ListOffsetsTopic& t : req->topics()) {
    auto* tr = resp->add_topics();
    tr->set_topic(t.topic());
    for (const v1::ListOffsetsPartition& lp : t.partitions()) {
      auto* pr = tr->add_partitions();
      pr->set_partition(lp.partition());
      pr->set_timestamp(-1);
      pr->set_offset(-1);
      pr->set_leader_epoch(-1);
      const storage::TopicPartition tp{t.topic(), lp.partition()};
      auto fail = [&](KafkaError e, std::string message) {
        SetKafkaErrorIfAny(pr->mutable_error(), e, message);
        errors = true;
      };
      std::shared_ptr<Partition> p = replicas_.Get(tp);
      if (p == nullptr) {
        NodeId leader = kNoNode;
        int32_t epoch = -1;
        std::string message;
        const KafkaError e = MissingPartitionError(tp, &leader, &epoch, &message);
        fail(e, message);
        continue;
      }
      const LeaderEpoch epoch = p->leader_epoch();
      if (p->role() != PartitionRole::kLeader) {
        fail(KafkaError::kNotLeaderOrFollower,
             fmt::format("broker {} does not lead {}-{}", options_.self, tp.topic, tp.partition));
        continue;
      }
      if (lp.current_leader_epoch() >= 0 && LeaderEpoch(lp.current_leader_epoch()) != epoch) {
        fail(LeaderEpoch(lp.current_leader_epoch()) < epoch ? KafkaError::kFencedLeaderEpoch
                                                            : KafkaError::kUnknownLeaderEpoch,
             fmt::format("leader epoch {} against {}", lp.current_leader_epoch(), epoch));
        continue;
      }
      const auto log = p->log();
      const Offset hw = p->high_watermark();
      pr->set_leader_epoch(epoch.value());
      if (lp.timestamp() == storage::Log::kLatestTimestamp) {
        pr->set_offset(hw.value());
        continue;
      }
      if (lp.timestamp() == storage::Log::kEarliestTimestamp) {
        pr->set_offset(log->LogStartOffset().value());
        continue;
      }
      if (lp.timestamp() < 0 && lp.timestamp() != storage::Log::kMaxTimestamp) {
        fail(KafkaError::kInvalidRequest,
             fmt::format("timestamp {}: use -1 (latest), -2 (earliest), -3 (max timestamp) or a "
                         "time in ms",
                         lp.timestamp()));
        continue;
      }
      auto found = log->OffsetForTimestamp(lp.timestamp(), hw);
      if (!found.ok()) {
        fail(StorageError(found.status()), std::string(found.status().message()));
        continue;
      }
      if (*found) {
        pr->set_timestamp((*found)->timestamp);
        pr->set_offset((*found)->offset.value());
        if ((*found)->leader_epoch != kNoLeaderEpoch) {
          pr->set_leader_epoch((*found)->leader_epoch.value());
        }
      }
    }
  }
  probe_.Request("ListOffsets", errors ? "PARTITION_ERRORS" : "NONE", SecondsSince(start));
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------------
// InitProducerId

grpc::Status BrokerServiceImpl::InitProducerId(grpc::ServerContext*,
                                               const v1::InitProducerIdRequest* req,
                                               v1::InitProducerIdResponse* resp) {
  if (grpc::Status s = OnPlane(kClientPlane, "InitProducerId"); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  resp->set_producer_id(-1);
  resp->set_producer_epoch(-1);
  KafkaError error = KafkaError::kNone;
  if (!req->transactional_id().empty()) {
    error = KafkaError::kInvalidRequest;
    SetKafkaErrorIfAny(resp->mutable_error(), error,
                       "transactional producers are not supported yet");
  } else {
    // An idempotent producer always starts afresh with a new id (epoch 0): its sequence
    // numbers then start at 0 on every partition.
    auto id = producer_ids_.Next();
    if (id.ok()) {
      resp->set_producer_id(id->value());
      resp->set_producer_epoch(0);
    } else {
      error = ErrcOf<KafkaError>(id.status()).value_or(KafkaError::kCoordinatorNotAvailable);
      SetKafkaErrorIfAny(resp->mutable_error(), error,
                         fmt::format("no producer id available: {}", id.status().ToString()));
    }
  }
  probe_.Request("InitProducerId", KafkaErrorName(error), SecondsSince(start));
  return grpc::Status::OK;
}

}  // namespace strand::broker
