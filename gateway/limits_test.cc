#include "gateway/limits.h"

#include "common/errors.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

TEST(TokenBucketsTest, BurstThenRateThenRecovery) {
  TokenBuckets buckets;
  absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(buckets.Take("k", 2, 3, now, "x").ok());
  EXPECT_TRUE(buckets.Take("k", 2, 3, now, "x").ok());
  EXPECT_TRUE(buckets.Take("k", 2, 3, now, "x").ok());
  const absl::Status refused = buckets.Take("k", 2, 3, now, "over quota");
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(ToRpcStatus(refused).details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000) << "one token in half a second at 2/s";
  EXPECT_TRUE(buckets.Take("other", 2, 3, now, "x").ok()) << "buckets are per name";
  now += absl::Milliseconds(500);
  EXPECT_TRUE(buckets.Take("k", 2, 3, now, "x").ok());
  EXPECT_FALSE(buckets.Take("k", 2, 3, now, "x").ok());
  now += absl::Hours(1);
  EXPECT_FALSE(buckets.Empty("k", 2, 3, now));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(buckets.Take("k", 2, 3, now, "x").ok());
  EXPECT_TRUE(buckets.Empty("k", 2, 3, now)) << "never more than the burst";
}

TEST(InFlightTest, RefusesBeyondTheCap) {
  InFlight f(2);
  EXPECT_TRUE(f.Enter());
  EXPECT_TRUE(f.Enter());
  EXPECT_FALSE(f.Enter());
  f.Leave();
  EXPECT_TRUE(f.Enter());
  EXPECT_EQ(f.count(), 2);
}

TEST(PeerAddressTest, StripsSchemeAndPort) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:5000"), "::1");
  EXPECT_EQ(PeerAddress("10.0.0.1"), "10.0.0.1");
}

}  // namespace
}  // namespace counsel::gateway
