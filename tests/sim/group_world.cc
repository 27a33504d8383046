// GroupWorld: see the header.
#include "tests/sim/group_world.h"

#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "broker/group/group_shard.h"
#include "common/random.h"

namespace strand::broker::group::sim {
namespace {

constexpr char kGroup[] = "g";
constexpr char kTopic[] = "t";
constexpr int32_t kSessionMs = 3'000;
constexpr int32_t kHeartbeatMs = 300;
constexpr int32_t kRebalanceMs = 2'000;
constexpr int64_t kRequestTimeoutMs = 1'500;

using TP = TopicPartition;

struct Violation {
  std::string checker;
  std::string detail;
};

struct SimMember {
  std::string id;
  bool alive = true;
  int64_t paused_until = 0;
  bool joined = false;  // holds an epoch from the coordinator
  int32_t epoch = 0;
  std::set<TP> owned;
  std::map<TP, int64_t> position;  // known start / consumed position of owned partitions
  bool leaving = false;
  // The heartbeat in flight, if any.
  uint64_t inflight = 0;  // request id, 0: none
  int64_t lease_until = -1;
  int pending_commits = 0;  // commits of revoked partitions not answered yet
  // Send time of the first heartbeat after the last answer that asked for no revocation: the
  // coordinator's revocation clock cannot have started before it.
  int64_t unclean_since = -1;
  int64_t next_commit_ms = 0;
  // One commit in flight at a time (a client's commits must not overtake each other); what is
  // to commit meanwhile waits here, newest position per partition.
  bool commit_inflight = false;
  std::map<TP, int64_t> commit_queued;
  int queued_revoke_commits = 0;
  int32_t commit_queued_epoch = -1;  // the epoch the queued commit was taken at
  int64_t lost_at = -1;              // when it last lost its partitions
};

class World {
 public:
  World(const GroupSimOptions& options, uint64_t seed) : options_(options), random_(seed) {
    config_.session_timeout_ms = kSessionMs;
    config_.heartbeat_interval_ms = kHeartbeatMs;
    catalog_.topics[kTopic].topic_id = "topic-id";
    catalog_.topics[kTopic].partition_count = options.partitions;
    shard_ = std::make_unique<GroupShard>(config_);
  }

  GroupSimResult Run() {
    GroupSimResult result;
    for (int i = 0; i < options_.members; ++i) AddMember();
    Schedule(100, [this] { CoordinatorTick(); });
    Schedule(200, [this] { Chaos(); });
    // Fault phase.
    while (events_done_ < options_.steps && !violation_ && !queue_.empty()) Step();
    // Calm phase: no faults; the live members must converge.
    calm_ = true;
    calm_start_ = now_;
    if (!coordinator_up_) Recover();
    const int64_t calm_until = now_ + 6 * kSessionMs + 10'000;
    while (!violation_ && now_ < calm_until && !queue_.empty()) {
      Step();
      if (now_ > calm_start_ + 2 * kSessionMs && Converged()) break;
    }
    if (!violation_ && !Converged()) {
      violation_ = Violation{"liveness", fmt::format("not converged after calm phase: {}",
                                                     shard_->Describe(kGroup).ShortDebugString())};
    }
    result.ok = !violation_.has_value();
    if (violation_) {
      result.checker = violation_->checker;
      result.detail = violation_->detail;
    }
    result.step = events_done_;
    result.time_ms = now_;
    result.events = events_done_;
    result.failovers = failovers_;
    result.commits_ok = commits_ok_;
    result.commits_refused = commits_refused_;
    result.revocations = revocations_;
    result.leases_lapsed = leases_lapsed_;
    return result;
  }

 private:
  // ------------------------------------------------------------ scheduling
  void Schedule(int64_t delay_ms, std::function<void()> fn) {
    queue_.emplace(now_ + std::max<int64_t>(0, delay_ms), std::move(fn));
  }

  void Step() {
    auto it = queue_.begin();
    now_ = it->first;
    auto fn = std::move(it->second);
    queue_.erase(it);
    fn();
    ++events_done_;
    if (!violation_) Check();
  }

