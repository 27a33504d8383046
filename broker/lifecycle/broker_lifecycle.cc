#include "broker/lifecycle/broker_lifecycle.h"

#include <fmt/format.h>

#include <random>

#include "common/grpc_channel.h"
#include "common/kafka_error.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace strand::broker {
namespace {

spdlog::logger& Log() {
  static auto logger = GetLogger("broker.lifecycle");
  return *logger;
}

std::string RandomIncarnation() {
  std::random_device rd;
  return fmt::format("{:016x}{:016x}", (uint64_t{rd()} << 32) | rd(),
                     (uint64_t{rd()} << 32) | rd());
}

bool Is(const strand::common::v1::Error& e, KafkaError code) {
  return e.code() == static_cast<int32_t>(code);
}

}  // namespace

BrokerLifecycle::BrokerLifecycle(BrokerLifecycleOptions options,
                                 std::function<uint64_t()> metadata_offset)
    : options_(std::move(options)), metadata_offset_(std::move(metadata_offset)) {
  if (options_.incarnation_id.empty()) options_.incarnation_id = RandomIncarnation();
}

BrokerLifecycle::~BrokerLifecycle() { Stop(); }

void BrokerLifecycle::Start() {
  thread_ = NamedThread("lifecycle", [this] { Run(); });
}

void BrokerLifecycle::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (stream_context_) stream_context_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool BrokerLifecycle::ControlledShutdown(std::chrono::milliseconds timeout) {
  want_shut_down_ = true;
  cv_.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (may_shut_down_) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool BrokerLifecycle::WaitUnfenced(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (registered() && !fenced()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

controller::v1::ControllerService::Stub* BrokerLifecycle::Stub(NodeId controller) {
  auto it = stubs_.find(controller);
  if (it != stubs_.end()) return it->second.get();
  auto channel = grpc::CreateCustomChannel(
      options_.controllers.at(controller),
      options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
      InternalChannelArguments(1'000));
  channels_[controller] = channel;
  return stubs_.emplace(controller, controller::v1::ControllerService::NewStub(channel))
      .first->second.get();
}

void BrokerLifecycle::FollowHint(const controller::v1::ControllerHint& hint) {
  const NodeId hinted(hint.active_controller_id());
  if (hinted != kNoNode && options_.controllers.count(hinted) && hinted != target_) {
    target_ = hinted;
    return;
  }
  // No (new) hint: try the next controller.
  auto it = options_.controllers.upper_bound(target_);
  target_ = it == options_.controllers.end() ? options_.controllers.begin()->first : it->first;
}

void BrokerLifecycle::Sleep(int ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

void BrokerLifecycle::Run() {
  target_ = options_.controllers.begin()->first;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (options_.blocked && options_.blocked()) {
      Sleep(options_.retry_backoff_ms);
      continue;
    }
    if (epoch_.load() == 0 && !Register()) {
      Sleep(options_.retry_backoff_ms);
      continue;
    }
    HeartbeatSession();
  }
}

bool BrokerLifecycle::Register() {
  controller::v1::RegisterBrokerRequest req;
  req.set_cluster_id(options_.cluster_id);
  req.set_broker_id(options_.broker_id.value());
  req.set_incarnation_id(options_.incarnation_id);
  for (const auto& l : options_.listeners) *req.add_listeners() = l;
  req.set_rack(options_.rack);
  req.set_combined(options_.combined);
  for (const auto& d : options_.static_settings) *req.add_static_settings() = d;
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);  // see HeartbeatSession
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(options_.request_timeout_ms));
  controller::v1::RegisterBrokerResponse resp;
  grpc::Status s = Stub(target_)->RegisterBroker(&ctx, req, &resp);
  if (!s.ok()) {
    FollowHint({});
    return false;
  }
  if (resp.error().code() != 0) {
    if (Is(resp.error(), KafkaError::kNotController)) {
      FollowHint(resp.controller());
    } else {
      Log().warn("[broker {}] registration refused: {}: {}", options_.broker_id,
                 resp.error().name(), resp.error().message());
    }
    return false;
  }
  epoch_ = resp.broker_epoch();
  fenced_ = true;
  Log().info("[broker {}] registered with epoch {} (incarnation {})", options_.broker_id,
             resp.broker_epoch(), options_.incarnation_id);
  return true;
}

void BrokerLifecycle::HeartbeatSession() {
  auto ctx = std::make_shared<grpc::ClientContext>();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stream_context_ = ctx;
  }
  // A channel that failed once (the controller restarted) can keep failing fast for seconds
  // after the controller is back; waiting for the connection first avoids that, and a
  // controller that does not come up in time is skipped.
  controller::v1::ControllerService::Stub* stub = Stub(target_);
  if (!channels_.at(target_)->WaitForConnected(
          std::chrono::system_clock::now() +
          std::chrono::milliseconds(options_.request_timeout_ms))) {
    FollowHint({});
    std::lock_guard lock(mu_);
    stream_context_.reset();
    return;
  }
  auto stream = stub->BrokerHeartbeat(ctx.get());
  while (true) {
    if (options_.blocked && options_.blocked()) break;  // as if the network dropped the stream
    controller::v1::BrokerHeartbeatRequest req;
    req.set_broker_id(options_.broker_id.value());
    req.set_broker_epoch(epoch_.load());
    req.set_incarnation_id(options_.incarnation_id);
    req.set_metadata_offset(metadata_offset_());
    req.set_want_shut_down(want_shut_down_.load());
    req.set_want_fence(want_fence_.load());
    if (options_.offline_replicas) {
      for (controller::v1::ReplicaRef& r : options_.offline_replicas()) {
        *req.add_offline_replicas() = std::move(r);
      }
    }
    controller::v1::BrokerHeartbeatResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) {
      FollowHint({});  // the controller went away: find the active one again
      break;
    }
    if (resp.error().code() != 0) {
      if (Is(resp.error(), KafkaError::kNotController)) {
        FollowHint(resp.controller());
      } else if (Is(resp.error(), KafkaError::kStaleBrokerEpoch) ||
                 Is(resp.error(), KafkaError::kBrokerIdNotRegistered)) {
        epoch_ = 0;  // register again
      }
      break;
    }
    fenced_ = resp.is_fenced();
    last_answer_ns_ = std::chrono::steady_clock::now().time_since_epoch().count();
    if (resp.should_shut_down()) may_shut_down_ = true;
    // While shutting down, ask often: the broker is waiting to exit.
    const bool sent_shutdown = req.want_shut_down();
    const int interval = sent_shutdown ? std::min(options_.heartbeat_interval_ms, 100)
                                       : options_.heartbeat_interval_ms;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(interval),
                 [&] { return stopping_ || (want_shut_down_ && !sent_shutdown); });
    if (stopping_) break;
  }
  stream->WritesDone();
  ctx->TryCancel();
  (void)stream->Finish();
  std::lock_guard lock(mu_);
  stream_context_.reset();
}

}  // namespace strand::broker
