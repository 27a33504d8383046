#include "broker/server/replica_fetcher.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker/server/fetch_purgatory.h"
#include "common/grpc_channel.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace strand::broker {
namespace {

spdlog::logger& Log() {
  static auto logger = GetLogger("broker.fetcher");
  return *logger;
}

}  // namespace

class ReplicaFetcherManager::Fetcher {
 public:
  Fetcher(const ReplicaFetcherManager& manager, NodeId leader)
      : manager_(manager), leader_(leader) {
    thread_ = NamedThread(fmt::format("fetch-from-{}", leader_.value()), [this] { Run(); });
  }
  ~Fetcher() { Stop(); }

  void Add(std::shared_ptr<Partition> p) {
    std::lock_guard lock(mu_);
    partitions_[p->tp()] = std::move(p);
    cv_.notify_one();
  }
  void Remove(const storage::TopicPartition& tp) {
    std::lock_guard lock(mu_);
    partitions_.erase(tp);
  }
  bool empty() const {
    std::lock_guard lock(mu_);
    return partitions_.empty();
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (context_) context_->TryCancel();
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run();
  bool FetchOnce(const std::map<storage::TopicPartition, std::shared_ptr<Partition>>& parts);
  // False when the fetched records could not be appended (a full disk, say).
  bool Handle(Partition& p, const v1::FetchPartitionResponse& r, Offset fetch_offset,
              std::vector<std::shared_ptr<Partition>>* appended,
              const std::shared_ptr<Partition>& shared);
  v1::BrokerService::Stub* Stub();
  // Whether the follower throttle keeps `p` out of this fetch: a throttled replica (listed in
  // follower.replication.throttled.replicas for this broker) outside the ISR, the rate spent.
  bool HeldBack(const Partition& p) const {
    ReplicationQuota* quota = manager_.options_.quota;
    // IsThrottled first: the ISR lookup takes the partition's lock, unthrottled ones skip it.
    if (quota == nullptr || !quota->IsThrottled(p.tp()) ||
        !quota->HoldsBack(p.tp(), p.InIsr(manager_.options_.self))) {
      return false;
    }
    quota->NoteHeldBack();
    return true;
  }
  void Sleep(int ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
  }

  const ReplicaFetcherManager& manager_;
  const NodeId leader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<storage::TopicPartition, std::shared_ptr<Partition>> partitions_;
  bool stopping_ = false;
  std::shared_ptr<grpc::ClientContext> context_;
  std::string address_;
  std::unique_ptr<v1::BrokerService::Stub> stub_;
  // Partitions whose last append failed (Run thread only): warned about once, not per fetch.
  std::set<storage::TopicPartition> failing_;
  std::thread thread_;
};

v1::BrokerService::Stub* ReplicaFetcherManager::Fetcher::Stub() {
  auto address = manager_.address_of_(leader_);
  if (!address) return nullptr;
  if (*address != address_ || !stub_) {
    address_ = *address;
    stub_ = v1::BrokerService::NewStub(grpc::CreateCustomChannel(
        address_,
        manager_.options_.credentials ? manager_.options_.credentials
                                      : grpc::InsecureChannelCredentials(),
        InternalChannelArguments(1'000)));
  }
  return stub_.get();
}

void ReplicaFetcherManager::Fetcher::Run() {
  while (true) {
    std::map<storage::TopicPartition, std::shared_ptr<Partition>> parts;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !partitions_.empty(); });
      if (stopping_) return;
      parts = partitions_;
    }
    if (!FetchOnce(parts)) Sleep(manager_.options_.backoff_ms);
  }
}

bool ReplicaFetcherManager::Fetcher::FetchOnce(
    const std::map<storage::TopicPartition, std::shared_ptr<Partition>>& parts) {
  v1::BrokerService::Stub* stub = Stub();
  if (stub == nullptr) return false;  // the leader's address is not known yet
  const FetcherOptions& o = manager_.options_;
  v1::FetchRequest req;
  req.set_replica_id(o.self.value());
  req.set_replica_epoch(manager_.broker_epoch_());
  req.set_replica_incarnation(manager_.options_.incarnation);
  req.set_max_wait_ms(o.max_wait_ms);
  req.set_min_bytes(1);
  req.set_max_bytes(o.max_bytes);
  std::map<storage::TopicPartition, Offset> offsets;
  std::map<std::string, v1::FetchTopic*> topics;
  bool held_back = false;
  for (const auto& [tp, p] : parts) {
    if (p->role() != PartitionRole::kFollower || p->leader() != leader_) continue;
    p->AdvanceRepair();  // a corrupt suffix is cut once out of the ISR: fetch from the new end
    if (HeldBack(*p)) {
      held_back = true;
      continue;
    }
    auto& topic = topics[tp.topic];
    if (topic == nullptr) {
      topic = req.add_topics();
      topic->set_topic(tp.topic);
    }
    auto* fp = topic->add_partitions();
    const auto log = p->log();
    const Offset end = log->LogEndOffset();
    offsets[tp] = end;
    fp->set_partition(tp.partition);
    fp->set_fetch_offset(end.value());
    auto latest = log->LatestEpoch();
    fp->set_last_fetched_epoch(latest ? latest->epoch.value() : -1);
    fp->set_log_start_offset(log->LogStartOffset().value());
    fp->set_durable_offset(log->DurableOffset().value());
    fp->set_current_leader_epoch(p->leader_epoch().value());
    fp->set_partition_max_bytes(o.partition_max_bytes);
  }
  if (offsets.empty()) {
    // Only throttled partitions, and the quota spent: wait until it has bytes again.
    if (!held_back) return false;
    Sleep(static_cast<int>(std::max<int64_t>(1, o.quota->DelayMs())));
    return true;
  }
  auto context = std::make_shared<grpc::ClientContext>();
  // Wait for a connection rather than fail fast: after the leader restarts, a channel that
  // failed can otherwise keep failing fast for seconds.
  context->set_wait_for_ready(true);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(o.max_wait_ms + 5'000));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return true;
    context_ = context;
  }
  v1::FetchResponse resp;
  grpc::Status s = stub->Fetch(context.get(), req, &resp);
  {
    std::lock_guard lock(mu_);
    context_.reset();
  }
  if (!s.ok()) {
    Log().debug("[broker {}] fetch from leader {} failed: {}", o.self, leader_, s.error_message());
    return false;
  }
  if (resp.error().code() != 0) {
    Log().debug("[broker {}] fetch refused by leader {}: {}: {}", o.self, leader_,
                resp.error().name(), resp.error().message());
    return false;
  }
  std::vector<std::shared_ptr<Partition>> appended;
  bool progress = false, append_failed = false;
  const auto received = std::chrono::steady_clock::now();
  for (const auto& topic : resp.topics()) {
    for (const auto& r : topic.partitions()) {
      storage::TopicPartition tp{topic.topic(), r.partition()};
      auto it = parts.find(tp);
      if (it == parts.end() || !offsets.count(tp)) continue;
      append_failed = !Handle(*it->second, r, offsets[tp], &appended, it->second) || append_failed;
      progress = progress || r.error().code() == 0;
    }
  }
  // The next fetch reports these as durable: wait for the group commit that covers them. With
  // several partitions their fsyncs run at once, on the flusher threads and on this one: one after
  // the other they took a millisecond or so each (issue 16: a follower of 16 partitions at 5,000
  // records/s spent its fetch loop in fsyncs).
  const auto append_done = std::chrono::steady_clock::now();
  for (size_t i = 1; i < appended.size(); ++i) appended[i]->log()->FlushInBackground();
  for (const auto& p : appended) {
    const Offset end = p->log()->LogEndOffset();
    if (end > Offset(0)) (void)p->log()->WaitDurable(end - 1, o.durable_wait_ms);
  }
  if (!appended.empty() && o.on_stages) {
    const std::chrono::duration<double> append_s = append_done - received;
    const std::chrono::duration<double> fsync_s = std::chrono::steady_clock::now() - append_done;
    o.on_stages(append_s.count(), fsync_s.count());
  }
  // A failed append backs off (replica.fetch.backoff.ms) rather than refetch at once.
  return progress && !append_failed;
}

bool ReplicaFetcherManager::Fetcher::Handle(Partition& p, const v1::FetchPartitionResponse& r,
                                            Offset fetch_offset,
                                            std::vector<std::shared_ptr<Partition>>* appended,
                                            const std::shared_ptr<Partition>& shared) {
  const auto error = static_cast<KafkaError>(r.error().code());
  if (error == KafkaError::kOffsetOutOfRange && fetch_offset < Offset(r.log_start_offset())) {
    // Behind the leader's retention: start over at its log start.
    Log().warn("[{}-{}] offset {} is below the leader's log start {}; starting over there",
               p.tp().topic, p.tp().partition, fetch_offset, r.log_start_offset());
    (void)p.ResetTo(Offset(r.log_start_offset()));
    return true;
  }
  if (error != KafkaError::kNone) return true;  // not leader / fenced: metadata will catch up
  if (r.has_diverging_epoch()) {
    Divergence d{LeaderEpoch(r.diverging_epoch().epoch()), Offset(r.diverging_epoch().end_offset())};
    auto end = p.Truncate(d);
    if (end.ok()) {
      Log().info("[{}-{}] truncated to {} after a leader change (leader's epoch {} ends at {})",
                 p.tp().topic, p.tp().partition, *end, d.epoch, d.end_offset);
    }
    return true;
  }
  std::string records = r.records();  // AppendAsFollower checks, and may rewrite, in place
  std::span<uint8_t> span(reinterpret_cast<uint8_t*>(records.data()), records.size());
  // The fetch loop waits for durability right after (FetchOnce), fsyncing on this thread.
  auto info = p.AppendFromLeader(span, Offset(r.high_watermark()), Offset(r.log_start_offset()),
                                 fetch_offset, /*caller_flushes=*/true);
  if (absl::IsAborted(info.status())) return true;  // the log end moved: fetch again from there
  if (!info.ok()) {
    if (failing_.insert(p.tp()).second) {
      Log().warn("[{}-{}] appending from leader failed (retried every {} ms, warned once): {}",
                 p.tp().topic, p.tp().partition, manager_.options_.backoff_ms,
                 info.status().ToString());
    }
    return false;
  }
  if (failing_.erase(p.tp()) > 0) {
    Log().info("[{}-{}] appending from leader works again", p.tp().topic, p.tp().partition);
  }
  if (!records.empty()) {
    // Every byte of a throttled partition counts against the rate, in sync or not (as Kafka).
    ReplicationQuota* quota = manager_.options_.quota;
    if (quota != nullptr && quota->IsThrottled(p.tp())) {
      quota->Record(static_cast<int64_t>(records.size()));
    }
    appended->push_back(shared);
    if (manager_.options_.on_appended) {
      manager_.options_.on_appended(static_cast<int64_t>(records.size()));
    }
  }
  return true;
}

ReplicaFetcherManager::ReplicaFetcherManager(FetcherOptions options, AddressOf address_of,
                                             std::function<int64_t()> broker_epoch)
    : options_(options), address_of_(std::move(address_of)),
      broker_epoch_(std::move(broker_epoch)) {}

ReplicaFetcherManager::~ReplicaFetcherManager() { Stop(); }

void ReplicaFetcherManager::Add(std::shared_ptr<Partition> partition, NodeId leader) {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  const storage::TopicPartition tp = partition->tp();
  auto it = assigned_.find(tp);
  if (it != assigned_.end() && it->second != leader) RemoveLocked(tp, it->second);
  assigned_[tp] = leader;
  auto& fetcher = fetchers_[leader];
  if (!fetcher) fetcher = std::make_unique<Fetcher>(*this, leader);
  fetcher->Add(std::move(partition));
}

void ReplicaFetcherManager::Remove(const storage::TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto it = assigned_.find(tp);
  if (it == assigned_.end()) return;
  RemoveLocked(tp, it->second);
  assigned_.erase(it);
}

void ReplicaFetcherManager::RemoveLocked(const storage::TopicPartition& tp, NodeId leader) {
  auto f = fetchers_.find(leader);
  if (f == fetchers_.end()) return;
  f->second->Remove(tp);
  // A fetcher with nothing left to fetch goes (its thread would only wait).
  if (f->second->empty()) fetchers_.erase(f);
}

size_t ReplicaFetcherManager::fetchers() const {
  std::lock_guard lock(mu_);
  return fetchers_.size();
}

void ReplicaFetcherManager::Stop() {
  std::map<NodeId, std::unique_ptr<Fetcher>> fetchers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    fetchers.swap(fetchers_);
    assigned_.clear();
  }
  for (auto& [id, f] : fetchers) f->Stop();
}

}  // namespace strand::broker
