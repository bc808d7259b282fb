#include "gateway/keys/key_store.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/call_context.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/postgres.h"
#include "common/sql_move.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::gateway {
namespace {

using sql::Database;
using sql::Statement;

constexpr size_t kIdChars = 16;      // RandomId(10)
constexpr size_t kSecretChars = 52;  // RandomId(32)

const std::vector<sqlite::Migration>& Migrations() {
  static const auto* m = new std::vector<sqlite::Migration>{R"sql(
CREATE TABLE api_keys (
  key_id        TEXT PRIMARY KEY,
  tenant        TEXT NOT NULL,
  name          TEXT NOT NULL,
  scopes        TEXT NOT NULL,        -- comma-separated
  client_id     TEXT NOT NULL,
  secret_hash   BLOB NOT NULL,
  create_time   INTEGER NOT NULL,     -- unix micros
  expire_time   INTEGER,
  revoke_time   INTEGER,
  rate_per_second REAL NOT NULL DEFAULT 0,
  burst         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, create_time);
)sql",
      // Streams (watches, uploads) the key may hold open at once; 0: default.
      R"sql(
ALTER TABLE api_keys ADD COLUMN max_streams INTEGER NOT NULL DEFAULT 0;
)sql",
      // Declared types enforced from here on.
      sqlite::Migration(std::string(), sqlite::MakeTablesStrict),
      // Browser sessions, by the hash of their token.
      R"sql(
CREATE TABLE sessions (
  token_hash   BLOB PRIMARY KEY,
  key_id       TEXT NOT NULL,
  create_time  INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  expire_time  INTEGER NOT NULL,
  end_time     INTEGER
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expire_time);
)sql"};
  return *m;
}

// PostgreSQL's schema (counsel_gateway): the shape SQLite's steps arrive
// at, and the shared token buckets of replicas.
const std::vector<std::string>& PostgresMigrations() {
  static const auto* m = new std::vector<std::string>{R"sql(
CREATE TABLE api_keys (
  key_id          TEXT PRIMARY KEY,
  tenant          TEXT NOT NULL,
  name            TEXT NOT NULL,
  scopes          TEXT NOT NULL,
  client_id       TEXT NOT NULL,
  secret_hash     BYTEA NOT NULL,
  create_time     BIGINT NOT NULL,
  expire_time     BIGINT,
  revoke_time     BIGINT,
  rate_per_second DOUBLE PRECISION NOT NULL DEFAULT 0,
  burst           BIGINT NOT NULL DEFAULT 0,
  max_streams     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, create_time);
CREATE TABLE sessions (
  token_hash   BYTEA PRIMARY KEY,
  key_id       TEXT NOT NULL,
  create_time  BIGINT NOT NULL,
  last_seen    BIGINT NOT NULL,
  expire_time  BIGINT NOT NULL,
  end_time     BIGINT
);
CREATE INDEX sessions_by_expiry ON sessions (expire_time);
-- A key's quota when several replicas admit its calls: each takes tokens
-- from here in small batches and spends them locally.
CREATE TABLE quota_buckets (
  name      TEXT PRIMARY KEY,
  tokens    DOUBLE PRECISION NOT NULL,
  updated   BIGINT NOT NULL
);
)sql"};
  return *m;
}

KeyRecord ReadRecord(const Statement& q) {
  KeyRecord r;
  r.key_id = q.ColumnText(0);
  r.tenant = q.ColumnText(1);
  r.name = q.ColumnText(2);
  r.scopes = absl::StrSplit(q.ColumnText(3), ',', absl::SkipEmpty());
  r.client_id = q.ColumnText(4);
  r.secret_hash = std::string(q.ColumnBlob(5));
  r.create_time = absl::FromUnixMicros(q.ColumnInt64(6));
  if (!q.ColumnIsNull(7)) r.expire_time = absl::FromUnixMicros(q.ColumnInt64(7));
  if (!q.ColumnIsNull(8)) r.revoke_time = absl::FromUnixMicros(q.ColumnInt64(8));
  r.rate_per_second = q.ColumnDouble(9);
  r.burst = static_cast<int>(q.ColumnInt64(10));
  r.max_streams = static_cast<int>(q.ColumnInt64(11));
  return r;
}

constexpr char kColumns[] =
    "key_id, tenant, name, scopes, client_id, secret_hash, create_time, expire_time, "
    "revoke_time, rate_per_second, burst, max_streams";

// The same queries on SQLite and PostgreSQL (common/sql.h).
class SqlKeyStore final : public KeyStore {
 public:
  // `lease_db`: a second connection for shared quotas (PostgreSQL), or null.
  SqlKeyStore(std::unique_ptr<Database> db, const Clock* clock,
              std::unique_ptr<Database> lease_db = nullptr)
      : db_(std::move(db)), clock_(clock), lease_db_(std::move(lease_db)) {}

