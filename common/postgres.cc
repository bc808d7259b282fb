#include "common/postgres.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace counsel::pg {
namespace {

constexpr char kSqlStatePayload[] = "counsel.sqlstate";
constexpr Oid kInt8 = 20;
constexpr Oid kFloat8 = 701;
constexpr Oid kBytea = 17;
constexpr Oid kBool = 16;
constexpr Oid kText = 25;

// The first line of libpq's message: it names the host and the failure,
// never the password (libpq does not print it), and no row values.
std::string FirstLine(const char* message) {
  std::string s = message == nullptr ? "" : message;
  return std::string(absl::StripAsciiWhitespace(s.substr(0, s.find('\n'))));
}

absl::Status Unavailable(absl::string_view what, PGconn* conn) {
  return absl::UnavailableError(
      absl::StrCat(what, ": PostgreSQL is unreachable (", FirstLine(PQerrorMessage(conn)), ")"));
}

// A failed result as a status. The server's message and detail may quote
// values of the row at fault; they go nowhere. Callers get the class of
// failure and the constraint's name, the log the SQLSTATE too.
absl::Status StatusFromResult(absl::string_view what, PGresult* res, PGconn* conn) {
  if (res == nullptr || PQstatus(conn) != CONNECTION_OK) return Unavailable(what, conn);
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string code = state == nullptr ? "" : state;
  const char* constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
  log::Warning("postgres_error", {{"what", what}, {"sqlstate", code},
                                  {"constraint", constraint == nullptr ? "" : constraint}});
  std::string message = absl::StrCat(what, ": SQLSTATE ", code);
  if (constraint != nullptr) absl::StrAppend(&message, " (", constraint, ")");
  absl::Status status;
  const std::string cls = code.substr(0, 2);
  if (code == "40001" || code == "40P01") {
    status = absl::AbortedError(absl::StrCat(message, ": concurrent writers; retry"));
  } else if (cls == "23") {
    status = absl::AlreadyExistsError(message);
  } else if (cls == "08" || cls == "57" || cls == "53") {
    status = absl::UnavailableError(message);
  } else if (cls == "22") {
    status = absl::InvalidArgumentError(message);
  } else if (cls == "XX") {
    status = absl::DataLossError(message);
  } else {
    status = absl::InternalError(message);
  }
  status.SetPayload(kSqlStatePayload, absl::Cord(code));
  return status;
}

// `?N` and `?` (one past the highest so far, as SQLite counts) become
// `$N`, outside quoted strings and identifiers. Returns the count; `used`
// says which appear (SQLite allows gaps, PostgreSQL must be told their type).
int RewriteParameters(absl::string_view in, std::string* out, std::vector<bool>* used) {
  int highest = 0;
  char quote = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (quote != 0) {
      out->push_back(c);
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out->push_back(c);
      continue;
    }
    if (c != '?') {
      out->push_back(c);
      continue;
    }
    size_t j = i + 1;
    while (j < in.size() && absl::ascii_isdigit(static_cast<unsigned char>(in[j]))) ++j;
    int n = 0;
    if (j == i + 1) {
      n = highest + 1;
    } else {
      (void)absl::SimpleAtoi(in.substr(i + 1, j - i - 1), &n);
    }
    highest = std::max(highest, n);
    if (n > 0) {
      if (static_cast<int>(used->size()) < n) used->resize(static_cast<size_t>(n), false);
      (*used)[static_cast<size_t>(n - 1)] = true;
    }
    absl::StrAppend(out, "$", n);
    i = j - 1;
  }
  return highest;
}

