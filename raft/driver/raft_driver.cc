#include "raft/driver/raft_driver.h"

#include <fmt/format.h>

#include "common/check.h"
#include "common/thread_name.h"
#include "raft/core/errc.h"
#include "raft/driver/logger.h"

namespace strand::raft {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

absl::Status Stopped() { return MakeError(Errc::kStopped, "the raft node is shutting down"); }

}  // namespace

RaftDriver::RaftDriver(Config config, DriverOptions options, LogStorage& storage,
                       StateMachine& machine, std::shared_ptr<prometheus::Registry> registry)
    : config_(std::move(config)),
      options_(options),
      storage_(storage),
      machine_(machine),
      probe_(std::move(registry)),
      random_(options.random_seed != 0
                  ? options.random_seed
                  : static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^
                        static_cast<uint64_t>(config_.id.value())) {}

RaftDriver::~RaftDriver() { Stop(); }

absl::Status RaftDriver::Start() {
  STRAND_RETURN_IF_ERROR(config_.Validate());
  STRAND_CHECK_MSG(transport_ != nullptr, "SetTransport before Start");
  auto boot = storage_.Load();
  if (!boot.ok()) return boot.status();
  if (!boot->snapshot.Empty()) {
    STRAND_RETURN_IF_ERROR(machine_.Restore(*boot->snapshot.data, boot->snapshot.meta.index));
  }
  Logger().info("[raft node={}] starting at term {} with snapshot {} and {} entries", config_.id,
                boot->hard_state.term, boot->snapshot.meta.index, boot->entries.size());
  auto node = RawNode::Create(config_, random_, *std::move(boot));
  if (!node.ok()) return node.status();
  node_ = *std::move(node);
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  PublishStatus();
  thread_ = NamedThread("raft-driver", [this] { Run(); });
  return absl::OkStatus();
}

void RaftDriver::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool RaftDriver::Enqueue(Input input) {
  std::lock_guard lock(mu_);
  if (stopping_ || !running_ || inbox_.size() >= options_.inbox_max) return false;
  inbox_.push_back(std::move(input));
  cv_.notify_one();
  return true;
}

void RaftDriver::Deliver(Message m) { Enqueue(std::move(m)); }  // dropped when full: Raft copes

void RaftDriver::ReportUnreachable(NodeId node) { Enqueue(UnreachableInput{node}); }

void RaftDriver::TransferLeadership(NodeId target) { Enqueue(TransferInput{target}); }

bool RaftDriver::RunInLoop(std::function<void()> task, std::function<void()> dropped) {
  if (Enqueue(TaskInput{std::move(task), dropped})) return true;
  if (dropped) dropped();
  return false;
}

absl::StatusOr<LogIndex> RaftDriver::ProposeInLoop(std::string data) {
  auto index = node_->Propose(std::move(data));
  probe_.Proposal(index.ok());
  return index;
}

NodeStatus RaftDriver::LoopStatus() const {
  const Raft& r = node_->raft();
  NodeStatus s{config_.id,        r.role(),           r.term(),
               r.leader(),        r.log().LastIndex(), r.log().committed(),
               r.log().applied(), r.snapshot().meta.index, true, {}};
  if (r.role() == Role::kLeader) {
    for (NodeId voter : config_.voters) {
      if (r.PeerRecentlyHeard(voter)) s.reachable_voters.push_back(voter);
    }
  }
  return s;
}

void RaftDriver::Propose(std::string data, ProposeCallback done, int64_t timeout_ms) {
  if (!Enqueue(ProposeInput{std::move(data), done, timeout_ms})) {
    done(MakeError(Errc::kTooManyUncommitted, "the raft node's inbox is full or it is stopped"));
  }
}

std::future<absl::StatusOr<LogIndex>> RaftDriver::Propose(std::string data) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<LogIndex>>>();
  auto future = promise->get_future();
  Propose(std::move(data), [promise](absl::StatusOr<LogIndex> r) { promise->set_value(r); });
  return future;
}

void RaftDriver::ReadBarrier(ReadCallback done, int64_t timeout_ms) {
  if (!Enqueue(ReadInput{done, timeout_ms})) {
    done(MakeError(Errc::kTooManyUncommitted, "the raft node's inbox is full or it is stopped"));
  }
}

std::future<absl::Status> RaftDriver::ReadBarrier() {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  auto future = promise->get_future();
  ReadBarrier([promise](absl::Status s) { promise->set_value(s); });
  return future;
}

NodeStatus RaftDriver::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

