#include "common/kafka_error.h"

namespace strand {

std::string_view KafkaErrorName(KafkaError error) {
  switch (error) {
    case KafkaError::kUnknownServerError:
      return "UNKNOWN_SERVER_ERROR";
    case KafkaError::kNone:
      return "NONE";
    case KafkaError::kOffsetOutOfRange:
      return "OFFSET_OUT_OF_RANGE";
    case KafkaError::kCorruptMessage:
      return "CORRUPT_MESSAGE";
    case KafkaError::kUnknownTopicOrPartition:
      return "UNKNOWN_TOPIC_OR_PARTITION";
    case KafkaError::kInvalidFetchSize:
      return "INVALID_FETCH_SIZE";
    case KafkaError::kLeaderNotAvailable:
      return "LEADER_NOT_AVAILABLE";
    case KafkaError::kNotLeaderOrFollower:
      return "NOT_LEADER_OR_FOLLOWER";
    case KafkaError::kRequestTimedOut:
      return "REQUEST_TIMED_OUT";
    case KafkaError::kBrokerNotAvailable:
      return "BROKER_NOT_AVAILABLE";
    case KafkaError::kReplicaNotAvailable:
      return "REPLICA_NOT_AVAILABLE";
    case KafkaError::kMessageTooLarge:
      return "MESSAGE_TOO_LARGE";
    case KafkaError::kStaleControllerEpoch:
      return "STALE_CONTROLLER_EPOCH";
    case KafkaError::kOffsetMetadataTooLarge:
      return "OFFSET_METADATA_TOO_LARGE";
    case KafkaError::kNetworkException:
      return "NETWORK_EXCEPTION";
    case KafkaError::kCoordinatorLoadInProgress:
      return "COORDINATOR_LOAD_IN_PROGRESS";
    case KafkaError::kCoordinatorNotAvailable:
      return "COORDINATOR_NOT_AVAILABLE";
    case KafkaError::kNotCoordinator:
      return "NOT_COORDINATOR";
    case KafkaError::kInvalidTopicException:
      return "INVALID_TOPIC_EXCEPTION";
    case KafkaError::kRecordListTooLarge:
      return "RECORD_LIST_TOO_LARGE";
    case KafkaError::kNotEnoughReplicas:
      return "NOT_ENOUGH_REPLICAS";
    case KafkaError::kNotEnoughReplicasAfterAppend:
      return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
    case KafkaError::kInvalidRequiredAcks:
      return "INVALID_REQUIRED_ACKS";
    case KafkaError::kIllegalGeneration:
      return "ILLEGAL_GENERATION";
    case KafkaError::kInconsistentGroupProtocol:
      return "INCONSISTENT_GROUP_PROTOCOL";
    case KafkaError::kInvalidGroupId:
      return "INVALID_GROUP_ID";
    case KafkaError::kUnknownMemberId:
      return "UNKNOWN_MEMBER_ID";
    case KafkaError::kInvalidSessionTimeout:
      return "INVALID_SESSION_TIMEOUT";
    case KafkaError::kRebalanceInProgress:
      return "REBALANCE_IN_PROGRESS";
    case KafkaError::kInvalidCommitOffsetSize:
      return "INVALID_COMMIT_OFFSET_SIZE";
    case KafkaError::kTopicAuthorizationFailed:
      return "TOPIC_AUTHORIZATION_FAILED";
    case KafkaError::kGroupAuthorizationFailed:
      return "GROUP_AUTHORIZATION_FAILED";
    case KafkaError::kClusterAuthorizationFailed:
      return "CLUSTER_AUTHORIZATION_FAILED";
    case KafkaError::kInvalidTimestamp:
      return "INVALID_TIMESTAMP";
    case KafkaError::kUnsupportedSaslMechanism:
      return "UNSUPPORTED_SASL_MECHANISM";
    case KafkaError::kIllegalSaslState:
      return "ILLEGAL_SASL_STATE";
    case KafkaError::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case KafkaError::kTopicAlreadyExists:
      return "TOPIC_ALREADY_EXISTS";
    case KafkaError::kInvalidPartitions:
      return "INVALID_PARTITIONS";
    case KafkaError::kInvalidReplicationFactor:
      return "INVALID_REPLICATION_FACTOR";
    case KafkaError::kInvalidReplicaAssignment:
      return "INVALID_REPLICA_ASSIGNMENT";
    case KafkaError::kInvalidConfig:
      return "INVALID_CONFIG";
    case KafkaError::kNotController:
      return "NOT_CONTROLLER";
    case KafkaError::kInvalidRequest:
      return "INVALID_REQUEST";
    case KafkaError::kUnsupportedForMessageFormat:
      return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
    case KafkaError::kPolicyViolation:
      return "POLICY_VIOLATION";
    case KafkaError::kOutOfOrderSequenceNumber:
      return "OUT_OF_ORDER_SEQUENCE_NUMBER";
    case KafkaError::kDuplicateSequenceNumber:
      return "DUPLICATE_SEQUENCE_NUMBER";
    case KafkaError::kInvalidProducerEpoch:
      return "INVALID_PRODUCER_EPOCH";
    case KafkaError::kInvalidTxnState:
      return "INVALID_TXN_STATE";
    case KafkaError::kInvalidProducerIdMapping:
      return "INVALID_PRODUCER_ID_MAPPING";
    case KafkaError::kInvalidTransactionTimeout:
      return "INVALID_TRANSACTION_TIMEOUT";
    case KafkaError::kConcurrentTransactions:
      return "CONCURRENT_TRANSACTIONS";
    case KafkaError::kTransactionCoordinatorFenced:
      return "TRANSACTION_COORDINATOR_FENCED";
    case KafkaError::kTransactionalIdAuthorizationFailed:
      return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
    case KafkaError::kSecurityDisabled:
      return "SECURITY_DISABLED";
    case KafkaError::kOperationNotAttempted:
      return "OPERATION_NOT_ATTEMPTED";
    case KafkaError::kKafkaStorageError:
      return "KAFKA_STORAGE_ERROR";
    case KafkaError::kLogDirNotFound:
      return "LOG_DIR_NOT_FOUND";
    case KafkaError::kSaslAuthenticationFailed:
      return "SASL_AUTHENTICATION_FAILED";
    case KafkaError::kUnknownProducerId:
      return "UNKNOWN_PRODUCER_ID";
    case KafkaError::kReassignmentInProgress:
      return "REASSIGNMENT_IN_PROGRESS";
    case KafkaError::kFencedLeaderEpoch:
      return "FENCED_LEADER_EPOCH";
    case KafkaError::kStaleBrokerEpoch:
      return "STALE_BROKER_EPOCH";
    case KafkaError::kInvalidUpdateVersion:
      return "INVALID_UPDATE_VERSION";
    case KafkaError::kDuplicateBrokerRegistration:
      return "DUPLICATE_BROKER_REGISTRATION";
    case KafkaError::kBrokerIdNotRegistered:
      return "BROKER_ID_NOT_REGISTERED";
    case KafkaError::kNewLeaderElected:
      return "NEW_LEADER_ELECTED";
    case KafkaError::kIneligibleReplica:
      return "INELIGIBLE_REPLICA";
    case KafkaError::kUnknownLeaderEpoch:
      return "UNKNOWN_LEADER_EPOCH";
    case KafkaError::kOffsetNotAvailable:
      return "OFFSET_NOT_AVAILABLE";
    case KafkaError::kMemberIdRequired:
      return "MEMBER_ID_REQUIRED";
    case KafkaError::kPreferredLeaderNotAvailable:
      return "PREFERRED_LEADER_NOT_AVAILABLE";
    case KafkaError::kGroupMaxSizeReached:
      return "GROUP_MAX_SIZE_REACHED";
    case KafkaError::kFencedInstanceId:
      return "FENCED_INSTANCE_ID";
    case KafkaError::kEligibleLeadersNotAvailable:
      return "ELIGIBLE_LEADERS_NOT_AVAILABLE";
    case KafkaError::kElectionNotNeeded:
      return "ELECTION_NOT_NEEDED";
    case KafkaError::kNoReassignmentInProgress:
      return "NO_REASSIGNMENT_IN_PROGRESS";
    case KafkaError::kThrottlingQuotaExceeded:
      return "THROTTLING_QUOTA_EXCEEDED";
    case KafkaError::kProducerFenced:
      return "PRODUCER_FENCED";
    case KafkaError::kInvalidRecord:
      return "INVALID_RECORD";
    case KafkaError::kUnstableOffsetCommit:
      return "UNSTABLE_OFFSET_COMMIT";
    case KafkaError::kUnknownTopicId:
      return "UNKNOWN_TOPIC_ID";
    case KafkaError::kInconsistentClusterId:
      return "INCONSISTENT_CLUSTER_ID";
    case KafkaError::kFencedMemberEpoch:
      return "FENCED_MEMBER_EPOCH";
    case KafkaError::kUnreleasedInstanceId:
      return "UNRELEASED_INSTANCE_ID";
    case KafkaError::kStaleMemberEpoch:
      return "STALE_MEMBER_EPOCH";
    case KafkaError::kNonEmptyGroup:
      return "NON_EMPTY_GROUP";
    case KafkaError::kGroupIdNotFound:
      return "GROUP_ID_NOT_FOUND";
    case KafkaError::kGroupSubscribedToTopic:
      return "GROUP_SUBSCRIBED_TO_TOPIC";
    case KafkaError::kUnsupportedAssignor:
      return "UNSUPPORTED_ASSIGNOR";
  }
  return "UNKNOWN_ERROR_CODE";
}

bool KafkaErrorRetriable(KafkaError error) {
  switch (error) {
    case KafkaError::kCorruptMessage:
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kLeaderNotAvailable:
    case KafkaError::kNotLeaderOrFollower:
    case KafkaError::kRequestTimedOut:
    case KafkaError::kNetworkException:
    case KafkaError::kCoordinatorLoadInProgress:
    case KafkaError::kCoordinatorNotAvailable:
    case KafkaError::kNotCoordinator:
    case KafkaError::kNotEnoughReplicas:
    case KafkaError::kNotEnoughReplicasAfterAppend:
    case KafkaError::kNotController:
    case KafkaError::kKafkaStorageError:
    case KafkaError::kFencedLeaderEpoch:
    case KafkaError::kUnknownLeaderEpoch:
    case KafkaError::kOffsetNotAvailable:
    case KafkaError::kPreferredLeaderNotAvailable:
    case KafkaError::kEligibleLeadersNotAvailable:
    case KafkaError::kThrottlingQuotaExceeded:
    case KafkaError::kUnstableOffsetCommit:
      return true;
    default:
      return false;
  }
}

absl::StatusCode KafkaErrorStatusCode(KafkaError error) {
  switch (error) {
    case KafkaError::kNone:
      return absl::StatusCode::kOk;
    case KafkaError::kRequestTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case KafkaError::kUnknownTopicOrPartition:
    case KafkaError::kUnknownTopicId:
      return absl::StatusCode::kNotFound;
    case KafkaError::kOffsetOutOfRange:
      return absl::StatusCode::kOutOfRange;
    default:
      return KafkaErrorRetriable(error) ? absl::StatusCode::kUnavailable
                                        : absl::StatusCode::kFailedPrecondition;
  }
}

CallFailure KafkaErrorOfCall(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return {KafkaError::kNone, false};
    case absl::StatusCode::kDeadlineExceeded:
      return {KafkaError::kRequestTimedOut, true};
    // The connection failed or broke, or the server was overloaded: it may have acted.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return {KafkaError::kNetworkException, true};
    // Refused before anything ran.
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return {KafkaError::kClusterAuthorizationFailed, false};
    case absl::StatusCode::kUnimplemented:
      return {KafkaError::kUnsupportedVersion, false};
    case absl::StatusCode::kInvalidArgument:
      return {KafkaError::kInvalidRequest, false};
    default:
      return {KafkaError::kUnknownServerError, false};
  }
}

}  // namespace strand
