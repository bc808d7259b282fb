// The SQL a store speaks, independent of the engine behind it: a connection
// (`Database`) that prepares statements, and a `Statement` handle that binds
// parameters, steps through rows and reads columns. SQLite (common/sqlite.h)
// and PostgreSQL (common/postgres.h) implement it, so one store's queries,
// row codec and rules serve both; what differs between the engines (schema,
// transaction start, what durability after an erasure takes) is behind the
// few virtual methods below.
//
// Parameters are written `?1`, `?2`, … (or `?`, meaning one past the
// highest so far, as SQLite numbers them); the PostgreSQL backend rewrites
// them to `$1`, `$2`, …. Parameters and columns are 1-based and 0-based, as
// in SQLite.
#ifndef COUNSEL_COMMON_SQL_H_
#define COUNSEL_COMMON_SQL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::sql {

// A backend's prepared statement. Owned by its connection's cache and lent
// to one Statement at a time.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void BindInt64(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, absl::string_view text) = 0;
  virtual void BindBlob(int index, absl::string_view bytes) = 0;
  virtual void BindNull(int index) = 0;
  virtual absl::StatusOr<bool> Step() = 0;
  virtual int64_t ColumnInt64(int col) const = 0;
  virtual double ColumnDouble(int col) const = 0;
  virtual absl::string_view ColumnBlob(int col) const = 0;
  virtual bool ColumnIsNull(int col) const = 0;
  // Clears bindings and results and gives the cursor back to its cache.
  virtual void Release() = 0;
};

// A prepared statement borrowed from the connection's cache; given back,
// reset and cleared of bindings, when it goes out of scope.
class Statement {
 public:
  explicit Statement(Cursor* cursor) : cursor_(cursor) {}
  Statement(Statement&& other) noexcept : cursor_(other.cursor_) { other.cursor_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (cursor_ != nullptr) cursor_->Release();
  }

  Statement& Bind(int index, int64_t value) {
    cursor_->BindInt64(index, value);
    return *this;
  }
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value) {
    cursor_->BindDouble(index, value);
    return *this;
  }
  Statement& Bind(int index, absl::string_view text) {
    cursor_->BindText(index, text);
    return *this;
  }
  Statement& Bind(int index, const char* text) { return Bind(index, absl::string_view(text)); }
  Statement& Bind(int index, const std::string& text) { return Bind(index, absl::string_view(text)); }
  Statement& BindBlob(int index, absl::string_view bytes) {
    cursor_->BindBlob(index, bytes);
    return *this;
  }
  Statement& BindNull(int index) {
    cursor_->BindNull(index);
    return *this;
  }

  // Advances to the next row: true if there is one, false when done.
  absl::StatusOr<bool> Step() { return cursor_->Step(); }
  // Steps to completion, for statements that return no rows.
  absl::Status Run();

  int64_t ColumnInt64(int col) const { return cursor_->ColumnInt64(col); }
  double ColumnDouble(int col) const { return cursor_->ColumnDouble(col); }
  std::string ColumnText(int col) const { return std::string(cursor_->ColumnBlob(col)); }
  // Bytes of a BLOB or TEXT column, valid until the next Step.
  absl::string_view ColumnBlob(int col) const { return cursor_->ColumnBlob(col); }
  bool ColumnIsNull(int col) const { return cursor_->ColumnIsNull(col); }

 private:
  Cursor* cursor_;
};

// One connection. Thread-compatible: used by one thread at a time.
class Database {
 public:
  virtual ~Database() = default;

  // Runs one or more statements without parameters.
  virtual absl::Status Exec(absl::string_view sql) = 0;
  // The cached prepared statement for `sql`, prepared once.
  virtual absl::StatusOr<Statement> Prepare(absl::string_view sql) = 0;

  // Starts a transaction that will write: SQLite takes the write lock at
  // once (BEGIN IMMEDIATE); PostgreSQL begins READ COMMITTED.
  virtual absl::Status BeginWrite() = 0;
  // Inside a write transaction, waits until no other transaction holding
  // `scope` is open, and holds it until this one ends. Writers of one scope
  // (a tenant) then run one after another on every replica, and a value
  // they count up (the tenant's change sequence) commits in its own order.
  // SQLite's one writer needs nothing.
  virtual absl::Status LockScope(absl::string_view /*scope*/) { return absl::OkStatus(); }
  // After a commit that destroyed data: returns once no earlier version of
  // the changed rows remains where the engine can read it back (SQLite's
  // write-ahead log). UNAVAILABLE when that cannot be done now. See each
  // backend for what it can promise.
  virtual absl::Status ForgetOverwrittenVersions() { return absl::OkStatus(); }
  // Called now and then as tables grow, to keep the planner's statistics
  // current where the engine does not itself (SQLite).
  virtual void RefreshStatistics() {}
  // Whether a failed transaction may succeed when run again as it was
  // (a deadlock between replicas, a lost connection).
  virtual bool Retryable(const absl::Status& /*status*/) const { return false; }
};

// A write transaction (BeginWrite), rolled back on destruction unless
// committed.
class WriteTransaction {
 public:
  static absl::StatusOr<WriteTransaction> Begin(Database& db);
  WriteTransaction(WriteTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  WriteTransaction& operator=(WriteTransaction&&) = delete;
  ~WriteTransaction();
  absl::Status Commit();

 private:
  explicit WriteTransaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace counsel::sql

#endif  // COUNSEL_COMMON_SQL_H_