  void Trace(const std::string& line) {
    if (options_.verbose)
      std::fprintf(stderr, "[%8ld ms] %s\n", static_cast<long>(now_), line.c_str());
  }

  // A message over the network: delivered after a delay, or lost.
  void Send(std::function<void()> deliver) {
    if (!calm_ && random_.OneIn(20)) return;  // dropped
    Schedule(random_.Range(1, random_.OneIn(10) ? 400 : 20), std::move(deliver));
  }

  // ------------------------------------------------------------ coordinator
  // Appends `records`, replays them, and runs `respond` once they (and all before) commit.
  void Write(std::vector<GroupRecord> records, std::function<void()> respond) {
    for (auto& r : records) {
      absl::Status s = shard_->Replay(r);
      if (!s.ok()) {
        violation_ = Violation{"replay", s.ToString()};
        return;
      }
      log_.push_back(std::move(r));
    }
    if (batch_ends_.empty() || batch_ends_.back() != log_.size())
      batch_ends_.push_back(log_.size());
    pending_.push_back({log_.size(), std::move(respond)});
    const uint64_t generation = generation_;
    const size_t end = log_.size();
    Schedule(random_.Range(1, 30), [this, generation, end] {
      if (generation != generation_) return;
      committed_ = std::max(committed_, end);
      while (!pending_.empty() && pending_.front().first <= committed_) {
        auto answer = std::move(pending_.front().second);
        pending_.pop_front();
        answer();
      }
    });
  }

  void CoordinatorTick() {
    Schedule(100, [this] { CoordinatorTick(); });
    if (!coordinator_up_) return;
    std::vector<std::string> expired;
    auto records = shard_->ExpireMembers(now_, &expired);
    for (const auto& e : expired) Trace("coordinator expires " + e);
    if (!records.empty()) Write(std::move(records), [] {});
  }

