#include "common/locale.h"

#include "gtest/gtest.h"

namespace counsel {
namespace {

const std::vector<std::string> kAvailable = {"zh-CN", "en"};

TEST(MatchLocaleTest, LooksUpByTruncation) {
  EXPECT_EQ(MatchLocale("en", kAvailable), "en");
  EXPECT_EQ(MatchLocale("en-US", kAvailable), "en");
  EXPECT_EQ(MatchLocale("EN-gb", kAvailable), "en");
  EXPECT_EQ(MatchLocale("de", kAvailable), "");
  EXPECT_EQ(MatchLocale("", kAvailable), "");
  EXPECT_EQ(MatchLocale("*", kAvailable), "");
}

TEST(MatchLocaleTest, SimplifiedChineseRangesAreZhCn) {
  for (const char* tag : {"zh", "zh-Hans", "zh-CN", "zh-cn", "zh-Hans-CN", "zh-SG"}) {
    EXPECT_EQ(MatchLocale(tag, kAvailable), "zh-CN") << tag;
  }
  for (const char* tag : {"zh-Hant", "zh-TW", "zh-HK"}) {
    EXPECT_EQ(MatchLocale(tag, kAvailable), "") << tag;
  }
}

TEST(MatchLocaleTest, AcceptLanguageListsByQuality) {
  EXPECT_EQ(MatchLocale("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5", kAvailable), "en");
  EXPECT_EQ(MatchLocale("en;q=0.5, zh;q=0.9", kAvailable), "zh-CN");
  EXPECT_EQ(MatchLocale("en;q=0, zh-TW", kAvailable), "");
  EXPECT_EQ(MatchLocale("de, en", kAvailable), "en");
}

}  // namespace
}  // namespace counsel