std::string QuoteIdentifier(absl::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

PGconn* ConnectRaw(const std::string& uri) {
  // Fail fast while the server is down (a caller waits seconds, not
  // minutes), and find a peer that vanished without closing (a node lost
  // in a failover) within seconds too, instead of the kernel's quarter of
  // an hour: keepalives, and a limit on unacknowledged sends. bytea comes
  // back as hex whatever the server's default.
  const char* keys[] = {"dbname",           "connect_timeout", "application_name",
                        "keepalives",       "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "options", nullptr};
  const char* values[] = {uri.c_str(), "3",  "counsel", "1", "5", "2", "3", "10000",
                          "-c bytea_output=hex", nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

// A URI libpq cannot parse. Its own message may quote the URI, password
// included, so it goes nowhere.
absl::Status CheckUri(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) {
    return absl::InvalidArgumentError("malformed PostgreSQL connection URI");
  }
  PQconninfoFree(options);
  return absl::OkStatus();
}

absl::Status LostTransaction() {
  return absl::UnavailableError(
      "the connection to PostgreSQL was lost inside a transaction (if it was committing, it may "
      "have committed: a retry with the same request id is safe)");
}

}  // namespace

bool IsUri(absl::string_view db) {
  return absl::StartsWith(db, "postgresql://") || absl::StartsWith(db, "postgres://");
}

std::string SqlState(const absl::Status& status) {
  absl::optional<absl::Cord> p = status.GetPayload(kSqlStatePayload);
  return p.has_value() ? std::string(*p) : "";
}

// A prepared statement on one connection. Prepared on the server at its
// first run with the types of what was bound (so a parameter that only
// meets IS NULL still has one), again for another combination of types.
class Cursor final : public sql::Cursor {
 public:
  Cursor(Database* db, std::string key, std::string text, int params, std::vector<bool> used)
      : db_(db), key_(std::move(key)), text_(std::move(text)), used_(std::move(used)),
        values_(params), types_(params, 0), formats_(params, 0) {
    used_.resize(static_cast<size_t>(params), false);
  }
  ~Cursor() override { Clear(); }

  void BindInt64(int index, int64_t value) override { Set(index, absl::StrCat(value), kInt8, 0); }
  void BindDouble(int index, double value) override {
    Set(index, absl::StrFormat("%.17g", value), kFloat8, 0);  // every bit, as SQLite keeps
  }
  void BindText(int index, absl::string_view text) override {
    // Text parameters travel as C strings: a NUL would cut the value short
    // (and PostgreSQL's text cannot hold one), where SQLite keeps it whole.
    if (text.find('\0') != absl::string_view::npos) nul_in_text_ = index;
    Set(index, std::string(text), kText, 0);
  }
  void BindBlob(int index, absl::string_view bytes) override {
    Set(index, std::string(bytes), kBytea, 1);
  }
  void BindNull(int index) override {
    if (!InRange(index)) return;
    values_[index - 1].reset();
    types_[index - 1] = 0;
  }

  absl::StatusOr<bool> Step() override {
    if (bad_index_ != 0) {
      return absl::InternalError(absl::StrCat("binding parameter ", bad_index_, ": no such parameter"));
    }
    if (nul_in_text_ != 0) {
      return absl::InvalidArgumentError("text holds a NUL character");
    }
    if (result_ == nullptr) {
      if (db_->lost_transaction_) return LostTransaction();
      std::vector<const char*> values(values_.size());
      std::vector<int> lengths(values_.size());
      for (size_t i = 0; i < values_.size(); ++i) {
        values[i] = values_[i].has_value() ? values_[i]->data() : nullptr;
        lengths[i] = values_[i].has_value() ? static_cast<int>(values_[i]->size()) : 0;
      }
      // A connection the server dropped (a restart) is found out by its
      // next statement; outside a transaction that statement is run again
      // on a new one, so one restart costs callers nothing once it is over.
      for (int attempt = 0;; ++attempt) {
        RETURN_IF_ERROR(db_->EnsureConnected());
        const bool idle = PQtransactionStatus(db_->conn_) == PQTRANS_IDLE;
        absl::StatusOr<std::string> name = Prepared();
        if (name.ok()) {
          result_ = PQexecPrepared(db_->conn_, name->c_str(), static_cast<int>(values.size()),
                                   values.data(), lengths.data(), formats_.data(),
                                   /*resultFormat=*/0);
        }
        const bool lost = PQstatus(db_->conn_) != CONNECTION_OK;
        if (lost && !idle) db_->lost_transaction_ = true;
        if (attempt == 0 && idle && lost) {
          Clear();
          continue;
        }
        if (!name.ok()) return name.status();
        break;
      }
      const ExecStatusType st = result_ == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result_);
      if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        absl::Status status = StatusFromResult("executing a statement", result_, db_->conn_);
        Clear();
        return status;
      }
      row_ = -1;
    }
    decoded_.clear();
    return ++row_ < PQntuples(result_);
  }

  int64_t ColumnInt64(int col) const override {
    if (ColumnIsNull(col)) return 0;
    const char* v = PQgetvalue(result_, row_, col);
    if (PQftype(result_, col) == kBool) return v[0] == 't' ? 1 : 0;
    return std::strtoll(v, nullptr, 10);
  }
  double ColumnDouble(int col) const override {
    return ColumnIsNull(col) ? 0 : std::strtod(PQgetvalue(result_, row_, col), nullptr);
  }
  absl::string_view ColumnBlob(int col) const override {
    if (ColumnIsNull(col)) return {};
    const char* v = PQgetvalue(result_, row_, col);
    const int n = PQgetlength(result_, row_, col);
    if (PQftype(result_, col) != kBytea) return absl::string_view(v, static_cast<size_t>(n));
    // bytea in text results is hex: \x0a1b…
    auto it = decoded_.find(col);
    if (it == decoded_.end()) {
      std::string bytes;
      if (n >= 2 && v[0] == '\\' && v[1] == 'x') {
        if (!crypto::HexDecode(absl::string_view(v + 2, static_cast<size_t>(n - 2)), &bytes)) {
          bytes.clear();
        }
      }
      it = decoded_.emplace(col, std::move(bytes)).first;
    }
    return it->second;
  }
  bool ColumnIsNull(int col) const override {
    return result_ == nullptr || row_ < 0 || row_ >= PQntuples(result_) ||
           PQgetisnull(result_, row_, col) != 0;
  }

  void Release() override {
    Clear();
    for (auto& v : values_) v.reset();
    std::fill(types_.begin(), types_.end(), 0);
    std::fill(formats_.begin(), formats_.end(), 0);
    bad_index_ = 0;
    nul_in_text_ = 0;
    db_->Release(this);
  }

  const std::string& key() const { return key_; }

  // Frees this cursor's statements on the server (they live as long as the
  // connection otherwise).
  void Deallocate() {
    if (generation_ != db_->generation_ || db_->conn_ == nullptr ||
        PQstatus(db_->conn_) != CONNECTION_OK) {
      return;
    }
    for (const auto& [signature, name] : names_) {
      PGresult* res = PQexec(db_->conn_, absl::StrCat("DEALLOCATE ", name).c_str());
      if (res != nullptr) PQclear(res);
    }
    names_.clear();
  }

 private:
  bool InRange(int index) {
    if (index >= 1 && index <= static_cast<int>(values_.size())) return true;
    bad_index_ = index;
    return false;
  }
  void Set(int index, std::string value, Oid type, int format) {
    if (!InRange(index)) return;
    values_[index - 1] = std::move(value);
    types_[index - 1] = type;
    formats_[index - 1] = format;
  }
  void Clear() {
    if (result_ != nullptr) PQclear(result_);
    result_ = nullptr;
    decoded_.clear();
  }

  // The server-side name for this text with the bound types, preparing it
  // on this connection when new.
  absl::StatusOr<std::string> Prepared() {
    std::string signature = absl::StrJoin(types_, ",");
    if (generation_ != db_->generation_) {
      names_.clear();
      generation_ = db_->generation_;
    }
    auto it = names_.find(signature);
    if (it != names_.end()) return it->second;
    std::string name = absl::StrCat("s", ++db_->next_name_);
    std::vector<Oid> types = types_;
    for (size_t i = 0; i < types.size(); ++i) {
      if (!used_[i] && types[i] == 0) types[i] = kText;  // a gap: any type will do
    }
    absl::Status status;
    for (int attempt = 0; attempt < 2; ++attempt) {
      PGresult* res = PQprepare(db_->conn_, name.c_str(), text_.c_str(),
                                static_cast<int>(types.size()), types.data());
      const bool ok = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
      const char* state = ok || res == nullptr ? nullptr : PQresultErrorField(res, PG_DIAG_SQLSTATE);
      const bool untyped = state != nullptr && std::string(state) == "42P18";
      status = ok || (untyped && attempt == 0) ? absl::OkStatus()
                                               : StatusFromResult("preparing SQL", res, db_->conn_);
      if (res != nullptr) PQclear(res);
      if (ok || !untyped) break;
      // A NULL where nothing says its type (`?3 IS NULL` alone): any type
      // will do for a NULL.
      for (Oid& t : types) {
        if (t == 0) t = kText;
      }
    }
    RETURN_IF_ERROR(status);
    names_.emplace(std::move(signature), name);
    return name;
  }

  Database* db_;
  const std::string key_;
  const std::string text_;
  std::vector<bool> used_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
  int bad_index_ = 0;
  int nul_in_text_ = 0;
  int64_t generation_ = -1;
  std::unordered_map<std::string, std::string> names_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  mutable std::unordered_map<int, std::string> decoded_;
};

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& uri,
                                                         const std::string& schema) {
  if (!IsUri(uri)) return absl::InvalidArgumentError("not a postgresql:// URI");
  RETURN_IF_ERROR(CheckUri(uri));
  std::unique_ptr<Database> db(new Database(uri, schema));
  RETURN_IF_ERROR(db->EnsureConnected());
  return db;
}

