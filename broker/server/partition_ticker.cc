#include "broker/server/partition_ticker.h"

#include <set>

#include "broker/server/fetch_purgatory.h"
#include "common/thread_name.h"
#include "controller/state/metadata_image.h"

namespace strand::broker {

PartitionTicker::PartitionTicker(
    int64_t tick_ms, MetadataFollower& metadata,
    std::function<std::vector<std::shared_ptr<Partition>>()> partitions, IsrChangeSender& sender)
    : tick_ms_(tick_ms), metadata_(metadata), partitions_(std::move(partitions)), sender_(sender) {}

PartitionTicker::~PartitionTicker() { Stop(); }

void PartitionTicker::Start() {
  thread_ = NamedThread("partition-tick", [this] { Run(); });
}

void PartitionTicker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PartitionTicker::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const int64_t now = NowMs();
    const std::set<NodeId> eligible_brokers =
        metadata_.Read([](const controller::MetadataImage& image) {
          std::set<NodeId> out;
          for (const auto& [id, b] : image.brokers()) {
            if (!b.fenced && !b.in_controlled_shutdown) out.insert(id);
          }
          return out;
        });
    const std::function<bool(NodeId)> eligible = [&](NodeId n) {
      return eligible_brokers.count(n) > 0;
    };
    std::vector<IsrChangeSender::Proposal> found;
    for (const auto& p : partitions_()) {
      if (auto proposal = p->Tick(now, eligible)) found.emplace_back(p, *std::move(proposal));
    }
    if (!found.empty()) sender_.Submit(std::move(found));
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(tick_ms_), [&] { return stopping_; });
  }
}

}  // namespace strand::broker
