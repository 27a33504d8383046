// The drills' scenarios: each makes one fault through the Target and records what showed that it
// took effect (docs/drills.md describes them for operators).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>

#include "tools/drill/drill.h"

namespace strand::drill {
namespace {

using namespace std::chrono_literals;

// How long a fault waits for the cluster to show its effect, and for writes to resume.
constexpr auto kEffectMax = 30s;
constexpr auto kResumeMax = 60s;
// A broker's SIGTERM exit (controlled shutdown included) gets this long before a SIGKILL.
constexpr auto kStopGrace = std::chrono::seconds(60);

absl::Status Failed(const std::string& what, const absl::Status& s) {
  return absl::Status(s.code(), fmt::format("{}: {}", what, std::string(s.message())));
}

// The partition's leader and epoch as the controllers answer now.
absl::StatusOr<admin::v1::PartitionInfo> LeaderOf(DrillContext& ctx, int32_t partition) {
  absl::StatusOr<admin::v1::PartitionInfo> info;
  ctx.Wait(
      [&] {
        info = ctx.Partition(partition);
        return info.ok() && info->leader() >= 0;
      },
      kEffectMax);
  if (!info.ok()) return info.status();
  if (info->leader() < 0) {
    return absl::UnavailableError(fmt::format("partition {} has no leader", partition));
  }
  return info;
}

// After the leader `victim` at `epoch` was hit: waits for another leader at a higher epoch and
// records it as the fault's effect.
void ExpectNewLeader(DrillContext& ctx, size_t fault, int32_t partition, int victim,
                     int32_t epoch) {
  admin::v1::PartitionInfo after;
  const bool moved = ctx.Wait(
      [&] {
        auto info = ctx.Partition(partition);
        if (!info.ok()) return false;
        after = *info;
        return info->leader() >= 0 && info->leader() != victim && info->leader_epoch() > epoch;
      },
      kEffectMax);
  ctx.Effect(fault, moved,
             moved ? fmt::format("partition {} leader {} -> {}, leader epoch {} -> {}", partition,
                                 victim, after.leader(), epoch, after.leader_epoch())
                   : fmt::format("partition {} still led by {} at epoch {} after {} s", partition,
                                 after.leader(), after.leader_epoch(), kEffectMax.count()));
}

// A partition chosen by the seed, with its leader (waiting up to kEffectMax for one).
absl::StatusOr<admin::v1::PartitionInfo> PickPartition(DrillContext& ctx) {
  auto info = LeaderOf(ctx, ctx.RandomPartition());
  if (!info.ok()) return Failed("finding the leader", info.status());
  return info;
}

std::vector<int> FollowersOf(const admin::v1::PartitionInfo& info) {
  std::vector<int> followers;
  for (int r : info.replicas()) {
    if (r != info.leader()) followers.push_back(r);
  }
  return followers;
}

// Waits (kEffectMax) for an active controller other than `victim`; -1 when none came.
int NewActiveController(DrillContext& ctx, int victim) {
  int successor = -1;
  const bool moved = ctx.Wait(
      [&] {
        auto now = ctx.ActiveController();
        successor = now.ok() ? *now : -1;
        return successor >= 0 && successor != victim;
      },
      kEffectMax);
  return moved ? successor : -1;
}

// 1. SIGKILL the leader of a partition (chosen by the seed), restart it once writes resumed.
absl::Status LeaderKill(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  const int victim = info->leader();
  const size_t f = ctx.Begin(
      fmt::format("SIGKILL broker {}, leader of partition {}", victim, partition), victim);
  const auto at = ctx.faults[f].at;
  if (absl::Status s = ctx.target.Kill(victim); !s.ok()) return s;
  ExpectNewLeader(ctx, f, partition, victim, info->leader_epoch());
  ctx.Wait([&] { return ctx.workload.WritesResumed(at); }, kResumeMax);
  if (absl::Status s = ctx.target.Start(victim); !s.ok()) return Failed("restarting", s);
  ctx.Held(f);
  return absl::OkStatus();
}

// 2. SIGKILL the active controller; restart it once a new one is active and metadata operations
//    through the brokers succeed again.
absl::Status ControllerKill(DrillContext& ctx) {
  auto active = ctx.ActiveController();
  if (!active.ok()) return Failed("finding the active controller", active.status());
  const int victim = *active;
  if (victim < 0) return absl::UnavailableError("no active controller");
  const size_t f = ctx.Begin(fmt::format("SIGKILL controller {}, the active one", victim), victim);
  const auto at = ctx.faults[f].at;
  if (absl::Status s = ctx.target.Kill(victim); !s.ok()) return s;
  const int successor = NewActiveController(ctx, victim);
  const bool moved = successor >= 0;
  ctx.Effect(f, moved,
             moved ? fmt::format("active controller {} -> {}", victim, successor)
                   : fmt::format("no other active controller within {} s", kEffectMax.count()));
  ctx.Wait([&] { return ctx.workload.AdminResumed(at) && ctx.workload.WritesResumed(at); },
           kResumeMax);
  if (absl::Status s = ctx.target.Start(victim); !s.ok()) return Failed("restarting", s);
  ctx.Held(f);
  return absl::OkStatus();
}

// 3. Every broker, then every controller: SIGTERM (a graceful exit within kStopGrace), start
//    again, and wait for the cluster to be whole before the next.
absl::Status RollingRestart(DrillContext& ctx) {
  std::vector<int> order = ctx.Nodes(Role::kBroker);
  for (int c : ctx.Nodes(Role::kController)) order.push_back(c);
  for (int node : order) {
    const std::string before = ctx.target.Incarnation(node);
    const size_t f = ctx.Begin(fmt::format("SIGTERM and restart node {}", node), node);
    const absl::Status stopped = ctx.target.Stop(node, kStopGrace);
    if (absl::Status s = ctx.target.Start(node); !s.ok()) return Failed("restarting", s);
    const std::string after = ctx.target.Incarnation(node);
    ctx.Effect(f, stopped.ok() && after != before,
               stopped.ok() ? fmt::format("node {} exited on SIGTERM and runs again ({} -> {})",
                                          node, before, after)
                            : std::string(stopped.message()));
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
    ctx.Held(f);
  }
  return absl::OkStatus();
}

// 7. SIGSTOP the leader of a partition past the controllers' session timeout: it is fenced and
//    replaced while it sleeps; SIGCONT then wakes a zombie leader that must not acknowledge
//    anything (the checker finds any write it took), and must rejoin as a follower.
absl::Status LeaderPause(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  const int victim = info->leader();
  const size_t f =
      ctx.Begin(fmt::format("SIGSTOP broker {}, leader of partition {}, until fenced; then SIGCONT",
                            victim, partition),
                victim);
  const auto at = ctx.faults[f].at;
  if (absl::Status s = ctx.target.Pause(victim); !s.ok()) return s;
  bool fenced = false;
  ctx.Wait(
      [&] {
        auto c = ctx.Cluster();
        if (!c.ok()) return false;
        for (const auto& b : c->brokers()) {
          if (b.id() == victim) fenced = b.state() == admin::v1::FENCED;
        }
        return fenced;
      },
      kEffectMax);
  ExpectNewLeader(ctx, f, partition, victim, info->leader_epoch());
  if (!fenced) {
    ctx.Effect(f, false, fmt::format("broker {} was never reported fenced while stopped", victim));
  } else {
    ctx.Effect(f, ctx.faults[f].took_effect,
               fmt::format("broker {} fenced; {}", victim, ctx.faults[f].effect));
  }
  ctx.Wait([&] { return ctx.workload.WritesResumed(at); }, kResumeMax);
  if (absl::Status s = ctx.target.Resume(victim); !s.ok()) return Failed("resuming", s);
  ctx.Held(f);
  return absl::OkStatus();
}

// Sum of the packets `nodes`' network faults dropped.
int64_t DroppedBy(DrillContext& ctx, const std::vector<int>& nodes) {
  int64_t total = 0;
  for (int n : nodes) {
    auto d = ctx.target.Dropped(n);
    if (d.ok()) total += *d;
  }
  return total;
}

// Cuts every node of `side` from every node of `other` (rules on `side`'s nodes).
absl::Status CutAll(DrillContext& ctx, const std::vector<int>& side,
                    const std::vector<int>& other) {
  for (int n : side) {
    if (absl::Status s = ctx.target.Cut(n, other); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status HealAll(DrillContext& ctx, const std::vector<int>& nodes) {
  for (int n : nodes) {
    if (absl::Status s = ctx.target.Heal(n); !s.ok()) return Failed("healing", s);
  }
  return absl::OkStatus();
}

bool Fenced(DrillContext& ctx, const std::vector<int>& brokers) {
  auto c = ctx.Cluster();
  if (!c.ok()) return false;
  size_t fenced = 0;
  for (const auto& b : c->brokers()) {
    if (std::find(brokers.begin(), brokers.end(), b.id()) != brokers.end() &&
        b.state() == admin::v1::FENCED) {
      ++fenced;
    }
  }
  return fenced == brokers.size();
}

// How long a network fault stays in force once its effect showed.
constexpr auto kNetworkHold = std::chrono::seconds(3);

// 4. Cut a partition leader from the controllers (not from clients): fenced, it must stop
//    acknowledging; a new leader takes over; the link heals and it rejoins as a follower.
absl::Status LeaderIsolate(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  const int victim = info->leader();
  const auto controllers = ctx.Nodes(Role::kController);
  const size_t f = ctx.Begin(
      fmt::format("cut broker {}, leader of partition {}, from the controllers", victim, partition),
      victim);
  const auto at = ctx.faults[f].at;
  if (absl::Status s = ctx.target.Cut(victim, controllers); !s.ok()) return s;
  const bool fenced = ctx.Wait([&] { return Fenced(ctx, {victim}); }, kEffectMax);
  ExpectNewLeader(ctx, f, partition, victim, info->leader_epoch());
  ctx.Wait([&] { return ctx.workload.WritesResumed(at); }, kResumeMax);
  std::this_thread::sleep_for(kNetworkHold);
  const int64_t dropped = DroppedBy(ctx, {victim});
  ctx.Effect(f, fenced && dropped > 0 && ctx.faults[f].took_effect,
             fmt::format("{} packets dropped; broker {} {}; {}", dropped, victim,
                         fenced ? "fenced" : "never fenced", ctx.faults[f].effect));
  if (absl::Status s = HealAll(ctx, {victim}); !s.ok()) return s;
  ctx.Held(f);
  return absl::OkStatus();
}

// 5. Cut the active controller from the other controllers: they elect another; it heals.
absl::Status ControllerIsolate(DrillContext& ctx) {
  auto active = ctx.ActiveController();
  if (!active.ok()) return Failed("finding the active controller", active.status());
  const int victim = *active;
  if (victim < 0) return absl::UnavailableError("no active controller");
  std::vector<int> others;
  for (int c : ctx.Nodes(Role::kController)) {
    if (c != victim) others.push_back(c);
  }
  const size_t f = ctx.Begin(
      fmt::format("cut controller {}, the active one, from the other controllers", victim), victim);
  const auto at = ctx.faults[f].at;
  if (absl::Status s = ctx.target.Cut(victim, others); !s.ok()) return s;
  const int successor = NewActiveController(ctx, victim);
  const bool moved = successor >= 0;
  ctx.Wait([&] { return ctx.workload.AdminResumed(at) && ctx.workload.WritesResumed(at); },
           kResumeMax);
  std::this_thread::sleep_for(kNetworkHold);
  const int64_t dropped = DroppedBy(ctx, {victim});
  ctx.Effect(f, moved && dropped > 0,
             fmt::format("{} packets dropped; active controller {} -> {}", dropped, victim,
                         moved ? std::to_string(successor) : "none other"));
  if (absl::Status s = HealAll(ctx, {victim}); !s.ok()) return s;
  ctx.Held(f);
  return absl::OkStatus();
}

// 6. Network partitions of the brokers. Minority: a partition leader alone on one side, every
//    other broker and the controllers on the other (it is fenced, another leads). Majority: two
//    brokers on one side, the third and the controllers on the other (both are fenced; with
//    min.insync.replicas=2 writes wait for the heal, and nothing acknowledged may be lost).
absl::Status BrokerPartition(DrillContext& ctx) {
  const auto brokers = ctx.Nodes(Role::kBroker);
  const auto controllers = ctx.Nodes(Role::kController);
  if (brokers.size() < 3) return absl::FailedPreconditionError("needs at least 3 brokers");
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  for (bool majority : {false, true}) {
    std::vector<int> side{info->leader()}, other = controllers;
    for (int b : brokers) {
      if (b == info->leader()) continue;
      if (majority && side.size() < 2) {
        side.push_back(b);
      } else {
        other.push_back(b);
      }
    }
    const size_t f =
        ctx.Begin(fmt::format("{} partition: brokers {} cut from brokers and controllers {}",
                              majority ? "majority" : "minority", fmt::join(side, ","),
                              fmt::join(other, ",")),
                  side.front());
    const auto at = ctx.faults[f].at;
    if (absl::Status s = CutAll(ctx, side, other); !s.ok()) return s;
    const bool fenced = ctx.Wait([&] { return Fenced(ctx, side); }, kEffectMax);
    if (!majority) ctx.Wait([&] { return ctx.workload.WritesResumed(at); }, kResumeMax);
    std::this_thread::sleep_for(kNetworkHold);
    const int64_t dropped = DroppedBy(ctx, side);
    ctx.Effect(f, fenced && dropped > 0,
               fmt::format("{} packets dropped; brokers {} {}", dropped, fmt::join(side, ","),
                           fenced ? "fenced" : "not all fenced"));
    if (absl::Status s = HealAll(ctx, side); !s.ok()) return s;
    ctx.Held(f);
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
    info = LeaderOf(ctx, partition);
    if (!info.ok()) return Failed("finding the leader", info.status());
  }
  return absl::OkStatus();
}

// 8. Lossy links: every broker drops a share of the packets it exchanges with the other
//    brokers for a while (replication through retransmissions).
absl::Status LossyLinks(DrillContext& ctx) {
  const auto brokers = ctx.Nodes(Role::kBroker);
  constexpr int kPercent = 10;
  constexpr auto kLossFor = std::chrono::seconds(8);
  const size_t f = ctx.Begin(fmt::format("drop {}% of the packets between brokers {} for {} s",
                                         kPercent, fmt::join(brokers, ","), kLossFor.count()),
                             -1);
  for (int b : brokers) {
    std::vector<int> others;
    for (int o : brokers) {
      if (o != b) others.push_back(o);
    }
    if (absl::Status s = ctx.target.Lossy(b, others, kPercent); !s.ok()) return s;
  }
  std::this_thread::sleep_for(kLossFor);
  const int64_t dropped = DroppedBy(ctx, brokers);
  ctx.Effect(f, dropped > 0, fmt::format("{} packets dropped", dropped));
  if (absl::Status s = HealAll(ctx, brokers); !s.ok()) return s;
  ctx.Held(f);
  return absl::OkStatus();
}

// 15. The ISR lost while a stale replica lives: one follower is stopped until it leaves the ISR,
//     writes go on (acknowledged by the other two), then both ISR members are SIGKILLed and the
//     stale follower resumed. A clean election leaves the partition without a leader until an ISR
//     member returns; electing the stale replica would lose what the ISR acknowledged (the
//     checker names those records). Both are started again.
absl::Status IsrLoss(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  const int leader = info->leader();
  const std::vector<int> followers = FollowersOf(*info);
  if (followers.size() < 2) return absl::FailedPreconditionError("needs 3 replicas");
  const int stale = followers[ctx.rng() % followers.size()];
  const int other = stale == followers[0] ? followers[1] : followers[0];
  const size_t f = ctx.Begin(
      fmt::format("partition {}: broker {} stopped until out of the ISR, then the ISR (brokers {} "
                  "and {}) SIGKILLed and {} resumed",
                  partition, stale, leader, other, stale),
      leader);
  if (absl::Status s = ctx.target.Pause(stale); !s.ok()) return s;
  const bool left = ctx.Wait(
      [&] {
        auto now = ctx.Partition(partition);
        return now.ok() &&
               std::find(now->isr().begin(), now->isr().end(), stale) == now->isr().end();
      },
      kEffectMax);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // acknowledged without the stale one
  for (int victim : {leader, other}) {
    if (absl::Status s = ctx.target.Kill(victim); !s.ok()) return s;
  }
  if (absl::Status s = ctx.target.Resume(stale); !s.ok()) return Failed("resuming", s);
  // Watch who leads once the controllers have fenced the dead ISR: nobody (a clean election
  // waits for an ISR member), or the stale replica (an unclean one).
  std::string seen = "the dead leader was never replaced";
  ctx.Wait(
      [&] {
        auto now = ctx.Partition(partition);
        if (!now.ok() || now->leader() == leader || now->leader() == other) return false;
        seen =
            now->leader() < 0
                ? fmt::format("no leader at epoch {} (a clean election waits)", now->leader_epoch())
                : fmt::format("broker {} leads at epoch {}, elected from outside the ISR",
                              now->leader(), now->leader_epoch());
        return now->leader() >= 0;
      },
      std::chrono::seconds(8));
  ctx.Effect(f, left,
             left ? fmt::format("broker {} left the ISR; with the ISR down: {}", stale, seen)
                  : fmt::format("broker {} never left the ISR", stale));
  for (int victim : {leader, other}) {
    if (absl::Status s = ctx.target.Start(victim); !s.ok()) return Failed("restarting", s);
  }
  ctx.Held(f);
  return absl::OkStatus();
}

// 14. A delayed link: every follower of a partition reaches its leader through a userspace proxy
//     holding each chunk of bytes 100 ms plus up to 50 ms of jitter, each way, for 8 s.
absl::Status LinkDelay(DrillContext& ctx) {
  constexpr auto kDelay = std::chrono::milliseconds(100);
  constexpr auto kJitter = std::chrono::milliseconds(50);
  constexpr auto kDelayFor = std::chrono::seconds(8);
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  const int leader = info->leader();
  const std::vector<int> followers = FollowersOf(*info);
  const size_t f = ctx.Begin(
      fmt::format("delay the links from brokers {} to broker {}, leader of partition {}, by {} ms "
                  "+ up to {} ms for {} s",
                  fmt::join(followers, ","), leader, partition, kDelay.count(), kJitter.count(),
                  kDelayFor.count()),
      leader);
  for (int follower : followers) {
    if (absl::Status s = ctx.target.Delay(follower, leader, kDelay, kJitter); !s.ok()) return s;
  }
  std::this_thread::sleep_for(kDelayFor);
  int64_t delayed = 0;
  for (int follower : followers) {
    auto d = ctx.target.Delayed(follower);
    if (d.ok()) delayed += *d;
  }
  ctx.Effect(f, delayed > 0, fmt::format("{} chunks of bytes delayed", delayed));
  if (absl::Status s = HealAll(ctx, followers); !s.ok()) return s;
  ctx.Held(f);
  return absl::OkStatus();
}

// The replicas of the topic's partition `partition` as the controllers answer now.
std::vector<int> ReplicasOf(const admin::v1::PartitionInfo& info) {
  return std::vector<int>(info.replicas().begin(), info.replicas().end());
}

bool InIsr(DrillContext& ctx, int32_t partition, int broker) {
  auto now = ctx.Partition(partition);
  return now.ok() && std::find(now->isr().begin(), now->isr().end(), broker) != now->isr().end();
}

// 9. A full disk, on a follower of a partition and then on its leader: every write to the
//    broker's partition logs fails with ENOSPC. The broker asks to be fenced: its leaderships
//    move, it leaves the ISRs, writes go on with the other two replicas. Space returns: the
//    broker asks to be unfenced by itself (no restart) and catches up into the ISRs again.
absl::Status FullDisk(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  for (bool on_leader : {false, true}) {
    info = LeaderOf(ctx, partition);
    if (!info.ok()) return Failed("finding the leader", info.status());
    const std::vector<int> followers = FollowersOf(*info);
    if (followers.empty()) return absl::FailedPreconditionError("needs 3 replicas");
    const int victim = on_leader ? info->leader() : followers[ctx.rng() % followers.size()];
    const std::string incarnation = ctx.target.Incarnation(victim);
    const size_t f = ctx.Begin(fmt::format("disk full on broker {}, {} of partition {}", victim,
                                           on_leader ? "leader" : "a follower", partition),
                               victim);
    const auto at = ctx.faults[f].at;
    auto before = ctx.target.SetDiskFaults(victim, DiskFaults{.full = true});
    if (!before.ok()) return before.status();
    const bool fenced = ctx.Wait([&] { return Fenced(ctx, {victim}); }, kEffectMax);
    const bool out = ctx.Wait([&] { return !InIsr(ctx, partition, victim); }, kEffectMax);
    if (on_leader) ExpectNewLeader(ctx, f, partition, victim, info->leader_epoch());
    ctx.Wait([&] { return ctx.workload.WritesResumed(at); }, kResumeMax);
    auto after = ctx.target.SetDiskFaults(victim, DiskFaults{});  // space returns
    if (!after.ok()) return after.status();
    const int64_t errors = after->injected_errors - before->injected_errors;
    // Back by itself: unfenced and in the ISR again, the same process.
    const bool back = ctx.Wait(
        [&] { return !Fenced(ctx, {victim}) && InIsr(ctx, partition, victim); }, kResumeMax);
    const bool same = ctx.target.Incarnation(victim) == incarnation;
    const bool moved = !on_leader || ctx.faults[f].took_effect;
    ctx.Effect(
        f, errors > 0 && fenced && out && moved && back && same,
        fmt::format("{} writes failed with ENOSPC; broker {} {}, {} the ISR of partition "
                    "{}{}{}; space returned: {}",
                    errors, victim, fenced ? "fenced" : "never fenced", out ? "out of" : "still in",
                    partition, on_leader ? "; " : "", on_leader ? ctx.faults[f].effect : "",
                    !same  ? "the broker restarted (it should have recovered by itself)"
                    : back ? "unfenced and back in the ISR without a restart"
                           : "still fenced or out of the ISR"));
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
    ctx.Held(f);
  }
  return absl::OkStatus();
}

// 10. Power loss: every replica of a partition (then, with more brokers than replicas, every
//     broker) loses power at once: SIGKILLed together, each file cut to what its last fsync made
//     durable. Fsyncs are held for a moment first, so that the cut has unsynced bytes to take
//     (a busy disk when the power fails). Nothing acknowledged may be lost: acks=all waits for
//     the fsync of every ISR member.
absl::Status PowerLoss(DrillContext& ctx) {
  constexpr auto kBusyDisk = std::chrono::milliseconds(300);
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  std::vector<std::vector<int>> cuts{ReplicasOf(*info)};
  const auto brokers = ctx.Nodes(Role::kBroker);
  if (brokers.size() > cuts.front().size()) cuts.push_back(brokers);
  for (const std::vector<int>& victims : cuts) {
    info = LeaderOf(ctx, partition);
    if (!info.ok()) return Failed("finding the leader", info.status());
    const size_t f = ctx.Begin(
        fmt::format("power cut of brokers {} ({})", fmt::join(victims, ","),
                    victims.size() == brokers.size()
                        ? fmt::format("every broker; partition {}'s replicas among them", partition)
                        : fmt::format("every replica of partition {}", partition)),
        info->leader());
    int64_t held_before = 0, held_after = 0;
    for (int v : victims) {
      auto held = ctx.target.SetDiskFaults(v, DiskFaults{.hold_syncs = true});
      if (!held.ok()) return held.status();
      held_before += held->syncs_slowed;
    }
    std::this_thread::sleep_for(kBusyDisk);
    for (int v : victims) {  // the same faults again: only the counters are read
      auto held = ctx.target.SetDiskFaults(v, DiskFaults{.hold_syncs = true});
      if (!held.ok()) return held.status();
      held_after += held->syncs_slowed;
    }
    auto cut = ctx.target.PowerCut(victims);
    if (!cut.ok()) return cut.status();
    for (int v : victims) {
      if (absl::Status s = ctx.target.Start(v); !s.ok()) return Failed("restarting", s);
    }
    // The controllers elect again once they notice the dead brokers (their sessions expire or
    // the new processes register).
    absl::StatusOr<admin::v1::PartitionInfo> after;
    const bool bumped = ctx.Wait(
        [&] {
          after = ctx.Partition(partition);
          return after.ok() && after->leader() >= 0 && after->leader_epoch() > info->leader_epoch();
        },
        kEffectMax);
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
    // Preallocated space past the data counts as cut too: the held fsyncs are the evidence
    // that written data was waiting for one.
    const int64_t held = held_after - held_before;
    ctx.Effect(f, held > 0 && cut->bytes_cut > 0 && bumped,
               fmt::format("{} fsyncs held when the power went; {} unsynced bytes cut from {} "
                           "files; partition {} leader epoch {} -> {}",
                           held, cut->bytes_cut, cut->files_cut, partition, info->leader_epoch(),
                           after.ok() ? std::to_string(after->leader_epoch()) : "unknown"));
    ctx.Held(f);
  }
  return absl::OkStatus();
}

// 11. A bit flipped in a closed segment of a follower (the oldest one; not the partition's
//     preferred leader, so that it stays a follower). The follower is stopped, one bit of a
//     batch's records flipped on disk, the follower started again. Reading its copy meets the
//     batch, which fails its CRC-32C: it must be refused (never served), counted
//     (strand_storage_corrupt_batches_total), and the follower must cut its log back to it and
//     fetch the rest again from the leader, ending with the leader's records.
absl::Status BitFlipScenario(DrillContext& ctx) {
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const int32_t partition = info->partition();
  std::vector<int> candidates;
  for (int f : FollowersOf(*info)) {
    if (info->replicas_size() == 0 || f != info->replicas(0)) candidates.push_back(f);
  }
  if (candidates.empty()) return absl::FailedPreconditionError("no follower to corrupt");
  const int victim = candidates[ctx.rng() % candidates.size()];
  const size_t f =
      ctx.Begin(fmt::format("flip a bit in a closed segment of broker {}'s replica of partition {}",
                            victim, partition),
                victim);
  // The topic rolls every 256 KiB: wait for a closed segment, the replica stopped each try.
  absl::StatusOr<BitFlip> flip;
  const auto give_up = Clock::now() + std::chrono::seconds(90);
  while (true) {
    if (absl::Status s = ctx.target.Stop(victim, kStopGrace); !s.ok()) return s;
    flip = ctx.target.FlipBit(victim, ctx.topic, partition);
    if (absl::Status s = ctx.target.Start(victim); !s.ok()) return Failed("restarting", s);
    if (flip.ok() || !absl::IsFailedPrecondition(flip.status()) || Clock::now() > give_up) break;
    if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  if (!flip.ok()) return Failed("flipping a bit", flip.status());
  if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
  // The restarted process's count, before anything read the flipped batch.
  const auto metric_before = ctx.Metric(victim, "strand_storage_corrupt_batches_total");
  // Read the replica back as a consumer would from that follower (KIP-392).
  auto first = ctx.read_replica(victim, partition);
  const std::string refused = first.ok() ? "" : std::string(first.status().message());
  absl::StatusOr<std::vector<StoredRecord>> now;
  const bool repaired = ctx.Wait(
      [&] {
        now = ctx.read_replica(victim, partition);
        return now.ok() && std::any_of(now->begin(), now->end(), [&](const StoredRecord& r) {
                 return r.offset == flip->batch_offset;
               });
      },
      kResumeMax);
  const auto metric_after = ctx.Metric(victim, "strand_storage_corrupt_batches_total");
  const double counted =
      metric_before.ok() && metric_after.ok() ? *metric_after - *metric_before : 0;
  const bool detected = !first.ok() && refused.find("CRC") != std::string::npos;
  ctx.Effect(f, detected && counted > 0 && repaired,
             fmt::format("bit flipped at {} byte {} (batch at offset {}); the read {}; {} corrupt "
                         "batch(es) counted; {}",
                         flip->segment, flip->position, flip->batch_offset,
                         detected     ? "refused it: " + refused
                         : first.ok() ? "SERVED IT (no CRC error)"
                                      : "failed otherwise: " + refused,
                         counted,
                         repaired ? "the follower refetched it and serves it whole again"
                                  : "the follower never served the batch again"));
  ctx.Held(f);
  return absl::OkStatus();
}

// 12. A clock jump: one broker's CLOCK_REALTIME (not its CLOCK_MONOTONIC) jumps an hour ahead,
//     then an hour back, while it runs (libfaketime; the broker is first restarted under it).
//     Nothing may be deleted (the checker reads every record back) and the broker must stay
//     unfenced: leases, sessions and timeouts run on the monotonic clock.
absl::Status ClockJump(DrillContext& ctx) {
  constexpr auto kJumpFor = std::chrono::seconds(5);
  const auto brokers = ctx.Nodes(Role::kBroker);
  if (brokers.empty()) return absl::FailedPreconditionError("no broker");
  const int victim = brokers[ctx.rng() % brokers.size()];
  // The broker's clock is read through its FaultInjectionService: none, no drill.
  if (auto probe = ctx.target.SetDiskFaults(victim, DiskFaults{}); !probe.ok()) {
    return probe.status();
  }
  // Set-up, not yet the fault: a graceful restart under libfaketime at offset zero.
  if (absl::Status s = ctx.target.ShiftClock(victim, std::chrono::seconds(0)); !s.ok()) {
    return Failed("restarting under libfaketime", s);
  }
  if (absl::Status s = ctx.WaitHealthy(); !s.ok()) return s;
  const size_t f = ctx.Begin(fmt::format("broker {}'s wall clock jumps +1 h for {} s, then -1 h "
                                         "for {} s",
                                         victim, kJumpFor.count(), kJumpFor.count()),
                             victim);
  auto skew_s = [&]() -> std::optional<int64_t> {
    auto c = ctx.target.SetDiskFaults(victim, DiskFaults{});
    if (!c.ok()) return std::nullopt;
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    return (c->wall_clock_ms - now_ms) / 1000;
  };
  std::vector<std::string> seen;
  bool jumped = true, stayed = true;
  for (const int64_t offset : {int64_t{3600}, int64_t{-3600}}) {
    if (absl::Status s = ctx.target.ShiftClock(victim, std::chrono::seconds(offset)); !s.ok()) {
      (void)ctx.target.ShiftClock(victim, std::chrono::seconds(0));
      return s;
    }
    std::optional<int64_t> skew;
    const bool applied = ctx.Wait(
        [&] {
          skew = skew_s();
          return skew && std::abs(*skew - offset) < 60;
        },
        std::chrono::seconds(10));
    jumped = jumped && applied;
    const auto until = Clock::now() + kJumpFor;
    while (Clock::now() < until) {
      if (Fenced(ctx, {victim})) stayed = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    seen.push_back(skew ? fmt::format("{:+d} s", *skew) : "unknown");
  }
  if (absl::Status s = ctx.target.ShiftClock(victim, std::chrono::seconds(0)); !s.ok()) return s;
  ctx.Effect(f, jumped && stayed,
             fmt::format("broker {}'s wall clock seen at {} from the real one; {}", victim,
                         fmt::join(seen, " then "),
                         stayed ? "never fenced" : "FENCED while its clock was off"));
  ctx.Held(f);
  return absl::OkStatus();
}

// 13. A slow disk on one follower of a partition: every fsync takes 250 ms for 4 s, then fsyncs
//     hang for 3 s. acks=all waits for that follower's fsync while it is in the ISR; nothing
//     acknowledged may be lost, and writes flow again once the disk recovers.
absl::Status SlowDisk(DrillContext& ctx) {
  constexpr auto kSlowFor = std::chrono::seconds(4);
  constexpr auto kHangFor = std::chrono::seconds(3);
  auto info = PickPartition(ctx);
  if (!info.ok()) return info.status();
  const std::vector<int> followers = FollowersOf(*info);
  if (followers.empty()) return absl::FailedPreconditionError("needs 3 replicas");
  const int victim = followers[ctx.rng() % followers.size()];
  const size_t f = ctx.Begin(
      fmt::format("slow disk on broker {}, a follower of partition {}: fsyncs take 250 ms for {} "
                  "s, then hang for {} s",
                  victim, info->partition(), kSlowFor.count(), kHangFor.count()),
      victim);
  auto before =
      ctx.target.SetDiskFaults(victim, DiskFaults{.sync_delay = std::chrono::milliseconds(250)});
  if (!before.ok()) return before.status();
  std::this_thread::sleep_for(kSlowFor);
  if (auto s = ctx.target.SetDiskFaults(victim, DiskFaults{.hold_syncs = true}); !s.ok()) {
    return s.status();
  }
  std::this_thread::sleep_for(kHangFor);
  auto after = ctx.target.SetDiskFaults(victim, DiskFaults{});
  if (!after.ok()) return after.status();
  const int64_t slowed = after->syncs_slowed - before->syncs_slowed;
  ctx.Effect(f, slowed > 0, fmt::format("{} fsyncs on broker {} slowed or held", slowed, victim));
  ctx.Held(f);
  return absl::OkStatus();
}

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"leader-kill", "SIGKILL the leader of a partition; restart it", false, LeaderKill},
      {"controller-kill", "SIGKILL the active controller; restart it", false, ControllerKill},
      {"rolling-restart",
       "SIGTERM and restart every broker, then every controller, one at a time; no request may "
       "fail",
       true, RollingRestart},
      {"leader-isolate",
       "cut a partition leader from the controllers (not from clients); it is fenced and stops "
       "acknowledging; heal (needs --netns)",
       false, LeaderIsolate},
      {"controller-isolate",
       "cut the active controller from the other controllers; heal (needs --netns)", false,
       ControllerIsolate},
      {"broker-partition",
       "a minority, then a majority network partition of the brokers; heal (needs --netns)", false,
       BrokerPartition},
      {"leader-pause",
       "SIGSTOP a partition leader until it is fenced, then SIGCONT it (a zombie leader)", false,
       LeaderPause},
      {"lossy-links", "drop 10% of the packets between brokers for 8 s (needs --netns)", false,
       LossyLinks},
      {"link-delay",
       "delay the followers' links to a partition leader by 100 ms + jitter for 8 s, through a "
       "userspace proxy (needs --netns)",
       false, LinkDelay},
      {"isr-loss",
       "stop a follower until it leaves the ISR, SIGKILL the ISR, resume the stale follower: it "
       "must not be elected",
       false, IsrLoss},
      {"full-disk",
       "fill the disk of a follower, then of a leader (ENOSPC): it is fenced and replaced, and "
       "back by itself once space returns (needs --fault-injection)",
       false, FullDisk},
      {"power-loss",
       "cut the power of every replica of a partition (then of every broker): files cut to what "
       "was fsynced (needs --fault-injection)",
       false, PowerLoss},
      {"bit-flip",
       "flip a bit in a closed segment of a follower while it is down: refused when read, cut "
       "back and fetched again from the leader (local target)",
       false, BitFlipScenario},
      {"clock-jump",
       "jump one broker's wall clock +1 h, then -1 h, while it runs (libfaketime; needs "
       "--fault-injection)",
       false, ClockJump},
      {"slow-disk",
       "fsyncs of one follower take 250 ms for 4 s, then hang for 3 s (needs --fault-injection)",
       false, SlowDisk},
  };
  return kScenarios;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace strand::drill
