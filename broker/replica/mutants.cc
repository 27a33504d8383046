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
      {Mutant::kSkipFsync, "skip-fsync",
       "partition logs are never fsynced: a batch counts as durable once written to the page "
       "cache",
       "power-loss"},
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

namespace {

class UnsyncedFile final : public storage::ForwardingFile {
 public:
  using ForwardingFile::ForwardingFile;
  absl::Status Sync() override { return absl::OkStatus(); }  // the planted bug
};

class UnsyncedFilesystem final : public storage::ForwardingFilesystem {
 public:
  using ForwardingFilesystem::ForwardingFilesystem;
  absl::StatusOr<std::unique_ptr<storage::File>> Open(const std::string& path,
                                                      storage::OpenMode mode) override {
    auto file = base_.Open(path, mode);
    if (!file.ok()) return file.status();
    return std::unique_ptr<storage::File>(new UnsyncedFile(std::move(*file)));
  }
  absl::Status SyncDirectory(const std::string&) override { return absl::OkStatus(); }
};

}  // namespace

std::unique_ptr<storage::Filesystem> SkipSyncs(storage::Filesystem& base) {
  return std::make_unique<UnsyncedFilesystem>(base);
}
#endif

}  // namespace strand::broker::mutant
