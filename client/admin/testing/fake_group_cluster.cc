#include "client/admin/testing/fake_group_cluster.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "common/check.h"
#include "common/error_proto.h"

namespace strand::client::testing {
namespace {

namespace gv1 = ::strand::group::v1;
namespace bv1 = ::strand::broker::v1;

constexpr int32_t kFirstBroker = 101;
constexpr char kScripted[] = "scripted by the test";

}  // namespace

// One broker: its two services, forwarding to the shared model, and its server.
struct FakeGroupCluster::Node {
  class Groups final : public gv1::GroupService::Service {
   public:
    Groups(FakeGroupCluster& c, int32_t id) : c_(c), id_(id) {}
    grpc::Status FindCoordinator(grpc::ServerContext*, const gv1::FindCoordinatorRequest* q,
                                 gv1::FindCoordinatorResponse* r) override {
      return c_.FindCoordinator(id_, *q, r);
    }
    grpc::Status ListGroups(grpc::ServerContext*, const gv1::ListGroupsRequest* q,
                            gv1::ListGroupsResponse* r) override {
      return c_.ListGroups(id_, *q, r);
    }
    grpc::Status DescribeGroups(grpc::ServerContext*, const gv1::DescribeGroupsRequest* q,
                                gv1::DescribeGroupsResponse* r) override {
      return c_.DescribeGroups(id_, *q, r);
    }
    grpc::Status DeleteGroups(grpc::ServerContext*, const gv1::DeleteGroupsRequest* q,
                              gv1::DeleteGroupsResponse* r) override {
      return c_.DeleteGroups(id_, *q, r);
    }
    grpc::Status OffsetCommit(grpc::ServerContext*, const gv1::OffsetCommitRequest* q,
                              gv1::OffsetCommitResponse* r) override {
      return c_.OffsetCommit(id_, *q, r);
    }
    grpc::Status OffsetFetch(grpc::ServerContext*, const gv1::OffsetFetchRequest* q,
                             gv1::OffsetFetchResponse* r) override {
      return c_.OffsetFetch(id_, *q, r);
    }
    grpc::Status OffsetDelete(grpc::ServerContext*, const gv1::OffsetDeleteRequest* q,
                              gv1::OffsetDeleteResponse* r) override {
      return c_.OffsetDelete(id_, *q, r);
    }

   private:
    FakeGroupCluster& c_;
    const int32_t id_;
  };
  class Brokers final : public bv1::BrokerService::Service {
   public:
    Brokers(FakeGroupCluster& c, int32_t id) : c_(c), id_(id) {}
    grpc::Status Metadata(grpc::ServerContext*, const bv1::MetadataRequest* q,
                          bv1::MetadataResponse* r) override {
      return c_.Metadata(id_, *q, r);
    }
    grpc::Status ListOffsets(grpc::ServerContext*, const bv1::ListOffsetsRequest* q,
                             bv1::ListOffsetsResponse* r) override {
      return c_.ListOffsets(id_, *q, r);
    }

   private:
    FakeGroupCluster& c_;
    const int32_t id_;
  };

  Node(FakeGroupCluster& c, int32_t node_id)
      : id(node_id), groups(c, node_id), brokers(c, node_id) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&groups);
    builder.RegisterService(&brokers);
    server = builder.BuildAndStart();
    STRAND_CHECK(server != nullptr && port > 0);
  }
  void Stop() {
    if (stopped) return;
    stopped = true;
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  const int32_t id;
  int port = 0;
  Groups groups;
  Brokers brokers;
  std::unique_ptr<grpc::Server> server;
  bool stopped = false;
};

FakeGroupCluster::FakeGroupCluster(int brokers) {
  STRAND_CHECK(brokers >= 1);
  for (int i = 0; i < brokers; ++i) {
    nodes_.push_back(std::make_unique<Node>(*this, kFirstBroker + i));
  }
}

FakeGroupCluster::~FakeGroupCluster() {
  for (auto& n : nodes_) n->Stop();
}

std::string FakeGroupCluster::bootstrap() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + address(n->id);
  return out;
}

std::string FakeGroupCluster::address(int32_t broker) const {
  const size_t index = static_cast<size_t>(broker - kFirstBroker);
  STRAND_CHECK(index < nodes_.size());
  return fmt::format("127.0.0.1:{}", nodes_[index]->port);
}

