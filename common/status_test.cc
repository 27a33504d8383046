// Tests the module error-enum payload carried on absl::Status.
#include "common/status.h"

#include <gtest/gtest.h>

#include "common/kafka_error.h"

namespace strand {
namespace test {
enum class Errc { kOne = 1, kTwo = 2 };
}  // namespace test

template <>
struct ErrcTraits<test::Errc> {
  static constexpr std::string_view kTypeUrl = "strand/test.Errc";
  static absl::StatusCode Code(test::Errc e) {
    return e == test::Errc::kOne ? absl::StatusCode::kUnavailable
                                 : absl::StatusCode::kInvalidArgument;
  }
  static std::string_view Name(test::Errc e) { return e == test::Errc::kOne ? "ONE" : "TWO"; }
};

namespace {

TEST(Status, MakeError_CarriesEnumCodeAndName) {
  absl::Status s = MakeError(test::Errc::kTwo, "bad thing");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "TWO: bad thing");
  EXPECT_EQ(ErrcOf<test::Errc>(s), test::Errc::kTwo);
  EXPECT_EQ(ErrcOf<test::Errc>(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ErrcOf<test::Errc>(absl::InternalError("x")), std::nullopt);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  STRAND_ASSIGN_OR_RETURN(int h, Half(x));
  STRAND_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, AssignOrReturn_PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_FALSE(Quarter(6).ok());
}

// One mapping between Kafka errors and status codes for server and client (they disagreed once).
TEST(KafkaErrorStatus, CodesAndPayloadRoundTrip) {
  absl::Status s = MakeError(KafkaError::kRequestTimedOut, "slow");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ErrcOf<KafkaError>(s), KafkaError::kRequestTimedOut);
  EXPECT_EQ(KafkaErrorStatusCode(KafkaError::kUnknownTopicOrPartition),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(KafkaErrorStatusCode(KafkaError::kOffsetOutOfRange), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(KafkaErrorStatusCode(KafkaError::kNotLeaderOrFollower), absl::StatusCode::kUnavailable);
  EXPECT_EQ(KafkaErrorStatusCode(KafkaError::kInvalidRecord),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(KafkaErrorStatusCode(KafkaError::kNone), absl::StatusCode::kOk);
}

TEST(KafkaErrorStatus, FailedCallsMapToKafkaErrors) {
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kDeadlineExceeded).error,
            KafkaError::kRequestTimedOut);
  EXPECT_TRUE(KafkaErrorOfCall(absl::StatusCode::kDeadlineExceeded).outcome_unknown);
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kUnavailable).error, KafkaError::kNetworkException);
  EXPECT_TRUE(KafkaErrorOfCall(absl::StatusCode::kUnavailable).outcome_unknown);
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kPermissionDenied).error,
            KafkaError::kClusterAuthorizationFailed);
  EXPECT_FALSE(KafkaErrorOfCall(absl::StatusCode::kPermissionDenied).outcome_unknown);
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kUnimplemented).error,
            KafkaError::kUnsupportedVersion);
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kFailedPrecondition).error,
            KafkaError::kUnknownServerError);
  EXPECT_EQ(KafkaErrorOfCall(absl::StatusCode::kOk).error, KafkaError::kNone);
}

}  // namespace
}  // namespace strand
