#include "common/sqlite.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace counsel::sqlite {
namespace {

using ::counsel::testing::IsOk;
using ::counsel::testing::StatusIs;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-sqlite-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/t.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_, path_;
};

TEST_F(SqliteTest, OpensInWalWithFullSyncAndForeignKeys) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  for (const auto& [pragma, want] : std::vector<std::pair<std::string, std::string>>{
           {"PRAGMA journal_mode", "wal"}, {"PRAGMA synchronous", "2"},
           {"PRAGMA foreign_keys", "1"}}) {
    ASSERT_OK_AND_ASSIGN(Statement s, db->Prepare(pragma));
    ASSERT_OK_AND_ASSIGN(bool row, s.Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(s.ColumnText(0), want) << pragma;
  }
}

// A savepoint's statement journal holds the original of every page changed
// under it. Up to kStatementJournalInMemory it stays in memory: no temporary
// file is made for it (past SQLite's default 64 KiB one was, per batch of
// the case writer); a larger one still spills, and the spill succeeds (past
// 128 KiB it failed as "disk full" on SQLite 3.40).
TEST_F(SqliteTest, StatementJournalsStayInMemoryUpToTheirLimit) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  const std::string tmp = dir_ + "/tmp";
  ASSERT_EQ(mkdir(tmp.c_str(), 0700), 0);
  // Process-wide: put back on every way out.
  ASSERT_THAT(db->Exec("PRAGMA temp_store_directory = '" + tmp + "'"), IsOk());
  absl::Cleanup restore = [&db] { (void)db->Exec("PRAGMA temp_store_directory = ''"); };
  const int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watch, 0);
  absl::Cleanup unwatch = [watch] { close(watch); };
  ASSERT_GE(inotify_add_watch(watch, tmp.c_str(), IN_CREATE), 0);
  auto files_made = [watch] {
    int n = 0;
    alignas(inotify_event) char buf[4096];
    for (ssize_t r; (r = read(watch, buf, sizeof buf)) > 0;) {
      for (char* p = buf; p < buf + r;
           p += sizeof(inotify_event) + reinterpret_cast<inotify_event*>(p)->len) {
        ++n;
      }
    }
    return n;
  };
  // About 6 MiB of rows of 1,000 bytes, four to a page.
  ASSERT_THAT(db->Exec(
      "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);"
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000) "
      "INSERT INTO t SELECT x, zeroblob(1000) FROM c"), IsOk());
  (void)files_made();
  auto change_under_savepoint = [&](int rows) {
    return db->Exec(absl::StrCat("BEGIN IMMEDIATE; SAVEPOINT item; "
                                 "UPDATE t SET v = randomblob(1000) WHERE k <= ", rows,
                                 "; RELEASE item; COMMIT"));
  };
  ASSERT_THAT(change_under_savepoint(100), IsOk());  // 25 pages: about 100 KiB journalled
  EXPECT_EQ(files_made(), 0) << "a statement journal under its limit went to a file";
  ASSERT_THAT(change_under_savepoint(6000), IsOk());  // about 6 MiB
  EXPECT_GE(files_made(), 1) << "the watch saw no temporary file at all";
}

