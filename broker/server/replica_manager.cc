#include "broker/server/replica_manager.h"

#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "broker/server/local_changes.h"
#include "common/listener_config.h"
#include "common/logging.h"
#include "common/thread_name.h"
#include "controller/state/config_defs.h"
#include "controller/state/metadata_image.h"
#include "controller/state/topic_id.h"

namespace strand::broker {
namespace {

spdlog::logger& Log() {
  static auto logger = GetLogger("broker.replicas");
  return *logger;
}

constexpr int64_t kRetryMs = 1'000;
constexpr int64_t kCatchUpPollMs = 50;

// The topic settings that configure a log (the rest are the broker's business).
const std::set<std::string>& LogConfigNames() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out;
    for (const auto& [name, value] : storage::LogConfig{}.ToProperties()) out.insert(name);
    return out;
  }();
  return names;
}

std::string TopicIdText(const std::string& bytes) {
  auto id = controller::TopicId::FromBytes(bytes);
  return id ? id->ToString() : std::string("?");
}

FetcherOptions WithQuota(FetcherOptions options, ReplicationQuota* quota) {
  options.quota = quota;
  return options;
}

Clock& ClockOf(const ReplicaManagerOptions& options) {
  return options.clock != nullptr ? *options.clock : SystemClock::Instance();
}

// The partitions of `topic` a throttled-replicas list names on broker `self`.
std::pair<bool, std::set<int32_t>> ThrottledOn(const std::string& topic, const std::string& list,
                                               NodeId self) {
  auto parsed = controller::ParseThrottledReplicas(list);
  if (!parsed.ok()) {  // the controllers validate it; an old record might not be
    Log().error("[topic {}] unusable throttled-replicas list '{}': {}", topic, list,
                parsed.status().ToString());
    return {false, {}};
  }
  return {parsed->all, parsed->PartitionsOn(self.value())};
}

}  // namespace

struct ReplicaManager::Desired {
  storage::TopicPartition tp;
  std::string topic_id;
  PartitionAssignment assignment;
  PartitionSettings settings;
  storage::LogConfig config;
};

ReplicaManager::ReplicaManager(ReplicaManagerOptions options, storage::LogManager& logs,
                               MetadataFollower& metadata, ControllerClient& controllers,
                               FetchPurgatory& purgatory, std::function<int64_t()> broker_epoch,
                               std::function<bool()> caught_up)
    : options_(std::move(options)),
      logs_(logs),
      metadata_(metadata),
      purgatory_(purgatory),
      caught_up_(std::move(caught_up)),
      leader_quota_(ClockOf(options_)),
      follower_quota_(ClockOf(options_)),
      fetchers_(
          WithQuota(options_.fetcher, &follower_quota_),
          [this](NodeId id) { return AddressOf(id, options_.inter_broker_listener); },
          broker_epoch),
      isr_sender_({options_.self, options_.incarnation, options_.alter_partition_timeout_ms},
                  controllers, broker_epoch),
      ticker_(
          options_.tick_ms, metadata, [this] { return All(); }, isr_sender_) {}

ReplicaManager::~ReplicaManager() { Stop(); }

void ReplicaManager::Start() {
  reconciler_ = NamedThread("reconciler", [this] { ReconcileLoop(); });
  isr_sender_.Start();
  ticker_.Start();
}

void ReplicaManager::Stop() {
  if (stopping_.exchange(true)) return;
  {
    // Taking each mutex orders the flag before the waits it must end.
    std::lock_guard lock(change_mu_);
  }
  change_cv_.notify_all();
  if (reconciler_.joinable()) reconciler_.join();
  ticker_.Stop();
  isr_sender_.Stop();
  fetchers_.Stop();
  std::lock_guard lock(mu_);
  for (auto& [tp, h] : hosted_) {
    h.partition->SaveProducerState();
    h.partition->Stop();
  }
}

void ReplicaManager::OnMetadataChange(const controller::MetadataDelta& delta) {
  if (delta.empty()) return;
  std::lock_guard lock(change_mu_);
  pending_.Merge(delta);
  change_cv_.notify_one();
}

void ReplicaManager::ReconcileNow() {
  std::unique_lock lock(change_mu_);
  pending_.snapshot = true;
  const uint64_t generation = ++requested_;
  change_cv_.notify_one();
  done_cv_.wait(lock, [&] { return completed_ >= generation || stopping_; });
}

std::shared_ptr<Partition> ReplicaManager::Get(const storage::TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = hosted_.find(tp);
  return it == hosted_.end() ? nullptr : it->second.partition;
}

