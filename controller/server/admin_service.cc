#include "controller/server/admin_service.h"

#include <fmt/format.h>

#include "controller/server/controller_probe.h"

namespace strand::controller {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kForwardedHeader[] = "x-strand-forwarded";
constexpr int64_t kReadBarrierTimeoutMs = 2'000;
constexpr auto kForwardDeadlineMax = std::chrono::seconds(30);

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool WasForwarded(grpc::CallbackServerContext* call) {
  return call->client_metadata().count(kForwardedHeader) > 0;
}

// Per-item error filling for the write APIs.
void FailTopics(const admin::v1::CreateTopicsRequest& req, const ControllerError& e,
                admin::v1::CreateTopicsResponse* resp) {
  resp->Clear();
  for (const auto& t : req.topics()) {
    auto* r = resp->add_topics();
    r->set_name(t.name());
    SetError(e, r->mutable_error());
  }
}

void FailDeletes(const admin::v1::DeleteTopicsRequest& req, const ControllerError& e,
                 admin::v1::DeleteTopicsResponse* resp) {
  resp->Clear();
  for (const auto& name : req.names()) {
    auto* r = resp->add_topics();
    r->set_name(name);
    SetError(e, r->mutable_error());
  }
}

template <typename Resp>
void FailWhole(const ControllerError& e, Resp* resp) {
  resp->Clear();
  SetError(e, resp->mutable_error());
}

void FailElections(const admin::v1::ElectLeadersRequest& req, const ControllerError& e,
                   admin::v1::ElectLeadersResponse* resp) {
  resp->Clear();
  for (const auto& tp : req.partitions()) {
    auto* r = resp->add_results();
    *r->mutable_partition() = tp;
    SetError(e, r->mutable_error());
  }
  if (req.partitions_size() == 0) {
    auto* r = resp->add_results();
    SetError(e, r->mutable_error());
  }
}

void FailReassignments(const admin::v1::AlterPartitionReassignmentsRequest& req,
                       const ControllerError& e,
                       admin::v1::AlterPartitionReassignmentsResponse* resp) {
  resp->Clear();
  for (const auto& ra : req.reassignments()) {
    auto* r = resp->add_results();
    *r->mutable_partition() = ra.partition();
    SetError(e, r->mutable_error());
  }
}

}  // namespace

template <typename Req, typename Resp>
grpc::ServerUnaryReactor* AdminServiceImpl::Write(grpc::CallbackServerContext* call,
                                                  const Req* req, Resp* resp,
                                                  WriteOp<Req, Resp> op) {
  auto* reactor = call->DefaultReactor();
  const auto started = Clock::now();
  const bool forwarded = WasForwarded(call);
  const auto deadline = std::min(call->deadline(), std::chrono::system_clock::now() +
                                                       kForwardDeadlineMax);
  auto finish = [this, reactor, started, api = op.api] {
    ctx_.probe().Request(api, "DONE", Since(started));
    reactor->Finish(grpc::Status::OK);
  };
  auto task = [this, req, resp, op, forwarded, deadline, finish] {
    QuorumController& qc = ctx_.controller();
    if (qc.active()) {
      op.local(qc, *req, [resp, finish](Resp r) {
        *resp = std::move(r);
        finish();
      });
      return;
    }
    const NodeId leader = ctx_.driver().LoopStatus().leader;
    if (leader == kNoNode || leader == ctx_.self() || forwarded) {
      op.fail(*req,
              {KafkaError::kNotController,
               leader == kNoNode ? "no active controller (election in progress); retry"
                                 : fmt::format("controller {} is not active; the active "
                                               "controller is {}",
                                               ctx_.self(), leader)},
              resp);
      finish();
      return;
    }
    auto* client = new grpc::ClientContext();
    client->AddMetadata(kForwardedHeader, "1");
    client->set_deadline(deadline);
    op.forward(ctx_.AdminStub(leader), client, req, resp,
               [req, resp, op, leader, client, finish](grpc::Status s) {
                 delete client;
                 if (!s.ok()) {
                   op.fail(*req,
                           {KafkaError::kNotController,
                            fmt::format("forwarding to the active controller {} failed: {}",
                                        leader, s.error_message())},
                           resp);
                 }
                 finish();
               });
  };
  ctx_.driver().RunInLoop(task, [req, resp, op, finish] {
    op.fail(*req, {KafkaError::kNotController, "the controller is shutting down"}, resp);
    finish();
  });
  return reactor;
}

