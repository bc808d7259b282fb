#include "common/dates.h"

#include "common/clock.h"
#include "gtest/gtest.h"

namespace counsel {
namespace {

TEST(ParseDateTest, AcceptsValidDates) {
  auto d = ParseDate("2024-02-29", "as_of");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatDate(*d), "2024-02-29");
}

TEST(ParseDateTest, RejectsImpossibleAndMalformedDates) {
  for (const char* bad : {"2023-02-30", "2023-13-01", "2023-00-10", "2023-1-1",
                          "20230101", "", "2023-01-01x", "abcd-ef-gh", "0000-01-01"}) {
    auto d = ParseDate(bad, "as_of");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find("as_of"), absl::string_view::npos);
  }
}

TEST(ShanghaiDateTest, UsesUtcPlusEight) {
  // 2025-12-31T16:30:00Z is already 2026-01-01 in Shanghai.
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2025, 12, 31, 16, 30, 0),
                                       absl::UTCTimeZone());
  EXPECT_EQ(ShanghaiDate(t), "2026-01-01");
}

}  // namespace
}  // namespace counsel
