#include "raft/core/mutants.h"

namespace strand::raft::mutant {

const std::vector<MutantInfo>& AllMutants() {
  static const std::vector<MutantInfo> kAll = {
      {Mutant::kVoteNotPersisted, "vote-not-persisted",
       "a granted vote is sent before the vote is persisted (lost on crash)"},
      {Mutant::kCommitWithoutQuorum, "commit-without-quorum",
       "commit index advanced when half (not a majority) of the voters match"},
      {Mutant::kCommitOldTermByCounting, "commit-old-term",
       "an entry of an earlier term is committed by counting replicas (Raft figure 8)"},
      {Mutant::kLeaderIgnoresHigherTerm, "leader-keeps-leading",
       "a leader that sees a higher term adopts it but does not step down"},
  };
  return kAll;
}

std::optional<Mutant> MutantByName(std::string_view name) {
  for (const MutantInfo& info : AllMutants()) {
    if (info.name == name) return info.mutant;
  }
  return std::nullopt;
}

#ifdef STRAND_RAFT_MUTANTS
namespace {
std::optional<Mutant> g_active;
}  // namespace

void SetActive(std::optional<Mutant> mutant) { g_active = mutant; }
bool IsActive(Mutant mutant) { return g_active == mutant; }
#endif

}  // namespace strand::raft::mutant
