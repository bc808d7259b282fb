// guidance-svc's stores where replicas share PostgreSQL: an import through
// one replica reaches the others by notification (catalogue and search),
// concurrent writes of one record from two replicas resolve as on one
// process, and a SQLite guidance file moves over whole. Skipped unless the
// test command's server is up (COUNSEL_PG_ENV).
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/postgres.h"
#include "common/testing/postgres_test_db.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "guidance-svc/statute/statute_file.h"
#include "guidance-svc/store/advice_store.h"
#include "guidance-svc/store/schema.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {
namespace {

constexpr char kVersion[] = "public-security-administration-punishments@2013-01-01";

ParsedStatuteVersion Parsed() {
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) +
                   "/statutes/public-security-administration-punishments/2013-01-01.md");
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = ParseStatuteFile(ss.str(), "2013-01-01.md");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

class PostgresGuidanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::PostgresTestDb::Available()) GTEST_SKIP() << "no PostgreSQL server in this run";
    auto db = testing::PostgresTestDb::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    pg_ = std::move(*db);
  }

  std::unique_ptr<StatuteStore> Statutes() {
    auto s = OpenStatuteStore(pg_->uri());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<AdviceStore> Advice() {
    auto s = OpenAdviceStore(pg_->uri());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A connection of the test's own, to hold locks the stores must wait for.
  std::unique_ptr<pg::Database> Observer() {
    auto db = pg::Database::Open(pg_->uri(), kGuidanceSchema);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // Waits until `n` sessions of this database wait for a lock: both writers
  // have reached the point where they contend, so they overlap for sure.
  static void AwaitLockWaiters(pg::Database& observer, int n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      auto q = observer.Prepare(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
          "AND wait_event_type = 'Lock'");
      ASSERT_TRUE(q.ok()) << q.status();
      auto row = q->Step();
      ASSERT_TRUE(row.ok()) << row.status();
      if (*row && q->ColumnInt64(0) >= n) return;
      absl::SleepFor(absl::Milliseconds(5));
    }
    FAIL() << "the writers never both waited";
  }

  std::unique_ptr<testing::PostgresTestDb> pg_;
};

TEST_F(PostgresGuidanceTest, AnImportOnOneReplicaWakesTheOtherWhichThenFindsIt) {
  auto a = Statutes();
  auto b = Statutes();
  ASSERT_TRUE(a && b);
  ASSERT_OK_AND_ASSIGN(std::vector<StoredStatute> before, b->LoadAll());
  EXPECT_TRUE(before.empty());
  ASSERT_OK_AND_ASSIGN(auto none, b->Search("偷窥、偷拍", {kVersion}, 0, 10));
  EXPECT_TRUE(none.empty());
  // What a replica does when woken: reload. The listener is listening when
  // WatchImports returns, so it wakes for the import's notification (and
  // after a lost connection); the reload must find the import.
  absl::Notification found;
  std::atomic<bool> done{false};
  ASSERT_OK_AND_ASSIGN(auto watch, b->WatchImports([&] {
    auto all = b->LoadAll();
    if (all.ok() && all->size() == 1 && !done.exchange(true)) found.Notify();
  }));
  ASSERT_NE(watch, nullptr);
  ASSERT_OK_AND_ASSIGN(ImportResult imported, a->ImportVersion(Parsed()));
  EXPECT_TRUE(imported.created);
  ASSERT_TRUE(found.WaitForNotificationWithTimeout(absl::Seconds(30)));
  watch.reset();
  // Search answers from what that reload read.
  ASSERT_OK_AND_ASSIGN(auto hits, b->Search("偷窥、偷拍", {kVersion}, 0, 10));
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].eid, "art_42");
  EXPECT_NE(hits[0].snippet.find("【偷窥、偷拍】"), std::string::npos) << hits[0].snippet;
}

