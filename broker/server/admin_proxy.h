#pragma once

// AdminProxy: the AdminService on a broker, so that the CLI and grpcurl can administer the
// cluster through any broker (Kafka's admin clients bootstrap from brokers too). Each call is
// forwarded as is to a controller — the active one when the metadata names it, else the next
// that answers, retried until the caller's deadline while none answers or, for a write, the
// answer is NOT_CONTROLLER (an election under way) — and the controller's answer comes back
// unchanged (controllers forward writes to the active controller themselves).

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

// `Write`: a call the active controller carries out (retried while the controllers answer
// NOT_CONTROLLER); a read's NOT_CONTROLLER answer is the controllers' local view during an
// outage, which the caller gets as it is.
#define STRAND_ADMIN_PROXY_METHOD(Name, Write)                                              \
  grpc::Status Name(grpc::ServerContext* context, const admin::v1::Name##Request* request,  \
                    admin::v1::Name##Response* response) override {                         \
    const auto start = std::chrono::steady_clock::now();                                    \
    return Counted(                                                                         \
        #Name, start,                                                                       \
        Forward(context, *request, response, &admin::v1::AdminService::Stub::Name, Write)); \
  }
  STRAND_ADMIN_PROXY_METHOD(DescribeCluster, false)
  STRAND_ADMIN_PROXY_METHOD(CreateTopics, true)
  STRAND_ADMIN_PROXY_METHOD(DeleteTopics, true)
  STRAND_ADMIN_PROXY_METHOD(ListTopics, false)
  STRAND_ADMIN_PROXY_METHOD(DescribeTopics, false)
  STRAND_ADMIN_PROXY_METHOD(CreatePartitions, true)
  STRAND_ADMIN_PROXY_METHOD(DescribeConfigs, false)
  STRAND_ADMIN_PROXY_METHOD(AlterConfigs, true)
  STRAND_ADMIN_PROXY_METHOD(ElectLeaders, true)
  STRAND_ADMIN_PROXY_METHOD(AlterPartitionReassignments, true)
  STRAND_ADMIN_PROXY_METHOD(ListPartitionReassignments, false)
  STRAND_ADMIN_PROXY_METHOD(UnregisterBroker, true)
#undef STRAND_ADMIN_PROXY_METHOD

 private:
  // Counts a finished call in the probe; returns `status`.
  grpc::Status Counted(const char* api, std::chrono::steady_clock::time_point start,
                       grpc::Status status);

  template <typename Req, typename Resp>
  using Method = grpc::Status (admin::v1::AdminService::Stub::*)(grpc::ClientContext*, const Req&,
                                                                 Resp*);
  // Tries the controllers in Order() until one answers, round after round (kRetryBackoff apart)
  // until the caller's deadline (at most kForwardMax). An attempt does not wait for a
  // connection: a controller that is down (refused, or a reconnect backing off) fails at once
  // and the next is asked, so that a dead active controller costs no more than the quorum's
  // election, never the caller's whole deadline.
  template <typename Req, typename Resp>
  grpc::Status Forward(grpc::ServerContext* context, const Req& request, Resp* response,
                       Method<Req, Resp> method, bool write) {
    grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no controller is reachable");
    if (blocked_ && blocked_()) return last;
    const auto deadline =
        std::min(context->deadline(), std::chrono::system_clock::now() + kForwardMax);
    while (true) {
      for (NodeId controller : Order()) {
        grpc::ClientContext client;
        client.set_deadline(deadline);
        last = (Stub(controller)->*method)(&client, request, response);
        if (write && last.ok() && NamesNotController(*response) &&
            std::chrono::system_clock::now() + kRetryBackoff < deadline) {
          // No active controller yet (an election): nothing was done; ask again shortly
          // rather than hand the caller a retriable error.
          last = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no active controller yet");
        }
        if (last.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
        response->Clear();
      }
      if (context->IsCancelled() || std::chrono::system_clock::now() + kRetryBackoff >= deadline) {
        return last;
      }
      std::this_thread::sleep_for(kRetryBackoff);
    }
  }
  static constexpr auto kForwardMax = std::chrono::seconds(30);
  static constexpr auto kRetryBackoff = std::chrono::milliseconds(50);
  // The answer carries NOT_CONTROLLER anywhere (the whole call or one of its items): the
  // controllers are electing, nothing was done.
  static bool NamesNotController(const google::protobuf::Message& answer);
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