Database::Database(std::string uri, std::string schema)
    : uri_(std::move(uri)), schema_(std::move(schema)) {}

Database::~Database() {
  cache_.clear();
  if (conn_ != nullptr) PQfinish(conn_);
}

absl::Status Database::EnsureConnected() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = ConnectRaw(uri_);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("connecting", conn_);
  }
  ++generation_;
  // Notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return Exec(absl::StrCat("SET search_path TO ", QuoteIdentifier(schema_)));
}

absl::Status Database::Exec(absl::string_view sql) {
  const std::string s(sql);
  if (lost_transaction_) {
    // What the transaction did is gone with its connection; only its end
    // is acknowledged.
    if (s != "ROLLBACK") return LostTransaction();
    lost_transaction_ = false;
    return absl::OkStatus();
  }
  PGresult* res = nullptr;
  for (int attempt = 0;; ++attempt) {  // as Cursor::Step
    RETURN_IF_ERROR(EnsureConnected());
    const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
    res = PQexec(conn_, s.c_str());
    if (PQstatus(conn_) != CONNECTION_OK && !idle) lost_transaction_ = true;
    if (attempt > 0 || !idle || PQstatus(conn_) == CONNECTION_OK) break;
    if (res != nullptr) PQclear(res);
  }
  const ExecStatusType st = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  absl::Status status = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                            ? absl::OkStatus()
                            : StatusFromResult("executing SQL", res, conn_);
  if (res != nullptr) PQclear(res);
  return status;
}

