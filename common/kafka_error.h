#pragma once

// Kafka's data-path error codes, by their protocol numbers and names. Strand carries these in
// gRPC responses as per-partition error fields (ARCHITECTURE.md section 9), so that the Kafka
// wire-protocol listener planned for later maps them one to one. Never renumber.

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace strand {

enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kBrokerNotAvailable = 8,
  kReplicaNotAvailable = 9,
  kMessageTooLarge = 10,
  kStaleControllerEpoch = 11,
  kOffsetMetadataTooLarge = 12,
  kNetworkException = 13,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kNotEnoughReplicas = 19,
  kNotEnoughReplicasAfterAppend = 20,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kTopicAuthorizationFailed = 29,
  kGroupAuthorizationFailed = 30,
  kClusterAuthorizationFailed = 31,
  kInvalidTimestamp = 32,
  kUnsupportedSaslMechanism = 33,
  kIllegalSaslState = 34,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kNotController = 41,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kInvalidProducerIdMapping = 49,
  kInvalidTransactionTimeout = 50,
  kConcurrentTransactions = 51,
  kTransactionCoordinatorFenced = 52,
  kTransactionalIdAuthorizationFailed = 53,
  kSecurityDisabled = 54,
  kOperationNotAttempted = 55,
  kKafkaStorageError = 56,
  kLogDirNotFound = 57,
  kSaslAuthenticationFailed = 58,
  kUnknownProducerId = 59,
  kReassignmentInProgress = 60,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kStaleBrokerEpoch = 77,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kOffsetNotAvailable = 78,
  kMemberIdRequired = 79,
  kPreferredLeaderNotAvailable = 80,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kEligibleLeadersNotAvailable = 83,
  kElectionNotNeeded = 84,
  kNoReassignmentInProgress = 85,
  kGroupSubscribedToTopic = 86,
  kThrottlingQuotaExceeded = 89,
  kProducerFenced = 90,
  kInvalidRecord = 87,
  kUnstableOffsetCommit = 88,
  kInvalidUpdateVersion = 95,
  kUnknownTopicId = 100,
  kDuplicateBrokerRegistration = 101,
  kBrokerIdNotRegistered = 102,
  kInconsistentClusterId = 104,
  kNewLeaderElected = 106,
  kIneligibleReplica = 107,
  kFencedMemberEpoch = 110,
  kUnreleasedInstanceId = 111,
  kUnsupportedAssignor = 112,
  kStaleMemberEpoch = 113,
};

// The protocol name, e.g. "NOT_LEADER_OR_FOLLOWER".
std::string_view KafkaErrorName(KafkaError error);

// Whether a client should retry the request after refreshing metadata / backing off, as in
// Kafka's RetriableException hierarchy.
bool KafkaErrorRetriable(KafkaError error);

// The status code a Kafka error travels with on an absl::Status, on the server and in the client
// alike: REQUEST_TIMED_OUT is DeadlineExceeded, an unknown topic NotFound, an offset out of range
// OutOfRange; the rest Unavailable when retriable, FailedPrecondition otherwise.
absl::StatusCode KafkaErrorStatusCode(KafkaError error);

// A gRPC call that failed as a call (`code` is its grpc::StatusCode; gRPC and Abseil number
// their codes alike) as the Kafka error a caller reports, and whether the request may have been
// applied all the same (the answer was lost, not refused). One mapping for the client's producer
// and consumer and for the broker's forwarding paths.
struct CallFailure {
  KafkaError error = KafkaError::kNone;
  bool outcome_unknown = false;
};
CallFailure KafkaErrorOfCall(absl::StatusCode code);

}  // namespace strand

// Kafka errors travel on absl::Status like any module's: MakeError(KafkaError::kNotEnoughReplicas,
// "...") and ErrcOf<KafkaError>(status).
template <>
struct strand::ErrcTraits<strand::KafkaError> {
  static constexpr std::string_view kTypeUrl = "strand/kafka.Error";
  static absl::StatusCode Code(KafkaError e) { return KafkaErrorStatusCode(e); }
  static std::string_view Name(KafkaError e) { return KafkaErrorName(e); }
};
