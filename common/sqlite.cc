#include "common/sqlite.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace counsel::sqlite {
namespace {

absl::Status StatusFromCode(int code, absl::string_view what, sqlite3* db) {
  // SQLite's own message names tables, columns and constraints: it goes to
  // the log, and callers get the canonical code with a plain description
  // (a store that can name the field at fault checks before it writes).
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  log::Warning("sqlite_error", {{"what", what}, {"code", code}, {"detail", detail}});
  const std::string message = absl::StrCat(what, ": ", sqlite3_errstr(code));
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

// A prepared SQLite statement, lent by its connection's cache.
class Cursor final : public sql::Cursor {
 public:
  Cursor(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Cursor() override { sqlite3_finalize(stmt_); }

  void BindInt64(int index, int64_t value) override {
    Check(sqlite3_bind_int64(stmt_, index, value));
  }
  void BindDouble(int index, double value) override {
    Check(sqlite3_bind_double(stmt_, index, value));
  }
  void BindText(int index, absl::string_view text) override {
    Check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
  }
  void BindBlob(int index, absl::string_view bytes) override {
    Check(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                            SQLITE_TRANSIENT));
  }
  void BindNull(int index) override { Check(sqlite3_bind_null(stmt_, index)); }

  absl::StatusOr<bool> Step() override {
    if (bind_error_ != SQLITE_OK) {
      return StatusFromCode(bind_error_, "binding a parameter", nullptr);
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return StatusFromCode(rc, "executing a statement", db_->raw());
  }

  int64_t ColumnInt64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double ColumnDouble(int col) const override { return sqlite3_column_double(stmt_, col); }
  absl::string_view ColumnBlob(int col) const override {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr || n <= 0) return {};
    return absl::string_view(static_cast<const char*>(data), static_cast<size_t>(n));
  }
  bool ColumnIsNull(int col) const override {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }

  void Release() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_error_ = SQLITE_OK;
    db_->Release(this);
  }

  const char* sql() const { return sqlite3_sql(stmt_); }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) bind_error_ = rc;
  }

  Database* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

void ConfigureProcess() {
  // A savepoint's statement journal (the case writer opens one per request
  // in a batch) holds the original of every page the request changes; past
  // 64 KiB SQLite moved it to a temporary file, which cost a file created,
  // written and unlinked per batch and two writes per page. Twice that now
  // stays in memory, the most SQLite 3.40 spills safely (see
  // kStatementJournalInMemory); larger ones still spill.
  static const bool configured = [] {
    const bool ok = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalInMemory) ==
                    SQLITE_OK;
    if (!ok) {
      log::Warning("sqlite_settings_ignored",
                   {{"reason", "SQLite was initialised before ConfigureProcess"}});
    }
    return ok;
  }();
  (void)configured;
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const Options& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  ConfigureProcess();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags,
                                 options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    absl::Status status = StatusFromCode(rc, absl::StrCat("opening ", path), raw);
    sqlite3_close(raw);
    return status;
  }
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (!options.read_only) {
    // Switching a new database to WAL takes an exclusive lock, and SQLite
    // answers BUSY at once (without its busy handler) while another process
    // holds one: retry for as long as the busy timeout.
    absl::Status wal;
    for (int waited_ms = 0;; waited_ms += 10) {
      wal = db->Exec("PRAGMA journal_mode=WAL");
      if (wal.ok() || !absl::IsUnavailable(wal) || waited_ms >= options.busy_timeout_ms) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    RETURN_IF_ERROR(wal);
  }
  if (options.synchronous != "FULL" && options.synchronous != "NORMAL" &&
      options.synchronous != "OFF" && options.synchronous != "EXTRA") {
    return absl::InvalidArgumentError("synchronous must be OFF, NORMAL, FULL or EXTRA");
  }
  RETURN_IF_ERROR(db->Exec(absl::StrCat("PRAGMA synchronous=", options.synchronous)));
  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  return db;
}

Database::Database(sqlite3* db) : db_(db) {}

Database::~Database() {
  cache_.clear();
  sqlite3_close(db_);
}

absl::Status Database::LastError(absl::string_view what) const {
  return StatusFromCode(sqlite3_errcode(db_), what, db_);
}

absl::Status Database::Exec(absl::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status status = StatusFromCode(rc, "executing SQL", db_);
    sqlite3_free(err);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second != nullptr) {
    // Lent out; a nested Prepare of the same SQL makes another.
    return Statement(it->second.release());
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return StatusFromCode(rc, "preparing SQL", db_);
  return Statement(new Cursor(this, stmt));
}

void Database::Release(Cursor* cursor) {
  std::unique_ptr<Cursor>& slot = cache_[cursor->sql()];
  if (slot == nullptr) {
    slot.reset(cursor);
  } else {
    delete cursor;
  }
}