absl::StatusOr<sql::Statement> Database::Prepare(absl::string_view sql) {
  // The parameter rewriting knows quotes, not comments or dollar quoting:
  // prepared SQL uses neither (Exec, which rewrites nothing, may).
  if (absl::StrContains(sql, "--") || absl::StrContains(sql, "/*") ||
      absl::StrContains(sql, "$")) {
    return absl::InternalError("prepared SQL holds a comment or a dollar sign");
  }
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second != nullptr) return sql::Statement(it->second.release());
  std::string text;
  std::vector<bool> used;
  const int params = RewriteParameters(sql, &text, &used);
  return sql::Statement(new Cursor(this, std::move(key), std::move(text), params, std::move(used)));
}

void Database::Release(Cursor* cursor) {
  std::unique_ptr<Cursor>& slot = cache_[cursor->key()];
  if (slot == nullptr) {
    slot.reset(cursor);
  } else {
    cursor->Deallocate();  // a second copy: its server-side statements go too
    delete cursor;
  }
}

absl::Status Database::LockScope(absl::string_view scope) {
  // Class 1 of the two-key advisory locks: scopes (tenants), apart from the
  // migrations' class 2 and any other use.
  ASSIGN_OR_RETURN(sql::Statement q, Prepare("SELECT pg_advisory_xact_lock(1, hashtext(?1))"));
  q.Bind(1, scope);
  return q.Run();
}

