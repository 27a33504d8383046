#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/synchronization/mutex.h"
#include "common/grpc_callback_pin.h"
#include "proto/health/v1/health.pb.h"

namespace strand {

void EnableServerConventions() {
  PinGrpcCallbackQueue();  // servers with callback services use the queue too
  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's health service carries no protobuf descriptors, so reflection would list
  // grpc.health.v1.Health without being able to describe it (grpcurl: "target server does not
  // expose service"). Strand's copy of the definitions fills the descriptor pool; referencing it
  // keeps the linker from dropping it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  // The plugin must be referenced explicitly or the linker drops it and grpcurl sees nothing.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void TuneProcessRuntime() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace strand
