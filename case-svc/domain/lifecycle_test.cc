#include "case-svc/domain/lifecycle.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

using ::counsel::testing::StatusIs;
using ::testing::HasSubstr;
using S = v1::Case;

TEST(LifecycleTest, OnlyTheDocumentedMovesAreAllowed) {
  const std::vector<std::pair<S::State, S::State>> allowed = {
      {S::STATE_NEW, S::STATE_TRIAGED},
      {S::STATE_TRIAGED, S::STATE_IN_PROGRESS},
      {S::STATE_IN_PROGRESS, S::STATE_REPORTED_TO_POLICE},
      {S::STATE_IN_PROGRESS, S::STATE_IN_LITIGATION},
      {S::STATE_REPORTED_TO_POLICE, S::STATE_RESOLVED},
      {S::STATE_IN_LITIGATION, S::STATE_RESOLVED},
      {S::STATE_RESOLVED, S::STATE_CLOSED},
      {S::STATE_RESOLVED, S::STATE_IN_PROGRESS},
      {S::STATE_CLOSED, S::STATE_IN_PROGRESS}};
  int count = 0;
  for (int from = S::State_MIN; from <= S::State_MAX; ++from) {
    for (int to = S::State_MIN; to <= S::State_MAX; ++to) {
      if (!S::State_IsValid(from) || !S::State_IsValid(to)) continue;
      const auto f = static_cast<S::State>(from), t = static_cast<S::State>(to);
      const bool listed = std::find(allowed.begin(), allowed.end(), std::make_pair(f, t)) !=
                          allowed.end();
      EXPECT_EQ(TransitionAllowed(f, t), listed) << StateName(f) << " → " << StateName(t);
      count += listed;
    }
  }
  EXPECT_EQ(count, 9);
}

TEST(LifecycleTest, GuardsNameWhatIsMissing) {
  v1::Case c;
  c.set_name("cases/a");
  c.set_state(S::STATE_IN_PROGRESS);
  EXPECT_THAT(CheckTransition(c, S::STATE_REPORTED_TO_POLICE, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("receipt_number")));
  c.mutable_police_report()->set_receipt_number("京公(海)受案字[2026]1号");
  EXPECT_TRUE(CheckTransition(c, S::STATE_REPORTED_TO_POLICE, "").ok());
  EXPECT_THAT(CheckTransition(c, S::STATE_CLOSED, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("IN_PROGRESS to CLOSED")));
  c.set_state(S::STATE_RESOLVED);
  auto* item = c.add_checklist();
  item->set_key("report-to-police");
  item->set_state(v1::ChecklistItem::STATE_PENDING);
  EXPECT_THAT(CheckTransition(c, S::STATE_CLOSED, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("report-to-police")));
  EXPECT_TRUE(CheckTransition(c, S::STATE_CLOSED, "客户撤回").ok()) << "an override closes";
  item->set_state(v1::ChecklistItem::STATE_SKIPPED);
  EXPECT_TRUE(CheckTransition(c, S::STATE_CLOSED, "").ok());
}

TEST(LifecycleTest, TheLimitationPeriodRunsThreeYearsFromTheLaterDate) {
  v1::Case c;
  EXPECT_FALSE(LimitationEnds(c).has_value()) << "until both dates are known";
  c.set_damage_known_on("2026-03-10");
  EXPECT_FALSE(LimitationEnds(c).has_value());
  c.set_liable_party_identified_on("2026-05-01");
  EXPECT_EQ(*LimitationEnds(c), absl::CivilDay(2029, 5, 1));
  // 29 February has no corresponding day three years on: the month's last.
  c.set_damage_known_on("2028-02-29");
  c.set_liable_party_identified_on("2028-01-01");
  EXPECT_EQ(*LimitationEnds(c), absl::CivilDay(2031, 2, 28));
  c.set_damage_known_on("not a date");
  EXPECT_FALSE(LimitationEnds(c).has_value());
}

}  // namespace
}  // namespace counsel::cases