RaftDriver::Clock::time_point RaftDriver::Deadline(int64_t timeout_ms) const {
  if (timeout_ms <= 0) timeout_ms = options_.request_timeout_ms;
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

void RaftDriver::Run() {
  const auto tick = std::chrono::milliseconds(options_.tick_ms);
  auto next_tick = Clock::now() + tick;
  std::deque<Input> inputs;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty(); });
      if (stopping_) break;
      inputs.swap(inbox_);
    }
    // Everything queued while the last Ready was being persisted is handled together, so its
    // entries share the next fsync: this is where group commit happens.
    for (Input& input : inputs) Handle(input);
    inputs.clear();
    if (Clock::now() >= next_tick) {
      node_->Tick();
      if (tick_listener_) tick_listener_();
      next_tick += tick;
      if (next_tick < Clock::now()) next_tick = Clock::now() + tick;  // fell behind: skip
      ExpireDeadlines();
    }
    if (!ProcessReady()) break;
    PublishStatus();
  }
  FailAll(Stopped());
  std::lock_guard lock(mu_);
  running_ = false;
  status_.running = false;
  inbox_.clear();
}

void RaftDriver::Handle(Input& input) {
  if (auto* m = std::get_if<Message>(&input)) {
    probe_.MessagesReceived(1);
    node_->Step(*m);
  } else if (auto* p = std::get_if<ProposeInput>(&input)) {
    HandlePropose(*p);
  } else if (auto* r = std::get_if<ReadInput>(&input)) {
    HandleRead(*r);
  } else if (auto* t = std::get_if<TransferInput>(&input)) {
    if (absl::Status s = node_->TransferLeadership(t->target); !s.ok()) {
      Logger().warn("[raft node={}] leadership transfer to {} refused: {}", config_.id, t->target,
                    s.ToString());
    }
  } else if (auto* u = std::get_if<UnreachableInput>(&input)) {
    node_->ReportUnreachable(u->node);
  } else if (auto* task = std::get_if<TaskInput>(&input)) {
    task->task();
  }
}

void RaftDriver::HandlePropose(ProposeInput& p) {
  auto index = node_->Propose(std::move(p.data));
  if (!index.ok()) {
    probe_.Proposal(false);
    p.done(index.status());
    return;
  }
  proposals_.emplace(*index, PendingProposal{node_->raft().term(), std::move(p.done), Clock::now(),
                                             Deadline(p.timeout_ms)});
}

void RaftDriver::HandleRead(ReadInput& r) {
  const uint64_t context = ++read_context_;
  if (absl::Status s = node_->ReadIndex(context); !s.ok()) {
    r.done(s);
    return;
  }
  reads_.emplace(
      context, PendingRead{std::move(r.done), Clock::now(), Deadline(r.timeout_ms), std::nullopt});
}

bool RaftDriver::ProcessReady() {
  while (node_->HasReady()) {
    Ready rd = node_->GetReady();
    if (rd.soft_state) OnSoftState(*rd.soft_state);
    const auto started = Clock::now();
    absl::Status persisted = storage_.Persist(rd.hard_state, rd.snapshot, rd.entries, rd.must_sync);
    if (!persisted.ok()) {
      Logger().critical("[raft node={}] stopping: storage failed: {}", config_.id,
                        persisted.ToString());
      FailAll(MakeError(Errc::kStorageFailure, std::string(persisted.message())));
      std::lock_guard lock(mu_);
      stopping_ = true;
      return false;
    }
    probe_.PersistLatency(SecondsSince(started));
    probe_.EntriesPersisted(rd.entries.size());
    // Only now may anything that depends on this Ready's persisted state leave the node.
    probe_.MessagesSent(rd.messages.size());
    transport_->Send(std::move(rd.messages));
    Apply(rd);
    node_->Advance(rd);
    MaybeSnapshot();
  }
  return true;
}

void RaftDriver::Apply(const Ready& rd) {
  if (rd.snapshot) {
    absl::Status s = machine_.Restore(*rd.snapshot->data, rd.snapshot->meta.index);
    STRAND_CHECK_MSG(s.ok(), "restoring a snapshot from the leader failed: {}", s.ToString());
    probe_.SnapshotInstalled();
    Logger().info("[raft node={}] installed snapshot at {} ({} bytes) from the leader", config_.id,
                  rd.snapshot->meta.index, rd.snapshot->data->size());
    // Proposals the snapshot covers: this node cannot tell whether its entry was the one kept.
    for (auto it = proposals_.begin();
         it != proposals_.end() && it->first <= rd.snapshot->meta.index;) {
      it->second.done(MakeError(Errc::kUnknownOutcome,
                                "the node fell behind and installed a snapshot; check the "
                                "state machine for the outcome"));
      it = proposals_.erase(it);
    }
  }
  for (const Entry& e : rd.committed_entries) {
    if (e.type == EntryType::kNormal) machine_.Apply(e);
    ResolveProposals(e);
    if (e.type == EntryType::kNoop && e.term == node_->raft().term() &&
        node_->raft().role() == Role::kLeader && !leader_ready_) {
      leader_ready_ = true;
      Logger().info("[raft node={} term={}] leader is ready (applied {})", config_.id, e.term,
                    e.index);
      if (listener_) {
        PublishStatus();
        listener_(Status(), true);
      }
    }
  }
  for (const ReadState& r : rd.read_states) {
    auto it = reads_.find(r.context);
    if (it != reads_.end()) it->second.index = r.index;
  }
  ResolveReads();
}