template <typename Resp>
grpc::ServerUnaryReactor* AdminServiceImpl::Read(grpc::CallbackServerContext* call, Resp* resp,
                                                 const std::string& api,
                                                 std::function<void(Resp*, bool)> build) {
  auto* reactor = call->DefaultReactor();
  const auto started = Clock::now();
  auto finish = [this, reactor, started, api] {
    ctx_.probe().Request(api, "DONE", Since(started));
    reactor->Finish(grpc::Status::OK);
  };
  ctx_.driver().ReadBarrier(
      [this, resp, build, finish](absl::Status barrier) {
        const bool fresh = barrier.ok();
        ctx_.driver().RunInLoop(
            [resp, build, finish, fresh] {
              build(resp, fresh);
              finish();
            },
            [resp, finish] {
              FailWhole<Resp>({KafkaError::kNotController, "the controller is shutting down"},
                              resp);
              finish();
            });
      },
      kReadBarrierTimeoutMs);
  return reactor;
}

namespace {

template <typename Resp>
void MarkStale(bool fresh, Resp* resp) {
  if (!fresh && resp->error().code() == 0) {
    SetError({KafkaError::kNotController,
              "no quorum for a linearizable read; this is the local view and may be stale"},
             resp->mutable_error());
  }
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::DescribeCluster(
    grpc::CallbackServerContext* call, const admin::v1::DescribeClusterRequest* req,
    admin::v1::DescribeClusterResponse* resp) {
  // The active controller knows which controllers answer it; a standby asks it, and falls back
  // to its own view (flagged) when there is no active controller to ask.
  auto* reactor = call->DefaultReactor();
  const bool forwarded = WasForwarded(call);
  auto local = [this, resp, reactor](bool fresh) {
    const raft::NodeStatus status = ctx_.driver().LoopStatus();
    QuorumView view = ctx_.View();
    view.leader = status.leader;
    view.term = status.term.value();
    view.reachable = status.reachable_voters;
    if (status.leader != kNoNode) view.reachable.push_back(status.leader);
    *resp = controller::DescribeCluster(ctx_.machine().image(), ctx_.controller(), view);
    MarkStale(fresh, resp);
    reactor->Finish(grpc::Status::OK);
  };
  ctx_.driver().RunInLoop(
      [this, req, resp, reactor, forwarded, local] {
        const NodeId leader = ctx_.driver().LoopStatus().leader;
        if (leader == kNoNode || leader == ctx_.self() || forwarded) {
          ctx_.driver().ReadBarrier([this, local](absl::Status s) {
            ctx_.driver().RunInLoop([local, s] { local(s.ok()); }, [local] { local(false); });
          }, kReadBarrierTimeoutMs);
          return;
        }
        auto* client = new grpc::ClientContext();
        client->AddMetadata(kForwardedHeader, "1");
        client->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        ctx_.AdminStub(leader)->async()->DescribeCluster(
            client, req, resp, [this, client, reactor, local](grpc::Status s) {
              delete client;
              if (s.ok()) {
                reactor->Finish(grpc::Status::OK);  // the active controller's answer
                return;
              }
              ctx_.driver().RunInLoop([local] { local(false); }, [local] { local(false); });
            });
      },
      [local] { local(false); });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTopics(grpc::CallbackServerContext* call,
                                                       const admin::v1::ListTopicsRequest* req,
                                                       admin::v1::ListTopicsResponse* resp) {
  return Read<admin::v1::ListTopicsResponse>(
      call, resp, "ListTopics", [this, req](admin::v1::ListTopicsResponse* out, bool fresh) {
        *out = controller::ListTopics(ctx_.machine().image(), *req);
        MarkStale(fresh, out);
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DescribeTopics(
    grpc::CallbackServerContext* call, const admin::v1::DescribeTopicsRequest* req,
    admin::v1::DescribeTopicsResponse* resp) {
  auto* reactor = call->DefaultReactor();
  // Per-topic errors only; staleness is not flagged on this response.
  ctx_.driver().ReadBarrier(
      [this, req, resp, reactor](absl::Status) {
        ctx_.driver().RunInLoop(
            [this, req, resp, reactor] {
              *resp = controller::DescribeTopics(ctx_.machine().image(), *req);
              reactor->Finish(grpc::Status::OK);
            },
            [reactor] {
              reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
            });
      },
      kReadBarrierTimeoutMs);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::DescribeConfigs(
    grpc::CallbackServerContext* call, const admin::v1::DescribeConfigsRequest* req,
    admin::v1::DescribeConfigsResponse* resp) {
  return Read<admin::v1::DescribeConfigsResponse>(
      call, resp, "DescribeConfigs",
      [this, req](admin::v1::DescribeConfigsResponse* out, bool fresh) {
        *out = controller::DescribeConfigs(ctx_.machine().image(), ctx_.controller(), *req);
        MarkStale(fresh, out);
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListPartitionReassignments(
    grpc::CallbackServerContext* call, const admin::v1::ListPartitionReassignmentsRequest*,
    admin::v1::ListPartitionReassignmentsResponse* resp) {
  return Read<admin::v1::ListPartitionReassignmentsResponse>(
      call, resp, "ListPartitionReassignments",
      [this](admin::v1::ListPartitionReassignmentsResponse* out, bool fresh) {
        *out = ListReassignments(ctx_.machine().image());
        MarkStale(fresh, out);
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateTopics(
    grpc::CallbackServerContext* call, const admin::v1::CreateTopicsRequest* req,
    admin::v1::CreateTopicsResponse* resp) {
  return Write<admin::v1::CreateTopicsRequest, admin::v1::CreateTopicsResponse>(
      call, req, resp,
      {"CreateTopics",
       [](QuorumController& qc, const auto& r, auto done) { qc.CreateTopics(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->CreateTopics(c, q, p, std::move(cb));
       },
       FailTopics});
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteTopics(
    grpc::CallbackServerContext* call, const admin::v1::DeleteTopicsRequest* req,
    admin::v1::DeleteTopicsResponse* resp) {
  return Write<admin::v1::DeleteTopicsRequest, admin::v1::DeleteTopicsResponse>(
      call, req, resp,
      {"DeleteTopics",
       [](QuorumController& qc, const auto& r, auto done) { qc.DeleteTopics(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->DeleteTopics(c, q, p, std::move(cb));
       },
       FailDeletes});
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreatePartitions(
    grpc::CallbackServerContext* call, const admin::v1::CreatePartitionsRequest* req,
    admin::v1::CreatePartitionsResponse* resp) {
  return Write<admin::v1::CreatePartitionsRequest, admin::v1::CreatePartitionsResponse>(
      call, req, resp,
      {"CreatePartitions",
       [](QuorumController& qc, const auto& r, auto done) { qc.CreatePartitions(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->CreatePartitions(c, q, p, std::move(cb));
       },
       [](const auto&, const ControllerError& e, auto* p) { FailWhole(e, p); }});
}

grpc::ServerUnaryReactor* AdminServiceImpl::AlterConfigs(
    grpc::CallbackServerContext* call, const admin::v1::AlterConfigsRequest* req,
    admin::v1::AlterConfigsResponse* resp) {
  return Write<admin::v1::AlterConfigsRequest, admin::v1::AlterConfigsResponse>(
      call, req, resp,
      {"AlterConfigs",
       [](QuorumController& qc, const auto& r, auto done) { qc.AlterConfigs(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->AlterConfigs(c, q, p, std::move(cb));
       },
       [](const auto&, const ControllerError& e, auto* p) { FailWhole(e, p); }});
}

grpc::ServerUnaryReactor* AdminServiceImpl::ElectLeaders(
    grpc::CallbackServerContext* call, const admin::v1::ElectLeadersRequest* req,
    admin::v1::ElectLeadersResponse* resp) {
  return Write<admin::v1::ElectLeadersRequest, admin::v1::ElectLeadersResponse>(
      call, req, resp,
      {"ElectLeaders",
       [](QuorumController& qc, const auto& r, auto done) { qc.ElectLeaders(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->ElectLeaders(c, q, p, std::move(cb));
       },
       FailElections});
}

grpc::ServerUnaryReactor* AdminServiceImpl::AlterPartitionReassignments(
    grpc::CallbackServerContext* call, const admin::v1::AlterPartitionReassignmentsRequest* req,
    admin::v1::AlterPartitionReassignmentsResponse* resp) {
  return Write<admin::v1::AlterPartitionReassignmentsRequest,
               admin::v1::AlterPartitionReassignmentsResponse>(
      call, req, resp,
      {"AlterPartitionReassignments",
       [](QuorumController& qc, const auto& r, auto done) {
         qc.AlterPartitionReassignments(r, done);
       },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->AlterPartitionReassignments(c, q, p, std::move(cb));
       },
       FailReassignments});
}

grpc::ServerUnaryReactor* AdminServiceImpl::UnregisterBroker(
    grpc::CallbackServerContext* call, const admin::v1::UnregisterBrokerRequest* req,
    admin::v1::UnregisterBrokerResponse* resp) {
  return Write<admin::v1::UnregisterBrokerRequest, admin::v1::UnregisterBrokerResponse>(
      call, req, resp,
      {"UnregisterBroker",
       [](QuorumController& qc, const auto& r, auto done) { qc.UnregisterBroker(r, done); },
       [](auto* stub, auto* c, auto* q, auto* p, auto cb) {
         stub->async()->UnregisterBroker(c, q, p, std::move(cb));
       },
       [](const auto&, const ControllerError& e, auto* p) { FailWhole(e, p); }});
}

}  // namespace strand::controller
