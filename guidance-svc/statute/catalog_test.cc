#include "guidance-svc/statute/catalog.h"

#include "common/errors.h"
#include "common/testing/status_matchers.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

using ::counsel::testing::StatusIs;

std::string Reason(const absl::Status& s) { return ErrorReason(s); }

StoredStatute MakeStatute() {
  StoredStatute s;
  s.statute.set_name("statutes/test-law");
  s.statute.set_title("测试法");
  for (const auto& [id, end, text] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"2013-01-01", "", "旧文本"}, {"2026-01-01", "", "新文本"}}) {
    StoredStatute::Version v;
    v.version.set_version_id(id);
    v.version.set_effective_date(id);
    v.version.set_promulgated_date(id == "2026-01-01" ? "2025-06-27" : id);
    v1::Provision a;
    a.set_eid("art_1");
    a.set_name("statutes/test-law/provisions/art_1");
    a.set_text(text);
    v.articles.push_back(a);
    s.versions.push_back(std::move(v));
  }
  return s;
}

TEST(CatalogTest, PicksTheVersionInForceOnTheDate) {
  std::vector<StoredStatute> all;
  all.push_back(MakeStatute());
  auto catalog = Catalog::Build(std::move(all));
  const absl::CivilDay today(2026, 11, 28);
  v1::GetProvisionRequest r;
  r.set_name("statutes/test-law/provisions/art_1");
  r.set_as_of("2020-01-01");
  auto old_text = catalog->GetProvision(r, today);
  ASSERT_TRUE(old_text.ok()) << old_text.status();
  EXPECT_EQ(old_text->text(), "旧文本");
  EXPECT_EQ(old_text->version().version_id(), "2013-01-01");
  EXPECT_EQ(old_text->version().end_date(), "2025-12-31");
  EXPECT_EQ(old_text->version().status(), v1::StatuteVersion::STATUS_SUPERSEDED);
  r.set_as_of("2026-01-01");
  EXPECT_EQ(catalog->GetProvision(r, today)->text(), "新文本");
  r.clear_as_of();
  EXPECT_EQ(catalog->GetProvision(r, today)->version().status(),
            v1::StatuteVersion::STATUS_IN_FORCE);
  r.set_version_id("2013-01-01");
  EXPECT_EQ(catalog->GetProvision(r, today)->text(), "旧文本");
}

TEST(CatalogTest, KeptAnswerBytesAreTheAnswerOfTheDay) {
  std::vector<StoredStatute> all;
  all.push_back(MakeStatute());
  auto catalog = Catalog::Build(std::move(all));
  v1::GetProvisionRequest r;
  r.set_name("statutes/test-law/provisions/art_1");
  r.set_version_id("2026-01-01");
  // Before and after the new version takes effect its status differs: an
  // answer kept from one day must not be served on another.
  std::string before;
  for (const absl::CivilDay today : {absl::CivilDay(2025, 12, 1), absl::CivilDay(2025, 12, 1),
                                     absl::CivilDay(2026, 11, 28), absl::CivilDay(2026, 11, 28)}) {
    auto typed = catalog->GetProvision(r, today);
    auto bytes = catalog->GetProvisionBytes(r, today);
    ASSERT_TRUE(typed.ok() && bytes.ok());
    EXPECT_EQ(**bytes, typed->SerializeAsString());
    if (today == absl::CivilDay(2025, 12, 1)) before = **bytes;
    else EXPECT_NE(**bytes, before);
  }
  // Errors are the typed path's errors.
  r.set_version_id("1999-01-01");
  EXPECT_EQ(catalog->GetProvisionBytes(r, absl::CivilDay(2026, 11, 28)).status(),
            catalog->GetProvision(r, absl::CivilDay(2026, 11, 28)).status());
}

// A catalogue of one statute, and a request for its article 1 on a day.
auto CatalogOf(StoredStatute s) {
  std::vector<StoredStatute> all;
  all.push_back(std::move(s));
  return Catalog::Build(std::move(all));
}

