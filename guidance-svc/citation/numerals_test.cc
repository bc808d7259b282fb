#include "guidance-svc/citation/numerals.h"

#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

TEST(NumeralsTest, KnownForms) {
  EXPECT_EQ(ToChineseNumeral(1), "一");
  EXPECT_EQ(ToChineseNumeral(10), "十");
  EXPECT_EQ(ToChineseNumeral(42), "四十二");
  EXPECT_EQ(ToChineseNumeral(105), "一百零五");
  EXPECT_EQ(ToChineseNumeral(110), "一百一十");
  EXPECT_EQ(ToChineseNumeral(253), "二百五十三");
  EXPECT_EQ(ToChineseNumeral(1010), "一千零一十");
  EXPECT_EQ(ToChineseNumeral(1032), "一千零三十二");
  EXPECT_EQ(ToChineseNumeral(9999), "九千九百九十九");
  EXPECT_EQ(ToChineseNumeral(0), "");
  EXPECT_EQ(ToChineseNumeral(10000), "");
}

TEST(NumeralsTest, EveryValueRoundTrips) {
  for (int n = 1; n <= kMaxNumeral; ++n) {
    const std::string text = ToChineseNumeral(n);
    ASSERT_EQ(ParseChineseNumeral(text), n) << text;
    ASSERT_EQ(ParseChineseNumeral(std::to_string(n)), n);
  }
}

TEST(NumeralsTest, EveryTeenAlsoParsesWithLeadingYi) {
  for (int n = 10; n <= 19; ++n) {
    EXPECT_EQ(ParseChineseNumeral("一" + ToChineseNumeral(n)), n);
  }
}

TEST(NumeralsTest, VariantDigits) {
  EXPECT_EQ(ParseChineseNumeral("两百"), 200);
  EXPECT_EQ(ParseChineseNumeral("两千零二"), 2002);
  EXPECT_EQ(ParseChineseNumeral("一千〇五"), 1005);
  EXPECT_EQ(ParseChineseNumeral("４２"), 42);
}

TEST(NumeralsTest, RejectsMalformedNumerals) {
  for (const char* bad : {"", "零", "十十", "百", "一二", "十百", "一百十", "两", "二两",
                          "一百零", "一千零零一", "一万", "0", "012", "10000", "四十二条",
                          "abc", "\xff", "一百五", "一千零百"}) {
    EXPECT_EQ(ParseChineseNumeral(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace counsel::guidance
