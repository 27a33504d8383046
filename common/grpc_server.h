#pragma once

// Process-wide gRPC server conventions: every Strand listener serves grpc.health.v1 and server
// reflection (so grpcurl works without .proto files and Kubernetes probes can use the standard
// health service). Call EnableServerConventions() once, before building any grpc::Server.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace strand {

void EnableServerConventions();

// Process-wide runtime settings for server binaries: turns off Abseil's mutex deadlock detector,
// which Debian's Abseil build leaves on and which costs time on every lock gRPC takes (it showed
// as a few percent of a controller's CPU under load). Call once at the start of main.
void TuneProcessRuntime();

}  // namespace strand