TEST_F(SqliteTest, MigratesForwardOnceAndRefusesDowngrade) {
  const std::vector<Migration> v1 = {"CREATE TABLE t (x TEXT)"};
  const std::vector<Migration> v2 = {"CREATE TABLE t (x TEXT)",
                                       "ALTER TABLE t ADD COLUMN y INTEGER"};
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
    ASSERT_THAT(db->Migrate(v1), IsOk());
    ASSERT_THAT(db->Migrate(v1), IsOk());  // idempotent
    EXPECT_EQ(*db->UserVersion(), 1);
    ASSERT_THAT(db->Migrate(v2), IsOk());
    EXPECT_EQ(*db->UserVersion(), 2);
    ASSERT_THAT(db->Exec("INSERT INTO t (x, y) VALUES ('a', 1)"), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  EXPECT_THAT(db->Migrate(v1), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SqliteTest, FailedMigrationLeavesVersionUnchanged) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  EXPECT_FALSE(db->Migrate({"CREATE TABLE t (x)", "THIS IS NOT SQL"}).ok());
  EXPECT_EQ(*db->UserVersion(), 1);
}

TEST_F(SqliteTest, BindsAndReadsBackValuesThroughCachedStatements) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  ASSERT_THAT(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)"), IsOk());
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(Statement ins, db->Prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4)"));
    ins.Bind(1, i).Bind(2, "第四十二条").BindBlob(3, std::string("\0x", 2)).BindNull(4);
    ASSERT_THAT(ins.Run(), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(Statement q, db->Prepare("SELECT i, s, b, n FROM t ORDER BY i"));
  int rows = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool row, q.Step());
    if (!row) break;
    EXPECT_EQ(q.ColumnInt64(0), rows);
    EXPECT_EQ(q.ColumnText(1), "第四十二条");
    EXPECT_EQ(q.ColumnBlob(2), absl::string_view("\0x", 2));
    EXPECT_TRUE(q.ColumnIsNull(3));
    ++rows;
  }
  EXPECT_EQ(rows, 3);
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  ASSERT_THAT(db->Exec("CREATE TABLE t (x INTEGER)"), IsOk());
  {
    ASSERT_OK_AND_ASSIGN(Transaction tx, Transaction::Begin(*db));
    ASSERT_THAT(db->Exec("INSERT INTO t VALUES (1)"), IsOk());
  }
  {
    ASSERT_OK_AND_ASSIGN(Transaction tx, Transaction::Begin(*db));
    ASSERT_THAT(db->Exec("INSERT INTO t VALUES (2)"), IsOk());
    ASSERT_THAT(tx.Commit(), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(Statement q, db->Prepare("SELECT group_concat(x) FROM t"));
  ASSERT_TRUE(*q.Step());
  EXPECT_EQ(q.ColumnText(0), "2");
}

TEST_F(SqliteTest, ErrorsBecomeStatuses) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path_, {}));
  EXPECT_FALSE(db->Prepare("SELEC nonsense").ok());
  ASSERT_THAT(db->Exec("CREATE TABLE t (x INTEGER PRIMARY KEY)"), IsOk());
  ASSERT_THAT(db->Exec("INSERT INTO t VALUES (1)"), IsOk());
  ASSERT_OK_AND_ASSIGN(Statement dup, db->Prepare("INSERT INTO t VALUES (1)"));
  EXPECT_THAT(dup.Run(), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_FALSE(Database::Open(dir_ + "/missing/x.db", {}).ok());
}

}  // namespace
}  // namespace counsel::sqlite

namespace counsel::sqlite {
namespace {

TEST(MakeTablesStrictTest, EnforcesTypesAndKeepsRowsIndexesAndTriggers) {
  auto db = *Database::Open(":memory:", {});
  ASSERT_TRUE(db->Migrate({Migration(
      "CREATE TABLE parent (id TEXT PRIMARY KEY, n INTEGER NOT NULL);"
      "CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id)) WITHOUT ROWID;"
      "CREATE INDEX parent_by_n ON parent (n);"
      "CREATE TRIGGER parent_kept BEFORE DELETE ON parent BEGIN SELECT RAISE(ABORT, 'kept'); END;"
      "INSERT INTO parent VALUES ('p', '12'); INSERT INTO child VALUES ('c', 'p');"),
      Migration(std::string(), MakeTablesStrict)}).ok());
  auto q = *db->Prepare("SELECT typeof(n), (SELECT count(*) FROM child) FROM parent");
  ASSERT_TRUE(*q.Step());
  EXPECT_EQ(q.ColumnText(0), "integer");
  EXPECT_EQ(q.ColumnInt64(1), 1);
  EXPECT_FALSE(db->Exec("UPDATE parent SET n = 'twelve'").ok()) << "types are enforced";
  EXPECT_FALSE(db->Exec("DELETE FROM parent").ok()) << "the trigger is back";
  EXPECT_FALSE(db->Exec("INSERT INTO child VALUES ('d', 'nobody')").ok()) << "and the foreign key";
  auto idx = *db->Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'parent_by_n'");
  ASSERT_TRUE(*idx.Step());
  EXPECT_EQ(idx.ColumnInt64(0), 1);
  auto strict = *db->Prepare("SELECT sql FROM sqlite_master WHERE name = 'child'");
  ASSERT_TRUE(*strict.Step());
  EXPECT_NE(strict.ColumnText(0).find("STRICT"), std::string::npos);
}

}  // namespace
}  // namespace counsel::sqlite
