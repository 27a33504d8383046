#include "tools/drill/workload.h"

#include <fmt/format.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/common/broker_channels.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;

// Draining consumers that get nothing new for this long stop: what they wait for is not there.
constexpr auto kDrainIdle = 15s;

// The send time a value carries (microseconds since the workload started), in its fourth field.
bool SentMicros(const std::string& value, int64_t* micros) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(value), ':');
  return parts.size() >= 4 && absl::SimpleAtoi(parts[3], micros);
}

int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

// One consumer of the group, on its own thread (a Consumer is used by one thread only).
class Workload::Member final : public client::ConsumerRebalanceListener {
 public:
  Member(Workload& workload, int index, std::unique_ptr<client::Consumer> consumer)
      : workload_(workload), index_(index), consumer_(std::move(consumer)) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~Member() override { Stop(); }

  // Per partition, the highest offset this member consumed.
  std::map<int32_t, int64_t> consumed_max() const {
    std::lock_guard lock(mu_);
    return consumed_max_;
  }
  std::vector<std::string> consumed() const {
    std::lock_guard lock(mu_);
    return consumed_;
  }
  std::vector<ConsumeEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::string> offsets_back() const {
    std::lock_guard lock(mu_);
    return offsets_back_;
  }
  int64_t count() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(consumed_.size());
  }

  void OnPartitionsAssigned(const std::vector<client::TopicPartition>& partitions) override {
    for (const auto& tp : partitions) {
      last_offset_.erase(tp.partition);
      auto position = consumer_->Position(tp);
      if (!position.ok()) continue;
      const int64_t committed = workload_.AcknowledgedCommit(tp.partition);
      if (*position < committed) {
        std::lock_guard lock(mu_);
        offsets_back_.push_back(fmt::format(
            "member {} was assigned partition {} at offset {}, below the acknowledged commit {}",
            index_, tp.partition, *position, committed));
      }
    }
  }
  void OnPartitionsRevoked(const std::vector<client::TopicPartition>& partitions) override {
    Commit(partitions);  // what a careful application does before giving partitions up
    for (const auto& tp : partitions) last_offset_.erase(tp.partition);
  }
  void OnPartitionsLost(const std::vector<client::TopicPartition>& partitions) override {
    for (const auto& tp : partitions) last_offset_.erase(tp.partition);  // no commit: not ours
  }

 private:
  void Run() {
    auto self = std::shared_ptr<ConsumerRebalanceListener>(this, [](auto*) {});
    if (absl::Status s = consumer_->Subscribe({workload_.options_.topic}, self); !s.ok()) return;
    auto next_commit = Clock::now() + workload_.options_.commit_interval;
    while (!stop_) {
      auto records = consumer_->Poll(100ms);
      if (records.ok()) {
        const auto now = Clock::now();
        std::lock_guard lock(mu_);
        for (const auto& r : *records) {
          const int32_t p = r.partition();
          auto last = last_offset_.find(p);
          if (last != last_offset_.end() && r.offset() <= last->second) {
            offsets_back_.push_back(
                fmt::format("member {} got partition {} offset {} after offset {}", index_, p,
                            r.offset(), last->second));
          }
          last_offset_[p] = r.offset();
          auto& high = consumed_max_[p];
          high = std::max(high, r.offset());
          const std::string value(r.value().value_or(""));
          int64_t sent_us = 0;
          if (SentMicros(value, &sent_us)) {
            events_.push_back(
                ConsumeEvent{p, workload_.started_ + std::chrono::microseconds(sent_us), now});
          }
          consumed_.push_back(value);
        }
      }
      if (Clock::now() >= next_commit) {
        Commit(consumer_->Assignment());
        next_commit = Clock::now() + workload_.options_.commit_interval;
      }
    }
    Commit(consumer_->Assignment());
    consumer_->Close();
  }

  // Commits the positions of `partitions`; an acknowledged commit is remembered.
  void Commit(const std::vector<client::TopicPartition>& partitions) {
    std::map<client::TopicPartition, client::OffsetAndMetadata> offsets;
    for (const auto& tp : partitions) {
      auto position = consumer_->Position(tp);
      if (position.ok()) offsets[tp] = client::OffsetAndMetadata{.offset = *position};
    }
    if (offsets.empty()) return;
    if (consumer_->CommitSync(offsets).ok()) {
      for (const auto& [tp, o] : offsets) workload_.CommitAcknowledged(tp.partition, o.offset);
    }
  }

  Workload& workload_;
  const int index_;
  std::unique_ptr<client::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::map<int32_t, int64_t> last_offset_;  // the polling thread's own
  mutable std::mutex mu_;
  std::map<int32_t, int64_t> consumed_max_;
  std::vector<std::string> consumed_;
  std::vector<ConsumeEvent> events_;
  std::vector<std::string> offsets_back_;
};

Workload::Workload(Target& target, WorkloadOptions options)
    : target_(target), options_(std::move(options)) {}

