#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/synchronization/mutex.h"
#include "common/grpc_callback_pin.h"

namespace strand {

void EnableServerConventions() {
  PinGrpcCallbackQueue();  // servers with callback services use the queue too
  grpc::EnableDefaultHealthCheckService(true);
  // The plugin must be referenced explicitly or the linker drops it and grpcurl sees nothing.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void TuneProcessRuntime() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void SetServing(grpc::Server& server, bool serving) {
  if (auto* health = server.GetHealthCheckService()) health->SetServingStatus(serving);
}

}  // namespace strand
