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

TEST(StatuteFileTest, PartsContinueOnlyWhereTheMapListsThem) {
  const std::string body = "第一条 有下列行为之一的：\n（一）甲；\n（二）乙。\n第二款。\n第二条 新条。\n";
  std::string header(kHeader);
  header.insert(header.size() - 1,
                "wid_map: art_1=2019-01-01/art_7, art_1__para_1__item_2=2019-01-01/art_7__para_1__item_1\n"
                "wid_map: art_1__para_2=2019-01-01/art_7__para_2\n"
                "also_continues: art_2=2019-01-01/art_8\n"
                "wid_parts: listed\n"
                "kind: judicial-interpretation\n"
                "date_confidence: unconfirmed\n"
                "date_source: metadata only\n"
                "original: true\n");
  auto parsed = ParseStatuteFile(header + body, "w.md");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->statute.kind(), v1::Statute::KIND_JUDICIAL_INTERPRETATION);
  EXPECT_EQ(parsed->version.date_confidence(), v1::StatuteVersion::DATE_CONFIDENCE_UNCONFIRMED);
  EXPECT_EQ(parsed->version.date_source(), "metadata only");
  EXPECT_TRUE(parsed->version.original_text());
  const std::vector<v1::Provision> a = ArticlesWithWids(*parsed);
  EXPECT_EQ(a[0].wid(), "2019-01-01/art_7");
  EXPECT_EQ(a[0].children(0).wid(), "2020-01-01/art_1__para_1") << "not listed: new";
  EXPECT_EQ(a[0].children(0).children(0).wid(), "2020-01-01/art_1__para_1__item_1");
  EXPECT_EQ(a[0].children(0).children(1).wid(), "2019-01-01/art_7__para_1__item_1");
  EXPECT_EQ(a[0].children(1).wid(), "2019-01-01/art_7__para_2");
  EXPECT_EQ(a[1].wid(), "2020-01-01/art_2");
  ASSERT_EQ(a[1].also_continues_size(), 1);
  EXPECT_EQ(a[1].also_continues(0), "2019-01-01/art_8");

  // Without `wid_parts: listed`, parts follow their article by position
  // (files written before the reviewed maps).
  std::string by_position(kHeader);
  by_position.insert(by_position.size() - 1, "wid_map: art_1=2019-01-01/art_7\n");
  parsed = ParseStatuteFile(by_position + body, "p.md");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(ArticlesWithWids(*parsed)[0].children(0).children(1).wid(),
            "2019-01-01/art_7__para_1__item_2");
}

TEST(StatuteFileTest, MapEntriesMustNameThisTextAndValuesAreChecked) {
  const std::string body = "第一条 甲。\n";
  auto with = [&](const std::string& line) {
    std::string header(kHeader);
    header.insert(header.size() - 1, line + "\n");
    return ParseStatuteFile(header + body, "m.md");
  };
  EXPECT_THAT(with("wid_map: art_9=2019-01-01/art_9"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("art_9, which this text")));
  EXPECT_THAT(with("also_continues: art_1__para_3=2019-01-01/art_2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("also_continues names")));
  EXPECT_THAT(with("wid_map: art_1=nowid"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("eid=wid")));
  EXPECT_THAT(with("kind: decree"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("m.md:8: kind must be")));
  EXPECT_THAT(with("date_confidence: likely"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("date_confidence must be")));
  EXPECT_THAT(with("wid_parts: some"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wid_parts must be")));
  EXPECT_THAT(with("original: yes"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true or false")));
}

TEST(StatuteFileTest, InterpretationHeadingsGroupArticlesAndThePreambleIsNoProvision) {
  const std::string body =
      "# 最高人民法院关于测试的若干规定\n\n<!-- INFO END -->\n\n为正确审理案件，制定本规定。\n\n"
      "## 一、当事人举证\n\n第一条 甲。\n\n## 二、证据的审核认定\n\n第二条 乙。\n";
  auto parsed = ParseStatuteFile(std::string(kHeader) + body, "i.md");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->articles.size(), 2u);
  EXPECT_EQ(parsed->articles[0].text(), "甲。");
  EXPECT_EQ(parsed->articles[0].chapter(), "一、当事人举证");
  EXPECT_EQ(parsed->articles[1].chapter(), "二、证据的审核认定");
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