Workload::~Workload() {
  StopProducing(5s);
  StopConsuming(0ms);
  StopAdmin();
}

absl::Status Workload::Start() {
  started_ = Clock::now();
  last_ack_sent_.assign(static_cast<size_t>(options_.partitions), Clock::time_point{});
  ack_log_.open(options_.ack_log_path, std::ios::trunc);
  if (!ack_log_) return absl::InternalError("cannot write " + options_.ack_log_path);
  client::Properties common = target_.client_settings();
  common["bootstrap.servers"] = target_.bootstrap();
  for (int i = 0; i < options_.producers; ++i) {
    client::Properties p = common;
    p["acks"] = "all";
    p["enable.idempotence"] = "true";
    p["client.id"] = fmt::format("{}-producer-{}", options_.run_id, i);
    auto producer = client::Producer::Create(p);
    if (!producer.ok()) return producer.status();
    producers_.push_back(*std::move(producer));
  }
  for (int i = 0; i < options_.consumers; ++i) {
    client::Properties c = common;
    c["group.id"] = options_.group;
    c["auto.offset.reset"] = "earliest";
    c["enable.auto.commit"] = "false";
    c["client.id"] = fmt::format("{}-consumer-{}", options_.run_id, i);
    auto consumer = client::Consumer::Create(c);
    if (!consumer.ok()) return consumer.status();
    members_.push_back(std::make_unique<Member>(*this, i, *std::move(consumer)));
  }
  if (options_.admin_interval.count() > 0) {
    auto config = client::ConsumerConfig::FromProperties(common);
    if (!config.ok()) return config.status();
    auto credentials = client::ClientCredentials(*config, nullptr);
    if (!credentials.ok()) return credentials.status();
    client::AdminClientOptions o;
    o.api_timeout_ms = 30'000;
    o.request_timeout_ms = 10'000;
    o.connect_timeout_ms = 5'000;
    auto admin = client::AdminClient::Create(target_.bootstrap(), o, *credentials);
    if (!admin.ok()) return admin.status();
    admin_ = *std::move(admin);
    admin_thread_ = std::thread([this] { AdminLoop(); });
  }
  for (auto& m : members_) m->Start();
  produce_thread_ = std::thread([this] { ProduceLoop(); });
  return absl::OkStatus();
}

void Workload::ProduceLoop() {
  const auto interval = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, options_.rate));
  auto next = Clock::now();
  int64_t n = 0;
  std::vector<int64_t> sequence(producers_.size(), 0);
  while (!stop_producing_) {
    const auto now = Clock::now();
    if (now < next) {
      std::this_thread::sleep_for(std::min<Clock::duration>(next - now, 50ms));
      continue;
    }
    next = std::max(next + interval, now - 100ms);  // no burst after a stall
    const int producer = static_cast<int>(n % static_cast<int64_t>(producers_.size()));
    const int32_t partition =
        static_cast<int32_t>((n / static_cast<int64_t>(producers_.size())) % options_.partitions);
    ++n;
    const int64_t seq = sequence[static_cast<size_t>(producer)]++;
    const auto sent = Clock::now();
    std::string value =
        fmt::format("{}:{}:{}:{}:", options_.run_id, producer, seq, Micros(sent - started_));
    if (static_cast<int>(value.size()) < options_.value_bytes) {
      value.resize(static_cast<size_t>(options_.value_bytes), 'x');
    }
    client::ProducerRecord record{.topic = options_.topic, .partition = partition, .value = value};
    ++sent_;
    absl::Status queued = producers_[static_cast<size_t>(producer)]->Send(
        std::move(record), [this, value, partition, sent](const auto& result) {
          OnAck(value, partition, sent, result);
        });
    if (!queued.ok()) {
      std::lock_guard lock(mu_);
      failures_.push_back(fmt::format("{}: not queued: {}", value, std::string(queued.message())));
    }
  }
}

void Workload::OnAck(std::string value, int32_t partition, Clock::time_point sent,
                     const absl::StatusOr<client::RecordMetadata>& result) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  if (!result.ok()) {
    failures_.push_back(fmt::format("{}: {}", value, std::string(result.status().message())));
    return;
  }
  ack_log_ << result->partition << ' ' << result->offset << ' ' << value << '\n';
  ++ack_log_lines_;
  auto& latest = last_ack_sent_[static_cast<size_t>(partition)];
  latest = std::max(latest, sent);
  acks_.push_back(AckEvent{result->partition, result->offset, std::move(value), sent, now});
}

