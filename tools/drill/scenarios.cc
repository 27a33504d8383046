// The drills' scenarios: each makes one fault through the Target and records what showed that it
// took effect (docs/drills.md describes them for operators).
#include <fmt/format.h>

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

// 1. SIGKILL the leader of a partition (chosen by the seed), restart it once writes resumed.
absl::Status LeaderKill(DrillContext& ctx) {
  const int32_t partition = ctx.RandomPartition();
  auto info = LeaderOf(ctx, partition);
  if (!info.ok()) return Failed("finding the leader", info.status());
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
  int successor = -1;
  const bool moved = ctx.Wait(
      [&] {
        auto now = ctx.ActiveController();
        successor = now.ok() ? *now : -1;
        return successor >= 0 && successor != victim;
      },
      kEffectMax);
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
  const int32_t partition = ctx.RandomPartition();
  auto info = LeaderOf(ctx, partition);
  if (!info.ok()) return Failed("finding the leader", info.status());
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

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"leader-kill", "SIGKILL the leader of a partition; restart it", false, LeaderKill},
      {"controller-kill", "SIGKILL the active controller; restart it", false, ControllerKill},
      {"rolling-restart",
       "SIGTERM and restart every broker, then every controller, one at a time; no request may "
       "fail",
       true, RollingRestart},
      {"leader-pause",
       "SIGSTOP a partition leader until it is fenced, then SIGCONT it (a zombie leader)", false,
       LeaderPause},
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
