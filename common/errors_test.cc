#include "common/errors.h"

#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace counsel {
namespace {

TEST(ToGrpcCodeTest, MapsEveryCanonicalCode) {
  for (int raw = 0; raw <= 16; ++raw) {
    const auto code = static_cast<absl::StatusCode>(raw);
    EXPECT_EQ(static_cast<int>(ToGrpcCode(code)), raw) << absl::StatusCodeToString(code);
    const grpc::Status g = ToGrpcStatus(absl::Status(code, raw == 0 ? "" : "m"));
    EXPECT_EQ(static_cast<int>(g.error_code()), raw);
    EXPECT_EQ(FromGrpcStatus(g).code(), code);
  }
}

TEST(ToGrpcCodeTest, UnknownCodeBecomesUnknown) {
  EXPECT_EQ(ToGrpcCode(static_cast<absl::StatusCode>(99)), grpc::StatusCode::UNKNOWN);
}

TEST(ErrorsTest, InvalidArgumentCarriesFieldViolation) {
  const absl::Status s = InvalidArgumentField("case.client.phone", "not a phone number");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("case.client.phone"), absl::string_view::npos);
  const grpc::Status g = ToGrpcStatus(s);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "case.client.phone");
}

TEST(ErrorsTest, ReasonSurvivesRoundTrip) {
  const absl::Status s = ErrorWithReason(absl::StatusCode::kNotFound, "NOT_IN_FORCE",
                                         "no version in force", {{"as_of", "2001-01-01"}});
  const absl::Status back = FromGrpcStatus(ToGrpcStatus(s));
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  const google::rpc::Status rpc = ToRpcStatus(back);
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "NOT_IN_FORCE");
  EXPECT_EQ(info.domain(), "counsel.law");
  EXPECT_EQ(info.metadata().at("as_of"), "2001-01-01");
}

TEST(ErrorsTest, RetryInfoCarriesDelay) {
  const absl::Status s = ResourceExhaustedRetryAfter("slow down", absl::Milliseconds(1500));
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(ToRpcStatus(s).details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

TEST(ErrorsTest, OkHasNoDetails) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::NotFoundError("x")).error_details().empty());
}

}  // namespace
}  // namespace counsel

namespace counsel {
namespace {

TEST(ValidUtf8Test, KeepsValidTextAndReplacesEachInvalidByte) {
  EXPECT_EQ(ValidUtf8("治安 ok"), "治安 ok");
  EXPECT_EQ(ValidUtf8("a\xff" "b"), "a\uFFFD" "b");
  EXPECT_EQ(ValidUtf8("\xe6\xb2"), "\uFFFD\uFFFD");          // truncated sequence
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\uFFFD\uFFFD");          // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // a surrogate
  EXPECT_EQ(ValidUtf8("\xf0\x9f\x98\x80"), "\U0001F600");
}

TEST(ValidUtf8Test, FieldViolationsAreAlwaysValidUtf8) {
  const absl::Status st = InvalidArgumentField("filter", "'\xff' is not a value");
  EXPECT_EQ(st.message(), "filter: '\uFFFD' is not a value");
  auto payload = st.GetPayload("type.googleapis.com/google.rpc.BadRequest");
  ASSERT_TRUE(payload.has_value());
  google::rpc::BadRequest bad;
  ASSERT_TRUE(bad.ParseFromString(std::string(*payload)));
  EXPECT_EQ(bad.field_violations(0).description(), "'\uFFFD' is not a value");
}

}  // namespace
}  // namespace counsel
