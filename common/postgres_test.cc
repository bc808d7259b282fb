// The libpq backend of common/sql.h on a real server (the `postgres` test
// fixture), a database per test: parameters, types, errors, a connection
// the server drops (outside and inside a transaction), notifications.
#include "common/postgres.h"

#include "absl/synchronization/notification.h"
#include "common/testing/postgres_test_db.h"
#include "gtest/gtest.h"

namespace counsel::pg {
namespace {

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::PostgresTestDb::Available()) GTEST_SKIP() << "no PostgreSQL test server";
    auto db = testing::PostgresTestDb::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    server_ = std::move(*db);
    auto conn = Database::Open(server_->uri(), "t");
    ASSERT_TRUE(conn.ok()) << conn.status();
    db_ = std::move(*conn);
    ASSERT_TRUE(db_->Migrate({"CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, b BYTEA, "
                              "x DOUBLE PRECISION)"}).ok());
  }
  void TearDown() override {
    db_.reset();
    server_.reset();
  }

  // Ends every other session of this database (a server restart, as its
  // clients see it).
  void DropOtherConnections() {
    auto admin = Database::Open(server_->uri(), "t");
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "datname = current_database() AND pid != pg_backend_pid()").ok());
  }

  std::unique_ptr<testing::PostgresTestDb> server_;
  std::unique_ptr<Database> db_;
};

TEST_F(PostgresTest, ParametersTypesAndBytesRoundTrip) {
  const std::string bytes("\x00\x01\xff" "abc", 6);
  auto ins = db_->Prepare("INSERT INTO t (id, name, b, x) VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(ins.ok()) << ins.status();
  ASSERT_TRUE(ins->Bind(1, int64_t{1} << 40).Bind(2, "王小明 ?1 'quoted'").BindBlob(3, bytes)
                  .Bind(4, 0.1 + 0.2).Run().ok());
  // `?` counts on from the highest so far, as in SQLite; a gap is allowed.
  auto q = db_->Prepare("SELECT id, name, b, x, ?3 IS NULL FROM t WHERE id = ? AND name != ''");
  ASSERT_TRUE(q.ok()) << q.status();
  q->Bind(4, int64_t{1} << 40);
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnInt64(0), int64_t{1} << 40);
  EXPECT_EQ(q->ColumnText(1), "王小明 ?1 'quoted'");
  EXPECT_EQ(q->ColumnBlob(2), bytes);
  EXPECT_EQ(q->ColumnDouble(3), 0.1 + 0.2) << "every bit of a double";
  EXPECT_EQ(q->ColumnInt64(4), 1) << "a boolean reads as 0 or 1";
  EXPECT_FALSE(*q->Step());
}

TEST_F(PostgresTest, ErrorsNameTheConstraintButNeverTheValues) {
  auto ins = db_->Prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
  ASSERT_TRUE(ins->Bind(1, 7).Bind(2, "13812345678").Run().ok());
  auto again = db_->Prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
  const absl::Status dup = again->Bind(1, 7).Bind(2, "13812345678").Run();
  EXPECT_TRUE(absl::IsAlreadyExists(dup)) << dup;
  EXPECT_EQ(SqlState(dup), "23505");
  EXPECT_NE(dup.message().find("t_pkey"), absl::string_view::npos) << dup;
  EXPECT_EQ(dup.message().find("13812345678"), absl::string_view::npos) << dup;
  EXPECT_EQ(dup.message().find("(id)"), absl::string_view::npos) << "no server DETAIL: " << dup;
  // Text cannot hold a NUL; it would have been cut short silently.
  auto nul = db_->Prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
  EXPECT_TRUE(absl::IsInvalidArgument(
      nul->Bind(1, 8).Bind(2, absl::string_view("a\0b", 3)).Run()));
  // Prepared SQL with a comment or dollar quoting is refused, not misread.
  EXPECT_FALSE(db_->Prepare("SELECT 1 -- ?").ok());
  EXPECT_FALSE(db_->Prepare("SELECT $1").ok());
}

TEST_F(PostgresTest, AMalformedUriIsRefusedWithoutItsText) {
  auto bad = Database::Open("postgresql://app:Pw-canary%zz@127.0.0.1:1/app", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_EQ(bad.status().message().find("Pw-canary"), absl::string_view::npos);
  auto nobody = Database::Open("postgresql://app:Pw-canary@127.0.0.1:1/app", "t");
  ASSERT_FALSE(nobody.ok());
  EXPECT_TRUE(absl::IsUnavailable(nobody.status())) << nobody.status();
  EXPECT_EQ(nobody.status().message().find("Pw-canary"), absl::string_view::npos);
}

TEST_F(PostgresTest, ADroppedConnectionIsReopenedByTheNextStatementOutsideATransaction) {
  ASSERT_TRUE(db_->Exec("INSERT INTO t (id) VALUES (1)").ok());
  DropOtherConnections();
  auto q = db_->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(q.ok());
  auto row = q->Step();
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(q->ColumnInt64(0), 1);
}

TEST_F(PostgresTest, ADroppedConnectionFailsItsTransactionAsAWholeUntilRollback) {
  ASSERT_TRUE(db_->BeginWrite().ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t (id) VALUES (1)").ok());
  DropOtherConnections();
  const absl::Status next = db_->Exec("INSERT INTO t (id) VALUES (2)");
  EXPECT_TRUE(absl::IsUnavailable(next)) << next;
  // Nothing of it runs on the new connection: still UNAVAILABLE, not a
  // second half committed on its own.
  EXPECT_TRUE(absl::IsUnavailable(db_->Exec("INSERT INTO t (id) VALUES (3)")));
  EXPECT_TRUE(absl::IsUnavailable(db_->Exec("COMMIT")));
  ASSERT_TRUE(db_->Exec("ROLLBACK").ok());
  auto q = db_->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnInt64(0), 0);
}

TEST_F(PostgresTest, ListenersWakeOnCommitAndAfterLosingTheirConnection) {
  absl::Mutex mu;
  int wakes = 0;
  auto listener = Listener::Start(server_->uri(), "chan", [&] {
    absl::MutexLock lock(&mu);
    ++wakes;
  });
  ASSERT_TRUE(listener.ok()) << listener.status();
  // Waits until more than `n` wake-ups (false after `timeout`).
  auto more_than = [&](int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return wakes > n; };
    return mu.AwaitWithTimeout(absl::Condition(&done), timeout);
  };
  ASSERT_TRUE(db_->BeginWrite().ok());
  ASSERT_TRUE(db_->Notify("chan", "").ok());
  EXPECT_FALSE(more_than(0, absl::Milliseconds(200))) << "delivered only at commit";
  ASSERT_TRUE(db_->Exec("COMMIT").ok());
  EXPECT_TRUE(more_than(0, absl::Seconds(30)));
  int before = 0;
  {
    absl::MutexLock lock(&mu);
    before = wakes;
  }
  DropOtherConnections();  // the listener's own connection too
  EXPECT_TRUE(more_than(before, absl::Seconds(30)))
      << "a listener that reconnects wakes once: it may have missed something";
}

}  // namespace
}  // namespace counsel::pg
