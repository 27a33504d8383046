#include "tests/integration/group_test_support.h"

#include <memory>

namespace strand::testing {
namespace {

using namespace std::chrono_literals;
namespace gv1 = ::strand::group::v1;

std::unique_ptr<gv1::GroupService::Stub> Groups(StrandCluster& cluster, int node) {
  return gv1::GroupService::NewStub(cluster.Channel(node));
}

}  // namespace

ClusterOptions GroupCluster() {
  ClusterOptions options;
  options.broker_args = {"--config=group.consumer.session.timeout.ms=6000",
                         "--config=group.consumer.heartbeat.interval.ms=300",
                         "--config=offsets.topic.num.partitions=6"};
  options.controller_args = {"--config=offsets.topic.num.partitions=6"};
  return options;
}

int32_t FindGroupCoordinator(StrandCluster& cluster, const std::string& group) {
  for (int via : cluster.broker_ids()) {
    if (!cluster.running(via)) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5s));
    gv1::FindCoordinatorRequest req;
    req.add_group_ids(group);
    gv1::FindCoordinatorResponse resp;
    if (!Groups(cluster, via)->FindCoordinator(&ctx, req, &resp).ok()) continue;
    if (resp.coordinators_size() != 1 || resp.coordinators(0).error().code() != 0) continue;
    return resp.coordinators(0).node_id();
  }
  return -1;
}

std::optional<gv1::DescribedGroup> DescribeGroup(StrandCluster& cluster, const std::string& group,
                                                 bool include_offsets) {
  const int32_t coordinator = FindGroupCoordinator(cluster, group);
  if (coordinator < 0) return std::nullopt;
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5s));
  gv1::DescribeGroupsRequest req;
  req.add_group_ids(group);
  req.set_include_offsets(include_offsets);
  gv1::DescribeGroupsResponse resp;
  if (!Groups(cluster, coordinator)->DescribeGroups(&ctx, req, &resp).ok()) return std::nullopt;
  if (resp.groups_size() != 1 || resp.groups(0).error().code() != 0) return std::nullopt;
  return resp.groups(0);
}

std::optional<GroupOffsets> FetchCommitted(StrandCluster& cluster, const std::string& group,
                                           std::string* error) {
  const int32_t coordinator = FindGroupCoordinator(cluster, group);
  if (coordinator < 0) {
    if (error) *error = "no coordinator";
    return std::nullopt;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(In(10s));
  gv1::OffsetFetchRequest req;
  req.set_group_id(group);
  gv1::OffsetFetchResponse resp;
  grpc::Status s = Groups(cluster, coordinator)->OffsetFetch(&ctx, req, &resp);
  if (!s.ok() || resp.error().code() != 0) {
    if (error) *error = s.ok() ? resp.error().name() : s.error_message();
    return std::nullopt;
  }
  GroupOffsets out;
  for (const auto& t : resp.topics()) {
    for (const auto& p : t.partitions()) {
      if (p.error().code() != 0) {
        if (error) *error = p.error().name();
        return std::nullopt;
      }
      if (p.offset() >= 0) out[{t.name(), p.partition()}] = p.offset();
    }
  }
  return out;
}

std::optional<std::vector<gv1::ListedGroup>> ListAllGroups(StrandCluster& cluster) {
  for (int via : cluster.broker_ids()) {
    if (!cluster.running(via)) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10s));
    gv1::ListGroupsRequest req;
    gv1::ListGroupsResponse resp;
    if (!Groups(cluster, via)->ListGroups(&ctx, req, &resp).ok()) continue;
    if (resp.error().code() != 0 || resp.unreachable_coordinators_size() != 0) return std::nullopt;
    return std::vector<gv1::ListedGroup>(resp.groups().begin(), resp.groups().end());
  }
  return std::nullopt;
}

}  // namespace strand::testing
