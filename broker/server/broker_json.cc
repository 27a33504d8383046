// The JSON-friendly calls: ProduceRecords and FetchRecords. They build or decode RecordBatch v2
// bytes and go through the same Produce / Fetch / ListOffsets calls as every client, on the
// partition's leader — this broker or another — so grpcurl users can talk to any broker.
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "broker/server/broker_service.h"
#include "common/clock.h"
#include "common/error_proto.h"
#include "common/grpc_channel.h"
#include "common/internal_topics.h"
#include "common/murmur2.h"
#include "controller/state/metadata_image.h"
#include "record/record_batch_builder.h"
#include "record/record_batch_reader.h"

namespace strand::broker {
namespace {

using controller::MetadataImage;

constexpr int32_t kDefaultMaxRecords = 100;
constexpr int32_t kMaxRecordsLimit = 10'000;
constexpr int64_t kForwardTimeoutMs = 35'000;
constexpr size_t kDecompressedMax = 64 << 20;

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

KafkaError CallError(const grpc::Status& s) {
  return KafkaErrorOfCall(static_cast<absl::StatusCode>(s.error_code())).error;
}

std::string GrpcFailure(const grpc::Status& s) {
  return fmt::format("{} ({})", s.error_message(), static_cast<int>(s.error_code()));
}

}  // namespace

std::shared_ptr<v1::BrokerService::Stub> BrokerServiceImpl::StubFor(NodeId id) {
  auto address = replicas_.AddressOf(id, options_.listener);
  if (!address) return nullptr;
  std::lock_guard lock(stubs_mu_);
  auto& stub = stubs_[*address];
  if (!stub) {
    stub = v1::BrokerService::NewStub(grpc::CreateCustomChannel(
        *address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
        InternalChannelArguments(10'000)));
  }
  return stub;
}

KafkaError BrokerServiceImpl::LeaderOf(const std::string& topic, int32_t partition,
                                       NodeId* leader, int32_t* partitions) const {
  return metadata_.Read([&](const MetadataImage& image) {
    const controller::TopicImage* t = image.topic(topic);
    if (t == nullptr) return KafkaError::kUnknownTopicOrPartition;
    *partitions = static_cast<int32_t>(t->partitions.size());
    if (partition < 0) return KafkaError::kNone;
    if (partition >= *partitions) return KafkaError::kUnknownTopicOrPartition;
    *leader = t->partitions[partition].leader;
    return *leader == kNoNode ? KafkaError::kLeaderNotAvailable : KafkaError::kNone;
  });
}

grpc::ServerUnaryReactor* BrokerServiceImpl::ProduceRecords(grpc::CallbackServerContext* context,
                                                            const v1::ProduceRecordsRequest* req,
                                                            v1::ProduceRecordsResponse* resp) {
  auto* reactor = context->DefaultReactor();
  if (grpc::Status s = OnPlane(kClientPlane, "ProduceRecords"); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  const auto start = std::chrono::steady_clock::now();
  const int32_t acks = req->acks() == 0 ? -1 : req->acks();
  for (int i = 0; i < req->records_size(); ++i) {
    auto* r = resp->add_results();
    r->set_partition(-1);
    r->set_offset(-1);
  }
  auto fail_all = [&](KafkaError e, const std::string& message) {
    for (auto& r : *resp->mutable_results()) SetKafkaErrorIfAny(r.mutable_error(), e, message);
    probe_.Request("ProduceRecords", KafkaErrorName(e),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  };
  if (acks != 1 && acks != -1) {
    return fail_all(KafkaError::kInvalidRequiredAcks, "acks must be 1 or -1 (all) here");
  }
  if (IsReservedInternalTopic(req->topic())) {
    return fail_all(KafkaError::kInvalidTopicException,
                    fmt::format("cannot produce to internal topic '{}'", req->topic()));
  }
  NodeId unused = kNoNode;
  int32_t partitions = 0;
  if (KafkaError e = LeaderOf(req->topic(), -1, &unused, &partitions); e != KafkaError::kNone) {
    return fail_all(e, fmt::format("topic '{}' does not exist", req->topic()));
  }

  // Group the records by partition, in request order.
  std::map<int32_t, std::vector<int>> by_partition;
  const int32_t sticky = static_cast<int32_t>(round_robin_.fetch_add(1) % partitions);
  for (int i = 0; i < req->records_size(); ++i) {
    const v1::JsonRecord& rec = req->records(i);
    int32_t p;
    if (rec.partition_set() || rec.partition() > 0) {
      p = rec.partition();
    } else if (rec.key_case() == v1::JsonRecord::kKeyString) {
      p = PartitionForKey(rec.key_string(), partitions);
    } else if (rec.key_case() == v1::JsonRecord::kKeyBytes) {
      p = PartitionForKey(rec.key_bytes(), partitions);
    } else {
      p = sticky;  // keyless records of one request stay together, as Kafka's sticky partitioner
    }
    resp->mutable_results(i)->set_partition(p);
    if (p < 0 || p >= partitions) {
      SetKafkaErrorIfAny(
          resp->mutable_results(i)->mutable_error(), KafkaError::kUnknownTopicOrPartition,
          fmt::format("topic '{}' has partitions 0-{}", req->topic(), partitions - 1));
      continue;
    }
    by_partition[p].push_back(i);
  }

  // One forward per partition, all in flight at once; the last to finish answers the caller.
  struct Forward {
    std::vector<int> indexes;
    NodeId leader = kNoNode;
    std::shared_ptr<v1::BrokerService::Stub> stub;
    grpc::ClientContext context;
    v1::ProduceRequest request;
    v1::ProduceResponse response;
  };
  struct Call {
    std::mutex mu;  // guards the response while forwards finish
    KafkaError first_error = KafkaError::kNone;
    std::vector<std::unique_ptr<Forward>> forwards;
    std::atomic<size_t> pending{0};
  };
  auto call = std::make_shared<Call>();
  auto fail = [resp, call](const std::vector<int>& indexes, KafkaError e,
                           const std::string& message) {
    for (int i : indexes) SetKafkaErrorIfAny(resp->mutable_results(i)->mutable_error(), e, message);
    if (call->first_error == KafkaError::kNone) call->first_error = e;
  };
  // The caller's deadline bounds every forward (and never more than kForwardTimeoutMs).
  const auto deadline = std::min(context->deadline(),
                                 std::chrono::system_clock::now() +
                                     std::chrono::milliseconds(kForwardTimeoutMs));
  for (const auto& [p, indexes] : by_partition) {
    record::RecordBatchBuilder builder(record::BatchOptions{});
    const int64_t now = SystemClock::Instance().NowWallMs();
    for (int i : indexes) {
      const v1::JsonRecord& rec = req->records(i);
      std::optional<std::string_view> key, value;
      if (rec.key_case() == v1::JsonRecord::kKeyString) key = rec.key_string();
      if (rec.key_case() == v1::JsonRecord::kKeyBytes) key = rec.key_bytes();
      if (rec.value_case() == v1::JsonRecord::kValueString) value = rec.value_string();
      if (rec.value_case() == v1::JsonRecord::kValueBytes) value = rec.value_bytes();
      std::vector<record::RecordHeaderView> headers;
      for (const v1::RecordHeader& h : rec.headers()) {
        record::RecordHeaderView v{h.key(), std::nullopt};
        if (h.value_case() == v1::RecordHeader::kValueString) v.value = h.value_string();
        if (h.value_case() == v1::RecordHeader::kValueBytes) v.value = h.value_bytes();
        headers.push_back(v);
      }
      builder.Append(rec.timestamp_ms() > 0 ? rec.timestamp_ms() : now, key, value, headers);
    }
    auto batch = builder.Build();
    if (!batch.ok()) {
      fail(indexes, KafkaError::kInvalidRecord, std::string(batch.status().message()));
      continue;
    }
    auto f = std::make_unique<Forward>();
    f->indexes = indexes;
    if (KafkaError e = LeaderOf(req->topic(), p, &f->leader, &partitions); e != KafkaError::kNone) {
      fail(indexes, e, fmt::format("{}-{} has no leader", req->topic(), p));
      continue;
    }
    f->stub = StubFor(f->leader);
    if (!f->stub) {
      fail(indexes, KafkaError::kLeaderNotAvailable, fmt::format("leader {} has no address", f->leader));
      continue;
    }
    f->request.set_acks(acks);
    auto* pt = f->request.add_topics();
    pt->set_topic(req->topic());
    auto* pp = pt->add_partitions();
    pp->set_partition(p);
    pp->set_records(reinterpret_cast<const char*>(batch->data()), batch->size());
    f->context.set_wait_for_ready(true);
    f->context.set_deadline(deadline);
    call->forwards.push_back(std::move(f));
  }
  auto finish = [this, reactor, call, start] {
    probe_.Request("ProduceRecords", KafkaErrorName(call->first_error),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reactor->Finish(grpc::Status::OK);
  };
  if (call->forwards.empty()) {
    finish();
    return reactor;
  }
  call->pending = call->forwards.size();
  for (auto& f : call->forwards) {
    Forward* fw = f.get();
    fw->stub->async()->Produce(
        &fw->context, &fw->request, &fw->response,
        [resp, call, fw, fail, finish](grpc::Status s) {
          {
            std::lock_guard lock(call->mu);
            if (!s.ok()) {
              fail(fw->indexes, CallError(s),
                   fmt::format("leader {} did not answer: {}", fw->leader, GrpcFailure(s)));
            } else if (fw->response.topics_size() != 1 ||
                       fw->response.topics(0).partitions_size() != 1) {
              fail(fw->indexes, KafkaError::kUnknownServerError, "malformed produce response");
            } else if (const v1::PartitionProduceResponse& pr = fw->response.topics(0).partitions(0);
                       pr.error().code() != 0) {
              fail(fw->indexes, static_cast<KafkaError>(pr.error().code()), pr.error().message());
            } else {
              for (size_t k = 0; k < fw->indexes.size(); ++k) {
                resp->mutable_results(fw->indexes[k])
                    ->set_offset(pr.base_offset() + static_cast<int64_t>(k));
              }
            }
          }
          if (call->pending.fetch_sub(1) == 1) finish();
        });
  }
  return reactor;
}

grpc::Status BrokerServiceImpl::FetchRecords(grpc::ServerContext*,
                                             const v1::FetchRecordsRequest* req,
                                             v1::FetchRecordsResponse* resp) {
  if (grpc::Status s = OnPlane(kClientPlane, "FetchRecords"); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&](KafkaError e, const std::string& message) {
    if (e != KafkaError::kNone) SetKafkaErrorIfAny(resp->mutable_error(), e, message);
    probe_.Request("FetchRecords", KafkaErrorName(e),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return grpc::Status::OK;
  };
  const int32_t max_records =
      req->max_records() > 0 ? std::min(req->max_records(), kMaxRecordsLimit) : kDefaultMaxRecords;
  NodeId leader = kNoNode;
  int32_t partitions = 0;
  if (KafkaError e = LeaderOf(req->topic(), req->partition(), &leader, &partitions);
      e != KafkaError::kNone) {
    return finish(e, fmt::format("{}-{}: no such partition, or it has no leader", req->topic(),
                                 req->partition()));
  }
  auto stub = StubFor(leader);
  if (!stub) return finish(KafkaError::kLeaderNotAvailable, "the leader has no address");

  int64_t offset = req->offset();
  if (offset < 0) {
    if (offset != -1 && offset != -2) {
      return finish(KafkaError::kInvalidRequest, "offset: -2 (earliest), -1 (latest) or >= 0");
    }
    v1::ListOffsetsRequest lreq;
    lreq.set_replica_id(-1);
    auto* lt = lreq.add_topics();
    lt->set_topic(req->topic());
    auto* lp = lt->add_partitions();
    lp->set_partition(req->partition());
    lp->set_current_leader_epoch(-1);
    lp->set_timestamp(offset);
    v1::ListOffsetsResponse lresp;
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = stub->ListOffsets(&ctx, lreq, &lresp);
    if (!s.ok()) return finish(CallError(s), GrpcFailure(s));
    const auto& r = lresp.topics(0).partitions(0);
    if (r.error().code() != 0) {
      return finish(static_cast<KafkaError>(r.error().code()), r.error().message());
    }
    offset = r.offset();
  }

  v1::FetchRequest freq;
  freq.set_replica_id(-1);
  // A long poll here holds this call's thread: at most 30 s (as a consumer fetch's cap).
  freq.set_max_wait_ms(std::clamp(req->max_wait_ms(), 0, 30'000));
  freq.set_min_bytes(1);
  auto* ft = freq.add_topics();
  ft->set_topic(req->topic());
  auto* fp = ft->add_partitions();
  fp->set_partition(req->partition());
  fp->set_fetch_offset(offset);
  fp->set_current_leader_epoch(-1);
  fp->set_partition_max_bytes(4 << 20);
  v1::FetchResponse fresp;
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(freq.max_wait_ms() + 10'000));
  grpc::Status s = stub->Fetch(&ctx, freq, &fresp);
  if (!s.ok()) return finish(CallError(s), GrpcFailure(s));
  if (fresp.topics_size() != 1 || fresp.topics(0).partitions_size() != 1) {
    return finish(KafkaError::kUnknownServerError, "malformed fetch response");
  }
  const v1::FetchPartitionResponse& fr = fresp.topics(0).partitions(0);
  resp->set_high_watermark(fr.high_watermark());
  resp->set_next_offset(offset);
  if (fr.error().code() != 0) {
    return finish(static_cast<KafkaError>(fr.error().code()), fr.error().message());
  }

  // Decode whole batches; keep the records at or past the requested offset.
  const std::string& bytes = fr.records();
  size_t pos = 0;
  while (pos + record::batch_layout::kHeaderSize <= bytes.size() &&
         resp->records_size() < max_records) {
    const auto* base = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
    const auto header = record::RecordBatchHeader::Parse(base);
    const auto size = static_cast<size_t>(header.size_bytes());
    if (size == 0 || pos + size > bytes.size()) break;
    pos += size;
    if (header.is_control()) {
      resp->set_next_offset(std::max(resp->next_offset(), header.last_offset().value() + 1));
      continue;
    }
    auto decoded = record::DecodedBatch::Decode(std::span(base, size), kDecompressedMax);
    if (!decoded.ok()) {
      return finish(KafkaError::kCorruptMessage, std::string(decoded.status().message()));
    }
    for (const record::RecordView& rv : decoded->records()) {
      if (rv.offset.value() < offset) continue;
      if (resp->records_size() >= max_records) break;
      auto* out = resp->add_records();
      out->set_partition(req->partition());
      out->set_offset(rv.offset.value());
      out->set_timestamp_ms(rv.timestamp);
      if (rv.key) {
        if (ValidUtf8(*rv.key)) {
          out->set_key_string(std::string(*rv.key));
        } else {
          out->set_key_bytes(std::string(*rv.key));
        }
      }
      if (rv.value) {
        if (ValidUtf8(*rv.value)) {
          out->set_value_string(std::string(*rv.value));
        } else {
          out->set_value_bytes(std::string(*rv.value));
        }
      }
      for (const record::RecordHeaderView& h : rv.headers) {
        auto* oh = out->add_headers();
        oh->set_key(std::string(h.key));
        if (h.value) {
          if (ValidUtf8(*h.value)) {
            oh->set_value_string(std::string(*h.value));
          } else {
            oh->set_value_bytes(std::string(*h.value));
          }
        }
      }
      resp->set_next_offset(rv.offset.value() + 1);
    }
  }
  return finish(KafkaError::kNone, "");
}

}  // namespace strand::broker
