#pragma once

// MetadataStateMachine: the committed MetadataImage as a Raft StateMachine. Each Raft entry is
// a MetadataBatch; applying it replays its records at the entry's index. Snapshots are the
// image's records (MetadataSnapshot). Apply and Restore run on the Raft driver's loop thread.
// Controllers read the image on that thread too (image()); brokers, whose request threads read
// it concurrently, use Read(), which holds a shared lock that Apply and Restore take exclusively.

#include <functional>
#include <shared_mutex>

#include "controller/state/metadata_delta.h"
#include "controller/state/metadata_image.h"
#include "raft/driver/state_machine.h"

namespace strand::controller {

class MetadataStateMachine final : public raft::StateMachine {
 public:
  // Called after each batch is applied, with what it changed (the active controller resolves
  // its pending requests and logs the changes; brokers reconcile their replicas). `offset` is
  // the batch's log index.
  using ApplyListener = std::function<void(const MetadataDelta& delta, uint64_t offset)>;
  // Called after a snapshot replaced the whole image.
  using RestoreListener = std::function<void(uint64_t offset)>;

  void SetApplyListener(ApplyListener listener) { on_apply_ = std::move(listener); }
  void SetRestoreListener(RestoreListener listener) { on_restore_ = std::move(listener); }

  void Apply(const raft::Entry& entry) override;
  std::string TakeSnapshot() override;
  absl::Status Restore(const std::string& data, raft::LogIndex index) override;

  // Loop thread only.
  const MetadataImage& image() const { return image_; }
  // Any thread: runs `fn(image)` under the shared lock and returns its result.
  template <typename Fn>
  auto Read(Fn&& fn) const {
    std::shared_lock lock(mu_);
    return fn(image_);
  }
  uint64_t replay_errors() const { return replay_errors_; }

 private:
  mutable std::shared_mutex mu_;  // exclusive while the image changes
  MetadataImage image_;
  ApplyListener on_apply_;
  RestoreListener on_restore_;
  uint64_t replay_errors_ = 0;
};

}  // namespace strand::controller
