#include "controller/logic/test_controller.h"

#include "common/check.h"

namespace strand::controller::testing {

absl::StatusOr<uint64_t> TestLog::Append(const v1::MetadataBatch& batch) {
  if (refuse) return absl::FailedPreconditionError("NOT_LEADER: test log refuses");
  batches.emplace_back(next_index, batch);
  return next_index++;
}

ControllerConfig TestController::DefaultConfig() {
  ControllerConfig c;
  c.node_id = NodeId(1);
  c.cluster_id = "test-cluster";
  c.controller_ids = {NodeId(1), NodeId(2), NodeId(3)};
  return c;
}

TestController::TestController(ControllerConfig config) : controller(config, log, 42) {
  controller.BecomeActive(committed, 1, now_ms);
  CommitAll();
}

void TestController::CommitAll() {
  auto batches = std::move(log.batches);
  log.batches.clear();
  for (const auto& [index, batch] : batches) {
    absl::Status s = committed.ReplayBatch(batch, index);
    STRAND_CHECK_MSG(s.ok(), "committed batch does not apply: {}", s.ToString());
    controller.OnCommitted(index);
  }
}

int64_t TestController::Register(int id, const std::string& rack, const std::string& incarnation) {
  v1::RegisterBrokerRequest req;
  req.set_cluster_id("test-cluster");
  req.set_broker_id(id);
  req.set_incarnation_id(incarnation.empty() ? "inc-" + std::to_string(id) : incarnation);
  incarnations[id] = req.incarnation_id();
  req.set_rack(rack);
  auto* l = req.add_listeners();
  l->set_name("CLIENT");
  l->set_host("127.0.0.1");
  l->set_port(9000 + id);
  std::optional<v1::RegisterBrokerResponse> resp;
  controller.RegisterBroker(req, now_ms, [&](v1::RegisterBrokerResponse r) { resp = r; });
  CommitAll();
  STRAND_CHECK(resp.has_value());
  epochs[id] = resp->broker_epoch();
  return resp->broker_epoch();
}

v1::BrokerHeartbeatResponse TestController::Heartbeat(int id, bool shut_down) {
  v1::BrokerHeartbeatRequest req;
  req.set_broker_id(id);
  req.set_broker_epoch(epochs[id]);
  req.set_incarnation_id(incarnations[id]);
  req.set_metadata_offset(committed.offset());
  req.set_want_shut_down(shut_down);
  auto resp = controller.Heartbeat(req, now_ms);
  CommitAll();
  return resp;
}

void TestController::AddBrokers(const std::vector<int>& ids,
                                const std::vector<std::string>& racks) {
  for (size_t i = 0; i < ids.size(); ++i) Register(ids[i], i < racks.size() ? racks[i] : "");
  for (int id : ids) Heartbeat(id);
}

admin::v1::TopicResult TestController::CreateTopic(const std::string& name, int partitions,
                                                   int rf,
                                                   std::map<std::string, std::string> configs) {
  admin::v1::CreateTopicsRequest req;
  auto* t = req.add_topics();
  t->set_name(name);
  t->set_partitions(partitions);
  t->set_replication_factor(rf);
  for (const auto& [k, v] : configs) (*t->mutable_configs())[k] = v;
  std::optional<admin::v1::CreateTopicsResponse> resp;
  controller.CreateTopics(req, [&](admin::v1::CreateTopicsResponse r) { resp = r; });
  CommitAll();
  STRAND_CHECK(resp.has_value());
  return resp->topics(0);
}

const PartitionState& TestController::Partition(const std::string& topic, int p) const {
  const TopicImage* t = committed.topic(topic);
  STRAND_CHECK_MSG(t != nullptr, "no topic {}", topic);
  return t->partitions.at(static_cast<size_t>(p));
}

}  // namespace strand::controller::testing