absl::Status Database::ForgetOverwrittenVersions() {
  // The checkpoint waits (busy handler) for readers of older snapshots; a
  // reader transaction is short, so a few tries are plenty.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(Statement q, Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row && q.ColumnInt64(0) == 0) return absl::OkStatus();
  }
  return absl::UnavailableError(
      "the change is committed, but readers kept the write-ahead log from being cleared; retry");
}

absl::StatusOr<int> Database::UserVersion() {
  ASSIGN_OR_RETURN(Statement stmt, Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.ColumnInt64(0));
}

absl::Status Database::Migrate(const std::vector<Migration>& migrations) {
  // Foreign keys are off while the schema changes (a table may be rebuilt
  // under its own name, SQLite's documented way) and checked whole before
  // each step commits; they are on again afterwards, whatever happened.
  RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=OFF"));
  struct Restore {
    Database* db;
    ~Restore() { (void)db->Exec("PRAGMA foreign_keys=ON"); }
  } restore{this};
  // Each step runs under BEGIN IMMEDIATE and re-reads the version inside it:
  // of several processes opening one database at once, one migrates and the
  // others wait, then find the work done.
  for (;;) {
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*this, Transaction::Mode::kImmediate));
    ASSIGN_OR_RETURN(int version, UserVersion());
    if (version > static_cast<int>(migrations.size())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", version, " is newer than this program knows (",
          migrations.size(), "): refusing to downgrade"));
    }
    if (version == static_cast<int>(migrations.size())) return tx.Commit();
    const Migration& m = migrations[static_cast<size_t>(version)];
    if (!m.sql.empty()) RETURN_IF_ERROR(Exec(m.sql));
    if (m.run) RETURN_IF_ERROR(m.run(*this));
    {
      ASSIGN_OR_RETURN(Statement check, Prepare("PRAGMA foreign_key_check"));
      ASSIGN_OR_RETURN(bool broken, check.Step());
      if (broken) {
        return absl::FailedPreconditionError(absl::StrCat(
            "schema step ", version + 1, " would leave a foreign key unmet in ",
            check.ColumnText(0)));
      }
    }
    RETURN_IF_ERROR(Exec(absl::StrCat("PRAGMA user_version=", version + 1)));
    RETURN_IF_ERROR(tx.Commit());
  }
}

absl::Status MakeTablesStrict(Database& db) {
  struct Table {
    std::string name, sql;
    std::vector<std::string> companions;  // its indexes and triggers
  };
  std::vector<Table> tables;
  std::vector<std::string> virtual_tables;
  // Each table is renamed aside, created again under its name and refilled.
  // The legacy rename leaves triggers and views that name it alone (they
  // name it again once it is back); Migrate turns foreign keys off around
  // this, so references from other tables are not rewritten either.
  RETURN_IF_ERROR(db.Exec("PRAGMA legacy_alter_table=ON"));
  {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      const std::string name = q.ColumnText(0), sql = q.ColumnText(1);
      if (absl::StartsWithIgnoreCase(sql, "CREATE VIRTUAL TABLE")) {
        virtual_tables.push_back(name);
      } else {
        tables.push_back(Table{name, sql, {}});
      }
    }
  }
  for (Table& t : tables) {
    // A virtual table's shadow tables belong to its module.
    bool shadow = false;
    for (const std::string& v : virtual_tables) shadow = shadow || absl::StartsWith(t.name, v + "_");
    if (shadow) continue;
    std::string body = std::string(absl::StripTrailingAsciiWhitespace(t.sql));
    const size_t open = body.find('(');
    if (open == std::string::npos) return absl::InternalError("unexpected table definition");
    if (absl::EndsWithIgnoreCase(body, "STRICT")) continue;
    body = absl::StrCat("CREATE TABLE \"", t.name, "\" ", body.substr(open),
                        absl::EndsWithIgnoreCase(body, "WITHOUT ROWID") ? ", STRICT" : " STRICT");
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ?1 "
        "AND sql IS NOT NULL ORDER BY type, name"));
    q.Bind(1, t.name);
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      t.companions.push_back(q.ColumnText(0));
    }
    // Rename aside, create, copy (a stored value of the wrong type fails
    // here), drop the old one with its indexes and triggers, make those again.
    const std::string old = absl::StrCat("\"", t.name, "__loose\"");
    RETURN_IF_ERROR(db.Exec(absl::StrCat("ALTER TABLE \"", t.name, "\" RENAME TO ", old)));
    RETURN_IF_ERROR(db.Exec(body));
    RETURN_IF_ERROR(
        db.Exec(absl::StrCat("INSERT INTO \"", t.name, "\" SELECT * FROM ", old)));
    RETURN_IF_ERROR(db.Exec(absl::StrCat("DROP TABLE ", old)));
    for (const std::string& sql : t.companions) RETURN_IF_ERROR(db.Exec(sql));
  }
  return db.Exec("PRAGMA legacy_alter_table=OFF");
}

absl::StatusOr<Transaction> Transaction::Begin(Database& db, Mode mode) {
  RETURN_IF_ERROR(db.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("transaction already ended");
  absl::Status status = db_->Exec("COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace counsel::sqlite
