#include "broker/replica/mutants.h"

namespace strand::broker::mutant {

const std::vector<MutantInfo>& AllMutants() {
  static const std::vector<MutantInfo> kAll = {
      {Mutant::kAckBeforeReplication, "ack-before-replication",
       "acks=all is answered as soon as the leader appended the batch, before any follower has "
       "it",
       "broker-partition"},
      {Mutant::kUncleanElection, "unclean-election",
       "a replica outside the ISR may be elected leader when no ISR member is alive "
       "(unclean.leader.election.enable forced on)",
       "isr-loss"},
  };
  return kAll;
}

std::optional<Mutant> MutantByName(std::string_view name) {
  for (const MutantInfo& info : AllMutants()) {
    if (info.name == name) return info.mutant;
  }
  return std::nullopt;
}

#ifdef STRAND_BROKER_MUTANTS
namespace {
std::optional<Mutant> g_active;
}  // namespace

void SetActive(std::optional<Mutant> mutant) { g_active = mutant; }
bool IsActive(Mutant mutant) { return g_active == mutant; }
#endif

}  // namespace strand::broker::mutant
