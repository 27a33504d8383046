#pragma once

// AdminProxy: the AdminService on a broker, so that the CLI and grpcurl can administer the
// cluster through any broker (Kafka's admin clients bootstrap from brokers too). Each call is
// forwarded as is to a controller — the active one when the metadata names it, else the next
// that answers — and the controller's answer comes back unchanged (controllers forward writes
// to the active controller themselves).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/security/credentials.h>

#include "broker/server/broker_probe.h"
#include "broker/server/metadata_follower.h"
#include "proto/admin/v1/admin.grpc.pb.h"

namespace strand::broker {

class AdminProxy final : public admin::v1::AdminService::Service {
 public:
  // `credentials`: for the controllers' controller listener (plaintext when null).
  // `probe`: counts each forwarded call (its API, the gRPC status code's name, its latency).
  AdminProxy(std::map<NodeId, std::string> controllers, MetadataFollower& metadata,
             std::function<bool()> blocked,
             std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
             BrokerProbe* probe = nullptr);

#define STRAND_ADMIN_PROXY_METHOD(Name)                                                         \
  grpc::Status Name(grpc::ServerContext* context, const admin::v1::Name##Request* request,      \
                    admin::v1::Name##Response* response) override {                             \
    const auto start = std::chrono::steady_clock::now();                                        \
    return Counted(#Name, start,                                                                \
                   Forward(context, *request, response, &admin::v1::AdminService::Stub::Name)); \
  }
  STRAND_ADMIN_PROXY_METHOD(DescribeCluster)
  STRAND_ADMIN_PROXY_METHOD(CreateTopics)
  STRAND_ADMIN_PROXY_METHOD(DeleteTopics)
  STRAND_ADMIN_PROXY_METHOD(ListTopics)
  STRAND_ADMIN_PROXY_METHOD(DescribeTopics)
  STRAND_ADMIN_PROXY_METHOD(CreatePartitions)
  STRAND_ADMIN_PROXY_METHOD(DescribeConfigs)
  STRAND_ADMIN_PROXY_METHOD(AlterConfigs)
  STRAND_ADMIN_PROXY_METHOD(ElectLeaders)
  STRAND_ADMIN_PROXY_METHOD(AlterPartitionReassignments)
  STRAND_ADMIN_PROXY_METHOD(ListPartitionReassignments)
  STRAND_ADMIN_PROXY_METHOD(UnregisterBroker)
#undef STRAND_ADMIN_PROXY_METHOD

 private:
  // Counts a finished call in the probe; returns `status`.
  grpc::Status Counted(const char* api, std::chrono::steady_clock::time_point start,
                       grpc::Status status);

  template <typename Req, typename Resp>
  using Method = grpc::Status (admin::v1::AdminService::Stub::*)(grpc::ClientContext*, const Req&,
                                                                 Resp*);
  template <typename Req, typename Resp>
  grpc::Status Forward(grpc::ServerContext* context, const Req& request, Resp* response,
                       Method<Req, Resp> method) {
    grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no controller is reachable");
    if (blocked_ && blocked_()) return last;
    for (NodeId controller : Order()) {
      grpc::ClientContext client;
      client.set_wait_for_ready(true);  // a channel that failed once may otherwise fail fast
      client.set_deadline(std::min(context->deadline(),
                                   std::chrono::system_clock::now() + std::chrono::seconds(30)));
      last = (Stub(controller)->*method)(&client, request, response);
      if (last.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
      response->Clear();
    }
    return last;
  }
  // The active controller first (as the metadata knows it), then the others.
  std::vector<NodeId> Order() const;
  admin::v1::AdminService::Stub* Stub(NodeId controller);

  const std::map<NodeId, std::string> controllers_;
  MetadataFollower& metadata_;
  const std::function<bool()> blocked_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mu_;
  std::map<NodeId, std::unique_ptr<admin::v1::AdminService::Stub>> stubs_;
  BrokerProbe* const probe_;
};

}  // namespace strand::broker