void ReplicaManager::CheckStranded(bool controllers_silent, int64_t now_ms) {
  if (!controllers_silent && !controllers_silent_.load()) return;
  for (const auto& partition : All()) partition->CheckStranded(controllers_silent, now_ms);
  controllers_silent_ = controllers_silent;
}

bool ReplicaManager::Stranded(const storage::TopicPartition& tp) const {
  if (!controllers_silent_.load()) return false;
  auto p = Get(tp);
  return p != nullptr && p->stranded();
}

std::vector<std::shared_ptr<Partition>> ReplicaManager::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Partition>> out;
  out.reserve(hosted_.size());
  for (const auto& [tp, h] : hosted_) out.push_back(h.partition);
  return out;
}

int64_t ReplicaManager::OutOfIsr() const {
  return metadata_.Read([&](const controller::MetadataImage& image) {
    int64_t n = 0;
    for (const auto& [name, topic] : image.topics()) {
      for (const controller::PartitionState& p : topic.partitions) {
        if (p.leader != kNoNode && p.leader != options_.self && p.IsReplica(options_.self) &&
            !p.InIsr(options_.self)) {
          ++n;
        }
      }
    }
    return n;
  });
}

ReplicaCounts ReplicaManager::Counts() const {
  std::vector<std::pair<std::shared_ptr<Partition>, std::pair<int32_t, size_t>>> parts;
  ReplicaCounts c;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tp, h] : hosted_) parts.push_back({h.partition, {h.min_isr, h.replicas}});
    // Replicas whose log could not be opened are hosted here too, offline.
    c.offline_logs = static_cast<int64_t>(offline_.size());
    c.partitions = c.offline_logs;
  }
  for (const auto& [p, limits] : parts) {
    ++c.partitions;
    if (p->log()->failed()) {
      ++c.offline_logs;
      ++c.failed_logs;
    }
    if (p->role() != PartitionRole::kLeader) continue;
    ++c.leaders;
    const size_t isr = p->isr().size();
    if (isr < limits.second) ++c.under_replicated;
    if (static_cast<int32_t>(isr) < limits.first) ++c.under_min_isr;
  }
  return c;
}

std::optional<std::string> ReplicaManager::AddressOf(NodeId broker,
                                                     std::string_view listener) const {
  return metadata_.Read([&](const controller::MetadataImage& image) -> std::optional<std::string> {
    const controller::BrokerRegistration* b = image.broker(broker);
    const controller::Listener* l = b == nullptr ? nullptr : b->FindListener(listener);
    if (l == nullptr) return std::nullopt;
    return Endpoint{l->name, l->host, l->port}.Address();
  });
}

// ---------------------------------------------------------------------------------------------
// Reconciling

void ReplicaManager::ReconcileLoop() {
  int64_t next_full = NowMs() + options_.full_reconcile_interval_ms;
  int64_t retry_at = std::numeric_limits<int64_t>::max();  // a failed step is tried again then
  controller::MetadataDelta carried;                       // what could not be done yet
  while (true) {
    controller::MetadataDelta change;
    uint64_t generation = 0;
    {
      std::unique_lock lock(change_mu_);
      const int64_t wake = std::min(next_full, retry_at);
      change_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, wake - NowMs())),
                          [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) break;
      change = std::exchange(pending_, {});
      generation = requested_;
    }
    change.Merge(std::exchange(carried, {}));
    const int64_t now = NowMs();
    if (now >= next_full || now >= retry_at) change.snapshot = true;
    if (change.snapshot) next_full = now + options_.full_reconcile_interval_ms;
    retry_at = std::numeric_limits<int64_t>::max();
    if (!caught_up_()) {
      // After a restart the local copy of the metadata may be old: acting on it could make this
      // broker lead a partition at a stale epoch. Wait until the controllers confirm it caught
      // up (they unfence it).
      carried = std::move(change);
      retry_at = now + kCatchUpPollMs;
    } else if (!change.empty()) {
      retry_ = false;
      Reconcile(change);
      if (retry_) retry_at = now + kRetryMs;
    }
    {
      std::lock_guard lock(change_mu_);
      completed_ = std::max(completed_, generation);
    }
    done_cv_.notify_all();
  }
  done_cv_.notify_all();
}

