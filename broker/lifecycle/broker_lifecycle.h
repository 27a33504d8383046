#pragma once

// BrokerLifecycle: a broker's side of its session with the controller quorum. A background
// thread registers the broker (following NOT_CONTROLLER hints to the active controller,
// retrying while a previous incarnation is still registered), then keeps one heartbeat stream
// open to the active controller, sending the broker's applied metadata offset every interval and
// reconnecting (to whichever controller is active) when the stream breaks or the controller
// changes. A stale epoch (the controller forgot us) triggers a new registration.
//
// Used by strand-server's broker role; tests use it to stand in for brokers. Thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/security/credentials.h>

#include "common/ids.h"
#include "proto/controller/v1/controller.grpc.pb.h"

namespace strand::broker {

struct BrokerLifecycleOptions {
  std::string cluster_id;
  NodeId broker_id = kNoNode;
  std::string incarnation_id;  // random when empty
  std::vector<controller::v1::Listener> listeners;
  std::string rack;
  bool combined = false;  // the broker role of a combined-mode process (its id is a voter's)
  // Digests of the broker's static cluster settings, sent with its registration.
  std::vector<controller::v1::SettingDigest> static_settings;
  std::map<NodeId, std::string> controllers;              // controller.quorum.voters
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // plaintext when null
  int heartbeat_interval_ms = 500;
  int request_timeout_ms = 2'000;
  int retry_backoff_ms = 100;
  // Fault injection (tests): while it returns true the broker cannot reach the controllers.
  std::function<bool()> blocked;
  // The replicas whose log cannot be opened, sent with every heartbeat (none when unset).
  std::function<std::vector<controller::v1::ReplicaRef>()> offline_replicas;
};

class BrokerLifecycle {
 public:
  // `metadata_offset` reports the last metadata log index the broker has applied.
  BrokerLifecycle(BrokerLifecycleOptions options, std::function<uint64_t()> metadata_offset);
  ~BrokerLifecycle();

  void Start();
  // Stops heartbeating and closes the stream (the controller fences the broker after its
  // grace period). Does not wait for anything else.
  void Stop();
  // Asks for a controlled shutdown: heartbeats carry want_shut_down until the controller says
  // the broker may exit. Returns false on timeout.
  bool ControlledShutdown(std::chrono::milliseconds timeout);

  bool registered() const { return epoch_.load() > 0; }
  int64_t epoch() const { return epoch_.load(); }
  bool fenced() const { return fenced_.load(); }
  // How long since the active controller last answered a heartbeat (since the start when none
  // has): a broker cut off from the controllers cannot be told it is fenced, but knows this.
  std::chrono::milliseconds SinceLastAnswer() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch() -
        std::chrono::nanoseconds(last_answer_ns_.load()));
  }
  // This broker cannot serve (a log failed on an I/O error; the disk is full): heartbeats ask the
  // controller to fence it, which moves its leaderships and ISR seats to other brokers, until
  // CancelFenceRequest (a full disk drained; a failed log keeps it until the process restarts).
  void RequestFence() { want_fence_ = true; }
  void CancelFenceRequest() { want_fence_ = false; }
  bool fence_requested() const { return want_fence_.load(); }
  const std::string& incarnation_id() const { return options_.incarnation_id; }
  // Waits until the broker is registered and unfenced.
  bool WaitUnfenced(std::chrono::milliseconds timeout);

 private:
  void Run();
  bool Register();
  void HeartbeatSession();
  controller::v1::ControllerService::Stub* Stub(NodeId controller);
  void FollowHint(const controller::v1::ControllerHint& hint);
  void Sleep(int ms);

  BrokerLifecycleOptions options_;
  std::function<uint64_t()> metadata_offset_;
  std::map<NodeId, std::unique_ptr<controller::v1::ControllerService::Stub>>
      stubs_;                                                  // Run thread only
  std::map<NodeId, std::shared_ptr<grpc::Channel>> channels_;  // Run thread only
  NodeId target_ = kNoNode;                                    // Run thread only
  std::atomic<int64_t> epoch_{0};
  std::atomic<bool> fenced_{true};
  std::atomic<int64_t> last_answer_ns_{
      std::chrono::steady_clock::now().time_since_epoch().count()};  // steady clock
  std::atomic<bool> want_shut_down_{false};
  std::atomic<bool> want_fence_{false};
  std::atomic<bool> may_shut_down_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<grpc::ClientContext> stream_context_;  // guarded by mu_, for cancellation
  std::thread thread_;
};

}  // namespace strand::broker
