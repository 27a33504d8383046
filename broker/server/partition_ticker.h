#pragma once

// PartitionTicker: every tick_ms, runs each hosted partition's Tick (acks=all deadlines, the
// leader's ISR decisions) with the brokers the metadata says may join an ISR (registered,
// unfenced, not shutting down), and hands the ISR changes found to the IsrChangeSender.
//
// Thread-safe. Start / Stop once.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/replica/partition.h"
#include "broker/server/isr_sender.h"
#include "broker/server/metadata_follower.h"

namespace strand::broker {

class PartitionTicker {
 public:
  PartitionTicker(int64_t tick_ms, MetadataFollower& metadata,
                  std::function<std::vector<std::shared_ptr<Partition>>()> partitions,
                  IsrChangeSender& sender);
  ~PartitionTicker();

  void Start();
  void Stop();

 private:
  void Run();

  const int64_t tick_ms_;
  MetadataFollower& metadata_;
  const std::function<std::vector<std::shared_ptr<Partition>>()> partitions_;
  IsrChangeSender& sender_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strand::broker