v1::GetProvisionRequest Article1(const std::string& as_of) {
  v1::GetProvisionRequest r;
  r.set_name("statutes/test-law/provisions/art_1");
  r.set_as_of(as_of);
  return r;
}

TEST(CatalogTest, AfterRepealIsNotInForce) {
  StoredStatute s = MakeStatute();
  s.versions.pop_back();
  s.versions.back().version.set_end_date("2020-12-31");
  s.versions.back().version.set_repealed(true);
  auto catalog = CatalogOf(std::move(s));
  auto after = catalog->GetProvision(Article1("2022-01-01"), absl::CivilDay(2025, 7, 1));
  EXPECT_THAT(after, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Reason(after.status()), kReasonNotInForce);
}

TEST(CatalogTest, DistinguishesNotInForceFromMissing) {
  std::vector<StoredStatute> all;
  all.push_back(MakeStatute());
  auto catalog = Catalog::Build(std::move(all));
  const absl::CivilDay today(2025, 7, 1);
  v1::GetProvisionRequest r;
  r.set_name("statutes/test-law/provisions/art_1");
  r.set_as_of("2000-01-01");
  // Before the first text held, the corpus cannot tell: not NOT_IN_FORCE.
  auto before = catalog->GetProvision(r, today);
  EXPECT_THAT(before, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Reason(before.status()), kReasonNotInCorpus);

  r.set_as_of("2026-02-01");  // in force then; read with no prospective flag
  EXPECT_EQ(catalog->GetProvision(r, today)->text(), "新文本");
  r.set_name("statutes/test-law/provisions/art_9");
  EXPECT_EQ(Reason(catalog->GetProvision(r, today).status()), kReasonNoSuchProvision);
  r.set_name("statutes/other/provisions/art_1");
  EXPECT_EQ(Reason(catalog->GetProvision(r, today).status()), kReasonNotInCorpus);
}

TEST(CatalogTest, ProspectiveShowsPromulgatedTextNotYetInForce) {
  StoredStatute s = MakeStatute();
  s.versions.erase(s.versions.begin());  // only the 2026 text
  auto catalog = CatalogOf(std::move(s));
  v1::GetProvisionRequest r = Article1("2025-07-01");
  EXPECT_THAT(catalog->GetProvision(r, absl::CivilDay(2025, 7, 1)),
              StatusIs(absl::StatusCode::kNotFound));
  r.set_prospective(true);
  auto p = catalog->GetProvision(r, absl::CivilDay(2025, 7, 1));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->version().status(), v1::StatuteVersion::STATUS_NOT_YET_IN_FORCE);
}

TEST(CatalogTest, RejectsBadNamesDatesAndPageArguments) {
  auto catalog = Catalog::Build({});
  const absl::CivilDay today(2026, 1, 1);
  for (const char* name : {"", "statutes/", "statutes/x", "statutes/X/provisions/art_1",
                           "foo/x/provisions/art_1", "statutes/x/provisions/a/b"}) {
    v1::GetProvisionRequest r;
    r.set_name(name);
    EXPECT_THAT(catalog->GetProvision(r, today), StatusIs(absl::StatusCode::kInvalidArgument))
        << name;
  }
  std::vector<StoredStatute> all;
  all.push_back(MakeStatute());
  catalog = Catalog::Build(std::move(all));
  v1::GetProvisionRequest r;
  r.set_name("statutes/test-law/provisions/art_1");
  r.set_as_of("2023-02-30");
  EXPECT_THAT(catalog->GetProvision(r, today),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("as_of")));
  v1::ListStatutesRequest list;
  list.set_page_size(-1);
  EXPECT_THAT(catalog->ListStatutes(list, today),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("page_size")));
  list.set_page_size(0);
  list.set_page_token("garbage");
  EXPECT_THAT(catalog->ListStatutes(list, today),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("page_token")));
}

}  // namespace
}  // namespace counsel::guidance
