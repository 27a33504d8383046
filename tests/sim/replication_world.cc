#include "tests/sim/replication_world.h"

#include "tests/sim/replication_world_internal.h"

namespace strand::broker::sim {
namespace detail {

// -------------------------------------------------------------------------------------------
// event loop and network

bool World::Step() {
  if (queue_.empty()) return false;
  Event e = queue_.top();
  queue_.pop();
  if (e.time > now_) {
    clock_.AdvanceMs(e.time - now_);
    now_ = e.time;
  }
  ++result_.events;
  e.run();
  CheckAll();
  return true;
}

void World::Send(int from, int to, std::function<void()> deliver) {
  if (!LinkUp(from, to) || !Alive(from) || !Alive(to)) return;
  const uint64_t from_inc = Incarnation(from), to_inc = Incarnation(to);
  int64_t delay = random_.Range(1, 4);
  if (random_.OneIn(50)) delay = random_.Range(5, 80);
  After(delay, [this, from, to, from_inc, to_inc, deliver = std::move(deliver)]() mutable {
    if (!LinkUp(from, to) || !Alive(from) || !Alive(to) || Incarnation(from) != from_inc ||
        Incarnation(to) != to_inc) {
      return;
    }
    auto it = brokers_.find(to);
    if (it != brokers_.end() && it->second->paused_until > now_) {
      OnBroker(to, to_inc, std::move(deliver));
      return;
    }
    deliver();
  });
}

void World::OnBroker(int id, uint64_t incarnation, std::function<void()> run) {
  Broker& b = *brokers_.at(id);
  if (!b.up || b.incarnation != incarnation) return;
  if (b.paused_until > now_) {
    At(b.paused_until, [this, id, incarnation, run = std::move(run)]() mutable {
      OnBroker(id, incarnation, std::move(run));
    });
    return;
  }
  run();
}

void World::Every(Broker& b, int64_t period_ms, std::function<void()> run) {
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  auto loop = std::make_shared<std::function<void()>>();
  *loop = [this, id, inc, period_ms, run = std::move(run), loop]() {
    Broker& br = *brokers_.at(id);
    if (!br.up || br.incarnation != inc) return;
    OnBroker(id, inc, run);
    After(period_ms, *loop);
  };
  After(random_.Range(1, period_ms), *loop);
}

// -------------------------------------------------------------------------------------------
// controller

void World::CommitAll() {
  while (!meta_log_.pending.empty()) {
    auto batches = std::move(meta_log_.pending);
    meta_log_.pending.clear();
    for (auto& [index, batch] : batches) {
      absl::Status s = committed_.ReplayBatch(batch, index);
      if (!s.ok()) Fail("controller", "committed batch does not apply: " + s.ToString());
      committed_batches_.emplace_back(index, batch);
      if (options_.verbose) {
        for (const auto& r : batch.records()) {
          if (r.has_partition_change() || r.has_broker_registration_change() ||
              r.has_register_broker()) {
            Trace(fmt::format("controller commits {}: {}", index, r.ShortDebugString()));
          }
        }
      }
      controller_.OnCommitted(index);
    }
  }
}

void World::ControllerTick() {
  controller_.Tick(now_);
  CommitAll();
  After(100, [this] { ControllerTick(); });
}

// -------------------------------------------------------------------------------------------
// brokers

void World::StartBroker(Broker& b) {
  ++b.incarnation;
  b.up = true;
  b.paused_until = 0;
  b.fs = std::make_unique<SimFilesystem>(b.disk);
  storage::LogConfig config;
  config.segment_bytes = 16 << 10;
  config.preallocate = false;
  storage::LogOptions lo;
  lo.fs = b.fs.get();
  lo.clock = &clock_;
  lo.name = fmt::format("b{}:{}-0", b.id, kTopic);
  auto log = storage::Log::Open(fmt::format("/data/b{}/{}-0", b.id, kTopic), config, lo);
  if (!log.ok()) Fail("recovery", fmt::format("broker {}: {}", b.id, log.status().ToString()));
  b.log = *log;
  b.partition = std::make_shared<Partition>(storage::TopicPartition{kTopic, 0}, b.log,
                                            NodeId(b.id), nullptr);
  b.image = MetadataImage();
  b.broker_epoch = -1;
  b.caught_up = false;
  b.fetch_in_flight = false;
  b.alter_in_flight = false;
  b.last_hw = -1;
  b.verified_upto = b.log->LogStartOffset().value();
  b.flush_scheduled = false;
  Trace(fmt::format("broker {} starts (life {}): log end {}, high watermark {}", b.id,
                    b.incarnation, b.log->LogEndOffset(), b.log->HighWatermark()));
  Register(b);
  Every(b, kHeartbeatMs, [this, &b] { Heartbeat(b); });
  Every(b, kMetadataPullMs, [this, &b] { PullMetadata(b); });
  Every(b, kTickMs, [this, &b] { BrokerTick(b); });
  Every(b, kCheckpointMs, [this, &b] { (void)b.log->Checkpoint(); });
  // A watchdog for the fetch loop (lost answers, new leaders); fetches chain themselves.
  Every(b, 50, [this, &b] { Fetch(b); });
}

void World::ScheduleFlush(Broker& b) {
  if (b.flush_scheduled) return;
  b.flush_scheduled = true;
  // Group commit on the broker's own schedule: mostly soon, sometimes a while later.
  const int64_t delay = random_.OneIn(10) ? random_.Range(10, 60) : random_.Range(0, 4);
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  After(delay, [this, id, inc] {
    OnBroker(id, inc, [this, id] {
      Broker& br = *brokers_.at(id);
      br.flush_scheduled = false;
      (void)br.log->Flush();
    });
  });
}

void World::CrashBroker(Broker& b) {
  ++result_.crashes;
  Trace(fmt::format("broker {} crashes (log end {}, durable {}, high watermark {})", b.id,
                    b.log->LogEndOffset(), b.log->DurableOffset(), b.log->HighWatermark()));
  b.disk = b.fs->CrashImage(random_);
  b.up = false;
  // The dead process's objects go away without reaching the disk image taken above.
  b.partition->Stop();
  b.partition.reset();
  b.log.reset();
  b.fs.reset();
  // The heartbeat stream breaks: the controller hears of it unless the link is cut.
  const int id = b.id;
  const int64_t epoch = b.broker_epoch;
  if (LinkUp(id, kController) && epoch >= 0) {
    After(random_.Range(1, 10), [this, id, epoch] {
      controller_.HeartbeatStreamClosed(NodeId(id), epoch, now_);
      CommitAll();
    });
  }
}

void World::Register(Broker& b) {
  cv1::RegisterBrokerRequest req;
  req.set_cluster_id("sim");
  req.set_broker_id(b.id);
  req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
  auto* l = req.add_listeners();
  l->set_name("CLIENT");
  l->set_host("127.0.0.1");
  l->set_port(9000 + b.id);
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  Send(id, kController, [this, req, id, inc] {
    std::optional<cv1::RegisterBrokerResponse> resp;
    controller_.RegisterBroker(req, now_, [&](cv1::RegisterBrokerResponse r) { resp = r; });
    CommitAll();
    if (!resp) return;
    Send(kController, id, [this, id, inc, r = *resp] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      if (r.error().code() != 0) {
        After(200, [this, id, inc] { OnBroker(id, inc, [this, id] { Register(*brokers_.at(id)); }); });
        return;
      }
      br.broker_epoch = r.broker_epoch();
    });
  });
  // Lost request or answer: try again.
  After(1'000, [this, id, inc] {
    OnBroker(id, inc, [this, id] {
      Broker& br = *brokers_.at(id);
      if (br.broker_epoch < 0) Register(br);
    });
  });
}

