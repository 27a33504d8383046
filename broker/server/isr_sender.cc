#include "broker/server/isr_sender.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "broker/server/fetch_purgatory.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace strand::broker {
namespace {

namespace cv1 = controller::v1;

spdlog::logger& Log() {
  static auto logger = GetLogger("broker.replicas");
  return *logger;
}

}  // namespace

IsrChangeSender::IsrChangeSender(IsrChangeSenderOptions options, ControllerClient& controllers,
                                 std::function<int64_t()> broker_epoch)
    : options_(std::move(options)),
      controllers_(controllers),
      broker_epoch_(std::move(broker_epoch)) {}

IsrChangeSender::~IsrChangeSender() { Stop(); }

void IsrChangeSender::Start() {
  thread_ = NamedThread("isr-sender", [this] { Run(); });
}

void IsrChangeSender::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IsrChangeSender::Submit(std::vector<Proposal> proposals) {
  std::lock_guard lock(mu_);
  for (auto& p : proposals) queued_.push_back(std::move(p));
  cv_.notify_one();
}

void IsrChangeSender::Run() {
  while (true) {
    std::vector<Proposal> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
      if (stopping_) return;
      batch.swap(queued_);
    }
    Send(std::move(batch));
  }
}

void IsrChangeSender::Send(std::vector<Proposal> batch) {
  cv1::AlterPartitionRequest req;
  req.set_broker_id(options_.self.value());
  req.set_broker_epoch(broker_epoch_());
  req.set_incarnation_id(options_.incarnation);
  std::map<std::pair<std::string, int32_t>, size_t> index;
  for (size_t i = 0; i < batch.size(); ++i) {
    const IsrProposal& pr = batch[i].second;
    auto* c = req.add_partitions();
    c->set_topic_id(pr.topic_id);
    c->set_partition(pr.partition);
    c->set_leader_epoch(pr.leader_epoch.value());
    c->set_partition_epoch(pr.partition_epoch);
    for (NodeId n : pr.isr) c->add_new_isr(n.value());
    index[{pr.topic_id, pr.partition}] = i;
    const size_t before = batch[i].first->isr().size();
    Log().info("[{}-{}] proposing ISR {} (was {} replicas in sync)", batch[i].first->tp().topic,
               pr.partition, fmt::join(pr.isr, ","), before);
  }
  auto resp = controllers_.AlterPartition(req, options_.timeout_ms);
  const int64_t now = NowMs();
  std::vector<bool> answered(batch.size(), false);
  if (!resp.ok()) {
    Log().warn("AlterPartition for {} partition(s) failed: {}", batch.size(),
               resp.status().ToString());
  } else {
    for (const cv1::PartitionState& st : resp->partitions()) {
      auto it = index.find({st.topic_id(), st.partition()});
      if (it == index.end()) continue;
      auto& [p, pr] = batch[it->second];
      answered[it->second] = true;
      const bool accepted = st.error().code() == 0;
      if (accepted) {
        (pr.isr.size() < p->isr().size() ? shrinks_ : expands_).fetch_add(1);
      } else {
        Log().info("[{}-{}] ISR change refused: {} {}", p->tp().topic, pr.partition,
                   st.error().code(), st.error().message());
      }
      p->IsrProposalDone(accepted, st.partition_epoch(), now);
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!answered[i]) batch[i].first->IsrProposalDone(false, -1, now);
  }
}

}  // namespace strand::broker
