#pragma once

// When the admin client retries. Two kinds of failure are retried, both within the caller's
// total time budget:
//   - transport: the address gave no answer (gRPC UNAVAILABLE or DEADLINE_EXCEEDED); the next
//     bootstrap address is tried;
//   - a retriable Kafka error in the answer (NOT_CONTROLLER during an election,
//     REQUEST_TIMED_OUT, ...), after a backoff.
// Anything else is the answer and goes back to the caller as-is.

#include <grpcpp/grpcpp.h>

#include <optional>

#include "common/kafka_error.h"
#include "proto/admin/v1/admin.pb.h"

namespace strand::client {

// The address did not answer: try another.
bool IsTransportFailure(const grpc::Status& status);

// KafkaErrorRetriable minus the errors that, from the admin API, describe the resource rather
// than the moment: UNKNOWN_TOPIC_OR_PARTITION (describing a missing topic must fail at once),
// PREFERRED_LEADER_NOT_AVAILABLE and ELIGIBLE_LEADERS_NOT_AVAILABLE (the result of an
// election the caller asked for).
bool AdminRetriable(KafkaError error);

// The error that makes a whole answer worth retrying: for answers with a request-level error
// field, that error when AdminRetriable; for answers made only of per-item results, the first
// item's error when every item failed with an AdminRetriable error (nothing was done, so the
// request can be sent again unchanged). nullopt: the answer is final.
std::optional<KafkaError> RetriableError(const admin::v1::DescribeClusterResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::CreateTopicsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::DeleteTopicsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::ListTopicsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::DescribeTopicsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::CreatePartitionsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::DescribeConfigsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::AlterConfigsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::ElectLeadersResponse& response);
std::optional<KafkaError> RetriableError(
    const admin::v1::AlterPartitionReassignmentsResponse& response);
std::optional<KafkaError> RetriableError(
    const admin::v1::ListPartitionReassignmentsResponse& response);
std::optional<KafkaError> RetriableError(const admin::v1::UnregisterBrokerResponse& response);

}  // namespace strand::client
