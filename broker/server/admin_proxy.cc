#include "broker/server/admin_proxy.h"

#include "common/grpc_channel.h"
#include "controller/state/metadata_image.h"

namespace strand::broker {

AdminProxy::AdminProxy(std::map<NodeId, std::string> controllers, MetadataFollower& metadata,
                       std::function<bool()> blocked,
                       std::shared_ptr<grpc::ChannelCredentials> credentials)
    : controllers_(std::move(controllers)),
      metadata_(metadata),
      blocked_(std::move(blocked)),
      credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()) {}

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
