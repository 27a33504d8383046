// GroupServiceImpl: see the header.
#include "broker/server/group_service.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "broker/server/fetch_purgatory.h"
#include "common/error_proto.h"
#include "common/group_listing.h"
#include "common/group_partition.h"
#include "common/grpc_callback_pin.h"
#include "common/grpc_channel.h"

namespace strand::broker {

namespace {

constexpr size_t kGroupsPerRequestMax = 10'000;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A reactor answered once, with the probe told.
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, BrokerProbe& probe,
                                 const char* api, std::string_view error,
                                 std::chrono::steady_clock::time_point start,
                                 grpc::Status status = grpc::Status::OK) {
  probe.Request(api, error, SecondsSince(start));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

std::string_view ErrorName(const strand::common::v1::Error& e) {
  return e.code() == 0 ? std::string_view("NONE") : std::string_view(e.name());
}

}  // namespace

GroupServiceImpl::GroupServiceImpl(GroupServiceOptions options, MetadataFollower& metadata,
                                   GroupCoordinator& coordinator, BrokerProbe& probe)
    : options_(std::move(options)), metadata_(metadata), coordinator_(coordinator), probe_(probe) {
  PinGrpcCallbackQueue();
}

GroupServiceImpl::~GroupServiceImpl() {
  std::thread creator;
  {
    std::lock_guard lock(create_mu_);
    creator.swap(creator_);
  }
  if (creator.joinable()) creator.join();
}

std::shared_ptr<grpc::Channel> GroupServiceImpl::ChannelFor(NodeId id) {
  std::optional<std::string> address =
      metadata_.Read([&](const controller::MetadataImage& image) -> std::optional<std::string> {
        const controller::BrokerRegistration* b = image.broker(id);
        if (b == nullptr) return std::nullopt;
        const controller::Listener* l = b->FindListener(options_.listener);
        if (l == nullptr) return std::nullopt;
        return fmt::format("{}:{}", l->host, l->port);
      });
  if (!address) return nullptr;
  std::lock_guard lock(channels_mu_);
  auto& channel = channels_[*address];
  if (!channel) {
    channel = grpc::CreateCustomChannel(
        *address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
        InternalChannelArguments(10'000));
  }
  return channel;
}

std::shared_ptr<gv1::GroupService::Stub> GroupServiceImpl::GroupStubFor(NodeId id) {
  auto channel = ChannelFor(id);
  if (!channel) return nullptr;
  return gv1::GroupService::NewStub(channel);
}

std::shared_ptr<v1::BrokerService::Stub> GroupServiceImpl::BrokerStubFor(NodeId id) {
  auto channel = ChannelFor(id);
  if (!channel) return nullptr;
  return v1::BrokerService::NewStub(channel);
}

grpc::Status GroupServiceImpl::PlaneCheck(const grpc::CallbackServerContext& context,
                                          std::string_view api) const {
  if (!options_.controller_plane) return grpc::Status::OK;
  if (api != "ListGroups" && api != "DescribeGroups") {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        fmt::format("{} refused: this is broker {}'s controller-plane listener, which serves only "
                    "the controllers' ListGroups and DescribeGroups; send group calls to a client "
                    "listener",
                    api, options_.self));
  }
  return options_.check_caller ? options_.check_caller(context) : grpc::Status::OK;
}

// ---------------------------------------------------------------- FindCoordinator

std::string GroupServiceImpl::RequestOffsetsTopic() {
  std::lock_guard lock(create_mu_);
  const int64_t now = NowMs();
  if (!options_.create_offsets_topic || creating_ || now - last_create_ms_ < 1'000) {
    return last_create_error_;
  }
  creating_ = true;
  last_create_ms_ = now;
  if (creator_.joinable()) creator_.join();  // the previous attempt has finished
  creator_ = std::thread([this] {
    absl::Status s = options_.create_offsets_topic();
    std::lock_guard guard(create_mu_);
    creating_ = false;
    last_create_error_ = s.ok() ? "" : std::string(s.message());
    if (!s.ok()) {
      GroupsLog()->warn("[broker {}] cannot create {}: {}", options_.self, kGroupOffsetsTopic,
                        s.ToString());
    }
  });
  return last_create_error_;
}

grpc::ServerUnaryReactor* GroupServiceImpl::FindCoordinator(grpc::CallbackServerContext* context,
                                                            const gv1::FindCoordinatorRequest* req,
                                                            gv1::FindCoordinatorResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "FindCoordinator"); !refused.ok()) {
    return Answer(context, probe_, "FindCoordinator", "PERMISSION_DENIED", start, refused);
  }
  if (static_cast<size_t>(req->group_ids_size()) > kGroupsPerRequestMax) {
    return Answer(context, probe_, "FindCoordinator", "INVALID_REQUEST", start,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               fmt::format("at most {} group ids", kGroupsPerRequestMax)));
  }
  bool missing_topic = false;
  metadata_.Read([&](const controller::MetadataImage& image) {
    const controller::TopicImage* t = image.topic(std::string(kGroupOffsetsTopic));
    for (const std::string& group_id : req->group_ids()) {
      gv1::Coordinator* c = resp->add_coordinators();
      c->set_group_id(group_id);
      c->set_node_id(-1);
      if (group_id.empty()) {
        SetKafkaError(c->mutable_error(), KafkaError::kInvalidGroupId, "empty group id");
        continue;
      }
      if (t == nullptr || t->partitions.empty()) {
        missing_topic = true;
        continue;  // filled below
      }
      const int32_t partition =
          PartitionForGroup(group_id, static_cast<int32_t>(t->partitions.size()));
      c->set_partition(partition);
      const NodeId leader = t->partitions[partition].leader;
      const controller::BrokerRegistration* b = image.broker(leader);
      const controller::Listener* l = b == nullptr ? nullptr : b->FindListener(options_.listener);
      if (leader == kNoNode || l == nullptr || b->fenced) {
        SetKafkaError(c->mutable_error(), KafkaError::kCoordinatorNotAvailable,
                      fmt::format("{}-{} has no leader now", kGroupOffsetsTopic, partition));
        continue;
      }
      c->set_node_id(leader.value());
      c->set_host(l->host);
      c->set_port(l->port);
    }
  });
  if (missing_topic) {
    const std::string last_error = RequestOffsetsTopic();
    const std::string message =
        last_error.empty()
            ? fmt::format("{} is being created", kGroupOffsetsTopic)
            : fmt::format("{} cannot be created yet: {}", kGroupOffsetsTopic, last_error);
    for (gv1::Coordinator& c : *resp->mutable_coordinators()) {
      if (c.error().code() == 0 && c.node_id() < 0) {
        SetKafkaError(c.mutable_error(), KafkaError::kCoordinatorNotAvailable, message);
      }
    }
  }
  const bool any_error = std::any_of(resp->coordinators().begin(), resp->coordinators().end(),
                                     [](const gv1::Coordinator& c) { return c.error().code(); });
  return Answer(context, probe_, "FindCoordinator",
                any_error ? "COORDINATOR_NOT_AVAILABLE" : "NONE", start);
}