bool Database::Retryable(const absl::Status& status) const {
  const std::string state = SqlState(status);
  return state == "40001" || state == "40P01";
}

absl::Status Database::Notify(absl::string_view channel, absl::string_view payload) {
  ASSIGN_OR_RETURN(sql::Statement q, Prepare("SELECT pg_notify(?1, ?2)"));
  q.Bind(1, channel).Bind(2, payload);
  return q.Run();
}

absl::Status Database::Migrate(const std::vector<std::string>& steps) {
  for (;;) {
    RETURN_IF_ERROR(Exec("BEGIN"));
    auto step = [&]() -> absl::StatusOr<bool> {
      // One migrator per schema at a time, on every replica; the others
      // wait here and then find the work done.
      {
        ASSIGN_OR_RETURN(sql::Statement lock, Prepare(
            "SELECT pg_advisory_xact_lock(2, hashtext(?1))"));
        RETURN_IF_ERROR(lock.Bind(1, schema_).Run());
      }
      RETURN_IF_ERROR(Exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", QuoteIdentifier(schema_),
                                        "; CREATE TABLE IF NOT EXISTS schema_version "
                                        "(version BIGINT NOT NULL)")));
      int64_t version = 0;
      {
        ASSIGN_OR_RETURN(sql::Statement q, Prepare("SELECT version FROM schema_version"));
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) version = q.ColumnInt64(0);
      }
      if (version > static_cast<int64_t>(steps.size())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "database schema version ", version, " is newer than this program knows (",
            steps.size(), "): refusing to downgrade"));
      }
      if (version == static_cast<int64_t>(steps.size())) return false;
      RETURN_IF_ERROR(Exec(steps[static_cast<size_t>(version)]));
      RETURN_IF_ERROR(Exec("DELETE FROM schema_version"));
      ASSIGN_OR_RETURN(sql::Statement set, Prepare("INSERT INTO schema_version VALUES (?1)"));
      RETURN_IF_ERROR(set.Bind(1, version + 1).Run());
      return true;
    };
    absl::StatusOr<bool> more = step();
    if (!more.ok()) {
      (void)Exec("ROLLBACK");
      return more.status();
    }
    RETURN_IF_ERROR(Exec("COMMIT"));
    if (!*more) return absl::OkStatus();
  }
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(const std::string& uri,
                                                          const std::string& channel,
                                                          std::function<void()> on_notify) {
  RETURN_IF_ERROR(CheckUri(uri));
  std::unique_ptr<Listener> l(new Listener(uri, channel, std::move(on_notify)));
  if (pipe(l->wake_) != 0) return absl::InternalError("pipe failed");
  if (!l->Connect()) {
    absl::Status s = Unavailable("listening", l->conn_);
    return s;
  }
  l->thread_ = std::thread([p = l.get()] { p->Loop(); });
  return l;
}

Listener::Listener(std::string uri, std::string channel, std::function<void()> on_notify)
    : uri_(std::move(uri)), channel_(std::move(channel)), on_notify_(std::move(on_notify)) {}

Listener::~Listener() {
  stopping_ = true;
  if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  if (conn_ != nullptr) PQfinish(conn_);
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

bool Listener::Connect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = ConnectRaw(uri_);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return false;
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  PGresult* res = PQexec(conn_, absl::StrCat("LISTEN ", QuoteIdentifier(channel_)).c_str());
  const bool ok = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
  if (res != nullptr) PQclear(res);
  return ok;
}

void Listener::Loop() {
  while (!stopping_) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      if (!Connect()) {
        // The server is down: try again shortly, or stop when asked.
        pollfd w{wake_[0], POLLIN, 0};
        (void)poll(&w, 1, 200);
        continue;
      }
      on_notify_();  // whatever was sent while disconnected
    }
    pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, 1000) < 0) continue;
    if (stopping_) break;
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
    if (PQconsumeInput(conn_) == 0) {
      PQfinish(conn_);  // reconnects at the top of the loop
      conn_ = nullptr;
      continue;
    }
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    if (any) on_notify_();
  }
}

}  // namespace counsel::pg
