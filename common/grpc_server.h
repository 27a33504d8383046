#pragma once

// Process-wide gRPC server conventions: every Strand listener serves grpc.health.v1 and server
// reflection (so grpcurl works without .proto files and Kubernetes probes can use the standard
// health service). Call EnableServerConventions() once, before building any grpc::Server.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace strand {

void EnableServerConventions();

// Marks the overall health service status (SERVING / NOT_SERVING) of a running server.
void SetServing(grpc::Server& server, bool serving);

}  // namespace strand