void ReplicaManager::Reconcile(const controller::MetadataDelta& change) {
  const NodeId self = options_.self;
  std::vector<Desired> desired;
  LocalChanges local;
  // Copy out what is needed under the image's shared lock; act on it afterwards (opening logs
  // and role changes must not hold up the metadata log's apply).
  metadata_.Read([&](const controller::MetadataImage& image) {
    local = ComputeLocalChanges(image, change, self);
    // Every setting as this broker's: its own dynamic value first (per-broker configs).
    const int32_t me = self.value();
    const std::string lag_max = controller::EffectiveClusterConfig(image, "replica.lag.time.max.ms",
                                                                   options_.static_configs, me);
    const std::string pid_expiry = controller::EffectiveClusterConfig(
        image, "producer.id.expiration.ms", options_.static_configs, me);
    const std::string pids_max = controller::EffectiveClusterConfig(
        image, "strand.producer.ids.per.partition.max", options_.static_configs, me);
    // Settings are worked out once per topic.
    std::map<std::string, std::pair<storage::LogConfig, PartitionSettings>> topic_settings;
    auto settings_of = [&](const std::string& topic) -> const auto& {
      auto it = topic_settings.find(topic);
      if (it != topic_settings.end()) return it->second;
      std::map<std::string, std::string> props;
      for (auto& [name, value] :
           controller::EffectiveTopicConfigs(image, topic, options_.static_configs, me)) {
        if (LogConfigNames().count(name)) props[name] = value;
      }
      auto parsed = storage::LogConfig::FromProperties(props, storage::LogConfig{});
      if (!parsed.ok()) {
        Log().error("[topic {}] unusable settings ({}); using defaults", topic,
                    parsed.status().ToString());
      }
      PartitionSettings settings;
      settings.min_insync_replicas =
          static_cast<int32_t>(controller::ConfigAsLong(controller::EffectiveTopicConfig(
              image, topic, "min.insync.replicas", options_.static_configs, me)));
      settings.replica_lag_time_max_ms = controller::ConfigAsLong(lag_max);
      settings.producer_id_expiration_ms = controller::ConfigAsLong(pid_expiry);
      settings.producer_ids_max = static_cast<size_t>(controller::ConfigAsLong(pids_max));
      return topic_settings
          .emplace(topic, std::make_pair(parsed.ok() ? *parsed : storage::LogConfig{}, settings))
          .first->second;
    };
    for (const auto* list : {&local.leaders, &local.followers}) {
      for (const LocalPartition& lp : *list) {
        const auto& [config, settings] = settings_of(lp.tp.topic);
        Desired d;
        d.tp = lp.tp;
        d.topic_id = lp.topic_id;
        d.assignment.topic_id = lp.topic_id;
        d.assignment.leader = lp.state.leader;
        d.assignment.leader_epoch = lp.state.leader_epoch;
        d.assignment.partition_epoch = lp.state.partition_epoch;
        d.assignment.replicas = lp.state.replicas;
        d.assignment.isr = lp.state.isr;
        d.settings = settings;
        d.config = config;
        desired.push_back(std::move(d));
      }
    }
    std::set<std::string> topics;
    for (const auto* list : {&local.leaders, &local.followers}) {
      for (const LocalPartition& lp : *list) topics.insert(lp.tp.topic);
    }
    UpdateQuotas(image, topics, local.everything);
  });

  std::set<storage::TopicPartition> wanted;
  for (const Desired& d : desired) {
    if (stopping_) return;
    // A topic deleted while this round runs (say, one with thousands of partitions) costs
    // nothing more from the moment its deletion is applied: its remaining partitions are
    // skipped and those already opened are dropped below.
    if (!TopicExists(d.topic_id)) continue;
    wanted.insert(d.tp);
    Apply(d);
  }

  // What this broker should no longer host: any replica of a looked-at topic that is neither
  // led nor followed any more. That covers what the delta took away (local.deletes), which
  // says why.
  std::map<storage::TopicPartition, const LocalDelete*> why;
  for (const LocalDelete& d : local.deletes) why[d.tp] = &d;
  std::vector<storage::TopicPartition> drops;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tp, h] : hosted_) {
      if (wanted.count(tp) || !(local.everything || local.topic_ids.count(h.topic_id))) continue;
      auto reason = why.find(tp);
      if (reason != why.end() && reason->second->topic_id == h.topic_id) {
        Log().info(
            "[{}-{}] {}", tp.topic, tp.partition,
            reason->second->topic_deleted ? "topic deleted" : "this broker left the replica set");
      }
      drops.push_back(tp);
    }
  }
  for (const storage::TopicPartition& tp : drops) Drop(tp, /*delete_log=*/true);
  {
    std::lock_guard lock(mu_);
    for (auto it = offline_.begin(); it != offline_.end();) {
      const bool touched = local.everything || local.topic_ids.count(it->second.topic_id);
      it = touched && !wanted.count(it->first) ? offline_.erase(it) : std::next(it);
    }
  }

  if (local.everything) {
    // Logs on disk that no partition here claims (a topic deleted or moved while this broker
    // was down).
    for (const storage::TopicPartition& tp : logs_.Logs()) {
      bool hosted;
      {
        std::lock_guard lock(mu_);
        hosted = hosted_.count(tp) > 0;
      }
      if (!hosted && !wanted.count(tp)) deferred_deletes_.insert(tp);
    }
  }
  if (!deferred_deletes_.empty()) {
    if (caught_up_()) {
      for (auto it = deferred_deletes_.begin(); it != deferred_deletes_.end();) {
        bool hosted;
        {
          std::lock_guard lock(mu_);
          hosted = hosted_.count(*it) > 0;
        }
        if (!hosted && logs_.GetLog(*it) != nullptr) {
          Log().info("[{}-{}] not hosted here any more: deleting its log", it->topic,
                     it->partition);
          if (absl::Status s = logs_.DeleteLog(*it); !s.ok()) {
            Log().warn("[{}-{}] deleting the log failed: {}", it->topic, it->partition,
                       s.ToString());
            retry_ = true;
            ++it;
            continue;
          }
        }
        it = deferred_deletes_.erase(it);
      }
    } else {
      retry_ = true;  // wait until the metadata is known to be current
    }
  }
}