TEST_F(PostgresGuidanceTest, SearchRanksAndCutsSnippetsAsTheSqliteFileDoes) {
  char tmpl[] = "/tmp/counsel-pg-guidance-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto pg = Statutes();
    auto file = OpenStatuteStore(dir + "/guidance.db");
    ASSERT_TRUE(pg && file.ok());
    ASSERT_THAT(pg->ImportVersion(Parsed()).status(), testing::IsOk());
    ASSERT_THAT((*file)->ImportVersion(Parsed()).status(), testing::IsOk());
    ASSERT_THAT(pg->LoadAll().status(), testing::IsOk());
    for (const char* q : {"偷窥、偷拍", "拘留", "\"", "处五日以下拘留"}) {
      ASSERT_OK_AND_ASSIGN(auto on_pg, pg->Search(q, {kVersion}, 0, 20));
      ASSERT_OK_AND_ASSIGN(auto on_file, (*file)->Search(q, {kVersion}, 0, 20));
      ASSERT_EQ(on_pg.size(), on_file.size()) << q;
      for (size_t i = 0; i < on_pg.size(); ++i) {
        EXPECT_EQ(on_pg[i].eid, on_file[i].eid) << q;
        EXPECT_EQ(on_pg[i].snippet, on_file[i].snippet) << q;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_F(PostgresGuidanceTest, TheSameVersionImportedByTwoReplicasAtOnceIsStoredOnce) {
  auto a = Statutes();
  auto b = Statutes();
  ASSERT_TRUE(a && b);
  const ParsedStatuteVersion parsed = Parsed();
  // The tables held by a third session, so both imports have read that the
  // version is missing (or, under the scope lock, are waiting to) before
  // either can write it.
  auto holder = Observer();
  ASSERT_TRUE(holder);
  ASSERT_THAT(a->LoadAll().status(), testing::IsOk());  // the schema exists
  ASSERT_THAT(holder->Exec("BEGIN; LOCK TABLE statutes, statute_versions IN EXCLUSIVE MODE"),
              testing::IsOk());
  absl::StatusOr<ImportResult> ra, rb;
  std::thread ta([&] { ra = a->ImportVersion(parsed); });
  std::thread tb([&] { rb = b->ImportVersion(parsed); });
  AwaitLockWaiters(*holder, 2);
  ASSERT_THAT(holder->Exec("COMMIT"), testing::IsOk());
  ta.join();
  tb.join();
  ASSERT_THAT(ra.status(), testing::IsOk());
  ASSERT_THAT(rb.status(), testing::IsOk());
  EXPECT_EQ(ra->created + rb->created, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<StoredStatute> all, a->LoadAll());
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].versions.size(), 1u);
  EXPECT_EQ(all[0].versions[0].articles.size(), 119u);
}

TEST_F(PostgresGuidanceTest, OfTwoReplicasPublishingOneDraftOneWinsTheOtherIsAborted) {
  auto a = Advice();
  auto b = Advice();
  ASSERT_TRUE(a && b);
  v1::Advice draft;
  draft.set_title("个人信息泄露后的处理");
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  ASSERT_OK_AND_ASSIGN(AdviceRecord created, a->Create("leak", draft, now));
  EXPECT_EQ(b->Create("leak", draft, now).status().code(), absl::StatusCode::kAlreadyExists);
  auto revision = [&](const std::string& id) {
    v1::Advice r = draft;
    r.set_revision_id(id);
    r.mutable_revision_create_time()->set_seconds(1800000000);
    return r;
  };
  // The article's row held by a third session: both publishes start
  // before either can take it.
  auto holder = Observer();
  ASSERT_TRUE(holder);
  ASSERT_THAT(holder->Exec("BEGIN; SELECT 1 FROM advice WHERE advice_id = 'leak' FOR UPDATE"),
              testing::IsOk());
  absl::StatusOr<v1::Advice> pa, pb;
  std::thread ta([&] { pa = a->Publish("leak", revision("r1a"), created.draft_revision, now); });
  std::thread tb([&] { pb = b->Publish("leak", revision("r1b"), created.draft_revision, now); });
  AwaitLockWaiters(*holder, 2);
  ASSERT_THAT(holder->Exec("COMMIT"), testing::IsOk());
  ta.join();
  tb.join();
  EXPECT_EQ(pa.ok() + pb.ok(), 1) << pa.status() << " / " << pb.status();
  const absl::Status& lost = pa.ok() ? pb.status() : pa.status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kAborted) << lost;
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Advice> revisions, b->Revisions("leak"));
  ASSERT_EQ(revisions.size(), 1u);
  EXPECT_EQ(revisions[0].revision_number(), 1);
  // A stale etag is refused by every writer, on either replica.
  EXPECT_EQ(b->UpdateDraft("leak", draft, created.draft_revision, now).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(a->MarkDeleted("leak", created.draft_revision, now).code(),
            absl::StatusCode::kAborted);
}

