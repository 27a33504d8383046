// Tests which admin answers are retried: request-level retriable errors, per-item responses only
// when every item failed retriably, and the resource-describing errors never.
#include "client/admin/admin_retry.h"

#include <gtest/gtest.h>

#include "client/admin/testing/fake_admin_service.h"

namespace strand::client {
namespace {

TEST(AdminRetry, AdminRetriable_ExcludesResourceAnswers) {
  EXPECT_TRUE(AdminRetriable(KafkaError::kNotController));
  EXPECT_TRUE(AdminRetriable(KafkaError::kRequestTimedOut));
  EXPECT_FALSE(AdminRetriable(KafkaError::kUnknownTopicOrPartition));
  EXPECT_FALSE(AdminRetriable(KafkaError::kPreferredLeaderNotAvailable));
  EXPECT_FALSE(AdminRetriable(KafkaError::kTopicAlreadyExists));
  EXPECT_FALSE(AdminRetriable(KafkaError::kNone));
}

TEST(AdminRetry, RequestLevelError_RetriedOnlyWhenRetriable) {
  admin::v1::DescribeClusterResponse r;
  EXPECT_EQ(RetriableError(r), std::nullopt);
  SetKafkaError(r.mutable_error(), KafkaError::kNotController, "");
  EXPECT_EQ(RetriableError(r), KafkaError::kNotController);
  SetKafkaError(r.mutable_error(), KafkaError::kClusterAuthorizationFailed, "");
  EXPECT_EQ(RetriableError(r), std::nullopt);
}

TEST(AdminRetry, ItemErrors_RetriedOnlyWhenEveryItemFailedRetriably) {
  admin::v1::CreateTopicsResponse r;
  EXPECT_EQ(RetriableError(r), std::nullopt);  // nothing in it
  SetKafkaError(r.add_topics()->mutable_error(), KafkaError::kNotController, "");
  SetKafkaError(r.add_topics()->mutable_error(), KafkaError::kRequestTimedOut, "");
  EXPECT_EQ(RetriableError(r), KafkaError::kNotController);
  r.add_topics();  // one succeeded: resending would repeat it
  EXPECT_EQ(RetriableError(r), std::nullopt);

  admin::v1::DescribeTopicsResponse d;
  SetKafkaError(d.add_topics()->mutable_error(), KafkaError::kUnknownTopicOrPartition, "");
  EXPECT_EQ(RetriableError(d), std::nullopt);
}

TEST(AdminRetry, IsTransportFailure_OnlyUnavailableAndDeadline) {
  EXPECT_TRUE(IsTransportFailure(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")));
  EXPECT_TRUE(IsTransportFailure(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")));
  EXPECT_FALSE(IsTransportFailure(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")));
  EXPECT_FALSE(IsTransportFailure(grpc::Status::OK));
}

}  // namespace
}  // namespace strand::client
