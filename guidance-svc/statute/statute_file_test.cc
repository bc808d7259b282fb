#include "guidance-svc/statute/statute_file.h"

#include <fstream>
#include <sstream>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

using ::counsel::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kHeader[] =
    "format: counsel-statute/1\n"
    "statute: test-law\n"
    "title: 中华人民共和国测试法\n"
    "short_title: 测试法\n"
    "version_id: 2020-01-01\n"
    "effective: 2020-01-01\n"
    "source: test\n"
    "\n";

std::string ReadContent(const std::string& relative) {
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(StatuteFileTest, ParsesChaptersArticlesParagraphsAndItems) {
  const std::string body =
      "# 标题\n\n说明\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n第一条 总则内容。\n\n"
      "### 第一节 细则\n\n第二条 有下列行为之一的:\n\n（一）甲；\n\n（二）乙。\n\n第二款内容。\n\n"
      "第二条之一 补充条文。\n";
  auto parsed = ParseStatuteFile(std::string(kHeader) + body, "t.md");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->articles.size(), 3u);
  const auto& a2 = parsed->articles[1];
  EXPECT_EQ(a2.eid(), "art_2");
  EXPECT_EQ(a2.label(), "第二条");
  EXPECT_EQ(a2.chapter(), "第一章 总则");
  EXPECT_EQ(a2.section(), "第一节 细则");
  ASSERT_EQ(a2.children_size(), 2);
  EXPECT_EQ(a2.children(0).eid(), "art_2__para_1");
  ASSERT_EQ(a2.children(0).children_size(), 2);
  EXPECT_EQ(a2.children(0).children(1).eid(), "art_2__para_1__item_2");
  EXPECT_EQ(a2.children(0).children(1).label(), "第（二）项");
  EXPECT_EQ(a2.children(0).children(1).text(), "（二）乙。");
  EXPECT_EQ(a2.children(1).text(), "第二款内容。");
  EXPECT_EQ(a2.name(), "statutes/test-law/provisions/art_2");
  EXPECT_EQ(parsed->articles[2].eid(), "art_2-1");
  EXPECT_EQ(parsed->articles[2].label(), "第二条之一");
  EXPECT_EQ(parsed->articles[0].chapter(), "第一章 总则");
  EXPECT_EQ(parsed->articles[0].section(), "");
}

TEST(StatuteFileTest, ErrorsNameFileAndLine) {
  auto bad_key = ParseStatuteFile("format: counsel-statute/1\ntitel: x\n\n第一条 x\n", "a.md");
  EXPECT_THAT(bad_key, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a.md:2: unknown header key 'titel'")));
  auto bad_date = ParseStatuteFile(
      "format: counsel-statute/1\nstatute: x\ntitle: t\nversion_id: 2023-02-30\n\n第一条 x\n", "b.md");
  EXPECT_THAT(bad_date, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b.md:4:")));
  auto no_articles = ParseStatuteFile(std::string(kHeader) + "只有说明。\n", "c.md");
  EXPECT_THAT(no_articles, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no article")));
  auto duplicate = ParseStatuteFile(std::string(kHeader) + "第一条 甲\n第一条 乙\n", "d.md");
  EXPECT_THAT(duplicate, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("d.md:10:")));
}

TEST(StatuteFileTest, RejectsTextChangedAfterItsSourceWasRecorded) {
  std::string content = ReadContent("statutes/public-security-administration-punishments/2013-01-01.md");
  ASSERT_FALSE(content.empty());
  ASSERT_TRUE(ParseStatuteFile(content, "x.md").ok());
  const size_t at = content.find("五百元以下罚款", content.find("<!-- INFO END -->"));
  ASSERT_NE(at, std::string::npos);
  content.replace(at, 6, "一");  // 五百 → 一
  EXPECT_THAT(ParseStatuteFile(content, "x.md"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body_sha256")));
}

TEST(StatuteFileTest, ParsesThe2012PublicSecurityLaw) {
  auto parsed = ParseStatuteFile(
      ReadContent("statutes/public-security-administration-punishments/2013-01-01.md"), "x.md");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->articles.size(), 119u);
  for (size_t i = 0; i < parsed->articles.size(); ++i) {
    EXPECT_EQ(parsed->articles[i].eid(), "art_" + std::to_string(i + 1));
  }
  const auto& a42 = parsed->articles[41];
  EXPECT_EQ(a42.label(), "第四十二条");
  EXPECT_EQ(a42.section(), "第三节 侵犯人身权利、财产权利的行为和处罚");
  ASSERT_EQ(a42.children_size(), 1);
  ASSERT_EQ(a42.children(0).children_size(), 6);
  EXPECT_EQ(a42.children(0).children(5).text(), "（六）偷窥、偷拍、窃听、散布他人隐私的。");
  EXPECT_EQ(parsed->version.version_id(), "2013-01-01");
  EXPECT_EQ(parsed->version.end_date(), "2025-12-31");
  EXPECT_FALSE(parsed->version.source().empty());
}

}  // namespace
}  // namespace counsel::guidance