TEST_F(PostgresGuidanceTest, PublishedRevisionsCannotBeChangedOrDeletedInTheDatabase) {
  auto a = Advice();
  ASSERT_TRUE(a);
  v1::Advice draft;
  draft.set_title("t");
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  ASSERT_OK_AND_ASSIGN(AdviceRecord created, a->Create("x", draft, now));
  v1::Advice r = draft;
  r.set_revision_id("r1");
  ASSERT_THAT(a->Publish("x", r, created.draft_revision, now).status(), testing::IsOk());
  ASSERT_OK_AND_ASSIGN(auto db, pg::Database::Open(pg_->uri(), kGuidanceSchema));
  EXPECT_FALSE(db->Exec("UPDATE advice_revisions SET revision_number = 7").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM advice_revisions").ok());
  EXPECT_FALSE(db->Exec("TRUNCATE advice_revisions CASCADE").ok());
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Advice> kept, a->Revisions("x"));
  EXPECT_EQ(kept.size(), 1u);
}

TEST_F(PostgresGuidanceTest, AGuidanceFileMovesWholeAndOnlyIntoAnEmptyDatabase) {
  char tmpl[] = "/tmp/counsel-pg-guidance-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string file = dir + "/guidance.db";
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  std::vector<StoredStatute> source;
  std::vector<v1::Advice> source_revisions;
  {
    ASSERT_OK_AND_ASSIGN(auto statutes, OpenStatuteStore(file));
    ASSERT_OK_AND_ASSIGN(auto advice, OpenAdviceStore(file));
    ASSERT_THAT(statutes->ImportVersion(Parsed()).status(), testing::IsOk());
    v1::Advice draft;
    draft.set_title("草稿");
    ASSERT_OK_AND_ASSIGN(AdviceRecord created, advice->Create("leak", draft, now));
    v1::Advice r = draft;
    r.set_revision_id("r1");
    ASSERT_OK_AND_ASSIGN(v1::Advice published,
                         advice->Publish("leak", r, created.draft_revision, now));
    ASSERT_OK_AND_ASSIGN(source, statutes->LoadAll());
    ASSERT_OK_AND_ASSIGN(source_revisions, advice->Revisions("leak"));
  }
  EXPECT_EQ(MoveGuidanceToPostgres(pg_->uri(), pg_->uri()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MoveGuidanceToPostgres(dir + "/none.db", pg_->uri()).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto moved, MoveGuidanceToPostgres(file, pg_->uri()));
  ASSERT_EQ(moved.size(), 5u);
  EXPECT_EQ(moved[2], std::make_pair(std::string("provisions"), int64_t{119}));
  EXPECT_EQ(moved[4], std::make_pair(std::string("advice_revisions"), int64_t{1}));
  auto again = MoveGuidanceToPostgres(file, pg_->uri());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("not empty"), std::string::npos);

  auto statutes = Statutes();
  auto advice = Advice();
  ASSERT_TRUE(statutes && advice);
  ASSERT_OK_AND_ASSIGN(std::vector<StoredStatute> there, statutes->LoadAll());
  ASSERT_EQ(there.size(), source.size());
  EXPECT_EQ(there[0].statute.SerializeAsString(), source[0].statute.SerializeAsString());
  ASSERT_EQ(there[0].versions.size(), 1u);
  EXPECT_EQ(there[0].versions[0].version.SerializeAsString(),
            source[0].versions[0].version.SerializeAsString());
  ASSERT_EQ(there[0].versions[0].articles.size(), source[0].versions[0].articles.size());
  for (size_t i = 0; i < there[0].versions[0].articles.size(); ++i) {
    EXPECT_EQ(there[0].versions[0].articles[i].SerializeAsString(),
              source[0].versions[0].articles[i].SerializeAsString());
  }
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Advice> revisions, advice->Revisions("leak"));
  ASSERT_EQ(revisions.size(), 1u);
  EXPECT_EQ(revisions[0].SerializeAsString(), source_revisions[0].SerializeAsString());
  // And it goes on there: the next revision is number 2.
  ASSERT_OK_AND_ASSIGN(std::optional<AdviceRecord> record, advice->Get("leak"));
  ASSERT_TRUE(record.has_value());
  v1::Advice r2 = record->draft;
  r2.set_revision_id("r2");
  ASSERT_OK_AND_ASSIGN(v1::Advice second,
                       advice->Publish("leak", r2, record->draft_revision, now));
  EXPECT_EQ(second.revision_number(), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace counsel::guidance
