// ReplicationWorld, continued: the idempotent producer, the faults, and the invariant checks.
#include "tests/sim/replication_world_internal.h"

namespace strand::broker::sim::detail {

// -------------------------------------------------------------------------------------------
// the producer

int World::ChooseTarget() {
  // Metadata from a broker the client can reach (possibly stale), else from the controller's
  // committed image.
  std::vector<int> reachable;
  for (const auto& [id, b] : brokers_) {
    if (b->up && b->paused_until <= now_ && LinkUp(kClient, id) && b->caught_up) {
      reachable.push_back(id);
    }
  }
  const MetadataImage* image = &committed_;
  if (!reachable.empty() && random_.Chance(0.7)) {
    image = &brokers_.at(reachable[random_.Uniform(reachable.size())])->image;
  }
  const controller::TopicImage* t = image->topic(kTopic);
  if (t == nullptr || t->partitions.empty()) return -1;
  return t->partitions[0].leader.value();
}

// Sends the next batch (or retries the current one) after `delay_ms`, unless one is in flight.
void World::ProducerLoop(int64_t delay_ms) {
  const uint64_t request = request_;
  After(delay_ms, [this, request] {
    if (request_ != request || in_flight_) return;  // something else already moved on
    if (!producing_) return;
    SendBatch();
    if (!in_flight_) ProducerLoop(random_.Range(20, 100));  // no leader known: back off
  });
}

void World::SendBatch() {
  if (batch_values_.empty()) {
    const int n = static_cast<int>(random_.Range(1, 3));
    record::BatchOptions o;
    o.producer_id = ProducerId(kProducerId);
    o.producer_epoch = ProducerEpoch(0);
    o.base_sequence = static_cast<int32_t>(next_sequence_);
    record::RecordBatchBuilder builder(o);
    ++batch_number_;
    for (int i = 0; i < n; ++i) {
      batch_values_.push_back(fmt::format("s{}-b{}-r{}", seed_, batch_number_, i));
      builder.Append(clock_.NowWallMs(), std::nullopt, batch_values_.back());
    }
    auto built = builder.Build();
    STRAND_CHECK(built.ok());
    batch_bytes_.assign(reinterpret_cast<const char*>(built->data()), built->size());
  }
  const int target = ChooseTarget();
  if (target < 0 || !brokers_.contains(target)) return;
  const uint64_t request = ++request_;
  in_flight_ = true;
  Send(kClient, target, [this, target, request, bytes = batch_bytes_] {
    Broker& b = *brokers_.at(target);
    std::string copy = bytes;
    std::span<uint8_t> span(reinterpret_cast<uint8_t*>(copy.data()), copy.size());
    const Offset end_before = b.log->LogEndOffset();
    // Whether the broker was the leader the controller had elected when it took the batch: a
    // deposed leader that has not heard yet may answer from stale producer state.
    const controller::TopicImage* t = committed_.topic(kTopic);
    const bool current = t != nullptr && t->partitions[0].leader == NodeId(target) &&
                         t->partitions[0].leader_epoch == b.partition->leader_epoch();
    b.partition->Produce(span, -1, now_ + kProduceTimeoutMs,
                         [this, target, request, current](ProduceOutcome o) {
                           if (o.error == KafkaError::kNone) CheckAckedDurable(target, o);
                           Send(target, kClient, [this, target, request, o, current] {
                             OnProduceResult(request, o, target, current);
                           });
                         });
    if (b.log && b.log->LogEndOffset() > end_before) {
      ScheduleFlush(b);
      const int32_t epoch = b.partition->leader_epoch().value();
      auto [it, fresh] = epoch_writer_.emplace(epoch, target);
      if (!fresh && it->second != target) {
        Fail("one-writer-epoch", fmt::format("brokers {} and {} both appended in leader epoch {}",
                                             it->second, target, epoch));
      }
    }
  });
  After(kClientTimeoutMs, [this, request] {
    if (in_flight_ && request_ == request) {
      in_flight_ = false;
      ProducerLoop(random_.Range(20, 100));  // retry
    }
  });
}

void World::CheckAckedDurable(int leader, const ProduceOutcome& o) {
  // The moment the leader answers acks=all, every ISR member that is up has the batch fsynced
  // (a member that crashed kept what it had fsynced; no-acked-loss covers it if it leads).
  for (NodeId member : brokers_.at(leader)->partition->isr()) {
    auto it = brokers_.find(static_cast<int>(member.value()));
    if (it == brokers_.end() || !it->second->up || it->second->log == nullptr) continue;
    const Offset durable = it->second->log->DurableOffset();
    if (durable <= o.last_offset) {
      Fail("acked-durable-on-isr",
           fmt::format("broker {} answered acks=all for offsets {}..{} while ISR member {} was "
                       "durable only below {}",
                       leader, o.base_offset, o.last_offset, member, durable));
    }
  }
}

void World::OnProduceResult(uint64_t request, const ProduceOutcome& o, int broker,
                            bool current_leader) {
  if (!in_flight_ || request != request_) return;  // an answer to an attempt given up on
  in_flight_ = false;
  switch (o.error) {
    case KafkaError::kNone: {
      acked_.push_back(AckedBatch{o.base_offset.value(), batch_values_});
      ++result_.acked_batches;
      last_ack_ms_ = now_;
      Trace(fmt::format("acked batch {} at {} by broker {}", batch_number_, o.base_offset, broker));
      next_sequence_ += static_cast<int64_t>(batch_values_.size());
      batch_values_.clear();
      ProducerLoop(random_.Range(0, 5));
      return;
    }
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kNotEnoughReplicas:
    case KafkaError::kNotEnoughReplicasAfterAppend:
    case KafkaError::kRequestTimedOut:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownLeaderEpoch:
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kKafkaStorageError:
      ProducerLoop(random_.Range(20, 100));  // retried with the same sequence
      return;
    case KafkaError::kOutOfOrderSequenceNumber:
      if (!current_leader) {  // a deposed leader lacks the batches its successor took
        ProducerLoop(random_.Range(20, 100));
        return;
      }
      [[fallthrough]];
    default:
      Fail("producer-error", fmt::format("broker {} answered batch {} (sequence {}) with {}: {}",
                                         broker, batch_number_, next_sequence_,
                                         KafkaErrorName(o.error), o.message));
  }
}

// -------------------------------------------------------------------------------------------
// faults

void World::Chaos() {
  if (!faults_on_) return;
  After(random_.Range(100, 1'200), [this] { Chaos(); });
  std::vector<int> up, down;
  for (const auto& [id, b] : brokers_) (b->up ? up : down).push_back(id);
  const int pick = up.empty() ? -1 : up[random_.Uniform(up.size())];
  switch (random_.Uniform(7)) {
    case 0:
    case 1:
      if (pick >= 0 && down.size() < 2) {
        CrashBroker(*brokers_.at(pick));
        After(random_.Range(50, 3'000), [this, pick] {
          if (!brokers_.at(pick)->up) StartBroker(*brokers_.at(pick));
        });
      }
      break;
    case 2:
      if (pick >= 0) {
        Broker& b = *brokers_.at(pick);
        b.paused_until = std::max(b.paused_until, now_ + random_.Range(50, 5'000));
        Trace(fmt::format("broker {} paused until {}", pick, b.paused_until));
      }
      break;
    case 3: {  // isolate a broker from the controller (clients and peers still reach it)
      const int id = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      cut_.insert({id, kController});
      Trace(fmt::format("broker {} cut off from the controller", id));
      After(random_.Range(200, 6'000), [this, id] { cut_.erase({id, kController}); });
      break;
    }
    case 4: {  // cut a link between two brokers
      const int a = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      const int c = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      if (a != c) {
        cut_.insert({a, c});
        Trace(fmt::format("link {}-{} cut", a, c));
        After(random_.Range(200, 5'000), [this, a, c] { cut_.erase({a, c}); });
      }
      break;
    }
    case 5: {  // a broker loses the network entirely
      const int id = kFirstBroker + static_cast<int>(random_.Uniform(brokers_.size()));
      std::vector<std::pair<int, int>> links{{id, kController}, {id, kClient}};
      for (const auto& [other, b] : brokers_) {
        if (other != id) links.push_back({id, other});
      }
      for (const auto& l : links) cut_.insert(l);
      Trace(fmt::format("broker {} isolated", id));
      After(random_.Range(200, 5'000), [this, links] {
        for (const auto& l : links) cut_.erase(l);
      });
      break;
    }
    default:
      if (random_.OneIn(3)) cut_.clear();
      break;
  }
}

void World::HealEverything() {
  faults_on_ = false;
  cut_.clear();
  for (auto& [id, b] : brokers_) {
    if (!b->up) StartBroker(*b);
    b->paused_until = 0;
  }
}

// -------------------------------------------------------------------------------------------
// checks

std::vector<std::pair<int64_t, BatchId>> World::ReadBatches(Broker& b, int64_t from, int64_t to) {
  std::vector<std::pair<int64_t, BatchId>> out;
  int64_t offset = std::max(from, b.log->LogStartOffset().value());
  while (offset < to) {
    auto read = b.log->Read(Offset(offset), 1 << 20, Offset(to));
    if (!read.ok()) Fail("read", fmt::format("broker {} at {}: {}", b.id, offset, read.status().ToString()));
    if (read->records.empty()) break;
    const auto span = read->records.span();
    size_t pos = 0;
    while (pos + record::batch_layout::kHeaderSize <= span.size()) {
      const auto h = record::RecordBatchHeader::Parse(span.data() + pos);
      out.emplace_back(h.base_offset.value(),
                       BatchId{h.last_offset().value(), h.crc, h.partition_leader_epoch.value()});
      pos += static_cast<size_t>(h.size_bytes());
    }
    if (read->next_offset.value() <= offset) break;
    offset = read->next_offset.value();
  }
  return out;
}

void World::CheckReplica(Broker& b) {
  const int64_t hw = b.log->HighWatermark().value();
  if (hw < b.last_hw) {
    Fail("hw-monotonic", fmt::format("broker {}: high watermark went from {} back to {}", b.id,
                                     b.last_hw, hw));
  }
  b.last_hw = hw;
  if (hw <= b.verified_upto) return;
  for (const auto& [base, id] : ReadBatches(b, b.verified_upto, hw)) {
    if (id.last_offset >= hw) break;
    auto [it, fresh] = committed_batches_by_base_.emplace(base, id);
    if (!fresh && !(it->second == id)) {
      Fail("agree-below-hw",
           fmt::format("broker {} holds batch [{}, {}] epoch {} crc {:08x} below its high "
                       "watermark {}, another replica held [{}, {}] epoch {} crc {:08x}",
                       b.id, base, id.last_offset, id.leader_epoch, id.crc, hw, base,
                       it->second.last_offset, it->second.leader_epoch, it->second.crc));
    }
    b.verified_upto = id.last_offset + 1;
  }
}

void World::CheckAll() {
  ++step_;
  for (auto& [id, b] : brokers_) {
    if (b->up) CheckReplica(*b);
  }
}

std::map<int64_t, std::string> World::ReadValues(Broker& b) {
  std::map<int64_t, std::string> out;
  int64_t offset = b.log->LogStartOffset().value();
  const int64_t end = b.log->LogEndOffset().value();
  while (offset < end) {
    auto read = b.log->Read(Offset(offset), 1 << 20);
    if (!read.ok() || read->records.empty()) break;
    const auto span = read->records.span();
    size_t pos = 0;
    while (pos + record::batch_layout::kHeaderSize <= span.size()) {
      const auto h = record::RecordBatchHeader::Parse(span.data() + pos);
      const auto size = static_cast<size_t>(h.size_bytes());
      auto decoded = record::DecodedBatch::Decode(span.subspan(pos, size), 1 << 20);
      if (!decoded.ok()) Fail("read", fmt::format("broker {}: {}", b.id, decoded.status().ToString()));
      for (const auto& r : decoded->records()) {
        out[r.offset.value()] = r.value ? std::string(*r.value) : std::string();
      }
      pos += size;
    }
    if (read->next_offset.value() <= offset) break;
    offset = read->next_offset.value();
  }
  return out;
}

void World::CheckHoldsAcked(Broker& b, const std::string& when) {
  const auto values = ReadValues(b);
  for (const AckedBatch& a : acked_) {
    for (size_t i = 0; i < a.values.size(); ++i) {
      const int64_t offset = a.base_offset + static_cast<int64_t>(i);
      auto it = values.find(offset);
      if (it == values.end() || it->second != a.values[i]) {
        Fail("no-acked-loss",
             fmt::format("broker {} {}: acknowledged record '{}' at offset {} is {}", b.id, when,
                         a.values[i], offset,
                         it == values.end() ? std::string("missing") : "'" + it->second + "'"));
      }
    }
  }
}

std::string World::DescribeState() {
  std::string out;
  if (const controller::TopicImage* t = committed_.topic(kTopic)) {
    const auto& ps = t->partitions[0];
    out += fmt::format("partition: leader {} epoch {} ISR [{}];", ps.leader, ps.leader_epoch,
                       fmt::join(ps.isr, ","));
  }
  for (const auto& [id, r] : committed_.brokers()) {
    out += fmt::format(" broker {} epoch {} {}", id, r.epoch, r.fenced ? "fenced" : "unfenced");
    const Broker& b = *brokers_.at(id.value());
    if (b.up) {
      out += fmt::format(" (life {} epoch {} image {} caught-up {} role {} end {} hw {})",
                         b.incarnation, b.broker_epoch, b.image.offset(), b.caught_up,
                         static_cast<int>(b.partition->role()), b.log->LogEndOffset(),
                         b.log->HighWatermark());
    }
    out += ";";
  }
  return out;
}

bool World::Converged() {
  const controller::TopicImage* t = committed_.topic(kTopic);
  if (t == nullptr) return false;
  const auto& ps = t->partitions[0];
  if (ps.leader == kNoNode || ps.isr.size() != brokers_.size()) return false;
  Broker& leader = *brokers_.at(ps.leader.value());
  if (leader.partition->role() != PartitionRole::kLeader ||
      leader.partition->leader_epoch() != ps.leader_epoch) {
    return false;
  }
  const Offset end = leader.log->LogEndOffset();
  for (auto& [id, b] : brokers_) {
    if (!b->up || b->log->LogEndOffset() != end || b->log->HighWatermark() != end) return false;
  }
  return !in_flight_ && batch_values_.empty();
}

void World::FinalChecks() {
  std::optional<std::vector<std::pair<int64_t, BatchId>>> reference;
  int reference_id = 0;
  for (auto& [id, b] : brokers_) {
    CheckHoldsAcked(*b, "at the end");
    auto batches = ReadBatches(*b, 0, b->log->LogEndOffset().value());
    if (!reference) {
      reference = batches;
      reference_id = id;
    } else if (batches != *reference) {
      Fail("agree-below-hw", fmt::format("after convergence brokers {} and {} hold different logs "
                                         "({} and {} batches)",
                                         reference_id, id, reference->size(), batches.size()));
    }
    // Idempotence: no record twice.
    std::map<std::string, int64_t> seen;
    for (const auto& [offset, value] : ReadValues(*b)) {
      auto [it, fresh] = seen.emplace(value, offset);
      if (!fresh) {
        Fail("no-duplicates", fmt::format("broker {}: '{}' at offsets {} and {}", id, value,
                                          it->second, offset));
      }
    }
  }
}

}  // namespace strand::broker::sim::detail
