#include "guidance-svc/citation/citation_parser.h"

#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

const std::vector<StatuteNames> kStatutes = {
    {"psap", {"中华人民共和国治安管理处罚法", "治安管理处罚法", "治安处罚法"}},
    {"pipl", {"中华人民共和国个人信息保护法", "个人信息保护法", "个保法"}},
    {"criminal", {"中华人民共和国刑法", "刑法"}},
};

TEST(CitationParserTest, FullTitleArticleAndItem) {
  auto c = ParseCitations("依据《中华人民共和国治安管理处罚法》第四十二条第六项的规定", kStatutes, "");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].statute_id, "psap");
  EXPECT_EQ(c[0].article, 42);
  EXPECT_EQ(c[0].item, 6);
  EXPECT_EQ(c[0].start, 2);
  EXPECT_EQ(c[0].text, "《中华人民共和国治安管理处罚法》第四十二条第六项");
  EXPECT_EQ(c[0].end, c[0].start + 24);
}

TEST(CitationParserTest, ShortTitlesAliasesDigitsAndInheritance) {
  auto c = ParseCitations(
      "根据《治安管理处罚法》第42条、第四十三条，以及个保法第十条第二款和本法第五条", kStatutes, "");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].statute_id, "psap");
  EXPECT_EQ(c[0].article, 42);
  EXPECT_EQ(c[1].statute_id, "psap");  // bare: inherits
  EXPECT_EQ(c[1].article, 43);
  EXPECT_EQ(c[2].statute_id, "pipl");
  EXPECT_EQ(c[2].paragraph, 2);
  EXPECT_EQ(c[3].statute_id, "pipl");  // 本法: the last named
  EXPECT_EQ(c[3].article, 5);
  EXPECT_EQ(c[3].text, "本法第五条");
}

TEST(CitationParserTest, SuffixItemsInParenthesesAndSubitems) {
  auto c = ParseCitations("《刑法》第二百五十三条之一第一款；治安处罚法第十条第（二）项第1目", kStatutes, "");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].article, 253);
  EXPECT_EQ(c[0].article_suffix, 1);
  EXPECT_EQ(c[0].paragraph, 1);
  EXPECT_EQ(c[1].item, 2);
  EXPECT_EQ(c[1].subitem, 1);
}

TEST(CitationParserTest, UnknownTitlesAndMissingStatutes) {
  auto c = ParseCitations("《某某条例》第三条；第五条", kStatutes, "");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].unknown_title, "某某条例");
  EXPECT_EQ(c[0].statute_id, "");
  EXPECT_EQ(c[1].statute_id, "");
  auto d = ParseCitations("第五条", kStatutes, "pipl");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].statute_id, "pipl");
}

TEST(CitationParserTest, IgnoresNonCitations) {
  EXPECT_TRUE(ParseCitations("第一次报警后，第二天再去", kStatutes, "").empty());
  EXPECT_TRUE(ParseCitations("", kStatutes, "").empty());
  EXPECT_TRUE(ParseCitations("第条", kStatutes, "").empty());
  EXPECT_TRUE(ParseCitations("\xff\xfe第", kStatutes, "").empty());
}

}  // namespace
}  // namespace counsel::guidance
