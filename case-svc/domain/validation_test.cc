#include "case-svc/domain/validation.h"

#include "common/errors.h"
#include "common/testing/status_matchers.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

using ::counsel::testing::StatusIs;
using ::testing::HasSubstr;

TEST(NormalizePhoneTest, AcceptsChineseMobilesInLocalForms) {
  for (const char* in : {"13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678",
                         "0086 13812345678", "86-13812345678", "+8613812345678"}) {
    auto p = NormalizePhone(in, "phone");
    ASSERT_TRUE(p.ok()) << in << " " << p.status();
    EXPECT_EQ(*p, "+8613812345678") << in;
  }
  EXPECT_EQ(*NormalizePhone("+44 20 7946 0958", "phone"), "+442079460958");
}

TEST(NormalizePhoneTest, RejectsNonNumbers) {
  for (const char* in : {"", "12345", "23812345678", "phone", "+86 238 1234 5678", "138123456789",
                         "+0123456789", "138;DROP TABLE"}) {
    EXPECT_THAT(NormalizePhone(in, "case.client.phone"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case.client.phone")))
        << in;
  }
}

TEST(NationalIdTest, ChecksDigitAndBirthDate) {
  EXPECT_EQ(*NormalizeNationalId("11010519491231002x", "id"), "11010519491231002X");
  EXPECT_TRUE(NormalizeNationalId("440304199001011233", "id").ok());
  EXPECT_THAT(NormalizeNationalId("440304199001011234", "id"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("check")));
  EXPECT_THAT(NormalizeNationalId("4403041990010112", "id"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("18")));
  EXPECT_FALSE(NormalizeNationalId("44030419900101123A", "id").ok());
  EXPECT_FALSE(NormalizeNationalId("4403041990a101123X", "id").ok());
}

TEST(NationalIdTest, RejectsImpossibleBirthDate) {
  // 1990-02-30 with a correct check digit for those 17 digits.
  const std::string base = "44030419900230123";
  static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int s = 0;
  for (int i = 0; i < 17; ++i) s += (base[static_cast<size_t>(i)] - '0') * kW[i];
  const std::string id = base + "10X98765432"[s % 11];
  EXPECT_THAT(NormalizeNationalId(id, "id"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("birth")));
}

TEST(ValidateNewCaseTest, ReportsEveryViolationWithItsField) {
  v1::Case c;
  c.mutable_client()->set_phone("nope");
  c.set_occurred_on("2023-02-30");
  absl::Status s = ValidateNewCase(c, absl::FromCivil(absl::CivilDay(2026, 11, 30), absl::UTCTimeZone()));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(ToRpcStatus(s).details(0).UnpackTo(&bad));
  std::vector<std::string> fields;
  for (const auto& v : bad.field_violations()) fields.push_back(v.field());
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("case.client.display_name",
                                                      "case.client.phone", "case.leaked_data",
                                                      "case.occurred_on"));
}

TEST(ValidateNewCaseTest, NormalisesAndDefaults) {
  v1::Case c;
  c.mutable_client()->set_display_name("张三");
  c.mutable_client()->set_phone("138 1234 5678");
  c.mutable_client()->set_email(" Zhang@Example.COM ");
  c.add_leaked_data(v1::LEAKED_DATA_PHONE);
  ASSERT_TRUE(ValidateNewCase(c, absl::FromCivil(absl::CivilDay(2026, 11, 30), absl::UTCTimeZone())).ok());
  EXPECT_EQ(c.client().phone(), "+8613812345678");
  EXPECT_EQ(c.client().email(), "zhang@example.com");
  EXPECT_EQ(c.incident_type(), "personal-information-leak");
}

TEST(ValidateNewCaseTest, OccurredOnMustNotFollowDiscovery) {
  v1::Case c;
  c.mutable_client()->set_display_name("张三");
  c.add_leaked_data(v1::LEAKED_DATA_PHONE);
  c.set_occurred_on("2026-02-01");
  c.mutable_discovered_time()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone())));
  EXPECT_THAT(ValidateNewCase(c, absl::FromCivil(absl::CivilDay(2026, 11, 30), absl::UTCTimeZone())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case.occurred_on")));
}

TEST(CheckTextTest, RejectsInvalidUtf8AndOverlongText) {
  EXPECT_TRUE(CheckText("隐私", 2, "f").ok());
  EXPECT_FALSE(CheckText("隐私泄", 2, "f").ok());
  EXPECT_FALSE(CheckText("\xc3\x28", 10, "f").ok());
  EXPECT_FALSE(CheckText("\xed\xa0\x80", 10, "f").ok());  // a surrogate
}

}  // namespace
}  // namespace counsel::cases
