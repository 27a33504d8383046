#include "controller/state/metadata_state_machine.h"

#include "common/logging.h"

namespace strand::controller {

void MetadataStateMachine::Apply(const raft::Entry& entry) {
  v1::MetadataBatch batch;
  const uint64_t offset = entry.index.value();
  if (!batch.ParseFromString(entry.data)) {
    // Every node skips the same unparsable entry, so images stay identical.
    ++replay_errors_;
    GetLogger("controller")->error("[metadata offset={}] entry is not a MetadataBatch; skipped",
                                   offset);
    std::unique_lock lock(mu_);
    image_.set_offset(offset);
    return;
  }
  absl::Status s;
  MetadataDelta delta;
  {
    std::unique_lock lock(mu_);
    s = image_.ReplayBatch(batch, offset, &delta);
  }
  if (!s.ok()) {
    ++replay_errors_;
    GetLogger("controller")->error("[metadata offset={}] record skipped: {}", offset,
                                   s.ToString());
  }
  if (on_apply_) on_apply_(delta, offset);
}

std::string MetadataStateMachine::TakeSnapshot() {
  std::shared_lock lock(mu_);
  return image_.ToSnapshot().SerializeAsString();
}

absl::Status MetadataStateMachine::Restore(const std::string& data, raft::LogIndex index) {
  v1::MetadataSnapshot snapshot;
  if (!snapshot.ParseFromString(data)) {
    return absl::DataLossError("metadata snapshot does not parse");
  }
  auto image = MetadataImage::FromSnapshot(snapshot);
  if (!image.ok()) return image.status();
  {
    std::unique_lock lock(mu_);
    image_ = *std::move(image);
    image_.set_offset(index.value());
  }
  if (on_restore_) on_restore_(index.value());
  return absl::OkStatus();
}

}  // namespace strand::controller