// ---------------------------------------------------------------- per-group calls

grpc::ServerUnaryReactor* GroupServiceImpl::ConsumerGroupHeartbeat(
    grpc::CallbackServerContext* context, const gv1::ConsumerGroupHeartbeatRequest* req,
    gv1::ConsumerGroupHeartbeatResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "ConsumerGroupHeartbeat"); !refused.ok()) {
    return Answer(context, probe_, "ConsumerGroupHeartbeat", "PERMISSION_DENIED", start, refused);
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.Heartbeat(*req, [this, reactor, resp, start](gv1::ConsumerGroupHeartbeatResponse r) {
    *resp = std::move(r);
    probe_.Request("ConsumerGroupHeartbeat", ErrorName(resp->error()), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* GroupServiceImpl::OffsetCommit(grpc::CallbackServerContext* context,
                                                         const gv1::OffsetCommitRequest* req,
                                                         gv1::OffsetCommitResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "OffsetCommit"); !refused.ok()) {
    return Answer(context, probe_, "OffsetCommit", "PERMISSION_DENIED", start, refused);
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.CommitOffsets(*req, [this, reactor, resp, start](gv1::OffsetCommitResponse r) {
    *resp = std::move(r);
    probe_.Request("OffsetCommit", ErrorName(resp->error()), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* GroupServiceImpl::OffsetFetch(grpc::CallbackServerContext* context,
                                                        const gv1::OffsetFetchRequest* req,
                                                        gv1::OffsetFetchResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "OffsetFetch"); !refused.ok()) {
    return Answer(context, probe_, "OffsetFetch", "PERMISSION_DENIED", start, refused);
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.FetchOffsets(*req, [this, reactor, resp, start](gv1::OffsetFetchResponse r) {
    *resp = std::move(r);
    probe_.Request("OffsetFetch", ErrorName(resp->error()), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* GroupServiceImpl::OffsetDelete(grpc::CallbackServerContext* context,
                                                         const gv1::OffsetDeleteRequest* req,
                                                         gv1::OffsetDeleteResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "OffsetDelete"); !refused.ok()) {
    return Answer(context, probe_, "OffsetDelete", "PERMISSION_DENIED", start, refused);
  }
  auto* reactor = context->DefaultReactor();
  coordinator_.DeleteOffsets(*req, [this, reactor, resp, start](gv1::OffsetDeleteResponse r) {
    *resp = std::move(r);
    probe_.Request("OffsetDelete", ErrorName(resp->error()), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* GroupServiceImpl::DeleteGroups(grpc::CallbackServerContext* context,
                                                         const gv1::DeleteGroupsRequest* req,
                                                         gv1::DeleteGroupsResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "DeleteGroups"); !refused.ok()) {
    return Answer(context, probe_, "DeleteGroups", "PERMISSION_DENIED", start, refused);
  }
  if (static_cast<size_t>(req->group_ids_size()) > kGroupsPerRequestMax) {
    return Answer(context, probe_, "DeleteGroups", "INVALID_REQUEST", start,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               fmt::format("at most {} group ids", kGroupsPerRequestMax)));
  }
  auto* reactor = context->DefaultReactor();
  const int n = req->group_ids_size();
  if (n == 0) return Answer(context, probe_, "DeleteGroups", "NONE", start);
  for (int i = 0; i < n; ++i) resp->add_groups();
  auto remaining = std::make_shared<std::atomic<int>>(n);
  for (int i = 0; i < n; ++i) {
    coordinator_.DeleteGroup(req->group_ids(i),
                             [this, reactor, resp, remaining, i, start](gv1::DeletedGroup d) {
                               *resp->mutable_groups(i) = std::move(d);
                               if (remaining->fetch_sub(1) == 1) {
                                 probe_.Request("DeleteGroups", "NONE", SecondsSince(start));
                                 reactor->Finish(grpc::Status::OK);
                               }
                             });
  }
  return reactor;
}

grpc::ServerUnaryReactor* GroupServiceImpl::DescribeGroups(grpc::CallbackServerContext* context,
                                                           const gv1::DescribeGroupsRequest* req,
                                                           gv1::DescribeGroupsResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "DescribeGroups"); !refused.ok()) {
    return Answer(context, probe_, "DescribeGroups", "PERMISSION_DENIED", start, refused);
  }
  if (static_cast<size_t>(req->group_ids_size()) > kGroupsPerRequestMax) {
    return Answer(context, probe_, "DescribeGroups", "INVALID_REQUEST", start,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               fmt::format("at most {} group ids", kGroupsPerRequestMax)));
  }
  const int n = req->group_ids_size();
  if (n == 0) return Answer(context, probe_, "DescribeGroups", "NONE", start);
  auto* reactor = context->DefaultReactor();
  auto out = std::make_shared<gv1::DescribeGroupsResponse>();
  for (int i = 0; i < n; ++i) out->add_groups();
  auto remaining = std::make_shared<std::atomic<int>>(n);
  const bool with_lag = req->include_offsets();
  for (int i = 0; i < n; ++i) {
    coordinator_.DescribeGroup(req->group_ids(i), [this, reactor, resp, out, remaining, i, with_lag,
                                                   start](gv1::DescribedGroup d) {
      if (!with_lag) d.clear_offsets();
      *out->mutable_groups(i) = std::move(d);
      if (remaining->fetch_sub(1) != 1) return;
      auto finish = [this, reactor, resp, out, start] {
        *resp = std::move(*out);
        probe_.Request("DescribeGroups", "NONE", SecondsSince(start));
        reactor->Finish(grpc::Status::OK);
      };
      if (with_lag) {
        FillLag(out, finish);
      } else {
        finish();
      }
    });
  }
  return reactor;
}

void GroupServiceImpl::FillLag(std::shared_ptr<gv1::DescribeGroupsResponse> groups,
                               std::function<void()> done) {
  // The partitions whose high watermark is needed, by their leader.
  std::map<NodeId, std::set<std::pair<std::string, int32_t>>> by_leader;
  metadata_.Read([&](const controller::MetadataImage& image) {
    for (const auto& g : groups->groups()) {
      for (const auto& o : g.offsets()) {
        const controller::TopicImage* t = image.topic(o.topic());
        if (t == nullptr || o.partition() < 0 ||
            o.partition() >= static_cast<int32_t>(t->partitions.size())) {
          continue;
        }
        const NodeId leader = t->partitions[o.partition()].leader;
        if (leader != kNoNode) by_leader[leader].emplace(o.topic(), o.partition());
      }
    }
  });
  if (by_leader.empty()) {
    done();
    return;
  }
  struct State {
    std::mutex mu;
    std::map<std::pair<std::string, int32_t>, int64_t> hw;
    int remaining = 0;
  };
  auto state = std::make_shared<State>();
  state->remaining = static_cast<int>(by_leader.size());
  auto one_done = [state, groups, done] {
    {
      std::lock_guard lock(state->mu);
      if (--state->remaining > 0) return;
    }
    for (auto& g : *groups->mutable_groups()) {
      for (auto& o : *g.mutable_offsets()) {
        auto it = state->hw.find({o.topic(), o.partition()});
        if (it == state->hw.end()) continue;
        o.set_high_watermark(it->second);
        if (o.committed() >= 0) o.set_lag(std::max<int64_t>(0, it->second - o.committed()));
      }
    }
    done();
  };
  for (const auto& [leader, tps] : by_leader) {
    auto stub = BrokerStubFor(leader);
    if (!stub) {
      one_done();
      continue;
    }
    using Call =
        AsyncCall<v1::BrokerService::Stub, v1::ListOffsetsRequest, v1::ListOffsetsResponse>;
    auto call = std::make_shared<Call>();
    call->stub = stub;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(options_.fan_out_timeout_ms));
    call->request.set_replica_id(-1);
    v1::ListOffsetsTopic* topic = nullptr;
    for (const auto& [name, partition] : tps) {
      if (topic == nullptr || topic->topic() != name) {
        topic = call->request.add_topics();
        topic->set_topic(name);
      }
      auto* p = topic->add_partitions();
      p->set_partition(partition);
      p->set_current_leader_epoch(-1);
      p->set_timestamp(-1);  // latest: the high watermark
    }
    stub->async()->ListOffsets(&call->context, &call->request, &call->response,
                               [call, state, one_done](grpc::Status status) {
                                 if (status.ok()) {
                                   std::lock_guard lock(state->mu);
                                   for (const auto& t : call->response.topics()) {
                                     for (const auto& p : t.partitions()) {
                                       if (p.error().code() != 0) continue;
                                       state->hw[{t.topic(), p.partition()}] = p.offset();
                                     }
                                   }
                                 }
                                 one_done();
                               });
  }
}

void GroupServiceImpl::ComputeLag(const std::map<LagKey, int64_t>& committed,
                                  std::function<void(std::map<LagKey, int64_t>)> done) {
  auto groups = std::make_shared<gv1::DescribeGroupsResponse>();
  gv1::DescribedGroup* g = nullptr;
  for (const auto& [key, offset] : committed) {
    const auto& [group, topic, partition] = key;
    if (g == nullptr || g->group_id() != group) {
      g = groups->add_groups();
      g->set_group_id(group);
    }
    auto* o = g->add_offsets();
    o->set_topic(topic);
    o->set_partition(partition);
    o->set_committed(offset);
    o->set_high_watermark(-1);
    o->set_lag(-1);
  }
  FillLag(groups, [groups, done = std::move(done)] {
    std::map<LagKey, int64_t> lag;
    for (const auto& group : groups->groups()) {
      for (const auto& o : group.offsets()) {
        if (o.lag() >= 0) lag[{group.group_id(), o.topic(), o.partition()}] = o.lag();
      }
    }
    done(std::move(lag));
  });
}

// ---------------------------------------------------------------- ListGroups

grpc::ServerUnaryReactor* GroupServiceImpl::ListGroups(grpc::CallbackServerContext* context,
                                                       const gv1::ListGroupsRequest* req,
                                                       gv1::ListGroupsResponse* resp) {
  const auto start = std::chrono::steady_clock::now();
  if (grpc::Status refused = PlaneCheck(*context, "ListGroups"); !refused.ok()) {
    return Answer(context, probe_, "ListGroups", "PERMISSION_DENIED", start, refused);
  }
  auto* reactor = context->DefaultReactor();
  const std::set<std::string> states(req->states().begin(), req->states().end());
  const std::set<std::string> types(req->types().begin(), req->types().end());
  auto keep = [states, types](const gv1::ListedGroup& g) {
    return (states.empty() || states.count(g.state())) && (types.empty() || types.count(g.type()));
  };
  std::vector<NodeId> others;
  if (!req->this_broker_only() && !options_.controller_plane) {
    metadata_.Read([&](const controller::MetadataImage& image) {
      for (const auto& [id, b] : image.brokers()) {
        if (id != options_.self && !b.fenced) others.push_back(id);
      }
    });
  }
  auto listing = std::make_shared<GroupListing>(1 + static_cast<int>(others.size()));
  auto one_done = [this, listing, reactor, resp, start] {
    if (!listing->OneDone()) return;
    *resp = listing->Take();
    probe_.Request("ListGroups", ErrorName(resp->error()), SecondsSince(start));
    reactor->Finish(grpc::Status::OK);
  };
  coordinator_.ListGroups([listing, keep, one_done,
                           self = options_.self](std::pair<std::vector<gv1::ListedGroup>, bool> r) {
    gv1::ListGroupsResponse mine;
    for (auto& g : r.first) {
      if (keep(g)) *mine.add_groups() = std::move(g);
    }
    listing->Add(std::move(mine));
    if (r.second) {
      listing->Unreachable(self.value(), KafkaError::kCoordinatorLoadInProgress,
                           fmt::format("broker {} is still loading groups", self));
    }
    one_done();
  });
  for (NodeId id : others) {
    auto stub = GroupStubFor(id);
    if (!stub) {
      listing->Unreachable(id.value(), KafkaError::kCoordinatorNotAvailable,
                           fmt::format("broker {} has no listener '{}'", id, options_.listener));
      one_done();
      continue;
    }
    using Call =
        AsyncCall<gv1::GroupService::Stub, gv1::ListGroupsRequest, gv1::ListGroupsResponse>;
    auto call = std::make_shared<Call>();
    call->stub = stub;
    call->request = *req;
    call->request.set_this_broker_only(true);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(options_.fan_out_timeout_ms));
    stub->async()->ListGroups(
        &call->context, &call->request, &call->response,
        [call, listing, id, one_done](grpc::Status status) {
          if (status.ok()) {
            listing->Add(std::move(call->response));
          } else {
            listing->Unreachable(
                id.value(), KafkaError::kCoordinatorNotAvailable,
                fmt::format("broker {} did not answer: {}", id, status.error_message()));
          }
          one_done();
        });
  }
  return reactor;
}

}  // namespace strand::broker
