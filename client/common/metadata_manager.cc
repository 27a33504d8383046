#include "client/common/metadata_manager.h"

#include <fmt/format.h>

#include <chrono>

#include "client/logger.h"
#include "common/status.h"

namespace strand::client {

struct MetadataManager::Call {
  grpc::ClientContext context;
  broker::v1::MetadataRequest request;
  broker::v1::MetadataResponse response;
  std::string address;
  uint64_t sequence = 0;
};

MetadataManager::MetadataManager(std::vector<std::string> bootstrap, BrokerChannels& channels,
                                 MetadataOptions options, const Clock& clock)
    : bootstrap_(std::move(bootstrap)),
      channels_(channels),
      options_(options),
      clock_(clock),
      current_(std::make_shared<const ClusterMetadata>()),
      backoff_(std::max<int64_t>(1, options.retry_backoff_ms),
               std::max<int64_t>(1, options.retry_backoff_max_ms)) {}

MetadataManager::~MetadataManager() {
  std::unique_lock lock(mu_);
  listener_ = nullptr;
  if (call_) call_->context.TryCancel();
  cv_.wait(lock, [&] { return call_ == nullptr && listeners_running_ == 0; });
}

std::shared_ptr<const ClusterMetadata> MetadataManager::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

uint64_t MetadataManager::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

uint64_t MetadataManager::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

absl::Status MetadataManager::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void MetadataManager::set_listener(std::function<void()> listener) {
  std::unique_lock lock(mu_);
  const bool clearing = !listener;
  listener_ = std::move(listener);
  // The owner is going away: a listener still running must not outlive it.
  if (clearing) cv_.wait(lock, [&] { return listeners_running_ == 0; });
}

bool MetadataManager::AddTopics(const std::vector<std::string>& topics) {
  std::lock_guard lock(mu_);
  bool added = false;
  for (const std::string& t : topics) added |= topics_.insert(t).second;
  if (added) {
    update_requested_ = true;
    next_attempt_ms_ = 0;  // a new topic is worth asking about at once
  }
  return added;
}

void MetadataManager::RequestUpdate() {
  std::lock_guard lock(mu_);
  update_requested_ = true;
}

void MetadataManager::UpdateLeader(const TopicPartition& tp, int32_t leader, int32_t epoch) {
  std::function<void()> listener;
  {
    std::lock_guard lock(mu_);
    std::optional<ClusterMetadata> updated = current_->WithLeader(tp, leader, epoch);
    if (!updated) return;
    current_ = std::make_shared<const ClusterMetadata>(*std::move(updated));
    listener = listener_;
  }
  if (listener) listener();  // on the caller's thread, which owns this object
}

int64_t MetadataManager::Poll() {
  const int64_t now_ms = clock_.NowMonotonicMs();
  std::unique_lock lock(mu_);
  if (call_) return INT64_MAX;
  const bool stale = version_ > 0 && now_ms >= last_success_ms_ + options_.max_age_ms;
  if ((update_requested_ || stale) && now_ms >= next_attempt_ms_) {
    Start(lock, now_ms);
    return INT64_MAX;
  }
  if (update_requested_) return next_attempt_ms_;
  return last_success_ms_ + options_.max_age_ms;
}

bool MetadataManager::AwaitRefresh(int64_t deadline_ms) {
  std::unique_lock lock(mu_);
  // A refresh in flight may have been built before the caller's topic was added: wait for the
  // next one that starts from now.
  const uint64_t target = started_ + 1;
  while (attempts_ < target) {
    const int64_t left_ms = deadline_ms - clock_.NowMonotonicMs();
    if (left_ms <= 0) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(left_ms, 50)));
  }
  return true;
}

std::string MetadataManager::NextAddress() {
  // Known brokers first (they are the cluster now), then the bootstrap list.
  std::vector<std::string> addresses;
  for (const auto& [id, broker] : current_->brokers()) addresses.push_back(broker.address());
  addresses.insert(addresses.end(), bootstrap_.begin(), bootstrap_.end());
  return addresses[address_index_++ % addresses.size()];
}

void MetadataManager::Start(std::unique_lock<std::mutex>& lock, int64_t now_ms) {
  auto call = std::make_unique<Call>();
  call->address = NextAddress();
  for (const std::string& topic : topics_) call->request.add_topics(topic);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(options_.request_timeout_ms));
  call->sequence = ++started_;
  update_requested_ = false;
  Call* raw = call.get();
  call_ = std::move(call);
  broker::v1::BrokerService::Stub* stub = channels_.Stub(raw->address);
  lock.unlock();
  stub->async()->Metadata(&raw->context, &raw->request, &raw->response,
                          [this, raw](grpc::Status status) { OnDone(raw, status); });
  lock.lock();
  (void)now_ms;
}

void MetadataManager::OnDone(Call* call, const grpc::Status& status) {
  std::function<void()> listener;
  {
    std::lock_guard lock(mu_);
    const int64_t now_ms = clock_.NowMonotonicMs();
    ++attempts_;
    if (status.ok()) {
      current_ = std::make_shared<const ClusterMetadata>(
          ClusterMetadata::FromResponse(call->response, current_.get()));
      ++version_;
      last_success_ms_ = now_ms;
      last_error_ = absl::OkStatus();
      backoff_.Reset();
      next_attempt_ms_ = now_ms + std::max<int64_t>(1, options_.retry_backoff_ms) / 2;
    } else {
      last_error_ = absl::UnavailableError(
          fmt::format("metadata from {}: {}", call->address, status.error_message()));
      ClientLogger()->debug("{}", MessageOf(last_error_));
      update_requested_ = true;
      next_attempt_ms_ = now_ms + backoff_.NextMs();
    }
    listener = listener_;
    if (listener) ++listeners_running_;
    call_.reset();  // the RPC is over: its context may go
    cv_.notify_all();
  }
  if (!listener) return;
  listener();
  std::lock_guard lock(mu_);
  --listeners_running_;
  cv_.notify_all();
}

}  // namespace strand::client
