// Upgrading a guidance database made by an earlier schema: statutes stored
// before the full-text index and advice tables existed are found by search
// after the upgrade, and nothing is lost.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/sqlite.h"
#include "gtest/gtest.h"
#include "guidance-svc/statute/statute_file.h"
#include "guidance-svc/store/advice_store.h"
#include "guidance-svc/store/schema.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {
namespace {

TEST(MigrationTest, FirstSchemaUpgradesAndRebuildsTheSearchIndex) {
  char tmpl[] = "/tmp/counsel-migration-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/guidance.db";
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) +
                   "/statutes/public-security-administration-punishments/2013-01-01.md");
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = ParseStatuteFile(ss.str(), "x.md");
  ASSERT_TRUE(parsed.ok());
  {
    // The database as the first release left it: schema version 1 only.
    auto db = sqlite::Database::Open(path, {});
    ASSERT_TRUE(db.ok());
    const std::vector<sqlite::Migration> first(GuidanceMigrations().begin(),
                                         GuidanceMigrations().begin() + 1);
    ASSERT_TRUE((*db)->Migrate(first).ok());
    ASSERT_EQ(*(*db)->UserVersion(), 1);
    ASSERT_TRUE((*db)->Exec("INSERT INTO statutes VALUES ('public-security-administration-punishments', "
                            "'中华人民共和国治安管理处罚法', '治安管理处罚法', '', '')").ok());
    auto v = (*db)->Prepare("INSERT INTO statute_versions (statute_id, version_id, version, "
                            "content_sha256) VALUES ('public-security-administration-punishments', "
                            "'2013-01-01', ?1, 'old')");
    v->BindBlob(1, parsed->version.SerializeAsString());
    ASSERT_TRUE(v->Run().ok());
    int ord = 0;
    for (const auto& a : parsed->articles) {
      auto p = (*db)->Prepare("INSERT INTO provisions VALUES ('public-security-administration-punishments', "
                              "'2013-01-01', ?1, ?2, ?3, ?4)");
      p->Bind(1, ord++).Bind(2, a.eid()).Bind(3, "2013-01-01/" + a.eid())
          .BindBlob(4, a.SerializeAsString());
      ASSERT_TRUE(p->Run().ok());
    }
  }
  // Today's binary opens it: migrations run forward, the index is rebuilt.
  auto store = OpenStatuteStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto advice = OpenAdviceStore(path);
  ASSERT_TRUE(advice.ok()) << advice.status();
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].versions[0].articles.size(), 119u);
  auto hits = (*store)->Search("偷窥、偷拍", {"public-security-administration-punishments@2013-01-01"},
                               0, 10);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].eid, "art_42");
  auto db = sqlite::Database::Open(path, {});
  EXPECT_EQ(*(*db)->UserVersion(), static_cast<int>(GuidanceMigrations().size()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace counsel::guidance