void RaftDriver::ResolveProposals(const Entry& e) {
  auto it = proposals_.find(e.index);
  if (it == proposals_.end()) return;
  PendingProposal& p = it->second;
  if (p.term == e.term) {
    probe_.Proposal(true);
    probe_.CommitLatency(SecondsSince(p.started));
    p.done(e.index);
  } else {
    probe_.Proposal(false);
    p.done(MakeError(Errc::kProposalDropped,
                     fmt::format("entry {} was replaced by a leader of term {}", e.index.value(),
                                 e.term.value())));
  }
  proposals_.erase(it);
}

void RaftDriver::ResolveReads() {
  const LogIndex applied = node_->raft().log().applied();
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.index && *it->second.index <= applied) {
      probe_.ReadLatency(SecondsSince(it->second.started));
      it->second.done(absl::OkStatus());
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftDriver::OnSoftState(const SoftState& ss) {
  if (ss.leader != last_leader_) {
    probe_.LeaderChanged();
    Logger().info("[raft node={} term={}] {}; leader is {}", config_.id, node_->raft().term(),
                  RoleName(ss.role), ss.leader);
    last_leader_ = ss.leader;
  }
  if (ss.role != Role::kLeader) leader_ready_ = false;
  // Read requests not yet confirmed were addressed to a leader that is gone.
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (!it->second.index) {
      it->second.done(MakeError(Errc::kNotLeader, "leadership changed during the read; retry"));
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
  if (listener_) {
    PublishStatus();
    listener_(Status(), false);
  }
}

void RaftDriver::MaybeSnapshot() {
  if (!node_->ShouldSnapshot()) return;
  const LogIndex applied = node_->raft().log().applied();
  auto data = std::make_shared<const std::string>(machine_.TakeSnapshot());
  const LogIndex compact_to = node_->Compact(applied, data);
  absl::Status s = storage_.SaveSnapshot(node_->raft().snapshot(), compact_to);
  if (!s.ok()) {
    // Not fatal: the log is intact, only compaction failed. It is retried at the next interval.
    Logger().error("[raft node={}] saving the snapshot at {} failed: {}", config_.id, applied,
                   s.ToString());
    return;
  }
  probe_.SnapshotTaken();
  Logger().info("[raft node={}] snapshot at {} ({} bytes), log compacted to {}", config_.id,
                applied, data->size(), compact_to);
}

void RaftDriver::ExpireDeadlines() {
  const auto now = Clock::now();
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    if (it->second.deadline <= now) {
      probe_.Proposal(false);
      it->second.done(MakeError(Errc::kTimeout,
                                "the proposal did not commit in time; it may "
                                "still commit later"));
      it = proposals_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline <= now) {
      it->second.done(MakeError(Errc::kTimeout, "the read barrier did not complete in time"));
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftDriver::FailAll(const absl::Status& status) {
  for (auto& [index, p] : proposals_) p.done(status);
  proposals_.clear();
  for (auto& [context, r] : reads_) r.done(status);
  reads_.clear();
  std::deque<Input> inputs;
  {
    std::lock_guard lock(mu_);
    inputs.swap(inbox_);
  }
  for (Input& input : inputs) {
    if (auto* p = std::get_if<ProposeInput>(&input)) p->done(status);
    if (auto* r = std::get_if<ReadInput>(&input)) r->done(status);
    if (auto* t = std::get_if<TaskInput>(&input); t && t->dropped) t->dropped();
  }
}

void RaftDriver::PublishStatus() {
  const Raft& r = node_->raft();
  NodeStatus s{config_.id,
               r.role(),
               r.term(),
               r.leader(),
               r.log().LastIndex(),
               r.log().committed(),
               r.log().applied(),
               r.snapshot().meta.index,
               true};
  probe_.SetState(s.role, s.term, s.leader);
  probe_.SetIndexes(s.last_index, s.commit, s.applied, s.snapshot_index);
  std::lock_guard lock(mu_);
  s.running = running_;
  status_ = s;
}

}  // namespace strand::raft
