#include "client/admin/admin_retry.h"

namespace strand::client {
namespace {

std::optional<KafkaError> FromRequestError(const common::v1::Error& error) {
  const auto code = static_cast<KafkaError>(error.code());
  if (error.code() == 0 || !AdminRetriable(code)) return std::nullopt;
  return code;
}

// Items have an error() accessor; an empty list is final (nothing to retry).
template <typename Items>
std::optional<KafkaError> FromItemErrors(const Items& items) {
  if (items.empty()) return std::nullopt;
  for (const auto& item : items) {
    const int32_t code = item.error().code();
    if (code == 0 || !AdminRetriable(static_cast<KafkaError>(code))) return std::nullopt;
  }
  return static_cast<KafkaError>(items.begin()->error().code());
}

}  // namespace

bool IsTransportFailure(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

bool AdminRetriable(KafkaError error) {
  switch (error) {
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kPreferredLeaderNotAvailable:
    case KafkaError::kEligibleLeadersNotAvailable:
      return false;
    default:
      return KafkaErrorRetriable(error);
  }
}

std::optional<KafkaError> RetriableError(const admin::v1::DescribeClusterResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::CreateTopicsResponse& response) {
  return FromItemErrors(response.topics());
}
std::optional<KafkaError> RetriableError(const admin::v1::DeleteTopicsResponse& response) {
  return FromItemErrors(response.topics());
}
std::optional<KafkaError> RetriableError(const admin::v1::ListTopicsResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::DescribeTopicsResponse& response) {
  return FromItemErrors(response.topics());
}
std::optional<KafkaError> RetriableError(const admin::v1::CreatePartitionsResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::DescribeConfigsResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::AlterConfigsResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::ElectLeadersResponse& response) {
  return FromItemErrors(response.results());
}
std::optional<KafkaError> RetriableError(
    const admin::v1::AlterPartitionReassignmentsResponse& response) {
  return FromItemErrors(response.results());
}
std::optional<KafkaError> RetriableError(
    const admin::v1::ListPartitionReassignmentsResponse& response) {
  return FromRequestError(response.error());
}
std::optional<KafkaError> RetriableError(const admin::v1::UnregisterBrokerResponse& response) {
  return FromRequestError(response.error());
}

}  // namespace strand::client