  absl::StatusOr<NewKey> Create(const KeySpec& spec) override {
    if (spec.tenant.empty() || spec.tenant.size() > 63) {
      return InvalidArgumentField("tenant", "is required (at most 63 characters)");
    }
    if (spec.scopes.empty()) return InvalidArgumentField("scopes", "at least one is required");
    for (const std::string& s : spec.scopes) {
      if (std::find(KnownScopes().begin(), KnownScopes().end(), s) == KnownScopes().end()) {
        return InvalidArgumentField("scopes", absl::StrCat("unknown scope '", s, "'"));
      }
    }
    if (spec.rate_per_second < 0 || spec.burst < 0) {
      return InvalidArgumentField("rate", "must not be negative");
    }
    if (spec.max_streams < 0 || spec.max_streams > 100000) {
      return InvalidArgumentField("max_streams", "must be between 0 (the default) and 100000");
    }
    NewKey out;
    KeyRecord& r = out.record;
    r.key_id = RandomId(10);
    const std::string secret = RandomId(32);
    r.tenant = spec.tenant;
    r.name = spec.name;
    r.scopes = spec.scopes;
    r.client_id = spec.client_id;
    r.create_time = clock_->Now();
    if (spec.ttl) r.expire_time = r.create_time + *spec.ttl;
    r.rate_per_second = spec.rate_per_second;
    r.burst = spec.burst;
    r.max_streams = spec.max_streams;
    r.secret_hash = HashSecret(secret);
    out.token = absl::StrCat("ck_", r.key_id, "_", secret);
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare(absl::StrCat(
        "INSERT INTO api_keys (", kColumns, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, ?11)")));
    ins.Bind(1, r.key_id).Bind(2, r.tenant).Bind(3, r.name).Bind(4, absl::StrJoin(r.scopes, ","))
        .Bind(5, r.client_id).BindBlob(6, r.secret_hash).Bind(7, absl::ToUnixMicros(r.create_time));
    if (r.expire_time) ins.Bind(8, absl::ToUnixMicros(*r.expire_time)); else ins.BindNull(8);
    ins.Bind(9, r.rate_per_second).Bind(10, r.burst).Bind(11, r.max_streams);
    RETURN_IF_ERROR(ins.Run());
    return out;
  }

  absl::StatusOr<std::vector<KeyRecord>> List(absl::string_view tenant) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(
        "SELECT ", kColumns, " FROM api_keys WHERE ?1 = '' OR tenant = ?1 ORDER BY create_time")));
    q.Bind(1, tenant);
    std::vector<KeyRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(ReadRecord(q));
    }
    return out;
  }

  absl::Status Revoke(absl::string_view key_id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement up, db_->Prepare(
        "UPDATE api_keys SET revoke_time = coalesce(revoke_time, ?2) WHERE key_id = ?1 "
        "RETURNING key_id"));
    up.Bind(1, key_id).Bind(2, absl::ToUnixMicros(clock_->Now()));
    ASSIGN_OR_RETURN(bool found, up.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("no key ", key_id));
    return up.Run();
  }

  absl::StatusOr<std::optional<KeyRecord>> Lookup(absl::string_view key_id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(
        "SELECT ", kColumns, " FROM api_keys WHERE key_id = ?1")));
    q.Bind(1, key_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<KeyRecord>();
    return std::optional<KeyRecord>(ReadRecord(q));
  }

  absl::StatusOr<NewSession> CreateSession(absl::string_view key_id,
                                           absl::Duration lifetime) override {
    NewSession out;
    out.token = absl::StrCat("cs_", RandomId(32));
    SessionRecord& r = out.record;
    r.key_id = std::string(key_id);
    r.create_time = clock_->Now();
    r.last_seen = r.create_time;
    r.expire_time = r.create_time + lifetime;
    absl::MutexLock lock(&mu_);
    // Sessions long over are dropped as new ones come.
    ASSIGN_OR_RETURN(Statement prune, db_->Prepare(
        "DELETE FROM sessions WHERE expire_time < ?1"));
    prune.Bind(1, absl::ToUnixMicros(r.create_time - absl::Hours(24)));
    RETURN_IF_ERROR(prune.Run());
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
        "INSERT INTO sessions (token_hash, key_id, create_time, last_seen, expire_time) "
        "VALUES (?1, ?2, ?3, ?3, ?4)"));
    ins.BindBlob(1, HashSecret(out.token)).Bind(2, r.key_id)
        .Bind(3, absl::ToUnixMicros(r.create_time)).Bind(4, absl::ToUnixMicros(r.expire_time));
    RETURN_IF_ERROR(ins.Run());
    return out;
  }

  absl::StatusOr<std::optional<SessionRecord>> FindSession(
      absl::string_view token_hash) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT key_id, create_time, last_seen, expire_time, end_time FROM sessions "
        "WHERE token_hash = ?1"));
    q.BindBlob(1, token_hash);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<SessionRecord>();
    SessionRecord r;
    r.key_id = q.ColumnText(0);
    r.create_time = absl::FromUnixMicros(q.ColumnInt64(1));
    r.last_seen = absl::FromUnixMicros(q.ColumnInt64(2));
    r.expire_time = absl::FromUnixMicros(q.ColumnInt64(3));
    if (!q.ColumnIsNull(4)) r.end_time = absl::FromUnixMicros(q.ColumnInt64(4));
    return std::optional<SessionRecord>(std::move(r));
  }

  absl::Status TouchSession(absl::string_view token_hash, absl::Time seen) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement up, db_->Prepare(
        "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1 AND last_seen < ?2"));
    up.BindBlob(1, token_hash).Bind(2, absl::ToUnixMicros(seen));
    return up.Run();
  }

  absl::StatusOr<double> LeaseTokens(absl::string_view name, double rate, double burst,
                                     double want, absl::Time /*now*/) override {
    // Its own connection: a slow lease never holds up authentication. Time
    // is the server's, so replicas whose clocks differ mint nothing.
    absl::MutexLock lock(&lease_mu_);
    if (lease_db_ == nullptr) return absl::UnimplementedError("quotas are this replica's own");
    ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(*lease_db_));
    {
      ASSIGN_OR_RETURN(Statement ins, lease_db_->Prepare(
          "INSERT INTO quota_buckets (name, tokens, updated) VALUES (?1, ?2, "
          "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint) "
          "ON CONFLICT (name) DO NOTHING"));
      RETURN_IF_ERROR(ins.Bind(1, name).Bind(2, burst).Run());
    }
    double available = 0;
    int64_t server_now = 0;
    {
      // The row stays locked to the end of the transaction: one replica's
      // lease at a time.
      ASSIGN_OR_RETURN(Statement q, lease_db_->Prepare(
          "SELECT tokens, updated, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint "
          "FROM quota_buckets WHERE name = ?1 FOR UPDATE"));
      q.Bind(1, name);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return absl::InternalError("quota bucket vanished");
      server_now = q.ColumnInt64(2);
      const double elapsed =
          std::max<double>(0, static_cast<double>(server_now - q.ColumnInt64(1)) / 1e6);
      available = std::min(burst, q.ColumnDouble(0) + rate * elapsed);
      RETURN_IF_ERROR(q.Run());
    }
    const double granted = std::max(0.0, std::min(want, std::floor(available)));
    ASSIGN_OR_RETURN(Statement up, lease_db_->Prepare(
        "UPDATE quota_buckets SET tokens = ?2, updated = GREATEST(updated, ?3) WHERE name = ?1"));
    RETURN_IF_ERROR(up.Bind(1, name).Bind(2, available - granted).Bind(3, server_now).Run());
    RETURN_IF_ERROR(tx.Commit());
    return granted;
  }

  absl::Status EndSession(absl::string_view token_hash) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement up, db_->Prepare(
        "UPDATE sessions SET end_time = coalesce(end_time, ?2) WHERE token_hash = ?1"));
    up.BindBlob(1, token_hash).Bind(2, absl::ToUnixMicros(clock_->Now()));
    return up.Run();
  }

 private:
  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  const Clock* clock_;
  absl::Mutex lease_mu_;
  std::unique_ptr<Database> lease_db_ ABSL_GUARDED_BY(lease_mu_);
};

}  // namespace

