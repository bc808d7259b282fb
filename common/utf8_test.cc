#include "common/utf8.h"

#include "gtest/gtest.h"

namespace counsel::utf8 {
namespace {

TEST(Utf8Test, DecodesEveryLength) {
  const std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a é 中 😀
  size_t i = 0;
  char32_t cp;
  std::u32string got;
  while (i < s.size()) {
    ASSERT_TRUE(Next(s, &i, &cp));
    got.push_back(cp);
  }
  EXPECT_EQ(got, U"a\u00e9\u4e2d\U0001F600");
  EXPECT_EQ(Length(s), 4u);
  EXPECT_TRUE(IsValid(s));
}

TEST(Utf8Test, EachInvalidByteIsOneReplacement) {
  // truncated, overlong, surrogate, beyond U+10FFFF, stray continuation
  for (const std::string bad : {"\xE4\xB8", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80"}) {
    EXPECT_FALSE(IsValid(bad)) << bad.size();
    std::string want;
    for (size_t k = 0; k < bad.size(); ++k) want += "\xEF\xBF\xBD";
    EXPECT_EQ(Sanitize(bad), want);
  }
  EXPECT_EQ(Sanitize("ok\xFFok"), "ok\xEF\xBF\xBDok");
}

TEST(Utf8Test, AppendRoundTrips) {
  for (char32_t cp : {U'\x41', U'\u00e9', U'\u4e2d', U'\U0001F600'}) {
    std::string s;
    Append(cp, &s);
    size_t i = 0;
    char32_t back;
    ASSERT_TRUE(Next(s, &i, &back));
    EXPECT_EQ(back, cp);
    EXPECT_EQ(i, s.size());
  }
}

TEST(Utf8Test, ForbiddenControls) {
  EXPECT_TRUE(IsForbiddenControl(0, false));
  EXPECT_TRUE(IsForbiddenControl(0x1B, true));   // ESC: ANSI escapes
  EXPECT_TRUE(IsForbiddenControl(0x85, true));   // C1
  EXPECT_TRUE(IsForbiddenControl(0x202E, true)); // RIGHT-TO-LEFT OVERRIDE
  EXPECT_TRUE(IsForbiddenControl(0x2066, true)); // LEFT-TO-RIGHT ISOLATE
  EXPECT_TRUE(IsForbiddenControl('\n', false));
  EXPECT_FALSE(IsForbiddenControl('\n', true));
  EXPECT_FALSE(IsForbiddenControl('\t', true));
  EXPECT_FALSE(IsForbiddenControl(U'\u4e2d', false));
}

}  // namespace
}  // namespace counsel::utf8
