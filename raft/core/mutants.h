#pragma once

// Planted bugs for proving that the simulator catches real safety violations.
//
// Only the `raft_core_mutants` library (linked into raft-sim) is compiled with
// STRAND_RAFT_MUTANTS; in every other build STRAND_MUTANT(...) is the constant `false` and the
// optimizer removes the mutant branches entirely, so production binaries contain none of it.

#include <optional>
#include <string_view>
#include <vector>

namespace strand::raft::mutant {

enum class Mutant {
  kVoteNotPersisted,         // a granted vote is answered without being persisted first
  kCommitWithoutQuorum,      // "majority" miscounted as half the voters
  kCommitOldTermByCounting,  // entries of earlier terms committed by counting replicas (figure 8)
  kLeaderIgnoresHigherTerm,  // a leader adopts a higher term but does not step down
};

struct MutantInfo {
  Mutant mutant;
  std::string_view name;
  std::string_view description;
};

const std::vector<MutantInfo>& AllMutants();
std::optional<Mutant> MutantByName(std::string_view name);

#ifdef STRAND_RAFT_MUTANTS
// The active mutant for this process (none by default). Set by raft-sim before a run.
void SetActive(std::optional<Mutant> mutant);
bool IsActive(Mutant mutant);
#define STRAND_MUTANT(name) (::strand::raft::mutant::IsActive(::strand::raft::mutant::Mutant::name))
#else
#define STRAND_MUTANT(name) false
#endif

}  // namespace strand::raft::mutant