void ReplicaManager::UpdateQuotas(const controller::MetadataImage& image,
                                  const std::set<std::string>& topics, bool everything) {
  const NodeId self = options_.self;
  for (auto [quota, side] :
       {std::pair{&leader_quota_, "leader"}, std::pair{&follower_quota_, "follower"}}) {
    const std::string rate = controller::EffectiveClusterConfig(
        image, fmt::format("{}.replication.throttled.rate", side), options_.static_configs,
        self.value());
    const int64_t rate_bytes_per_s = controller::ConfigAsLong(rate);
    if (rate_bytes_per_s != quota->rate_bytes_per_s()) {
      Log().info("{} replication throttle: {}", side,
                 rate_bytes_per_s == ReplicationQuota::kUnlimited
                     ? std::string("unlimited")
                     : fmt::format("{} bytes/s", rate_bytes_per_s));
      quota->SetRate(std::max<int64_t>(0, rate_bytes_per_s));
    }
    const std::string list_name = fmt::format("{}.replication.throttled.replicas", side);
    for (const std::string& topic : topics) {
      auto [all, partitions] =
          ThrottledOn(topic, controller::EffectiveTopicConfig(image, topic, list_name, {}), self);
      quota->SetThrottled(topic, all, std::move(partitions));
    }
    if (everything) quota->RetainTopics(topics);
  }
}

absl::StatusOr<std::shared_ptr<storage::Log>> ReplicaManager::OpenLog(const Desired& d) {
  // The log manager checks the topic id recorded beside the log: a directory left by an
  // earlier topic of the same name (or by none) is set aside as a stray, never served.
  auto log = logs_.GetOrCreateLog(d.tp, TopicIdText(d.topic_id), d.config);
  if (!log.ok()) return log.status();
  if (!((*log)->config().ToProperties() == d.config.ToProperties())) {
    if (absl::Status s = logs_.UpdateLogConfig(d.tp, d.config); !s.ok()) return s;
  }
  return *log;
}

