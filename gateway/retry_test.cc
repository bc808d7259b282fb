#include "gateway/retry.h"

#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

TEST(RetryRuleTest, BackoffGrowsToItsCapAndJitterTakesAPartOfIt) {
  const RetryRule rule;
  EXPECT_EQ(rule.Backoff(1, 0.5), absl::Milliseconds(10));
  EXPECT_EQ(rule.Backoff(2, 0.5), absl::Milliseconds(20));
  EXPECT_EQ(rule.Backoff(3, 0.5), absl::Milliseconds(40));
  EXPECT_EQ(rule.Backoff(10, 0.5), absl::Milliseconds(100)) << "capped at 200 ms";
  EXPECT_EQ(rule.Backoff(1, 0), absl::ZeroDuration());
  EXPECT_EQ(rule.Backoff(1, 7), absl::Milliseconds(20)) << "a fraction is at most 1";
  RetryRule whole = rule;
  whole.jitter = false;
  EXPECT_EQ(whole.Backoff(2, 0.1), absl::Milliseconds(40));
}

TEST(RetryBudgetTest, FailuresSpendItAndSuccessesEarnItBackSlowly) {
  RetryBudget budget;
  for (int i = 0; i < 49; ++i) budget.OnFailure();
  EXPECT_TRUE(budget.AllowRetry()) << "51 of 100 tokens left";
  budget.OnFailure();
  EXPECT_FALSE(budget.AllowRetry()) << "half left: no more retries";
  budget.OnSuccess();
  EXPECT_TRUE(budget.AllowRetry()) << "a success earns a tenth back";
  for (int i = 0; i < 1000; ++i) budget.OnFailure();
  for (int i = 0; i < 509; ++i) budget.OnSuccess();
  EXPECT_TRUE(budget.AllowRetry()) << "never below zero: 509 successes refill past half";
  for (int i = 0; i < 5000; ++i) budget.OnSuccess();
  for (int i = 0; i < 49; ++i) budget.OnFailure();
  EXPECT_TRUE(budget.AllowRetry()) << "never above a hundred";
  budget.OnFailure();
  EXPECT_FALSE(budget.AllowRetry());
}

}  // namespace
}  // namespace counsel::gateway
