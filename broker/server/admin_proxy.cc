#include "broker/server/admin_proxy.h"

#include "absl/status/status.h"
#include "common/grpc_channel.h"
#include "common/kafka_error.h"
#include "controller/state/metadata_image.h"
#include "proto/common/v1/error.pb.h"

namespace strand::broker {

AdminProxy::AdminProxy(std::map<NodeId, std::string> controllers, MetadataFollower& metadata,
                       std::function<bool()> blocked,
                       std::shared_ptr<grpc::ChannelCredentials> credentials, BrokerProbe* probe)
    : controllers_(std::move(controllers)),
      metadata_(metadata),
      blocked_(std::move(blocked)),
      credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()),
      probe_(probe) {}

grpc::Status AdminProxy::Counted(const char* api, std::chrono::steady_clock::time_point start,
                                 grpc::Status status) {
  if (probe_ != nullptr) {
    // "NONE" as for every other API; a gRPC failure by its code's name (UNAVAILABLE, ...).
    const std::string error =
        status.ok() ? "NONE"
                    : absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    probe_->Request(
        api, error,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return status;
}

bool AdminProxy::NamesNotController(const google::protobuf::Message& answer) {
  const google::protobuf::Reflection* reflection = answer.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(answer, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_map()) continue;
    const bool is_error = field->message_type()->full_name() == "strand.common.v1.Error";
    auto check = [&](const google::protobuf::Message& m) {
      if (is_error) {
        return static_cast<const common::v1::Error&>(m).code() ==
               static_cast<int32_t>(KafkaError::kNotController);
      }
      return NamesNotController(m);
    };
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(answer, field); ++i) {
        if (check(reflection->GetRepeatedMessage(answer, field, i))) return true;
      }
    } else if (check(reflection->GetMessage(answer, field))) {
      return true;
    }
  }
  return false;
}

std::vector<NodeId> AdminProxy::Order() const {
  const NodeId active = metadata_.Read(
      [](const controller::MetadataImage& image) { return image.active_controller(); });
  std::vector<NodeId> order;
  if (controllers_.count(active)) order.push_back(active);
  for (const auto& [id, address] : controllers_) {
    if (id != active) order.push_back(id);
  }
  return order;
}

admin::v1::AdminService::Stub* AdminProxy::Stub(NodeId controller) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[controller];
  if (!stub) {
    stub = admin::v1::AdminService::NewStub(grpc::CreateCustomChannel(
        controllers_.at(controller), credentials_, InternalChannelArguments(10'000)));
  }
  return stub.get();
}

}  // namespace strand::broker