void ReplicaManager::Apply(const Desired& d) {
  std::shared_ptr<Partition> p;
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    auto it = hosted_.find(d.tp);
    if (it != hosted_.end() && it->second.topic_id == d.topic_id) p = it->second.partition;
  }
  if (p == nullptr) {
    // New here, or the topic was re-created under the same name: then the old topic's log goes
    // now (its deletion is in the metadata), rather than being set aside as a stray.
    if (Get(d.tp) != nullptr) {
      Drop(d.tp, /*delete_log=*/false);
      if (absl::Status s = logs_.DeleteLog(d.tp); !s.ok()) {
        Log().warn("[{}-{}] deleting the replaced topic's log failed: {}", d.tp.topic,
                   d.tp.partition, s.ToString());
      }
    }
    auto log = OpenLog(d);
    if (!log.ok()) {
      MarkOffline(d, log.status());
      retry_ = true;
      return;
    }
    MarkOnline(d.tp);
    FetchPurgatory* purgatory = &purgatory_;
    p = std::make_shared<Partition>(d.tp, *log, options_.self,
                                    [purgatory](const storage::TopicPartition& tp) {
                                      purgatory->Notify(tp);
                                    });
    fresh = true;
  } else if (!(p->log()->config().ToProperties() == d.config.ToProperties())) {
    if (absl::Status s = logs_.UpdateLogConfig(d.tp, d.config); !s.ok()) {
      Log().warn("[{}-{}] cannot apply new settings: {}", d.tp.topic, d.tp.partition,
                 s.ToString());
    }
  }
  {
    std::lock_guard lock(mu_);
    Hosted& h = hosted_[d.tp];
    h.partition = p;
    h.topic_id = d.topic_id;
    h.config = d.config;
    h.min_isr = d.settings.min_insync_replicas;
    h.replicas = d.assignment.replicas.size();
  }

  const PartitionAssignment& a = d.assignment;
  const int64_t now = NowMs();
  const bool same_epoch = !fresh && p->leader_epoch() == a.leader_epoch;
  if (a.leader == options_.self) {
    fetchers_.Remove(d.tp);
    if (same_epoch && p->role() == PartitionRole::kLeader) {
      p->UpdateAssignment(a, d.settings, now);
      return;
    }
    if (absl::Status s = p->BecomeLeader(a, d.settings, now); !s.ok()) {
      Log().error("[{}-{}] cannot become leader at epoch {}: {}", d.tp.topic, d.tp.partition,
                  a.leader_epoch, s.ToString());
      retry_ = true;
      return;
    }
    Log().info("[{}-{}] leader at epoch {} (log end {}, high watermark {}, ISR {})", d.tp.topic,
               d.tp.partition, a.leader_epoch, p->log()->LogEndOffset(), p->high_watermark(),
               fmt::join(a.isr, ","));
    return;
  }
  if (same_epoch && p->role() == PartitionRole::kFollower) {
    p->UpdateAssignment(a, d.settings, now);
  } else {
    (void)p->BecomeFollower(a, d.settings);
    Log().info("[{}-{}] follower of broker {} at epoch {} (log end {})", d.tp.topic,
               d.tp.partition, a.leader, a.leader_epoch, p->log()->LogEndOffset());
  }
  if (a.leader != kNoNode) {
    fetchers_.Add(p, a.leader);
  } else {
    fetchers_.Remove(d.tp);
  }
}

void ReplicaManager::Drop(const storage::TopicPartition& tp, bool delete_log) {
  std::shared_ptr<Partition> p;
  {
    std::lock_guard lock(mu_);
    offline_.erase(tp);
    auto it = hosted_.find(tp);
    if (it == hosted_.end()) return;
    p = it->second.partition;
    hosted_.erase(it);
  }
  fetchers_.Remove(tp);
  p->Stop();
  Log().info("[{}-{}] no longer hosted here", tp.topic, tp.partition);
  if (delete_log) deferred_deletes_.insert(tp);
}

bool ReplicaManager::TopicExists(const std::string& topic_id) const {
  auto id = controller::TopicId::FromBytes(topic_id);
  return id && metadata_.Read([&](const controller::MetadataImage& image) {
    return image.topic(*id) != nullptr;
  });
}

void ReplicaManager::MarkOffline(const Desired& d, const absl::Status& error) {
  const std::string message(error.message());
  std::lock_guard lock(mu_);
  auto [it, added] = offline_.try_emplace(d.tp, Offline{d.topic_id, message, NowMs()});
  if (added) {
    // As Kafka does for an offline log directory: the controller hears of it in the next
    // heartbeat and moves leadership and ISR membership to the other replicas.
    Log().error("[{}-{}] replica offline: its log cannot be opened: {}. The controller moves "
                "leadership to another in-sync replica; retrying every {} ms",
                d.tp.topic, d.tp.partition, message, kRetryMs);
  } else if (it->second.error != message) {
    Log().debug("[{}-{}] still offline: {}", d.tp.topic, d.tp.partition, message);
  }
  it->second.topic_id = d.topic_id;
  it->second.error = message;
}

void ReplicaManager::MarkOnline(const storage::TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto it = offline_.find(tp);
  if (it == offline_.end()) return;
  Log().info("[{}-{}] replica back online: its log opened after {} ms offline", tp.topic,
             tp.partition, NowMs() - it->second.since_ms);
  offline_.erase(it);
}

std::vector<OfflineReplica> ReplicaManager::OfflineReplicas() const {
  std::vector<OfflineReplica> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(offline_.size());
    for (const auto& [tp, o] : offline_) out.push_back({o.topic_id, tp.partition});
  }
  // Replicas waiting to cut a corrupt suffix: out of the ISR first (Partition::RepairCorruption).
  for (const auto& p : All()) {
    if (p->RepairPending()) out.push_back({p->topic_id(), p->tp().partition});
  }
  return out;
}

std::optional<std::string> ReplicaManager::OfflineReason(const storage::TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = offline_.find(tp);
  if (it == offline_.end()) return std::nullopt;
  return it->second.error;
}

}  // namespace strand::broker
