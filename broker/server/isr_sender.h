#pragma once

// IsrChangeSender: sends the ISR changes partition leaders propose to the active controller
// (AlterPartition, KIP-497), from its own thread, batching whatever accumulated while the
// previous request was out. Each proposal is answered to its Partition (IsrProposalDone):
// accepted with the new partition epoch, or refused (the leader retries on a later tick).
//
// Thread-safe. Start / Stop once.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "broker/lifecycle/controller_client.h"
#include "broker/replica/partition.h"

namespace strand::broker {

struct IsrChangeSenderOptions {
  NodeId self = kNoNode;
  std::string incarnation;  // the registration's, sent with AlterPartition
  int64_t timeout_ms = 5'000;
};

class IsrChangeSender {
 public:
  using Proposal = std::pair<std::shared_ptr<Partition>, IsrProposal>;

  IsrChangeSender(IsrChangeSenderOptions options, ControllerClient& controllers,
                  std::function<int64_t()> broker_epoch);
  ~IsrChangeSender();

  void Start();
  void Stop();
  // Queues proposals for the next AlterPartition request.
  void Submit(std::vector<Proposal> proposals);

  uint64_t shrinks() const { return shrinks_.load(); }  // accepted changes that removed members
  uint64_t expands() const { return expands_.load(); }  // ... and that added members

 private:
  void Run();
  void Send(std::vector<Proposal> batch);

  const IsrChangeSenderOptions options_;
  ControllerClient& controllers_;
  const std::function<int64_t()> broker_epoch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> queued_;
  bool stopping_ = false;
  std::atomic<uint64_t> shrinks_{0};
  std::atomic<uint64_t> expands_{0};
  std::thread thread_;
};

}  // namespace strand::broker
