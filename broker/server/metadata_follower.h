#pragma once

// MetadataFollower: a broker's copy of the cluster metadata. It follows the controllers'
// metadata log as a non-voting Raft observer (RocksDB storage under <data-dir>/metadata, so a
// restart resumes from the local copy instead of fetching everything again), applies each
// committed batch to a MetadataImage, and tells a listener what changed (a MetadataDelta).
//
// Threading: the Raft driver's loop thread applies batches and calls the listener (which must
// be quick: it only queues work). Any thread may Read() the image under a shared lock; keep the
// callback short, and copy out what outlives it.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "controller/state/metadata_state_machine.h"

namespace strand::raft {
class GrpcTransport;
class RaftDriver;
class RocksDbStorage;
class Transport;
}  // namespace strand::raft

namespace strand::broker {

struct MetadataFollowerOptions {
  NodeId self = kNoNode;
  std::map<NodeId, std::string> voters;  // controller.quorum.voters
  std::string self_address;              // where the controllers reach this broker
  std::string data_dir;                  // the Raft log and snapshots live in <data_dir>/metadata
  std::string cluster_id = "strand";
  int tick_ms = 50;
  uint64_t snapshot_interval_entries = 20'000;
  uint64_t snapshot_trailing_entries = 1'000;
  std::shared_ptr<prometheus::Registry> registry;
  // Fault injection (tests): while true, Raft traffic to and from the controllers is dropped.
  std::function<bool()> isolated;
  // To the controllers' controller listener (common/tls_credentials.h); plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Who may push this broker the metadata log (raft::GrpcTransportOptions::authorize_sender).
  std::function<grpc::Status(const grpc::ServerContext&, NodeId from)> authorize_sender;
};

// Combined mode (process.roles=broker,controller): the broker reads the metadata its own
// controller applies, rather than following the log over the network as a second copy.
struct LocalMetadata {
  const controller::MetadataStateMachine* machine = nullptr;
  // Adds the follower's callbacks to the controller's (called once, at Start).
  std::function<void(controller::MetadataStateMachine::ApplyListener,
                     controller::MetadataStateMachine::RestoreListener)>
      subscribe;
};

class MetadataFollower {
 public:
  // What each committed batch changed; a restored snapshot (and the start) is a delta with
  // `snapshot` set: look at everything.
  using Listener = std::function<void(const controller::MetadataDelta& delta, uint64_t offset)>;

  static absl::StatusOr<std::unique_ptr<MetadataFollower>> Create(MetadataFollowerOptions options);
  // Combined mode: no Raft observer of its own (no storage, no transport, no service).
  static std::unique_ptr<MetadataFollower> CreateLocal(LocalMetadata source);
  ~MetadataFollower();

  // Set before Start.
  void SetListener(Listener listener) { listener_ = std::move(listener); }
  // The Raft receiving side, to register on the broker's gRPC server (null when local).
  grpc::Service* service();
  absl::Status Start();
  void Stop();

  // The last metadata log index applied to the image.
  uint64_t offset() const { return offset_.load(std::memory_order_acquire); }
  template <typename Fn>
  auto Read(Fn&& fn) const {
    return source_->Read(std::forward<Fn>(fn));
  }

 private:
  explicit MetadataFollower(MetadataFollowerOptions options);

  const MetadataFollowerOptions options_;
  std::unique_ptr<raft::RocksDbStorage> storage_;
  controller::MetadataStateMachine machine_;
  const controller::MetadataStateMachine* source_ = &machine_;  // the controller's when local
  LocalMetadata local_;
  std::unique_ptr<raft::RaftDriver> driver_;
  std::unique_ptr<raft::GrpcTransport> transport_;
  std::unique_ptr<raft::Transport> gate_;
  Listener listener_;
  std::atomic<uint64_t> offset_{0};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace strand::broker
