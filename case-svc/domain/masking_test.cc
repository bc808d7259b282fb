#include "case-svc/domain/masking.h"

#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

TEST(MaskingTest, MasksEachKindAsDocumented) {
  EXPECT_EQ(MaskPhone("+8613812345678"), "138****5678");
  EXPECT_EQ(MaskPhone("+442079460958"), "*********0958");
  EXPECT_EQ(MaskNationalId("11010519491231002X"), "110105********002X");
  EXPECT_EQ(MaskName("张三丰"), "张**");
  EXPECT_EQ(MaskName("A"), "A");
  EXPECT_EQ(MaskEmail("zhang@example.com"), "z***@example.com");
  EXPECT_EQ(MaskTail("6222021234567890"), "************7890");
}

TEST(MaskingTest, MaskClientHidesEveryPersonalField) {
  v1::Client c;
  c.set_id("crm-1");
  c.set_display_name("李四");
  c.set_phone("+8613912345678");
  c.set_email("li@example.com");
  c.set_national_id("440304199001011233");
  MaskClient(c);
  EXPECT_EQ(c.id(), "crm-1");
  EXPECT_TRUE(c.masked());
  for (const std::string& v : {c.display_name(), c.phone(), c.email(), c.national_id()}) {
    EXPECT_NE(v.find('*'), std::string::npos) << v;
  }
  EXPECT_EQ(c.phone().find("1234"), std::string::npos);
}

}  // namespace
}  // namespace counsel::cases