const std::vector<std::string>& KnownScopes() {
  static const auto* scopes = new std::vector<std::string>{
      kScopeGuidanceRead, kScopeGuidanceWrite, kScopeCasesRead, kScopeCasesWrite,
      kScopeCasesPii,     kScopeCasesAdmin,    kScopeCasesDelegate, kScopeCasesContribute};
  return *scopes;
}

bool ParseToken(absl::string_view token, absl::string_view* key_id, absl::string_view* secret) {
  if (!absl::ConsumePrefix(&token, "ck_")) return false;
  if (token.size() != kIdChars + 1 + kSecretChars || token[kIdChars] != '_') return false;
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    if (i == kIdChars) continue;
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  *key_id = token.substr(0, kIdChars);
  *secret = token.substr(kIdChars + 1);
  return true;
}

std::string HashSecret(absl::string_view secret) {
  return crypto::Sha256(secret);
}

absl::StatusOr<std::unique_ptr<KeyStore>> OpenKeyStore(const std::string& db,
                                                       const Clock* clock) {
  if (pg::IsUri(db)) {
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> pg, pg::Database::Open(db, "counsel_gateway"));
    RETURN_IF_ERROR(pg->Migrate(PostgresMigrations()));
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> leases,
                     pg::Database::Open(db, "counsel_gateway"));
    return std::unique_ptr<KeyStore>(new SqlKeyStore(std::move(pg), clock, std::move(leases)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> file, sqlite::Database::Open(db, {}));
  RETURN_IF_ERROR(file->Migrate(Migrations()));
  return std::unique_ptr<KeyStore>(new SqlKeyStore(std::move(file), clock));
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> MoveKeysToPostgres(
    const std::string& from, const std::string& to) {
  static constexpr sql::MovedTable kTables[] = {{"api_keys"}, {"sessions"}};
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> src,
                   sql::OpenMoveSource(from, to, static_cast<int>(Migrations().size()),
                                       "counsel-gateway"));
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> dst, pg::Database::Open(to, "counsel_gateway"));
  RETURN_IF_ERROR(dst->Migrate(PostgresMigrations()));
  return sql::MoveTables(*src, *dst, kTables, /*lock_key=*/3);
}

}  // namespace counsel::gateway