void World::Heartbeat(Broker& b) {
  if (b.broker_epoch < 0) return;
  cv1::BrokerHeartbeatRequest req;
  req.set_broker_id(b.id);
  req.set_broker_epoch(b.broker_epoch);
  req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
  req.set_metadata_offset(b.image.offset());
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  Send(id, kController, [this, req, id, inc] {
    auto resp = controller_.Heartbeat(req, now_);
    CommitAll();
    Send(kController, id, [this, id, inc, resp] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      if (resp.error().code() != 0) {
        Trace(fmt::format("broker {} heartbeat refused: {}; registering again", id,
                          resp.error().message()));
        br.broker_epoch = -1;
        Register(br);
        return;
      }
      if (!resp.is_fenced() && !br.caught_up) {
        br.caught_up = true;
        Reconcile(br);
      }
    });
  });
}

void World::PullMetadata(Broker& b) {
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  const uint64_t have = b.image.offset();
  Send(id, kController, [this, id, inc, have] {
    std::vector<std::pair<uint64_t, cv1::MetadataBatch>> news;
    for (const auto& [index, batch] : committed_batches_) {
      if (index > have) news.emplace_back(index, batch);
    }
    if (news.empty()) return;
    Send(kController, id, [this, id, inc, news = std::move(news)] {
      Broker& br = *brokers_.at(id);
      if (br.incarnation != inc) return;
      bool changed = false;
      for (const auto& [index, batch] : news) {
        if (index <= br.image.offset()) continue;
        absl::Status s = br.image.ReplayBatch(batch, index);
        if (!s.ok()) Fail("metadata", fmt::format("broker {}: {}", id, s.ToString()));
        changed = true;
      }
      if (changed && br.caught_up) Reconcile(br);
    });
  });
}

