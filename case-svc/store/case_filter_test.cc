#include "case-svc/store/case_filter.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

SqlCondition Must(absl::string_view filter, const BlindIndexFn& blind = nullptr) {
  auto c = CompileCaseFilter(filter, kNow, blind);
  EXPECT_TRUE(c.ok()) << filter << ": " << c.status();
  return c.ok() ? *c : SqlCondition{};
}

std::string Error(absl::string_view filter, const BlindIndexFn& blind = nullptr) {
  auto c = CompileCaseFilter(filter, kNow, blind);
  EXPECT_FALSE(c.ok()) << filter;
  return std::string(c.status().message());
}

TEST(CaseFilterTest, ValuesAreBoundNeverSpliced) {
  SqlCondition c = Must("external_ref = \"CRM-1' OR 1=1 --\" AND client.id != c-9");
  EXPECT_EQ(c.sql.find("CRM"), std::string::npos);
  EXPECT_EQ(c.sql.find("c-9"), std::string::npos);
  ASSERT_EQ(c.params.size(), 2u);
  EXPECT_EQ(std::get<std::string>(c.params[0]), "CRM-1' OR 1=1 --");
  EXPECT_EQ(std::get<std::string>(c.params[1]), "c-9");
  EXPECT_NE(c.sql.find("c.client_id IS NULL OR c.client_id != ?"), std::string::npos);
}

TEST(CaseFilterTest, EnumsLeakedDataTimesAndOverdue) {
  SqlCondition c = Must("state = IN_PROGRESS AND (leaked_data:NATIONAL_ID OR severity >= HIGH)");
  EXPECT_EQ(c.params.size(), 3u);
  EXPECT_EQ(Must("create_time > \"2026-01-01T00:00:00Z\"").params.size(), 1u);
  // overdue compares with the injected clock.
  SqlCondition o = Must("overdue = true");
  ASSERT_EQ(o.params.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(o.params[0]), absl::ToUnixMicros(kNow));
  EXPECT_EQ(Must("").sql, "1 = 1");
}

TEST(CaseFilterTest, LabelsAndIncidentDates) {
  SqlCondition l = Must("labels.region = \"华东\" AND labels.vip:* AND labels.team != b");
  ASSERT_EQ(l.params.size(), 5u);
  EXPECT_EQ(std::get<std::string>(l.params[0]), "region");
  EXPECT_EQ(std::get<std::string>(l.params[1]), "华东");
  EXPECT_EQ(std::get<std::string>(l.params[2]), "vip");
  EXPECT_NE(l.sql.find("NOT EXISTS"), std::string::npos);
  EXPECT_EQ(l.sql.find("华东"), std::string::npos);
  SqlCondition d = Must("occurred_on >= 2026-01-01 AND discovered_time < \"2026-06-01T00:00:00Z\"");
  ASSERT_EQ(d.params.size(), 2u);
  EXPECT_EQ(std::get<std::string>(d.params[0]), "2026-01-01");
  EXPECT_NE(d.sql.find("c.occurred_on IS NOT NULL"), std::string::npos);
  EXPECT_NE(Error("labels. = x").find("labels.KEY"), std::string::npos);
  EXPECT_NE(Error("labels.k > x").find("takes =, != or :*"), std::string::npos);
  EXPECT_NE(Error("occurred_on > 2026-13-01").find("YYYY-MM-DD"), std::string::npos);
  EXPECT_NE(Error("colour = red").find("labels.KEY"), std::string::npos);
}

TEST(CaseFilterTest, ErrorsNameThePositionAndWhatCanBeFiltered) {
  EXPECT_NE(Error("colour = red").find("these can: state"), std::string::npos);
  EXPECT_NE(Error("state = NOPE").find("at position 8"), std::string::npos);
  EXPECT_NE(Error("external_ref > x").find("takes = or !="), std::string::npos);
  EXPECT_NE(Error("(state = NEW").find("filter"), std::string::npos);
  EXPECT_NE(Error(std::string(2001, 'a')).find("2000"), std::string::npos);
}

TEST(CaseFilterTest, PersonalFieldsNeedTheBlindIndex) {
  auto denied = CompileCaseFilter("client.phone = \"13800000000\"", kNow, nullptr);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  BlindIndexFn blind = [](absl::string_view, absl::string_view value)
      -> absl::StatusOr<std::string> { return std::string("idx:") + std::string(value); };
  SqlCondition c = Must("client.phone = \"13800000000\"", blind);
  EXPECT_EQ(c.sql, "phone_index = ?");
  EXPECT_EQ(std::get<std::string>(c.params[0]), "idx:13800000000");
  // client.id is the firm's own reference, not personal data.
  EXPECT_TRUE(CompileCaseFilter("client.id = c-1", kNow, nullptr).ok());
}

}  // namespace
}  // namespace counsel::cases
