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

namespace counsel::cases {
namespace {

TEST(MaskIdentifiersInTextTest, MasksEveryKindAsTheFieldsAre) {
  EXPECT_EQ(MaskIdentifiersInText("张三（身份证110105194912310021，手机13987654321）"),
            "张三（身份证110105********0021，手机139****4321）");
  EXPECT_EQ(MaskIdentifiersInText("call +86 139 8765 4321 now"), "call +86139****4321 now");
  EXPECT_EQ(MaskIdentifiersInText("8613987654321"), "86139****4321");
  EXPECT_EQ(MaskIdentifiersInText("座机010-87654321"), "座机010****4321");
  EXPECT_EQ(MaskIdentifiersInText("卡号6222021234567890128"), "卡号***************0128");
  EXPECT_EQ(MaskIdentifiersInText("邮件 zhang.san@example.com 。"), "邮件 z***@example.com 。");
  EXPECT_EQ(MaskIdentifiersInText("11010519491231002x"), "110105********002X");
  EXPECT_EQ(MaskIdentifiersInText("13987654321 110105194912310021"),
            "139****4321 110105********0021");
}

TEST(MaskIdentifiersInTextTest, RecognisesHowPeopleReallyTypeThem) {
  for (const char* typed : {"0086 139 8765 4321", "008613987654321", "１３９８７６５４３２１",
                            "139.8765.4321", "139/8765/4321", "139  8765  4321",
                            "139\u30008765\u30004321", "Tel13987654321", "wx13987654321"}) {
    const std::string masked = MaskIdentifiersInText(typed);
    EXPECT_EQ(masked.find("8765"), std::string::npos) << typed << " → " << masked;
    EXPECT_NE(masked.find("4321"), std::string::npos) << typed << " → " << masked;
  }
  for (const char* typed : {"(010)12345678", "（0755）88889999", "ID11010519491231002X",
                            "card6222021234567890128", "zhangsan＠example.com",
                            "110105491231002"}) {
    const std::string masked = MaskIdentifiersInText(typed);
    EXPECT_NE(masked.find('*'), std::string::npos) << typed << " → " << masked;
  }
}

TEST(MaskIdentifiersInTextTest, LeavesWhatIsNoIdentifier) {
  for (const char* keep : {"2026-01-05 报案", "金额 12345 元", "第一百八十八条", "12:58:09.123456",
                           "123456789012345678" /* no birth date in it */,
                           "6222021234567890127" /* fails Luhn */, "a@b", "no digits"}) {
    EXPECT_EQ(MaskIdentifiersInText(keep), keep) << keep;
  }
}

TEST(MaskCaseTextTest, MasksSummaryAndChecklistNotes) {
  v1::Case c;
  c.set_summary("手机13987654321");
  c.add_checklist()->set_note("身份证110105194912310021");
  MaskCaseText(c);
  EXPECT_EQ(c.summary(), "手机139****4321");
  EXPECT_EQ(c.checklist(0).note(), "身份证110105********0021");
}

}  // namespace
}  // namespace counsel::cases