// As ReplicaManager::Apply does for one partition.
void World::Reconcile(Broker& b) {
  const controller::TopicImage* t = b.image.topic(kTopic);
  if (t == nullptr || t->partitions.empty()) return;
  const controller::PartitionState& ps = t->partitions[0];
  if (!ps.IsReplica(NodeId(b.id))) return;
  PartitionAssignment a;
  a.topic_id = t->id.Bytes();
  a.leader = ps.leader;
  a.leader_epoch = ps.leader_epoch;
  a.partition_epoch = ps.partition_epoch;
  a.replicas = ps.replicas;
  a.isr = ps.isr;
  PartitionSettings s;
  s.min_insync_replicas = kMinIsr;
  s.replica_lag_time_max_ms = 2'000;
  const bool same_epoch = b.partition->leader_epoch() == a.leader_epoch;
  if (a.leader == NodeId(b.id)) {
    if (same_epoch && b.partition->role() == PartitionRole::kLeader) {
      b.partition->UpdateAssignment(a, s, now_);
      return;
    }
    if (absl::Status st = b.partition->BecomeLeader(a, s, now_); !st.ok()) {
      Trace(fmt::format("broker {} cannot lead: {}", b.id, st.ToString()));
      return;
    }
    ++result_.leader_changes;
    Trace(fmt::format("broker {} leads at epoch {} (log end {}, high watermark {}, ISR {})", b.id,
                      a.leader_epoch, b.log->LogEndOffset(), b.log->HighWatermark(),
                      a.isr.size()));
    CheckHoldsAcked(b, fmt::format("on becoming leader at epoch {}", a.leader_epoch));
    return;
  }
  if (same_epoch && b.partition->role() == PartitionRole::kFollower) {
    b.partition->UpdateAssignment(a, s, now_);
  } else {
    (void)b.partition->BecomeFollower(a, s);
    b.fetch_in_flight = false;
    Trace(fmt::format("broker {} follows {} at epoch {} (log end {})", b.id, a.leader,
                      a.leader_epoch, b.log->LogEndOffset()));
  }
}

