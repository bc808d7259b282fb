#include "gateway/breaker.h"

#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndRecoversThroughOneTrial) {
  CircuitBreaker b(3, absl::Seconds(1));
  absl::Time now = absl::FromUnixSeconds(100);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.Allow(now));
    b.Record(true, now);
  }
  ASSERT_TRUE(b.Allow(now));
  b.Record(false, now);  // a success resets the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.Allow(now));
    b.Record(true, now);
  }
  EXPECT_TRUE(b.open(now));
  EXPECT_FALSE(b.Allow(now + absl::Milliseconds(999)));
  now += absl::Seconds(1);
  EXPECT_TRUE(b.Allow(now)) << "half-open: one trial";
  EXPECT_FALSE(b.Allow(now)) << "and only one";
  b.Record(true, now);
  EXPECT_FALSE(b.Allow(now)) << "the trial failed: open again";
  now += absl::Seconds(1);
  ASSERT_TRUE(b.Allow(now));
  b.Record(false, now);
  EXPECT_TRUE(b.Allow(now));
  EXPECT_TRUE(b.Allow(now)) << "closed after a good trial";
}

}  // namespace
}  // namespace counsel::gateway
