// ControllerGroupService: see the header.
#include "controller/server/controller_group_service.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/error_proto.h"
#include "common/group_listing.h"
#include "common/group_partition.h"
#include "common/grpc_channel.h"
#include "common/internal_topics.h"
#include "controller/server/controller_probe.h"

namespace strand::controller {
namespace {

namespace gv1 = ::strand::group::v1;

using Clock = std::chrono::steady_clock;

constexpr size_t kGroupsPerRequestMax = 10'000;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

ControllerGroupService::ControllerGroupService(ControllerContext& context,
                                               const ListenerConfig& listeners,
                                               std::shared_ptr<grpc::ChannelCredentials> to_brokers,
                                               int64_t fan_out_timeout_ms)
    : ctx_(context),
      listeners_(listeners),
      to_brokers_(std::move(to_brokers)),
      fan_out_timeout_ms_(fan_out_timeout_ms) {}

std::string ControllerGroupService::AddressOf(const BrokerRegistration& broker) const {
  for (const Listener& l : broker.listeners) {
    if (listeners_.IsControllerListenerName(l.name)) {
      return Endpoint{l.name, l.host, l.port}.Address();
    }
  }
  return "";
}

std::shared_ptr<gv1::GroupService::Stub> ControllerGroupService::StubFor(
    const std::string& address) {
  std::lock_guard lock(mu_);
  auto& channel = channels_[address];
  if (!channel) {
    channel = grpc::CreateCustomChannel(
        address, to_brokers_ ? to_brokers_ : grpc::InsecureChannelCredentials(),
        InternalChannelArguments(10'000));
  }
  return gv1::GroupService::NewStub(channel);
}

std::chrono::system_clock::time_point ControllerGroupService::FanOutDeadline(
    const grpc::CallbackServerContext& call) const {
  // Leave the caller time to hear the answer: the brokers get at most what is left of its
  // deadline, less a margin.
  const auto own =
      std::chrono::system_clock::now() + std::chrono::milliseconds(fan_out_timeout_ms_);
  const auto callers = call.deadline() - std::chrono::milliseconds(100);
  return std::min(own, callers);
}

grpc::ServerUnaryReactor* ControllerGroupService::Unimplemented(grpc::CallbackServerContext* call,
                                                                const char* api) {
  ctx_.probe().Request(api, "UNIMPLEMENTED", 0);
  auto* reactor = call->DefaultReactor();
  reactor->Finish(grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED,
      fmt::format("controller {} answers only ListGroups and DescribeGroups of the group API; "
                  "send {} to a broker",
                  ctx_.self(), api)));
  return reactor;
}

// ---------------------------------------------------------------- ListGroups

grpc::ServerUnaryReactor* ControllerGroupService::ListGroups(grpc::CallbackServerContext* call,
                                                             const gv1::ListGroupsRequest* req,
                                                             gv1::ListGroupsResponse* resp) {
  const auto start = Clock::now();
  auto* reactor = call->DefaultReactor();
  const auto deadline = FanOutDeadline(*call);
  auto fan_out = [this, req, resp, reactor, start, deadline] {
    // Loop thread: the unfenced brokers of the committed image.
    std::vector<std::pair<NodeId, std::string>> brokers;
    for (const auto& [id, b] : ctx_.machine().image().brokers()) {
      if (!b.fenced) brokers.emplace_back(id, AddressOf(b));
    }
    auto finish = [this, resp, reactor, start] {
      ctx_.probe().Request("ListGroups", resp->error().code() == 0 ? "NONE" : resp->error().name(),
                           Since(start));
      reactor->Finish(grpc::Status::OK);
    };
    if (brokers.empty()) {
      SetKafkaError(resp->mutable_error(), KafkaError::kCoordinatorNotAvailable,
                    "no broker is registered and unfenced: no group coordinator to ask");
      finish();
      return;
    }
    auto listing = std::make_shared<GroupListing>(static_cast<int>(brokers.size()));
    auto one_done = [listing, resp, finish] {
      if (!listing->OneDone()) return;
      *resp = listing->Take();
      finish();
    };
    for (const auto& [id, address] : brokers) {
      if (address.empty()) {
        listing->Unreachable(
            id.value(), KafkaError::kCoordinatorNotAvailable,
            ctx_.voters().count(id)
                ? fmt::format("broker {} runs in combined mode "
                              "(process.roles=broker,controller), which serves "
                              "no controller-plane listener of its own: ask a "
                              "broker's client listener",
                              id)
                : fmt::format("broker {} registered no controller-plane listener", id));
        one_done();
        continue;
      }
      using Call =
          AsyncCall<gv1::GroupService::Stub, gv1::ListGroupsRequest, gv1::ListGroupsResponse>;
      auto c = std::make_shared<Call>();
      c->stub = StubFor(address);
      c->request = *req;
      c->request.set_this_broker_only(true);
      c->context.set_deadline(deadline);
      c->stub->async()->ListGroups(
          &c->context, &c->request, &c->response,
          [c, listing, id = id, one_done](grpc::Status status) {
            if (status.ok()) {
              listing->Add(std::move(c->response));
            } else {
              listing->Unreachable(
                  id.value(), KafkaError::kCoordinatorNotAvailable,
                  fmt::format("broker {} did not answer: {}", id, status.error_message()));
            }
            one_done();
          });
    }
  };
  if (!ctx_.driver().RunInLoop(fan_out)) {
    ctx_.probe().Request("ListGroups", "UNAVAILABLE", Since(start));
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 fmt::format("controller {} is shutting down", ctx_.self())));
  }
  return reactor;
}

// ---------------------------------------------------------------- DescribeGroups

grpc::ServerUnaryReactor* ControllerGroupService::DescribeGroups(
    grpc::CallbackServerContext* call, const gv1::DescribeGroupsRequest* req,
    gv1::DescribeGroupsResponse* resp) {
  const auto start = Clock::now();
  auto* reactor = call->DefaultReactor();
  if (static_cast<size_t>(req->group_ids_size()) > kGroupsPerRequestMax) {
    ctx_.probe().Request("DescribeGroups", "INVALID_REQUEST", Since(start));
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 fmt::format("at most {} group ids", kGroupsPerRequestMax)));
    return reactor;
  }
  const int n = req->group_ids_size();
  for (int i = 0; i < n; ++i) {
    auto* g = resp->add_groups();
    g->set_group_id(req->group_ids(i));
    g->set_coordinator(-1);
  }
  auto finish = [this, reactor, start] {
    ctx_.probe().Request("DescribeGroups", "NONE", Since(start));
    reactor->Finish(grpc::Status::OK);
  };
  const auto deadline = FanOutDeadline(*call);
  auto fan_out = [this, req, resp, finish, deadline] {
    // Loop thread: each group's coordinator address, and the groups asked of each.
    std::map<std::pair<NodeId, std::string>, std::vector<int>> by_coordinator;
    const MetadataImage& image = ctx_.machine().image();
    const TopicImage* offsets = image.topic(std::string(kConsumerOffsetsTopic));
    for (int i = 0; i < resp->groups_size(); ++i) {
      gv1::DescribedGroup* g = resp->mutable_groups(i);
      if (g->group_id().empty()) {
        SetKafkaError(g->mutable_error(), KafkaError::kInvalidGroupId, "empty group id");
        continue;
      }
      if (offsets == nullptr || offsets->partitions.empty()) {
        SetKafkaError(
            g->mutable_error(), KafkaError::kGroupIdNotFound,
            fmt::format("no group exists yet ({} has not been created)", kConsumerOffsetsTopic));
        continue;
      }
      const int32_t partition =
          PartitionForGroup(g->group_id(), static_cast<int32_t>(offsets->partitions.size()));
      const NodeId leader = offsets->partitions[partition].leader;
      const BrokerRegistration* b = image.broker(leader);
      const std::string address = b == nullptr || b->fenced ? "" : AddressOf(*b);
      if (address.empty()) {
        SetKafkaError(
            g->mutable_error(), KafkaError::kCoordinatorNotAvailable,
            b != nullptr && !b->fenced
                ? fmt::format("its coordinator, broker {}, runs in combined mode "
                              "(process.roles=broker,controller) and serves no controller-plane "
                              "listener of its own: ask a broker's client listener",
                              leader)
                : fmt::format("{}-{} has no reachable leader now", kConsumerOffsetsTopic,
                              partition));
        continue;
      }
      by_coordinator[{leader, address}].push_back(i);
    }
    if (by_coordinator.empty()) {
      finish();
      return;
    }
    auto remaining = std::make_shared<std::atomic<int>>(static_cast<int>(by_coordinator.size()));
    for (const auto& [coordinator, indexes] : by_coordinator) {
      using Call = AsyncCall<gv1::GroupService::Stub, gv1::DescribeGroupsRequest,
                             gv1::DescribeGroupsResponse>;
      auto c = std::make_shared<Call>();
      c->stub = StubFor(coordinator.second);
      c->request.set_include_offsets(req->include_offsets());
      for (int i : indexes) c->request.add_group_ids(resp->groups(i).group_id());
      c->context.set_deadline(deadline);
      // Each callback writes only its own groups' entries of `resp`.
      c->stub->async()->DescribeGroups(
          &c->context, &c->request, &c->response,
          [c, resp, indexes = indexes, id = coordinator.first, remaining,
           finish](grpc::Status status) {
            for (size_t k = 0; k < indexes.size(); ++k) {
              gv1::DescribedGroup* g = resp->mutable_groups(indexes[k]);
              if (status.ok() && static_cast<int>(k) < c->response.groups_size()) {
                *g = std::move(*c->response.mutable_groups(static_cast<int>(k)));
              } else {
                SetKafkaError(g->mutable_error(), KafkaError::kCoordinatorNotAvailable,
                              status.ok() ? fmt::format("coordinator {} answered for fewer groups "
                                                        "than asked",
                                                        id)
                                          : fmt::format("coordinator {} did not answer: {}", id,
                                                        status.error_message()));
              }
            }
            if (remaining->fetch_sub(1) == 1) finish();
          });
    }
  };
  if (!ctx_.driver().RunInLoop(fan_out)) {
    ctx_.probe().Request("DescribeGroups", "UNAVAILABLE", Since(start));
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 fmt::format("controller {} is shutting down", ctx_.self())));
  }
  return reactor;
}