void World::BrokerTick(Broker& b) {
  const controller::MetadataImage& image = b.image;
  auto proposal = b.partition->Tick(now_, [&image](NodeId n) {
    const controller::BrokerRegistration* r = image.broker(n);
    return r != nullptr && !r->fenced && !r->in_controlled_shutdown;
  });
  if (!proposal || b.broker_epoch < 0) {
    if (proposal) b.partition->IsrProposalDone(false, -1, now_);
    return;
  }
  cv1::AlterPartitionRequest req;
  req.set_broker_id(b.id);
  req.set_broker_epoch(b.broker_epoch);
  req.set_incarnation_id(fmt::format("b{}-{}", b.id, b.incarnation));
  auto* c = req.add_partitions();
  c->set_topic_id(proposal->topic_id);
  c->set_partition(proposal->partition);
  c->set_leader_epoch(proposal->leader_epoch.value());
  c->set_partition_epoch(proposal->partition_epoch);
  for (NodeId n : proposal->isr) c->add_new_isr(n.value());
  const int id = b.id;
  const uint64_t inc = b.incarnation;
  const uint64_t seq = ++b.alter_seq;
  b.alter_in_flight = true;
  Trace(fmt::format("broker {} proposes an ISR of {} at epoch {}", id, proposal->isr.size(),
                    proposal->leader_epoch));
  auto answer = [this, id, inc, seq](bool accepted, int32_t partition_epoch) {
    Broker& br = *brokers_.at(id);
    if (br.incarnation != inc || br.alter_seq != seq || !br.alter_in_flight) return;
    br.alter_in_flight = false;
    br.partition->IsrProposalDone(accepted, partition_epoch, now_);
  };
  Send(id, kController, [this, req, id, answer] {
    std::optional<cv1::AlterPartitionResponse> resp;
    controller_.AlterPartition(req, [&](cv1::AlterPartitionResponse r) { resp = r; });
    CommitAll();
    if (!resp) return;
    Send(kController, id, [answer, r = *resp] {
      const bool ok = r.error().code() == 0 && r.partitions_size() == 1 &&
                      r.partitions(0).error().code() == 0;
      answer(ok, r.partitions_size() == 1 ? r.partitions(0).partition_epoch() : -1);
    });
  });
  After(kAlterTimeoutMs, [this, id, inc, answer] { OnBroker(id, inc, [answer] { answer(false, -1); }); });
}

void World::Fetch(Broker& b) {
  if (b.fetch_in_flight || b.partition->role() != PartitionRole::kFollower) return;
  const NodeId leader = b.partition->leader();
  if (leader == kNoNode || !brokers_.contains(leader.value())) return;
  const int id = b.id;
  const int to = leader.value();
  const uint64_t inc = b.incarnation;
  const uint64_t seq = ++b.fetch_seq;
  const int64_t fetch_offset = b.log->LogEndOffset().value();
  auto latest = b.log->LatestEpoch();
  const LeaderEpoch last_epoch = latest ? latest->epoch : LeaderEpoch(-1);
  const Offset durable = b.log->DurableOffset();
  const LeaderEpoch current = b.partition->leader_epoch();
  b.fetch_in_flight = true;
  Send(id, to, [this, id, to, inc, seq, fetch_offset, last_epoch, durable, current] {
    Broker& leader_broker = *brokers_.at(to);
    auto out = std::make_shared<ReadOutcome>(leader_broker.partition->FollowerFetch(
        NodeId(id), Offset(fetch_offset), last_epoch, durable, current, 64 << 10, now_));
    // A long poll: an empty answer waits a little on the leader (fetch.max.wait.ms).
    const int64_t hold = out->error == KafkaError::kNone && out->data.records.empty() &&
                                 !out->divergence
                             ? random_.Range(5, 40)
                             : 0;
    After(hold, [this, id, to, inc, seq, fetch_offset, out] {
      if (!brokers_.at(to)->up) return;
      Send(to, id, [this, id, inc, seq, fetch_offset, out] {
        Broker& br = *brokers_.at(id);
        if (br.incarnation != inc || br.fetch_seq != seq) return;
        br.fetch_in_flight = false;
        HandleFetchResponse(br, *out, fetch_offset);
        After(random_.Range(0, 3), [this, id, inc] { OnBroker(id, inc, [this, id] { Fetch(*brokers_.at(id)); }); });
      });
    });
  });
  After(kFetchTimeoutMs, [this, id, inc, seq] {
    Broker& br = *brokers_.at(id);
    if (br.incarnation == inc && br.fetch_seq == seq) br.fetch_in_flight = false;
  });
}