  void Failover() {
    ++failovers_;
    coordinator_up_ = false;
    ++generation_;
    pending_.clear();  // their answers are never sent
    // The new leader has everything committed and maybe some of the rest: whole batches (a
    // call's records are one batch, appended and replicated as a unit).
    std::vector<size_t> cuts = {committed_};
    for (size_t end : batch_ends_) {
      if (end > committed_) cuts.push_back(end);
    }
    const size_t keep = cuts[random_.Uniform(cuts.size())];
    while (!batch_ends_.empty() && batch_ends_.back() > keep) batch_ends_.pop_back();
    Trace(fmt::format("coordinator fails: log {} -> {} (committed {})", log_.size(), keep,
                      committed_));
    log_.resize(keep);
    committed_ = keep;
    Schedule(random_.Range(50, 2'000), [this] { Recover(); });
  }

  void Recover() {
    if (coordinator_up_) return;
    shard_ = std::make_unique<GroupShard>(config_);
    for (const auto& r : log_) {
      absl::Status s = shard_->Replay(r);
      if (!s.ok()) violation_ = Violation{"replay", s.ToString()};
    }
    shard_->ResetTimers(now_);
    coordinator_up_ = true;
    Trace(fmt::format("coordinator loaded {} records", log_.size()));
  }

  // ------------------------------------------------------------ members
  void AddMember() {
    auto m = std::make_shared<SimMember>();
    m->id = fmt::format("m{}", next_member_++);
    members_[m->id] = m;
    Trace("join " + m->id);
    Schedule(random_.Range(0, 50), [this, m] { Heartbeat(m); });
    Schedule(100, [this, m] { Consume(m); });
  }

  // Valid while the coordinator cannot have removed the member: within the session timeout of
  // the last heartbeat that succeeded (counted from its send), and within the rebalance timeout
  // of the first heartbeat sent since the last answer that asked for no revocation — any
  // heartbeat since may have started a revocation whose answer was lost.
  bool LeaseValid(const SimMember& m) const {
    return m.lease_until > now_ && (m.unclean_since < 0 || m.unclean_since + kRebalanceMs > now_);
  }

  void Lose(SimMember& m, const std::string& why) {
    m.unclean_since = -1;
    m.lost_at = now_;
    // Commits not sent yet were for partitions now lost: a lost member commits nothing.
    m.commit_queued.clear();
    m.pending_commits -= m.queued_revoke_commits;
    m.queued_revoke_commits = 0;
    if (!m.owned.empty())
      Trace(fmt::format("{} loses {} partition(s): {}", m.id, m.owned.size(), why));
    m.owned.clear();
    m.position.clear();
    m.joined = false;
    m.epoch = 0;
    m.lease_until = -1;
  }

  bool Paused(const SimMember& m) const { return m.paused_until > now_; }

  void Heartbeat(std::shared_ptr<SimMember> m) {
    if (!m->alive) return;
    if (Paused(*m)) {
      Schedule(m->paused_until - now_, [this, m] { Heartbeat(m); });
      return;
    }
    // A lapsed lease: everything is lost before anything else happens.
    if (!m->owned.empty() && !LeaseValid(*m)) {
      ++leases_lapsed_;
      Lose(*m, "lease lapsed");
    }
    if (m->inflight != 0 || m->pending_commits > 0) {
      Schedule(kHeartbeatMs / 3, [this, m] { Heartbeat(m); });
      return;
    }
    v1::ConsumerGroupHeartbeatRequest req;
    req.set_group_id(kGroup);
    req.set_member_id(m->id);
    req.set_member_epoch(m->leaving ? -1 : (m->joined ? m->epoch : 0));
    req.add_subscribed_topic_names(kTopic);
    req.set_rebalance_timeout_ms(kRebalanceMs);
    v1::TopicPartitions* tps = nullptr;
    for (const auto& [t, p] : m->owned) {
      if (tps == nullptr) {
        tps = req.add_owned();
        tps->set_topic(t);
      }
      tps->add_partitions(p);
    }
    const uint64_t id = ++next_request_;
    m->inflight = id;
    const int64_t sent = now_;
    if (m->unclean_since < 0) m->unclean_since = sent;
    const std::set<TP> reported = m->owned;
    Send([this, m, req, id, sent, reported] {
      if (!coordinator_up_) return;
      auto result = shard_->Heartbeat(req, now_, catalog_);
      auto resp = result.response;
      Write(std::move(result.records), [this, m, resp, id, sent, reported] {
        Send([this, m, resp, id, sent, reported] { OnHeartbeat(m, resp, id, sent, reported); });
      });
    });
    // Request timeout: give up on this one and send the next.
    Schedule(kRequestTimeoutMs, [this, m, id] {
      if (m->inflight == id) {
        m->inflight = 0;
        Heartbeat(m);
      }
    });
  }

  void OnHeartbeat(std::shared_ptr<SimMember> m, const v1::ConsumerGroupHeartbeatResponse& resp,
                   uint64_t id, int64_t sent, const std::set<TP>& reported) {
    if (!m->alive || m->inflight != id) return;  // timed out already: ignore a late answer
    m->inflight = 0;
    if (Paused(*m)) {
      // The answer waits in the socket until the process runs again.
      Schedule(m->paused_until - now_, [this, m, resp, id, sent, reported] {
        m->inflight = id;
        OnHeartbeat(m, resp, id, sent, reported);
      });
      return;
    }
    const auto code = static_cast<KafkaError>(resp.error().code());
    if (m->leaving) {
      members_.erase(m->id);
      m->alive = false;
      Trace(m->id + " left");
      return;
    }
    if (code == KafkaError::kFencedMemberEpoch || code == KafkaError::kUnknownMemberId) {
      Lose(*m, std::string(KafkaErrorName(code)));
      Schedule(0, [this, m] { Heartbeat(m); });
      return;
    }
    if (code != KafkaError::kNone) {
      violation_ =
          Violation{"unexpected-error",
                    fmt::format("{}: {} {}", m->id, resp.error().name(), resp.error().message())};
      return;
    }
    // A lease lapsed while waiting: this answer is about state we no longer trust.
    if (!m->owned.empty() && !LeaseValid(*m)) {
      ++leases_lapsed_;
      Lose(*m, "lease lapsed");
    }
    // An answer to a request older than the last loss, or too old to give a lease: the member
    // may have been removed since; it rejoins instead.
    if (sent < m->lost_at || sent + kSessionMs <= now_) {
      Lose(*m, "stale answer");
      Schedule(0, [this, m] { Heartbeat(m); });
      return;
    }
    m->joined = true;
    m->epoch = resp.member_epoch();
    m->lease_until = std::max(m->lease_until, sent + kSessionMs);
    std::set<TP> assignment;
    for (const auto& t : resp.assignment()) {
      for (int32_t p : t.partitions()) assignment.emplace(t.topic(), p);
    }
    bool revocation = false;
    for (const auto& tp : reported) revocation = revocation || assignment.count(tp) == 0;
    if (!revocation) m->unclean_since = -1;
    Trace(fmt::format(
        "{} heartbeat sent {} answered: epoch {} assignment {} revocation {} "
        "lease {} unclean since {}",
        m->id, sent, m->epoch, assignment.size(), revocation, m->lease_until, m->unclean_since));
    // Revoke: commit the positions of what goes, then drop it.
    std::map<TP, int64_t> revoked_positions;
    for (auto it = m->owned.begin(); it != m->owned.end();) {
      if (assignment.count(*it) == 0) {
        auto pos = m->position.find(*it);
        if (pos != m->position.end()) revoked_positions[*it] = pos->second;
        m->position.erase(*it);
        it = m->owned.erase(it);
        ++revocations_;
      } else {
        ++it;
      }
    }
    if (!revoked_positions.empty()) {
      ++m->pending_commits;
      Commit(m, revoked_positions, /*on_revoke=*/true);
    }
    std::set<TP> added;
    for (const auto& tp : assignment) {
      if (m->owned.insert(tp).second) added.insert(tp);
    }
    if (!added.empty()) FetchOffsets(m, added);
    const bool changed = !revoked_positions.empty() || !added.empty() || revocation;
    Schedule(changed ? 0 : resp.heartbeat_interval_ms(), [this, m] { Heartbeat(m); });
  }

  void FetchOffsets(std::shared_ptr<SimMember> m, std::set<TP> partitions) {
    const int32_t epoch = m->epoch;
    Send([this, m, partitions, epoch] {
      if (!coordinator_up_) return;
      v1::OffsetFetchRequest req;
      req.set_group_id(kGroup);
      auto resp = shard_->FetchOffsets(req);
      Write({}, [this, m, partitions, epoch, resp] {
        Send([this, m, partitions, epoch, resp] {
          if (!m->alive || m->epoch != epoch) return;
          std::map<TP, int64_t> committed;
          for (const auto& t : resp.topics()) {
            for (const auto& p : t.partitions()) committed[{t.name(), p.partition()}] = p.offset();
          }
          for (const auto& tp : partitions) {
            if (m->owned.count(tp) == 0 || m->position.count(tp) != 0) continue;
            auto it = committed.find(tp);
            m->position[tp] = it == committed.end() || it->second < 0 ? 0 : it->second;
            Trace(
                fmt::format("{} starts {}-{} at {}", m->id, tp.first, tp.second, m->position[tp]));
          }
        });
      });
    });
  }

  void Commit(std::shared_ptr<SimMember> m, const std::map<TP, int64_t>& offsets, bool on_revoke) {
    if (m->commit_queued_epoch != m->epoch) {
      m->commit_queued.clear();
      m->pending_commits -= m->queued_revoke_commits;
      m->queued_revoke_commits = 0;
    }
    m->commit_queued_epoch = m->epoch;
    for (const auto& [tp, offset] : offsets) m->commit_queued[tp] = offset;
    if (on_revoke) ++m->queued_revoke_commits;
    if (!m->commit_inflight) SendQueuedCommit(m);
  }

  void SendQueuedCommit(std::shared_ptr<SimMember> m) {
    if (m->commit_queued.empty() || !m->alive) return;
    std::map<TP, int64_t> offsets;
    offsets.swap(m->commit_queued);
    const int revokes = m->queued_revoke_commits;
    m->queued_revoke_commits = 0;
    m->commit_inflight = true;
    v1::OffsetCommitRequest req;
    req.set_group_id(kGroup);
    req.set_member_id(m->id);
    req.set_member_epoch(m->commit_queued_epoch);
    auto* t = req.add_topics();
    t->set_name(kTopic);
    for (const auto& [tp, offset] : offsets) {
      auto* p = t->add_partitions();
      p->set_partition(tp.second);
      p->set_offset(offset);
    }
    auto done = std::make_shared<bool>(false);
    auto finish = [this, m, revokes, done] {
      if (*done) return;
      *done = true;
      m->pending_commits -= revokes;
      m->commit_inflight = false;
      SendQueuedCommit(m);
    };
    Send([this, m, req, offsets, finish] {
      if (!coordinator_up_) return;
      auto result = shard_->CommitOffsets(req, now_, catalog_);
      Trace(fmt::format("commit by {} epoch {}: {} -> {}", req.member_id(), req.member_epoch(),
                        req.topics(0).ShortDebugString(), result.response.ShortDebugString()));
      if (result.response.error().code() == 0) CheckCommitter(req);
      auto resp = result.response;
      Write(std::move(result.records), [this, m, resp, offsets, finish] {
        Send([this, m, resp, offsets, finish] {
          if (resp.error().code() != 0) {
            ++commits_refused_;
          } else {
            ++commits_ok_;
            for (const auto& p : resp.topics(0).partitions()) {
              if (p.error().code() == 0) {
                const TP tp(kTopic, p.partition());
                acked_[tp] = std::max(acked_[tp], offsets.at(tp));
              }
            }
          }
          finish();
        });
      });
    });
    // A commit that is never answered stops blocking the revocation after the request timeout.
    Schedule(kRequestTimeoutMs, finish);
  }

  // fenced-no-commit: the coordinator accepted a commit; its member must be in the group at that
  // epoch, holding every partition it committed.
  void CheckCommitter(const v1::OffsetCommitRequest& req) {
    const v1::DescribedGroup d = shard_->Describe(kGroup);
    for (const auto& member : d.members()) {
      if (member.member_id() != req.member_id()) continue;
      if (member.member_epoch() != req.member_epoch()) break;
      std::set<int32_t> held;
      for (const auto& t : member.assignment())
        held.insert(t.partitions().begin(), t.partitions().end());
      for (const auto& t : member.pending_revocation()) {
        held.insert(t.partitions().begin(), t.partitions().end());
      }
      for (const auto& p : req.topics(0).partitions()) {
        if (held.count(p.partition()) == 0) {
          violation_ =
              Violation{"fenced-no-commit", fmt::format("{} committed {}-{} it does not hold",
                                                        req.member_id(), kTopic, p.partition())};
        }
      }
      return;
    }
    violation_ = Violation{"fenced-no-commit",
                           fmt::format("commit by {} at epoch {} accepted but it is not a member "
                                       "at that epoch",
                                       req.member_id(), req.member_epoch())};
  }

  void Consume(std::shared_ptr<SimMember> m) {
    if (!m->alive) return;
    Schedule(100, [this, m] { Consume(m); });
    if (Paused(*m) || m->leaving) return;
    if (!m->owned.empty() && !LeaseValid(*m)) {
      ++leases_lapsed_;
      Lose(*m, "lease lapsed");
      return;
    }
    for (auto& [tp, pos] : m->position) pos += random_.Range(0, 5);
    if (now_ >= m->next_commit_ms && !m->position.empty() && m->joined) {
      m->next_commit_ms = now_ + random_.Range(200, 1'500);
      Commit(m, m->position, false);
    }
  }

  // ------------------------------------------------------------ chaos
  void Chaos() {
    if (calm_) return;
    Schedule(random_.Range(50, 400), [this] { Chaos(); });
    const int64_t r = random_.Range(0, 99);
    std::vector<std::shared_ptr<SimMember>> live;
    for (auto& [id, m] : members_) {
      if (!m->leaving) live.push_back(m);
    }
    auto pick = [&]() -> std::shared_ptr<SimMember> {
      if (live.empty()) return nullptr;
      return live[random_.Uniform(live.size())];
    };
    if (r < 15 && static_cast<int>(live.size()) < options_.members) {
      AddMember();
    } else if (r < 22) {
      if (auto m = pick()) {
        Trace(m->id + " leaves");
        m->leaving = true;
        m->owned.clear();  // revoked on close
        m->position.clear();
      }
    } else if (r < 27) {
      if (auto m = pick()) {
        Trace(m->id + " crashes");
        m->alive = false;
        m->owned.clear();
        members_.erase(m->id);
      }
    } else if (r < 33) {
      if (auto m = pick()) {
        m->paused_until = now_ + random_.Range(100, 2 * kSessionMs);
        Trace(fmt::format("{} paused until {}", m->id, m->paused_until));
      }
    } else if (r < 36 && coordinator_up_) {
      Failover();
    } else if (r < 38) {
      auto& t = catalog_.topics[kTopic];
      if (t.partition_count < 40) {
        t.partition_count += static_cast<int32_t>(random_.Range(1, 4));
        Trace(fmt::format("topic grows to {} partitions", t.partition_count));
      }
    }
  }

  // ------------------------------------------------------------ checks
  void Check() {
    std::map<TP, std::string> owner;
    for (const auto& [id, m] : members_) {
      if (!m->alive || !LeaseValid(*m)) continue;
      for (const auto& tp : m->owned) {
        auto [it, inserted] = owner.emplace(tp, id);
        if (!inserted) {
          violation_ = Violation{"single-owner", fmt::format("{}-{} owned by {} and {}", tp.first,
                                                             tp.second, it->second, id)};
          return;
        }
      }
    }
    if (!coordinator_up_) return;
    const auto violations = shard_->OwnershipViolations();
    if (!violations.empty()) {
      violation_ = Violation{"coordinator-owner", violations.front()};
      return;
    }
    const auto committed = shard_->CommittedOffsets(kGroup);
    for (const auto& [tp, offset] : acked_) {
      auto it = committed.find(tp);
      const int64_t now_committed = it == committed.end() ? -1 : it->second;
      if (now_committed < offset) {
        violation_ = Violation{"offset-monotonic",
                               fmt::format("{}-{}: committed {} but a commit of {} was answered OK",
                                           tp.first, tp.second, now_committed, offset)};
        return;
      }
    }
  }

  bool Converged() {
    if (!coordinator_up_) return false;
    const int32_t partitions = catalog_.topics[kTopic].partition_count;
    std::map<int32_t, int> owners;
    int live = 0;
    for (const auto& [id, m] : members_) {
      if (!m->alive || m->leaving) continue;
      ++live;
      if (!m->joined || !LeaseValid(*m)) return false;
      for (const auto& tp : m->owned) ++owners[tp.second];
    }
    if (live == 0) return true;
    for (int32_t p = 0; p < partitions; ++p) {
      if (owners[p] != 1) return false;
    }
    return shard_->Describe(kGroup).state() == "Stable";
  }

  const GroupSimOptions options_;
  Random random_;
  GroupConfig config_;
  MapTopicCatalog catalog_;
  std::unique_ptr<GroupShard> shard_;
  std::vector<GroupRecord> log_;
  std::vector<size_t> batch_ends_;  // where each appended batch ends in log_
  size_t committed_ = 0;
  std::deque<std::pair<size_t, std::function<void()>>> pending_;
  uint64_t generation_ = 1;
  bool coordinator_up_ = true;

  std::multimap<int64_t, std::function<void()>> queue_;
  int64_t now_ = 0;
  uint64_t events_done_ = 0;
  bool calm_ = false;
  int64_t calm_start_ = 0;
  std::map<std::string, std::shared_ptr<SimMember>> members_;
  int next_member_ = 0;
  uint64_t next_request_ = 0;
  std::map<TP, int64_t> acked_;
  std::optional<Violation> violation_;

  uint64_t failovers_ = 0;
  uint64_t commits_ok_ = 0;
  uint64_t commits_refused_ = 0;
  uint64_t revocations_ = 0;
  uint64_t leases_lapsed_ = 0;
};

}  // namespace

GroupSimResult RunGroupSimulation(const GroupSimOptions& options, uint64_t seed) {
  World world(options, seed);
  return world.Run();
}

}  // namespace strand::broker::group::sim