void FakeGroupCluster::StopBroker(int32_t broker) {
  const size_t index = static_cast<size_t>(broker - kFirstBroker);
  STRAND_CHECK(index < nodes_.size());
  nodes_[index]->Stop();
}

void FakeGroupCluster::AddTopic(const std::string& name, int partitions, int64_t log_start,
                                int64_t log_end, int64_t first_timestamp_ms, int64_t step_ms) {
  std::lock_guard lock(mu_);
  std::vector<Log>& logs = topics_[name];
  logs.clear();
  for (int p = 0; p < partitions; ++p) {
    logs.push_back(Log{.leader = kFirstBroker + p % static_cast<int>(nodes_.size()),
                       .start = log_start,
                       .end = log_end,
                       .first_timestamp_ms = first_timestamp_ms,
                       .step_ms = step_ms});
  }
}

void FakeGroupCluster::AddGroup(const std::string& group_id, int32_t coordinator) {
  std::lock_guard lock(mu_);
  groups_[group_id].coordinator = coordinator;
}

void FakeGroupCluster::MoveCoordinator(const std::string& group_id, int32_t coordinator) {
  std::lock_guard lock(mu_);
  groups_.at(group_id).coordinator = coordinator;
}

void FakeGroupCluster::AddMember(const std::string& group_id, const gv1::DescribedMember& member) {
  std::lock_guard lock(mu_);
  Group& g = groups_[group_id];
  g.members.push_back(member);
  ++g.epoch;
}

void FakeGroupCluster::RemoveMembers(const std::string& group_id) {
  std::lock_guard lock(mu_);
  Group& g = groups_.at(group_id);
  g.members.clear();
  ++g.epoch;
}

void FakeGroupCluster::SetOffset(const std::string& group_id, const std::string& topic,
                                 int32_t partition, int64_t offset) {
  std::lock_guard lock(mu_);
  groups_[group_id].offsets[{topic, partition}] = offset;
}

std::optional<int64_t> FakeGroupCluster::Offset(const std::string& group_id,
                                                const std::string& topic, int32_t partition) const {
  std::lock_guard lock(mu_);
  auto g = groups_.find(group_id);
  if (g == groups_.end()) return std::nullopt;
  auto o = g->second.offsets.find({topic, partition});
  if (o == g->second.offsets.end()) return std::nullopt;
  return o->second;
}

bool FakeGroupCluster::HasGroup(const std::string& group_id) const {
  std::lock_guard lock(mu_);
  return groups_.count(group_id) != 0;
}

void FakeGroupCluster::SetUnreachableCoordinators(std::vector<int32_t> brokers) {
  std::lock_guard lock(mu_);
  unreachable_ = std::move(brokers);
}

void FakeGroupCluster::PushFault(GroupFault fault) {
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

int FakeGroupCluster::Calls(const std::string& method, int32_t broker) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [key, count] : calls_) {
    if (key.first == method && (broker < 0 || key.second == broker)) n += count;
  }
  return n;
}

int FakeGroupCluster::TotalCalls() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [key, count] : calls_) n += count;
  return n;
}

std::vector<gv1::OffsetCommitRequest> FakeGroupCluster::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

std::optional<GroupFault> FakeGroupCluster::Begin(const std::string& method, int32_t broker) {
  ++calls_[{method, broker}];
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((!it->method.empty() && it->method != method) ||
        (it->broker >= 0 && it->broker != broker)) {
      continue;
    }
    GroupFault fault = *it;
    if (--it->times <= 0) faults_.erase(it);
    return fault;
  }
  return std::nullopt;
}

int32_t FakeGroupCluster::CoordinatorOf(const std::string& group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? kFirstBroker : it->second.coordinator;
}

bool FakeGroupCluster::NotCoordinator(int32_t broker, const std::string& group_id,
                                      common::v1::Error* error) const {
  if (CoordinatorOf(group_id) == broker) return false;
  SetKafkaError(error, KafkaError::kNotCoordinator,
                fmt::format("broker {} is not the coordinator of group '{}'", broker, group_id));
  return true;
}

std::string FakeGroupCluster::StateOf(const Group& g) const {
  return g.members.empty() ? "Empty" : "Stable";
}

// ---------------------------------------------------------------- GroupService