// As ReplicaFetcher's Handle does.
void World::HandleFetchResponse(Broker& b, const ReadOutcome& out, int64_t fetch_offset) {
  if (b.partition->role() != PartitionRole::kFollower) return;
  if (out.error == KafkaError::kOffsetOutOfRange &&
      Offset(fetch_offset) < out.data.log_start_offset) {
    (void)b.partition->ResetTo(out.data.log_start_offset);
    return;
  }
  if (out.error != KafkaError::kNone) return;
  if (out.divergence) {
    auto end = b.partition->Truncate(*out.divergence);
    if (end.ok()) {
      ++result_.truncations;
      Trace(fmt::format("broker {} truncates to {} (leader's epoch {} ends at {})", b.id, *end,
                        out.divergence->epoch, out.divergence->end_offset));
    }
    return;
  }
  std::string records(reinterpret_cast<const char*>(out.data.records.data()),
                      out.data.records.size());
  std::span<uint8_t> span(reinterpret_cast<uint8_t*>(records.data()), records.size());
  auto info = b.partition->AppendFromLeader(span, out.data.high_watermark,
                                            out.data.log_start_offset, Offset(fetch_offset));
  if (absl::IsAborted(info.status())) return;  // the log moved meanwhile
  if (!info.ok()) {
    Trace(fmt::format("broker {} cannot append from the leader: {}", b.id,
                      info.status().ToString()));
    return;
  }
  // The real fetcher waits for the group commit before its next fetch reports durability.
  if (!records.empty()) {
    if (random_.Chance(0.7)) {
      (void)b.log->Flush();
    } else {
      ScheduleFlush(b);
    }
  }
}


ReplicationSimResult World::Run() {
  SetCheckFailureHandler(&strand::sim::ThrowViolationOnCheckFailure);
  try {
    controller_.BecomeActive(committed_, 1, now_);
    CommitAll();
    After(100, [this] { ControllerTick(); });
    for (auto& [id, b] : brokers_) StartBroker(*b);
    // Set-up: every broker unfenced, then the topic.
    while (Step() && now_ < 5'000) {
      bool all = true;
      for (auto& [id, b] : brokers_) all = all && b->caught_up;
      if (all) break;
    }
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(kTopic);
    t->set_partitions(1);
    t->set_replication_factor(static_cast<int32_t>(brokers_.size()));
    std::optional<admin::v1::CreateTopicsResponse> resp;
    controller_.CreateTopics(req, [&](admin::v1::CreateTopicsResponse r) { resp = r; });
    CommitAll();
    if (!resp || resp->topics(0).error().code() != 0) {
      Fail("setup", resp ? resp->topics(0).error().message() : "no answer");
    }
    ProducerLoop(0);
    faults_on_ = true;
    After(500, [this] { Chaos(); });
    for (uint64_t i = 0; i < options_.steps; ++i) {
      if (!Step()) Fail("stuck", "no events left");
    }
    // Faults stop: writes must succeed again and the replicas converge.
    HealEverything();
    const int64_t healed = now_;
    const uint64_t acked_before = acked_.size();
    while (now_ - healed < kSettleLimitMs && acked_.size() < acked_before + 20) {
      Step();
      if (options_.verbose && (now_ - healed) % 5'000 < 3) Trace(DescribeState());
    }
    if (acked_.size() < acked_before + 20) {
      Fail("liveness", fmt::format("only {} batches acknowledged in {} ms after healing",
                                   acked_.size() - acked_before, now_ - healed));
    }
    producing_ = false;
    const int64_t stopped = now_;
    while (now_ - stopped < kSettleLimitMs && !Converged()) Step();
    if (!Converged()) Fail("liveness", "replicas did not converge after healing");
    FinalChecks();
  } catch (const SimViolation& stop) {
    result_.ok = false;
    result_.checker = stop.checker;
    result_.detail = stop.detail;
  }
  SetCheckFailureHandler(nullptr);
  result_.step = step_;
  result_.time_ms = now_;
  return result_;
}

}  // namespace detail

ReplicationSimResult RunReplicationSimulation(const ReplicationSimOptions& options, uint64_t seed) {
  detail::World world(options, seed);
  return world.Run();
}

}  // namespace strand::broker::sim
