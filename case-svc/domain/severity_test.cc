#include "case-svc/domain/severity.h"

#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

v1::Severity Of(std::initializer_list<v1::LeakedData> kinds) {
  google::protobuf::RepeatedField<int> f;
  for (auto k : kinds) f.Add(k);
  return DeriveSeverity(f);
}

TEST(SeverityTest, FollowsTheDocumentedRules) {
  EXPECT_EQ(Of({v1::LEAKED_DATA_NATIONAL_ID, v1::LEAKED_DATA_BANK_ACCOUNT}), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(Of({v1::LEAKED_DATA_ACCOUNT_CREDENTIALS, v1::LEAKED_DATA_BANK_ACCOUNT}),
            v1::SEVERITY_CRITICAL);
  EXPECT_EQ(Of({v1::LEAKED_DATA_BIOMETRIC}), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(Of({v1::LEAKED_DATA_NATIONAL_ID}), v1::SEVERITY_HIGH);
  EXPECT_EQ(Of({v1::LEAKED_DATA_BANK_ACCOUNT}), v1::SEVERITY_HIGH);
  EXPECT_EQ(Of({v1::LEAKED_DATA_ADDRESS}), v1::SEVERITY_MEDIUM);
  EXPECT_EQ(Of({v1::LEAKED_DATA_PHONE, v1::LEAKED_DATA_EMAIL}), v1::SEVERITY_MEDIUM);
  EXPECT_EQ(Of({v1::LEAKED_DATA_PHONE}), v1::SEVERITY_LOW);
  EXPECT_EQ(Of({v1::LEAKED_DATA_PHONE, v1::LEAKED_DATA_PHONE}), v1::SEVERITY_LOW);
}

}  // namespace
}  // namespace counsel::cases
