#include "gateway/limits.h"

#include <cmath>

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

// The database's bucket, as KeyStore::LeaseTokens keeps it (one for all
// replicas), with a count of how often it is asked.
struct FakeSharedBucket {
  double tokens = -1;
  absl::Time updated;
  int leases = 0;
  absl::StatusOr<double> Lease(double rate, double burst, double want, absl::Time now) {
    ++leases;
    if (tokens < 0) {
      tokens = burst;
      updated = now;
    }
    tokens = std::min(burst, tokens + rate * absl::ToDoubleSeconds(now - updated));
    updated = now;
    const double granted = std::min(want, std::floor(tokens));
    tokens -= granted;
    return granted;
  }
};

TEST(TokenBucketsTest, TwoReplicasSharingOneQuotaAdmitItsRateWithinTenPercent) {
  FakeSharedBucket shared;
  TokenBuckets a, b;
  for (TokenBuckets* r : {&a, &b}) {
    r->ShareThrough([&](const std::string&, double rate, double burst, double want, absl::Time now) {
      return shared.Lease(rate, burst, want, now);
    });
  }
  // Each replica gets a call every millisecond for 20 s: 40,000 calls at a
  // key allowed 50 per second with a burst of 100.
  absl::Time now = absl::FromUnixSeconds(1000);
  int admitted = 0, calls = 0;
  for (int ms = 0; ms < 20000; ++ms, now += absl::Milliseconds(1)) {
    for (TokenBuckets* r : {&a, &b}) {
      ++calls;
      if (r->Take("k", 50, 100, now, "x").ok()) ++admitted;
    }
  }
  const double expected = 100 + 50 * 20.0;
  EXPECT_LE(admitted, expected) << "never more than the quota";
  EXPECT_GE(admitted, 0.9 * expected);
  // The database is asked about ten times a second per replica and per
  // refill, not once per call.
  EXPECT_LT(shared.leases, calls / 20);
}

TEST(TokenBucketsTest, AReplicaKeepsItsOwnBucketWhileTheSharedOneIsUnreachable) {
  TokenBuckets r;
  r.ShareThrough([](const std::string&, double, double, double, absl::Time) -> absl::StatusOr<double> {
    return absl::UnavailableError("down");
  });
  const absl::Time now = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.Take("k", 2, 3, now, "x").ok());
  EXPECT_EQ(r.Take("k", 2, 3, now, "x").code(), absl::StatusCode::kResourceExhausted);
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
