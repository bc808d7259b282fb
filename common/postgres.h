// PostgreSQL behind the engine-neutral SQL interface (common/sql.h), on
// libpq. One Database is one connection whose tables live in one schema
// (the program's own: counsel_cases, counsel_gateway, counsel_guidance).
//
//   ASSIGN_OR_RETURN(auto db, pg::Database::Open("postgresql://host/db", "counsel_cases"));
//   RETURN_IF_ERROR(db->Migrate({"CREATE TABLE t (x BIGINT)"}));
//   ASSIGN_OR_RETURN(sql::Statement q, db->Prepare("INSERT INTO t VALUES (?1)"));
//   RETURN_IF_ERROR(q.Bind(1, int64_t{7}).Run());
//
// A lost connection is opened again by the next call (UNAVAILABLE while
// the server is down), so a restarted server needs no restarted program.
// Errors carry the SQLSTATE but never the server's detail, which can quote
// row values. Thread-compatible, as every sql::Database.
#ifndef COUNSEL_COMMON_POSTGRES_H_
#define COUNSEL_COMMON_POSTGRES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sql.h"

typedef struct pg_conn PGconn;

namespace counsel::pg {

// Whether `db` names a PostgreSQL database (a postgresql:// or postgres://
// URI) rather than a SQLite file.
bool IsUri(absl::string_view db);

// The SQLSTATE a status from this backend carries ("" when none).
std::string SqlState(const absl::Status& status);

class Cursor;

class Database final : public sql::Database {
 public:
  // Connects (libpq connection URI; the password from the URI or
  // PGPASSFILE) and works in `schema`, which Migrate creates.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& uri,
                                                        const std::string& schema);
  ~Database() override;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  absl::Status Exec(absl::string_view sql) override;
  absl::StatusOr<sql::Statement> Prepare(absl::string_view sql) override;
  absl::Status BeginWrite() override { return Exec("BEGIN"); }
  // A transaction-scoped advisory lock on the scope's 64-bit hash.
  absl::Status LockScope(absl::string_view scope) override;
  // Serialization failures and deadlocks: the server rolled the work back.
  bool Retryable(const absl::Status& status) const override;

  // Applies steps[version …] of the schema in order, each in its own
  // transaction under an advisory lock, so any number of replicas may start
  // at once; refuses a schema newer than `steps`.
  absl::Status Migrate(const std::vector<std::string>& steps);

  // NOTIFY `channel` with `payload` (delivered at commit when inside a
  // transaction).
  absl::Status Notify(absl::string_view channel, absl::string_view payload);

  const std::string& schema() const { return schema_; }

 private:
  friend class Cursor;
  Database(std::string uri, std::string schema);
  // Connects when there is no usable connection.
  absl::Status EnsureConnected();
  void Release(Cursor* cursor);

  const std::string uri_;
  const std::string schema_;
  PGconn* conn_ = nullptr;
  // Bumps on every new connection: server-side prepared statements of an
  // older one are gone.
  int64_t generation_ = 0;
  int64_t next_name_ = 0;
  // The connection dropped inside a transaction: every statement fails
  // until ROLLBACK (which the new connection does not need).
  bool lost_transaction_ = false;
  std::unordered_map<std::string, std::unique_ptr<Cursor>> cache_;
};

// Calls `on_notify` for every notification on `channel`, and once after
// each reconnection (notifications sent while disconnected are lost, so a
// listener reads what it may have missed). Its own connection and thread.
class Listener {
 public:
  static absl::StatusOr<std::unique_ptr<Listener>> Start(const std::string& uri,
                                                         const std::string& channel,
                                                         std::function<void()> on_notify);
  ~Listener();

 private:
  Listener(std::string uri, std::string channel, std::function<void()> on_notify);
  void Loop();
  bool Connect();

  const std::string uri_;
  const std::string channel_;
  const std::function<void()> on_notify_;
  PGconn* conn_ = nullptr;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace counsel::pg

#endif  // COUNSEL_COMMON_POSTGRES_H_
