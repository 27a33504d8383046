#include "controller/server/controller_context.h"

#include "common/clock.h"

namespace strand::controller {

ControllerContext::ControllerContext(std::string cluster_id, NodeId self,
                                     std::map<NodeId, std::string> voters,
                                     raft::RaftDriver& driver, MetadataStateMachine& machine,
                                     QuorumController& controller, ControllerProbe& probe,
                                     std::shared_ptr<grpc::ChannelCredentials> to_controllers)
    : cluster_id_(std::move(cluster_id)),
      self_(self),
      voters_(std::move(voters)),
      to_controllers_(std::move(to_controllers)),
      driver_(driver),
      machine_(machine),
      controller_(controller),
      probe_(probe) {}

int64_t ControllerContext::NowMs() { return SystemClock::Instance().NowMonotonicMs(); }

v1::ControllerHint ControllerContext::Hint() const {
  v1::ControllerHint hint;
  const NodeId leader = driver_.Status().leader;
  hint.set_active_controller_id(leader.value());
  if (auto it = voters_.find(leader); it != voters_.end()) {
    hint.set_active_controller_address(it->second);
  }
  return hint;
}

QuorumView ControllerContext::View() const {
  const raft::NodeStatus s = driver_.Status();
  return QuorumView{cluster_id_, voters_, self_, s.leader, s.term.value()};
}

admin::v1::AdminService::Stub* ControllerContext::AdminStub(NodeId controller) {
  std::lock_guard lock(mu_);
  auto it = stubs_.find(controller);
  if (it != stubs_.end()) return it->second.get();
  auto address = voters_.find(controller);
  if (address == voters_.end()) return nullptr;
  auto stub = admin::v1::AdminService::NewStub(
      grpc::CreateChannel(address->second, to_controllers_));
  return stubs_.emplace(controller, std::move(stub)).first->second.get();
}

}  // namespace strand::controller