// ---------------------------------------------------------------- the rest: brokers only

grpc::ServerUnaryReactor* ControllerGroupService::FindCoordinator(
    grpc::CallbackServerContext* call, const gv1::FindCoordinatorRequest*,
    gv1::FindCoordinatorResponse*) {
  return Unimplemented(call, "FindCoordinator");
}
grpc::ServerUnaryReactor* ControllerGroupService::ConsumerGroupHeartbeat(
    grpc::CallbackServerContext* call, const gv1::ConsumerGroupHeartbeatRequest*,
    gv1::ConsumerGroupHeartbeatResponse*) {
  return Unimplemented(call, "ConsumerGroupHeartbeat");
}
grpc::ServerUnaryReactor* ControllerGroupService::OffsetCommit(grpc::CallbackServerContext* call,
                                                               const gv1::OffsetCommitRequest*,
                                                               gv1::OffsetCommitResponse*) {
  return Unimplemented(call, "OffsetCommit");
}
grpc::ServerUnaryReactor* ControllerGroupService::OffsetFetch(grpc::CallbackServerContext* call,
                                                              const gv1::OffsetFetchRequest*,
                                                              gv1::OffsetFetchResponse*) {
  return Unimplemented(call, "OffsetFetch");
}
grpc::ServerUnaryReactor* ControllerGroupService::DeleteGroups(grpc::CallbackServerContext* call,
                                                               const gv1::DeleteGroupsRequest*,
                                                               gv1::DeleteGroupsResponse*) {
  return Unimplemented(call, "DeleteGroups");
}
grpc::ServerUnaryReactor* ControllerGroupService::OffsetDelete(grpc::CallbackServerContext* call,
                                                               const gv1::OffsetDeleteRequest*,
                                                               gv1::OffsetDeleteResponse*) {
  return Unimplemented(call, "OffsetDelete");
}

}  // namespace strand::controller
