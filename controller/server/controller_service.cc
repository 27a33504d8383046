#include "controller/server/controller_service.h"

#include <fmt/format.h>

#include <atomic>

#include "controller/server/controller_probe.h"

namespace strand::controller {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

ControllerError Stopping() {
  return {KafkaError::kNotController, "the controller is shutting down"};
}

// Runs `work` on the loop thread; answers with `fail` (NOT_CONTROLLER) if it cannot run.
template <typename Response>
void Dispatch(ControllerContext& ctx, grpc::ServerUnaryReactor* reactor, Response* resp,
              const std::string& api, std::function<void(Done<Response>)> work) {
  const auto started = Clock::now();
  auto finish = [&ctx, reactor, resp, api, started](Response r) {
    if (r.error().code() != 0 && !r.has_controller()) *r.mutable_controller() = ctx.Hint();
    *resp = std::move(r);
    ctx.probe().Request(api, resp->error().name().empty() ? "NONE" : resp->error().name(),
                        Since(started));
    reactor->Finish(grpc::Status::OK);
  };
  ctx.driver().RunInLoop([work, finish] { work(finish); },
                         [finish] {
                           Response r;
                           SetError(Stopping(), r.mutable_error());
                           finish(r);
                         });
}

// One broker's heartbeat stream: read a request, answer it on the loop thread, write, repeat.
// At most one operation is outstanding, so the reactor is never finished while a loop task
// still refers to it.
class HeartbeatReactor final
    : public grpc::ServerBidiReactor<v1::BrokerHeartbeatRequest, v1::BrokerHeartbeatResponse> {
 public:
  using Check = std::function<grpc::Status(int32_t broker)>;
  HeartbeatReactor(ControllerContext& ctx, Check check) : ctx_(ctx), check_(std::move(check)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Closed();
      Finish(grpc::Status::OK);
      return;
    }
    if (grpc::Status s = check_(request_.broker_id()); !s.ok()) {
      Closed();
      Finish(s);
      return;
    }
    v1::BrokerHeartbeatRequest req = request_;
    ctx_.driver().RunInLoop(
        [this, req] {
          response_ = ctx_.controller().Heartbeat(req, ControllerContext::NowMs());
          if (response_.error().code() == 0) {
            // Only a stream that spoke for the broker's registration may end its session early
            // when it breaks: a refused stream (a forgery, a stale process) changes nothing.
            broker_ = NodeId(req.broker_id());
            epoch_ = req.broker_epoch();
          } else {
            *response_.mutable_controller() = ctx_.Hint();
          }
          StartWrite(&response_);
        },
        [this] {
          response_.Clear();
          SetError(Stopping(), response_.mutable_error());
          StartWrite(&response_);
        });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Closed();
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "heartbeat stream broken"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  // The stream is gone: the broker has the grace period to come back.
  void Closed() {
    if (closed_ || broker_ == kNoNode) return;
    closed_ = true;
    ControllerContext& ctx = ctx_;
    const NodeId broker = broker_;
    const int64_t epoch = epoch_;
    ctx.driver().RunInLoop([&ctx, broker, epoch] {
      ctx.controller().HeartbeatStreamClosed(broker, epoch, ControllerContext::NowMs());
    });
  }

  ControllerContext& ctx_;
  const Check check_;
  v1::BrokerHeartbeatRequest request_;
  v1::BrokerHeartbeatResponse response_;
  NodeId broker_ = kNoNode;
  int64_t epoch_ = 0;
  bool closed_ = false;
};

}  // namespace

grpc::Status ControllerServiceImpl::CheckBroker(const grpc::ServerContextBase& call,
                                                int32_t broker, const char* api) {
  grpc::Status s =
      guard_->CheckNode(call, broker, [&] { return fmt::format("{} for broker {}", api, broker); });
  if (!s.ok()) ctx_.probe().Request(api, "PERMISSION_DENIED", 0);
  return s;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::RegisterBroker(
    grpc::CallbackServerContext* call, const v1::RegisterBrokerRequest* req,
    v1::RegisterBrokerResponse* resp) {
  auto* reactor = call->DefaultReactor();
  if (grpc::Status s = CheckBroker(*call, req->broker_id(), "RegisterBroker"); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  Dispatch<v1::RegisterBrokerResponse>(ctx_, reactor, resp, "RegisterBroker",
                                       [this, req](Done<v1::RegisterBrokerResponse> done) {
                                         ctx_.controller().RegisterBroker(
                                             *req, ControllerContext::NowMs(), done);
                                       });
  return reactor;
}

grpc::ServerBidiReactor<v1::BrokerHeartbeatRequest, v1::BrokerHeartbeatResponse>*
ControllerServiceImpl::BrokerHeartbeat(grpc::CallbackServerContext* call) {
  return new HeartbeatReactor(
      ctx_, [this, call](int32_t broker) { return CheckBroker(*call, broker, "BrokerHeartbeat"); });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::AlterPartition(
    grpc::CallbackServerContext* call, const v1::AlterPartitionRequest* req,
    v1::AlterPartitionResponse* resp) {
  auto* reactor = call->DefaultReactor();
  if (grpc::Status s = CheckBroker(*call, req->broker_id(), "AlterPartition"); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  Dispatch<v1::AlterPartitionResponse>(
      ctx_, reactor, resp, "AlterPartition",
      [this, req](Done<v1::AlterPartitionResponse> done) {
        ctx_.controller().AlterPartition(*req, done);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::AllocateProducerIds(
    grpc::CallbackServerContext* call, const v1::AllocateProducerIdsRequest* req,
    v1::AllocateProducerIdsResponse* resp) {
  auto* reactor = call->DefaultReactor();
  if (grpc::Status s = CheckBroker(*call, req->broker_id(), "AllocateProducerIds"); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  Dispatch<v1::AllocateProducerIdsResponse>(
      ctx_, reactor, resp, "AllocateProducerIds",
      [this, req](Done<v1::AllocateProducerIdsResponse> done) {
        ctx_.controller().AllocateProducerIds(*req, done);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::CreateOffsetsTopic(
    grpc::CallbackServerContext* call, const v1::CreateOffsetsTopicRequest* req,
    v1::CreateOffsetsTopicResponse* resp) {
  auto* reactor = call->DefaultReactor();
  if (grpc::Status s = CheckBroker(*call, req->broker_id(), "CreateOffsetsTopic"); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  Dispatch<v1::CreateOffsetsTopicResponse>(ctx_, reactor, resp, "CreateOffsetsTopic",
                                           [this, req](Done<v1::CreateOffsetsTopicResponse> done) {
                                             ctx_.controller().CreateOffsetsTopic(*req, done);
                                           });
  return reactor;
}

}  // namespace strand::controller