void Workload::AdminLoop() {
  int n = 0;
  while (!stop_admin_) {
    AdminEvent e;
    e.topic = fmt::format("{}-meta-{}", options_.run_id, n++);
    e.start = Clock::now();
    admin::v1::CreateTopicsRequest req;
    auto* t = req.add_topics();
    t->set_name(e.topic);
    t->set_partitions(1);
    t->set_replication_factor(1);
    auto resp = admin_->CreateTopics(req);
    e.end = Clock::now();
    if (!resp.ok()) {
      e.error = std::string(resp.status().message());
    } else if (resp->topics_size() != 1) {
      e.error = "no topic in the answer";
    } else {
      const auto& error = resp->topics(0).error();
      // TOPIC_ALREADY_EXISTS: an attempt that timed out had created it (the client retried).
      e.ok = error.code() == 0 || error.name() == "TOPIC_ALREADY_EXISTS";
      if (!e.ok) e.error = fmt::format("{}: {}", error.name(), error.message());
    }
    {
      std::lock_guard lock(mu_);
      if (e.ok) last_admin_ok_start_ = std::max(last_admin_ok_start_, e.start);
      admin_events_.push_back(e);
    }
    const auto next = e.start + options_.admin_interval;
    while (!stop_admin_ && Clock::now() < next) std::this_thread::sleep_for(20ms);
  }
}

void Workload::StopProducing(std::chrono::milliseconds timeout) {
  stop_producing_ = true;
  if (produce_thread_.joinable()) produce_thread_.join();
  for (auto& p : producers_) p->Close(timeout);
  producers_.clear();
  std::lock_guard lock(mu_);
  if (ack_log_.is_open()) ack_log_.close();
}

bool Workload::StopConsuming(std::chrono::milliseconds timeout) {
  std::map<int32_t, int64_t> target;
  {
    std::lock_guard lock(mu_);
    for (const auto& a : acks_) target[a.partition] = std::max(target[a.partition], a.offset);
  }
  const auto deadline = Clock::now() + timeout;
  bool drained = false;
  std::map<int32_t, int64_t> last;
  auto progressed = Clock::now();
  while (true) {
    std::map<int32_t, int64_t> high;
    for (const auto& m : members_) {
      for (const auto& [p, o] : m->consumed_max()) high[p] = std::max(high[p], o);
    }
    drained = std::all_of(target.begin(), target.end(), [&](const auto& t) {
      auto it = high.find(t.first);
      return it != high.end() && it->second >= t.second;
    });
    if (high != last) {
      last = high;
      progressed = Clock::now();
    }
    // Done, out of time, or stuck (nothing new for kDrainIdle: the records are not there).
    if (drained || Clock::now() >= deadline || Clock::now() - progressed >= kDrainIdle) break;
    std::this_thread::sleep_for(50ms);
  }
  for (auto& m : members_) m->Stop();
  return drained;
}

void Workload::StopAdmin() {
  stop_admin_ = true;
  if (admin_thread_.joinable()) admin_thread_.join();
}

int64_t Workload::AcknowledgedCommit(int32_t partition) const {
  std::lock_guard lock(mu_);
  auto it = acknowledged_commits_.find(partition);
  return it == acknowledged_commits_.end() ? -1 : it->second;
}

void Workload::CommitAcknowledged(int32_t partition, int64_t offset) {
  std::lock_guard lock(mu_);
  auto& c = acknowledged_commits_[partition];
  c = std::max(c, offset);
  ++commits_;
}

Progress Workload::progress() const {
  Progress p;
  p.sent = sent_;
  for (const auto& m : members_) p.consumed += m->count();
  std::lock_guard lock(mu_);
  p.acknowledged = static_cast<int64_t>(acks_.size());
  p.failed = static_cast<int64_t>(failures_.size());
  p.commits = commits_;
  for (const auto& e : admin_events_) (e.ok ? p.admin_ok : p.admin_failed)++;
  return p;
}

bool Workload::WritesResumed(Clock::time_point since) const {
  std::lock_guard lock(mu_);
  return std::all_of(last_ack_sent_.begin(), last_ack_sent_.end(),
                     [&](Clock::time_point t) { return t >= since; });
}

bool Workload::AdminResumed(Clock::time_point since) const {
  std::lock_guard lock(mu_);
  return last_admin_ok_start_ >= since;
}

std::vector<AckEvent> Workload::acks() const {
  std::lock_guard lock(mu_);
  return acks_;
}

std::vector<std::string> Workload::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::vector<ConsumeEvent> Workload::consumes() const {
  std::vector<ConsumeEvent> all;
  for (const auto& m : members_) {
    auto e = m->events();
    all.insert(all.end(), e.begin(), e.end());
  }
  return all;
}

std::vector<AdminEvent> Workload::admin_events() const {
  std::lock_guard lock(mu_);
  return admin_events_;
}

ConsumerObservations Workload::consumer_observations() const {
  ConsumerObservations o;
  for (const auto& m : members_) {
    auto c = m->consumed();
    o.consumed.insert(o.consumed.end(), c.begin(), c.end());
    auto b = m->offsets_back();
    o.offsets_back.insert(o.offsets_back.end(), b.begin(), b.end());
  }
  std::lock_guard lock(mu_);
  o.acknowledged_commits = acknowledged_commits_;
  return o;
}

int64_t Workload::ack_log_lines_written() const {
  std::lock_guard lock(mu_);
  return ack_log_lines_;
}

}  // namespace strand::drill
