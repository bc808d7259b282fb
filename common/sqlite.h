// A small SQLite wrapper: one connection, a prepared-statement cache,
// transactions and versioned migrations.
//
//   ASSIGN_OR_RETURN(auto db, Database::Open("var/cases.db", {}));
//   RETURN_IF_ERROR(db->Migrate(kMigrations));
//   {
//     ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db));
//     ASSIGN_OR_RETURN(Statement stmt, db->Prepare("INSERT INTO t VALUES (?1)"));
//     stmt.Bind(1, "x");
//     RETURN_IF_ERROR(stmt.Run());
//     RETURN_IF_ERROR(tx.Commit());
//   }
//
// Thread-compatible: a Database is used by one thread at a time. Give each
// thread its own connection (WAL lets readers run beside the writer).
#ifndef COUNSEL_COMMON_SQLITE_H_
#define COUNSEL_COMMON_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sql.h"

namespace counsel::sqlite {

class Database;

// SQLite's statements are the engine-neutral handle of common/sql.h.
using Statement = sql::Statement;

struct Options {
  bool read_only = false;
  bool create = true;
  // FULL makes a commit durable against power loss in WAL mode; NORMAL can
  // lose the last commits. Tests use NORMAL only to show the difference.
  std::string synchronous = "FULL";
  int busy_timeout_ms = 5000;
  // Optional name of a registered VFS (tests inject faults with one).
  std::string vfs;
};

class Database;

// Statement journals up to this size stay in memory (ConfigureProcess):
// twice SQLite's default; a create's (about 31 pages) is just over it. Not more:
// a journal that outgrows it is written out as one buffer of this size, and
// SQLite 3.40's unix VFS writes at most 128 KiB per call (it masks the
// length to 17 bits), so a larger buffer fails as "disk full".
inline constexpr int kStatementJournalInMemory = 128 << 10;

// Settings SQLite takes for the whole process and only before it
// initialises. Database::Open calls it; code that touches SQLite before any
// Open (a test registering a VFS) calls it first. Idempotent, thread-safe.
void ConfigureProcess();

// One step of a schema: SQL, and optionally code run after it in the same
// transaction (for changes SQL alone cannot make, such as recomputing MACs).
struct Migration {
  Migration(std::string s) : sql(std::move(s)) {}  // NOLINT: most steps are SQL only
  Migration(const char* s) : sql(s) {}              // NOLINT
  Migration(std::string s, std::function<absl::Status(Database&)> fn)
      : sql(std::move(s)), run(std::move(fn)) {}
  std::string sql;
  std::function<absl::Status(Database&)> run;
};

class Cursor;

class Database final : public sql::Database {
 public:
  // Opens (creating if allowed) the database at `path` in WAL mode with
  // foreign keys on.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const Options& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without parameters.
  absl::Status Exec(absl::string_view sql) override;

  // Returns the cached prepared statement for `sql`, preparing it once.
  absl::StatusOr<Statement> Prepare(absl::string_view sql) override;

  absl::Status BeginWrite() override { return Exec("BEGIN IMMEDIATE"); }
  // Copies the committed pages into the database file and truncates the
  // write-ahead log to nothing, so that no earlier version of a changed
  // page remains in it; UNAVAILABLE when readers kept it from being
  // truncated. With secure_delete on, freed pages of the file are zeroed.
  absl::Status ForgetOverwrittenVersions() override;
  // SQLite's advice for long-lived connections; cheap, bounded by
  // analysis_limit.
  void RefreshStatistics() override { (void)Exec("PRAGMA optimize"); }

  // Applies migrations[user_version ...] in order, each in its own
  // BEGIN IMMEDIATE transaction that re-reads the version, bumping PRAGMA
  // user_version: any number of processes may open one database at once.
  // Refuses a database whose version is newer than the binary knows.
  absl::Status Migrate(const std::vector<Migration>& migrations);

  // PRAGMA user_version.
  absl::StatusOr<int> UserVersion();

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

  // Maps the connection's last error to a status.
  absl::Status LastError(absl::string_view what) const;

 private:
  friend class Cursor;
  explicit Database(sqlite3* db);
  void Release(Cursor* cursor);

  sqlite3* db_;
  // A statement's slot is empty while it is lent out.
  std::unordered_map<std::string, std::unique_ptr<Cursor>> cache_;
};

// A migration step: rebuilds every ordinary table of the database as a
// STRICT table (declared types enforced: an integer column cannot come to
// hold text that reads back as the same number), with its rows, indexes and
// triggers. Virtual tables and their shadow tables are left as they are.
// Run inside the migration's transaction.
absl::Status MakeTablesStrict(Database& db);

// An open transaction; rolled back on destruction unless committed.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };
  static absl::StatusOr<Transaction> Begin(Database& db, Mode mode = Mode::kImmediate);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace counsel::sqlite

#endif  // COUNSEL_COMMON_SQLITE_H_