grpc::Status FakeGroupCluster::FindCoordinator(int32_t broker,
                                               const gv1::FindCoordinatorRequest& request,
                                               gv1::FindCoordinatorResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("FindCoordinator", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  for (const std::string& group_id : request.group_ids()) {
    gv1::Coordinator* c = response->add_coordinators();
    c->set_group_id(group_id);
    c->set_node_id(-1);
    if (fault && fault->error != KafkaError::kNone) {
      SetKafkaError(c->mutable_error(), fault->error, kScripted);
      continue;
    }
    if (group_id.empty()) {
      SetKafkaError(c->mutable_error(), KafkaError::kInvalidGroupId, "empty group id");
      continue;
    }
    const int32_t id = CoordinatorOf(group_id);
    c->set_node_id(id);
    c->set_host("127.0.0.1");
    c->set_port(nodes_[static_cast<size_t>(id - kFirstBroker)]->port);
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::ListGroups(int32_t broker, const gv1::ListGroupsRequest& request,
                                          gv1::ListGroupsResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("ListGroups", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  if (fault && fault->error != KafkaError::kNone) {
    SetKafkaError(response->mutable_error(), fault->error, kScripted);
    return grpc::Status::OK;
  }
  const std::set<std::string> states(request.states().begin(), request.states().end());
  for (const auto& [group_id, g] : groups_) {
    if (std::count(unreachable_.begin(), unreachable_.end(), g.coordinator)) continue;
    if (!states.empty() && !states.count(StateOf(g))) continue;
    gv1::ListedGroup* l = response->add_groups();
    l->set_group_id(group_id);
    l->set_type("consumer");
    l->set_state(StateOf(g));
    l->set_coordinator(g.coordinator);
    l->set_members(static_cast<int32_t>(g.members.size()));
  }
  for (int32_t id : unreachable_) response->add_unreachable_coordinators(id);
  if (!unreachable_.empty()) {
    SetKafkaError(response->mutable_error(), KafkaError::kCoordinatorNotAvailable,
                  fmt::format("broker {} did not answer", unreachable_.front()));
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::DescribeGroups(int32_t broker,
                                              const gv1::DescribeGroupsRequest& request,
                                              gv1::DescribeGroupsResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("DescribeGroups", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  for (const std::string& group_id : request.group_ids()) {
    gv1::DescribedGroup* d = response->add_groups();
    d->set_group_id(group_id);
    if (fault && fault->error != KafkaError::kNone) {
      SetKafkaError(d->mutable_error(), fault->error, kScripted);
      continue;
    }
    if (NotCoordinator(broker, group_id, d->mutable_error())) continue;
    auto it = groups_.find(group_id);
    if (it == groups_.end()) {
      SetKafkaError(d->mutable_error(), KafkaError::kGroupIdNotFound,
                    fmt::format("no group '{}'", group_id));
      d->set_state("Dead");
      continue;
    }
    const Group& g = it->second;
    d->set_type("consumer");
    d->set_state(StateOf(g));
    d->set_group_epoch(g.epoch);
    d->set_assignment_epoch(g.epoch);
    d->set_assignor("uniform");
    d->set_coordinator(g.coordinator);
    std::map<std::pair<std::string, int32_t>, std::string> owner;
    for (const gv1::DescribedMember& m : g.members) {
      *d->add_members() = m;
      for (const gv1::TopicPartitions& tps : m.assignment()) {
        for (int32_t p : tps.partitions()) owner[{tps.topic(), p}] = m.member_id();
      }
    }
    if (!request.include_offsets()) continue;
    std::map<std::pair<std::string, int32_t>, int64_t> rows = g.offsets;
    for (const auto& [tp, member] : owner) rows.emplace(tp, -1);
    for (const auto& [tp, committed] : rows) {
      gv1::PartitionLag* l = d->add_offsets();
      l->set_topic(tp.first);
      l->set_partition(tp.second);
      l->set_committed(committed);
      l->set_high_watermark(-1);
      l->set_lag(-1);
      auto t = topics_.find(tp.first);
      if (t != topics_.end() && tp.second < static_cast<int32_t>(t->second.size())) {
        const int64_t end = t->second[static_cast<size_t>(tp.second)].end;
        l->set_high_watermark(end);
        if (committed >= 0) l->set_lag(std::max<int64_t>(0, end - committed));
      }
      auto o = owner.find(tp);
      if (o != owner.end()) l->set_owner(o->second);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::DeleteGroups(int32_t broker, const gv1::DeleteGroupsRequest& request,
                                            gv1::DeleteGroupsResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("DeleteGroups", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  for (const std::string& group_id : request.group_ids()) {
    gv1::DeletedGroup* d = response->add_groups();
    d->set_group_id(group_id);
    if (fault && fault->error != KafkaError::kNone) {
      SetKafkaError(d->mutable_error(), fault->error, kScripted);
      continue;
    }
    if (NotCoordinator(broker, group_id, d->mutable_error())) continue;
    auto it = groups_.find(group_id);
    if (it == groups_.end()) {
      SetKafkaError(d->mutable_error(), KafkaError::kGroupIdNotFound,
                    fmt::format("no group '{}'", group_id));
    } else if (!it->second.members.empty()) {
      SetKafkaError(d->mutable_error(), KafkaError::kNonEmptyGroup,
                    fmt::format("group '{}' has {} member(s); it can be deleted once they leave",
                                group_id, it->second.members.size()));
    } else {
      groups_.erase(it);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::OffsetCommit(int32_t broker, const gv1::OffsetCommitRequest& request,
                                            gv1::OffsetCommitResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("OffsetCommit", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  commits_.push_back(request);
  if (fault && fault->error != KafkaError::kNone) {
    SetKafkaError(response->mutable_error(), fault->error, kScripted);
    return grpc::Status::OK;
  }
  if (NotCoordinator(broker, request.group_id(), response->mutable_error())) {
    return grpc::Status::OK;
  }
  Group* g = groups_.count(request.group_id()) ? &groups_[request.group_id()] : nullptr;
  const bool as_member = !request.member_id().empty() || request.member_epoch() >= 0;
  if (!as_member && g != nullptr && !g->members.empty()) {
    SetKafkaError(response->mutable_error(), KafkaError::kUnknownMemberId,
                  fmt::format("group '{}' has {} member(s): only they may commit while it has "
                              "any (stop them to reset its offsets)",
                              request.group_id(), g->members.size()));
    return grpc::Status::OK;
  }
  if (as_member && (g == nullptr || std::none_of(g->members.begin(), g->members.end(),
                                                 [&](const gv1::DescribedMember& m) {
                                                   return m.member_id() == request.member_id();
                                                 }))) {
    SetKafkaError(
        response->mutable_error(), KafkaError::kUnknownMemberId,
        fmt::format("group '{}' has no member '{}'", request.group_id(), request.member_id()));
    return grpc::Status::OK;
  }
  if (g == nullptr) {
    g = &groups_[request.group_id()];
    g->coordinator = broker;
  }
  for (const gv1::OffsetCommitTopic& t : request.topics()) {
    gv1::OffsetCommitTopicResponse* rt = response->add_topics();
    rt->set_name(t.name());
    for (const gv1::OffsetCommitPartition& p : t.partitions()) {
      rt->add_partitions()->set_partition(p.partition());
      g->offsets[{t.name(), p.partition()}] = p.offset();
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::OffsetFetch(int32_t broker, const gv1::OffsetFetchRequest& request,
                                           gv1::OffsetFetchResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("OffsetFetch", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  if (fault && fault->error != KafkaError::kNone) {
    SetKafkaError(response->mutable_error(), fault->error, kScripted);
    return grpc::Status::OK;
  }
  if (NotCoordinator(broker, request.group_id(), response->mutable_error())) {
    return grpc::Status::OK;
  }
  auto it = groups_.find(request.group_id());
  if (it == groups_.end()) return grpc::Status::OK;  // as the real one: nothing committed
  gv1::OffsetFetchTopicResponse* t = nullptr;
  for (const auto& [tp, offset] : it->second.offsets) {
    if (t == nullptr || t->name() != tp.first) {
      t = response->add_topics();
      t->set_name(tp.first);
    }
    gv1::OffsetFetchPartition* p = t->add_partitions();
    p->set_partition(tp.second);
    p->set_offset(offset);
    p->set_leader_epoch(-1);
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::OffsetDelete(int32_t broker, const gv1::OffsetDeleteRequest& request,
                                            gv1::OffsetDeleteResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("OffsetDelete", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  if (fault && fault->error != KafkaError::kNone) {
    SetKafkaError(response->mutable_error(), fault->error, kScripted);
    return grpc::Status::OK;
  }
  if (NotCoordinator(broker, request.group_id(), response->mutable_error())) {
    return grpc::Status::OK;
  }
  auto it = groups_.find(request.group_id());
  if (it == groups_.end()) {
    SetKafkaError(response->mutable_error(), KafkaError::kGroupIdNotFound,
                  fmt::format("no group '{}'", request.group_id()));
    return grpc::Status::OK;
  }
  Group& g = it->second;
  std::set<std::string> subscribed;
  for (const gv1::DescribedMember& m : g.members) {
    subscribed.insert(m.subscribed_topics().begin(), m.subscribed_topics().end());
  }
  for (const gv1::OffsetFetchTopic& t : request.topics()) {
    gv1::OffsetCommitTopicResponse* rt = response->add_topics();
    rt->set_name(t.name());
    for (int32_t p : t.partitions()) {
      gv1::OffsetCommitPartitionResponse* rp = rt->add_partitions();
      rp->set_partition(p);
      if (subscribed.count(t.name())) {
        SetKafkaError(
            rp->mutable_error(), KafkaError::kGroupSubscribedToTopic,
            fmt::format("a member of group '{}' subscribes to '{}'", request.group_id(), t.name()));
        continue;
      }
      g.offsets.erase({t.name(), p});
    }
  }
  return grpc::Status::OK;
}

// ---------------------------------------------------------------- BrokerService

grpc::Status FakeGroupCluster::Metadata(int32_t broker, const bv1::MetadataRequest& request,
                                        bv1::MetadataResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("Metadata", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  for (const auto& n : nodes_) {
    bv1::BrokerEndpoint* b = response->add_brokers();
    b->set_id(n->id);
    b->set_host("127.0.0.1");
    b->set_port(n->port);
  }
  std::vector<std::string> names(request.topics().begin(), request.topics().end());
  if (names.empty()) {
    for (const auto& [name, logs] : topics_) names.push_back(name);
  }
  for (const std::string& name : names) {
    bv1::TopicMetadata* t = response->add_topics();
    t->set_name(name);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      SetKafkaError(t->mutable_error(), KafkaError::kUnknownTopicOrPartition,
                    fmt::format("no topic '{}'", name));
      continue;
    }
    for (size_t p = 0; p < it->second.size(); ++p) {
      bv1::PartitionMetadata* pm = t->add_partitions();
      pm->set_partition(static_cast<int32_t>(p));
      pm->set_leader(it->second[p].leader);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeGroupCluster::ListOffsets(int32_t broker, const bv1::ListOffsetsRequest& request,
                                           bv1::ListOffsetsResponse* response) {
  std::lock_guard lock(mu_);
  std::optional<GroupFault> fault = Begin("ListOffsets", broker);
  if (fault && fault->grpc_code != grpc::StatusCode::OK)
    return grpc::Status(fault->grpc_code, kScripted);
  for (const bv1::ListOffsetsTopic& t : request.topics()) {
    bv1::ListOffsetsTopicResponse* rt = response->add_topics();
    rt->set_topic(t.topic());
    auto it = topics_.find(t.topic());
    for (const bv1::ListOffsetsPartition& p : t.partitions()) {
      bv1::ListOffsetsPartitionResponse* rp = rt->add_partitions();
      rp->set_partition(p.partition());
      rp->set_offset(-1);
      rp->set_timestamp(-1);
      if (fault && fault->error != KafkaError::kNone) {
        SetKafkaError(rp->mutable_error(), fault->error, kScripted);
        continue;
      }
      if (it == topics_.end() || p.partition() < 0 ||
          p.partition() >= static_cast<int32_t>(it->second.size())) {
        SetKafkaError(rp->mutable_error(), KafkaError::kUnknownTopicOrPartition, "no partition");
        continue;
      }
      const Log& log = it->second[static_cast<size_t>(p.partition())];
      if (log.leader != broker) {
        SetKafkaError(rp->mutable_error(), KafkaError::kNotLeaderOrFollower, "not the leader");
        continue;
      }
      if (p.timestamp() == -2) {
        rp->set_offset(log.start);
      } else if (p.timestamp() == -1) {
        rp->set_offset(log.end);
      } else {
        // The first offset in [start, end) written at or after the timestamp.
        for (int64_t o = log.start; o < log.end; ++o) {
          const int64_t ts = log.first_timestamp_ms + o * log.step_ms;
          if (ts >= p.timestamp()) {
            rp->set_offset(o);
            rp->set_timestamp(ts);
            break;
          }
        }
      }
    }
  }
  return grpc::Status::OK;
}

}  // namespace strand::client::testing
