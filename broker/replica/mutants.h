#pragma once

// Planted bugs for proving that the failover drills catch real data loss (tests/fault,
// docs/drills.md "Mutants").
//
// Only strand-server-mutants is built with STRAND_BROKER_MUTANTS (the broker_replica_mutants
// chain of libraries); in every other build STRAND_BROKER_MUTANT(...) is the constant `false`,
// the branches are removed, and the release strand-server holds none of it. The mutant binary
// takes the active mutant from $STRAND_MUTANT at start-up.

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "storage/file.h"

namespace strand::broker::mutant {

enum class Mutant {
  kAckBeforeReplication,  // acks=all answered once the leader appended, before any follower
  kUncleanElection,       // an out-of-sync replica may be elected leader (whatever the config)
  kSkipFsync,             // partition logs are never fsynced, yet reported durable
};

struct MutantInfo {
  Mutant mutant;
  std::string_view name;
  std::string_view description;
  std::string_view caught_by;  // the drill scenario that finds the loss it causes
};

const std::vector<MutantInfo>& AllMutants();
std::optional<Mutant> MutantByName(std::string_view name);

#ifdef STRAND_BROKER_MUTANTS
void SetActive(std::optional<Mutant> mutant);
bool IsActive(Mutant mutant);
// kSkipFsync: `base` with every File::Sync and SyncDirectory answered OK without syncing.
std::unique_ptr<storage::Filesystem> SkipSyncs(storage::Filesystem& base);
#define STRAND_BROKER_MUTANT(name) \
  (::strand::broker::mutant::IsActive(::strand::broker::mutant::Mutant::name))
#else
#define STRAND_BROKER_MUTANT(name) false
#endif

}  // namespace strand::broker::mutant
