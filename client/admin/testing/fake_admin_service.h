#pragma once

// FakeAdminService: a test double of strand.admin.v1.AdminService with a tiny in-memory model
// (three controllers, brokers 101..103, topics, configs, reassignments) and scripted faults, for
// the admin client's and the CLI's tests. FakeAdminServer runs it on 127.0.0.1 on a free port.
// Thread-safe (gRPC calls it from its own threads). Not a reference of the real controller's
// validation: it checks only what the tests need.

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/error_proto.h"
#include "common/kafka_error.h"
#include "proto/admin/v1/admin.grpc.pb.h"

namespace strand::client::testing {

// What the next call (any method) does instead of its normal work; consumed in order.
struct Fault {
  grpc::StatusCode grpc_code = grpc::StatusCode::OK;  // not OK: fail the call with it
  KafkaError error = KafkaError::kNone;  // else: answer with this error (request-level, or on
                                         // every item for per-item responses)
  int delay_ms = 0;                      // sleep first (to trip client deadlines)
};

class FakeAdminService final : public admin::v1::AdminService::Service {
 public:
  FakeAdminService();

  void PushFault(Fault fault);
  // Calls received, per method name ("CreateTopics") and in total.
  int Calls(const std::string& method) const;
  int TotalCalls() const;
  // Puts a topic in the model: partition p has `replication_factor` replicas on brokers
  // 101..103 round-robin from 101 + p, the first one leading.
  void AddTopic(const std::string& name, int partitions, int replication_factor);
  admin::v1::DescribeClusterResponse& cluster() { return cluster_; }  // edit before serving
  // The last request of each kind, for assertions on what the client sent.
  admin::v1::CreateTopicsRequest last_create_topics() const;
  admin::v1::AlterConfigsRequest last_alter_configs() const;
  admin::v1::ElectLeadersRequest last_elect_leaders() const;

  grpc::Status DescribeCluster(grpc::ServerContext*, const admin::v1::DescribeClusterRequest*,
                               admin::v1::DescribeClusterResponse*) override;
  grpc::Status CreateTopics(grpc::ServerContext*, const admin::v1::CreateTopicsRequest*,
                            admin::v1::CreateTopicsResponse*) override;
  grpc::Status DeleteTopics(grpc::ServerContext*, const admin::v1::DeleteTopicsRequest*,
                            admin::v1::DeleteTopicsResponse*) override;
  grpc::Status ListTopics(grpc::ServerContext*, const admin::v1::ListTopicsRequest*,
                          admin::v1::ListTopicsResponse*) override;
  grpc::Status DescribeTopics(grpc::ServerContext*, const admin::v1::DescribeTopicsRequest*,
                              admin::v1::DescribeTopicsResponse*) override;
  grpc::Status CreatePartitions(grpc::ServerContext*, const admin::v1::CreatePartitionsRequest*,
                                admin::v1::CreatePartitionsResponse*) override;
  grpc::Status DescribeConfigs(grpc::ServerContext*, const admin::v1::DescribeConfigsRequest*,
                               admin::v1::DescribeConfigsResponse*) override;
  grpc::Status AlterConfigs(grpc::ServerContext*, const admin::v1::AlterConfigsRequest*,
                            admin::v1::AlterConfigsResponse*) override;
  grpc::Status ElectLeaders(grpc::ServerContext*, const admin::v1::ElectLeadersRequest*,
                            admin::v1::ElectLeadersResponse*) override;
  grpc::Status AlterPartitionReassignments(
      grpc::ServerContext*, const admin::v1::AlterPartitionReassignmentsRequest*,
      admin::v1::AlterPartitionReassignmentsResponse*) override;
  grpc::Status ListPartitionReassignments(grpc::ServerContext*,
                                          const admin::v1::ListPartitionReassignmentsRequest*,
                                          admin::v1::ListPartitionReassignmentsResponse*) override;
  grpc::Status UnregisterBroker(grpc::ServerContext*, const admin::v1::UnregisterBrokerRequest*,
                                admin::v1::UnregisterBrokerResponse*) override;

 private:
  // Counts the call and pops the next fault (a default Fault when none is queued).
  Fault Begin(const std::string& method);
  void AddTopicLocked(const admin::v1::NewTopic& topic);
  admin::v1::PartitionInfo* FindPartition(const admin::v1::TopicPartition& tp);

  mutable std::mutex mu_;
  std::deque<Fault> faults_;
  std::map<std::string, int> calls_;
  admin::v1::DescribeClusterResponse cluster_;
  std::map<std::string, admin::v1::TopicDescription> topics_;
  // (resource type, resource name) -> dynamic configs.
  std::map<std::pair<int, std::string>, std::map<std::string, std::string>> configs_;
  std::map<std::pair<std::string, int>, admin::v1::OngoingReassignment> reassignments_;
  admin::v1::CreateTopicsRequest last_create_topics_;
  admin::v1::AlterConfigsRequest last_alter_configs_;
  admin::v1::ElectLeadersRequest last_elect_leaders_;
};

class FakeAdminServer {
 public:
  FakeAdminServer();  // listening when constructed
  ~FakeAdminServer();
  const std::string& address() const { return address_; }
  FakeAdminService& service() { return service_; }

 private:
  FakeAdminService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace strand::client::testing
