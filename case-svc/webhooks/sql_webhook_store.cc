// The WebhookStore on SQLite or PostgreSQL (the same queries, common/sql.h):
// one connection behind a mutex (webhook bookkeeping is a few small writes
// per delivery). SQLite runs synchronous=NORMAL: a kill -9 loses nothing in
// WAL mode, and a power loss can only lose the last positions, which
// delivers those changes again under the same webhook-id (at least once),
// never skips them. On PostgreSQL (schema counsel_webhooks) every case-svc
// replica shares the subscriptions, and the delivery leases let one replica
// at a time deliver each webhook.
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "case-svc/webhooks/webhook_store.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases::webhooks {
namespace {

using sql::Database;
using sql::Statement;
using Transaction = sql::WriteTransaction;

// Steps a statement that returns the rows it changed (RETURNING) to the
// end: whether there was one.
absl::StatusOr<bool> Changed(Statement& q) {
  ASSIGN_OR_RETURN(bool any, q.Step());
  while (true) {
    ASSIGN_OR_RETURN(bool more, q.Step());
    if (!more) break;
  }
  return any;
}

constexpr int kKeepDeliveries = 1000;

const std::vector<sqlite::Migration>& Migrations() {
  static const auto* m = new std::vector<sqlite::Migration>{R"sql(
CREATE TABLE webhooks (
  tenant          TEXT NOT NULL,
  id              TEXT NOT NULL,
  key_ref         TEXT NOT NULL,
  wrapped_key     BLOB NOT NULL,
  master_key_id   TEXT NOT NULL,
  config_sealed   BLOB NOT NULL,   -- url, description, event types
  secret_sealed   BLOB NOT NULL,
  previous_sealed BLOB,
  previous_expire INTEGER NOT NULL DEFAULT 0,
  state           INTEGER NOT NULL,
  create_time     INTEGER NOT NULL,
  update_time     INTEGER NOT NULL,
  revision        INTEGER NOT NULL,
  generation      INTEGER NOT NULL,
  position        INTEGER NOT NULL,
  failures        INTEGER NOT NULL DEFAULT 0,
  next_attempt    INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  lease_owner     TEXT NOT NULL DEFAULT '',
  lease_epoch     INTEGER NOT NULL DEFAULT 0,
  lease_until     INTEGER NOT NULL DEFAULT 0,
  request_id      TEXT NOT NULL DEFAULT '',
  request_digest  BLOB NOT NULL DEFAULT x'',
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX webhooks_by_request ON webhooks(tenant, request_id) WHERE request_id != '';
CREATE TABLE deliveries (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant      TEXT NOT NULL,
  webhook     TEXT NOT NULL,
  data        BLOB NOT NULL      -- WebhookDelivery without its name
);
CREATE INDEX deliveries_by_webhook ON deliveries(tenant, webhook, id);
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  INTEGER NOT NULL
) WITHOUT ROWID;
)sql"};
  return *m;
}

const std::vector<std::string>& PostgresMigrations() {
  static const auto* m = new std::vector<std::string>{R"sql(
CREATE TABLE webhooks (
  tenant          TEXT NOT NULL,
  id              TEXT NOT NULL,
  key_ref         TEXT NOT NULL,
  wrapped_key     BYTEA NOT NULL,
  master_key_id   TEXT NOT NULL,
  config_sealed   BYTEA NOT NULL,
  secret_sealed   BYTEA NOT NULL,
  previous_sealed BYTEA,
  previous_expire BIGINT NOT NULL DEFAULT 0,
  state           BIGINT NOT NULL,
  create_time     BIGINT NOT NULL,
  update_time     BIGINT NOT NULL,
  revision        BIGINT NOT NULL,
  generation      BIGINT NOT NULL,
  position        BIGINT NOT NULL,
  failures        BIGINT NOT NULL DEFAULT 0,
  next_attempt    BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  lease_owner     TEXT NOT NULL DEFAULT '',
  lease_epoch     BIGINT NOT NULL DEFAULT 0,
  lease_until     BIGINT NOT NULL DEFAULT 0,
  request_id      TEXT NOT NULL DEFAULT '',
  request_digest  BYTEA NOT NULL DEFAULT '',
  PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX webhooks_by_request ON webhooks(tenant, request_id) WHERE request_id != '';
CREATE TABLE deliveries (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant      TEXT NOT NULL,
  webhook     TEXT NOT NULL,
  data        BYTEA NOT NULL
);
CREATE INDEX deliveries_by_webhook ON deliveries(tenant, webhook, id);
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  BIGINT NOT NULL
);
)sql"};
  return *m;
}

// The store `db` names, migrated: a SQLite file or a postgresql:// URI.
absl::StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& db) {
  if (pg::IsUri(db)) {
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> pg, pg::Database::Open(db, "counsel_webhooks"));
    RETURN_IF_ERROR(pg->Migrate(PostgresMigrations()));
    return std::unique_ptr<Database>(std::move(pg));
  }
  sqlite::Options o;
  o.synchronous = "NORMAL";
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> file, sqlite::Database::Open(db, o));
  // A deleted webhook's sealed values are overwritten, not left in free pages.
  RETURN_IF_ERROR(file->Exec("PRAGMA secure_delete = ON"));
  RETURN_IF_ERROR(file->Migrate(Migrations()));
  return std::unique_ptr<Database>(std::move(file));
}

int64_t Micros(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMicros(t);
}
absl::Time FromMicros(int64_t us) {
  return us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us);
}

std::string Binding(absl::string_view id) { return absl::StrCat("webhooks/", id); }

constexpr char kColumns[] =
    "tenant, id, key_ref, wrapped_key, config_sealed, secret_sealed, previous_sealed, "
    "previous_expire, state, create_time, update_time, revision, generation, position, "
    "failures, next_attempt, last_error, request_id, request_digest";

class SqlWebhookStore final : public WebhookStore {
 public:
  SqlWebhookStore(std::unique_ptr<Database> db, const PiiVault* vault)
      : db_(std::move(db)), vault_(vault) {}

  absl::Status Insert(const StoredWebhook& w) override {
    absl::MutexLock lock(&mu_);
    const DataKey key = PiiVault::NewDataKey();
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "INSERT INTO webhooks (tenant, id, key_ref, wrapped_key, master_key_id, config_sealed, "
        "secret_sealed, previous_sealed, previous_expire, state, create_time, update_time, "
        "revision, generation, position, failures, next_attempt, last_error, request_id, "
        "request_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15, ?16, ?17, ?18, ?19, ?20)"));
    q.Bind(1, w.tenant).Bind(2, w.id).Bind(3, key.ref).BindBlob(4, vault_->Wrap(w.tenant, key))
        .Bind(5, vault_->current_key_id());
    BindSealed(q, key, w, 6);
    q.Bind(10, static_cast<int64_t>(w.state)).Bind(11, Micros(w.create_time))
        .Bind(12, Micros(w.update_time)).Bind(13, w.revision).Bind(14, w.generation)
        .Bind(15, w.position).Bind(16, static_cast<int64_t>(w.failures))
        .Bind(17, Micros(w.next_attempt)).Bind(18, w.last_error).Bind(19, w.request_id)
        .BindBlob(20, w.request_digest);
    return q.Run();
  }

  absl::StatusOr<StoredWebhook> Get(absl::string_view tenant, absl::string_view id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(
        "SELECT ", kColumns, " FROM webhooks WHERE tenant = ?1 AND id = ?2")));
    q.Bind(1, tenant).Bind(2, id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return absl::NotFoundError("no such webhook");
    return Read(q);
  }

  absl::StatusOr<std::optional<StoredWebhook>> FindRequest(
      absl::string_view tenant, absl::string_view request_id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(
        "SELECT ", kColumns, " FROM webhooks WHERE tenant = ?1 AND request_id = ?2")));
    q.Bind(1, tenant).Bind(2, request_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<StoredWebhook>();
    ASSIGN_OR_RETURN(StoredWebhook w, Read(q));
    return std::optional<StoredWebhook>(std::move(w));
  }

  absl::StatusOr<std::vector<StoredWebhook>> List(absl::string_view tenant,
                                                  absl::string_view after_id,
                                                  int limit) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(
        "SELECT ", kColumns, " FROM webhooks WHERE tenant = ?1 AND id > ?2 ORDER BY id "
        "LIMIT ?3")));
    q.Bind(1, tenant).Bind(2, after_id).Bind(3, static_cast<int64_t>(limit));
    std::vector<StoredWebhook> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(StoredWebhook w, Read(q));
      out.push_back(std::move(w));
    }
    return out;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AllIds() override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT tenant, id FROM webhooks"));
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.emplace_back(q.ColumnText(0), q.ColumnText(1));
    }
    return out;
  }

  absl::Status Replace(const StoredWebhook& w, int64_t expected_revision) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(DataKey key, KeyOf(w.tenant, w.id));
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "UPDATE webhooks SET config_sealed = ?6, secret_sealed = ?7, previous_sealed = ?8, "
        "previous_expire = ?9, state = ?10, update_time = ?11, revision = ?12 "
        "WHERE tenant = ?1 AND id = ?2 AND revision = ?3 RETURNING id"));
    q.Bind(1, w.tenant).Bind(2, w.id).Bind(3, expected_revision);
    BindSealed(q, key, w, 6);
    q.Bind(10, static_cast<int64_t>(w.state)).Bind(11, Micros(w.update_time))
        .Bind(12, w.revision);
    ASSIGN_OR_RETURN(bool changed, Changed(q));
    if (!changed) return absl::AbortedError("the webhook changed since it was read");
    ASSIGN_OR_RETURN(Statement p, db_->Prepare(
        "UPDATE webhooks SET generation = ?3, position = ?4, failures = ?5, next_attempt = ?6, "
        "last_error = ?7 WHERE tenant = ?1 AND id = ?2 AND generation != ?3"));
    p.Bind(1, w.tenant).Bind(2, w.id).Bind(3, w.generation).Bind(4, w.position)
        .Bind(5, static_cast<int64_t>(w.failures)).Bind(6, Micros(w.next_attempt))
        .Bind(7, w.last_error);
    RETURN_IF_ERROR(p.Run());
    return tx.Commit();
  }

  absl::Status Delete(absl::string_view tenant, absl::string_view id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "DELETE FROM webhooks WHERE tenant = ?1 AND id = ?2 RETURNING id"));
    q.Bind(1, tenant).Bind(2, id);
    ASSIGN_OR_RETURN(bool deleted, Changed(q));
    if (!deleted) return absl::NotFoundError("no such webhook");
    ASSIGN_OR_RETURN(Statement d, db_->Prepare(
        "DELETE FROM deliveries WHERE tenant = ?1 AND webhook = ?2"));
    d.Bind(1, tenant).Bind(2, id);
    RETURN_IF_ERROR(d.Run());
    return tx.Commit();
  }

  absl::StatusOr<int64_t> NextEpoch() override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "INSERT INTO meta (key, value) VALUES ('epoch', 1) "
        "ON CONFLICT (key) DO UPDATE SET value = meta.value + 1 RETURNING value"));
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return absl::InternalError("no epoch");
    const int64_t epoch = q.ColumnInt64(0);
    while (true) {
      ASSIGN_OR_RETURN(bool more, q.Step());
      if (!more) break;
    }
    return epoch;
  }

  absl::StatusOr<bool> Lease(absl::string_view tenant, absl::string_view id,
                             const LeaseOwner& owner, absl::Time now, absl::Time until) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "UPDATE webhooks SET lease_owner = ?3, lease_epoch = ?4, lease_until = ?6 "
        "WHERE tenant = ?1 AND id = ?2 AND (lease_until < ?5 OR "
        "(lease_owner = ?3 AND lease_epoch <= ?4)) RETURNING id"));
    q.Bind(1, tenant).Bind(2, id).Bind(3, owner.name).Bind(4, owner.epoch).Bind(5, Micros(now))
        .Bind(6, Micros(until));
    return Changed(q);
  }

  absl::Status Release(absl::string_view tenant, absl::string_view id,
                       const LeaseOwner& owner) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "UPDATE webhooks SET lease_until = 0 WHERE tenant = ?1 AND id = ?2 AND lease_owner = ?3 "
        "AND lease_epoch = ?4"));
    q.Bind(1, tenant).Bind(2, id).Bind(3, owner.name).Bind(4, owner.epoch);
    return q.Run();
  }

  absl::StatusOr<bool> RecordProgress(absl::string_view tenant, absl::string_view id,
                                      const LeaseOwner& owner, const Progress& p) override {
    absl::MutexLock lock(&mu_);
    return RecordProgressLocked(tenant, id, owner, p);
  }

  absl::StatusOr<bool> RecordAttempt(absl::string_view tenant, absl::string_view id,
                                     const LeaseOwner& owner, v1::WebhookDelivery d,
                                     const Progress& p) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    RETURN_IF_ERROR(InsertDeliveryLocked(tenant, id, std::move(d)));
    ASSIGN_OR_RETURN(bool kept, RecordProgressLocked(tenant, id, owner, p));
    RETURN_IF_ERROR(tx.Commit());
    return kept;
  }

  absl::Status AddDelivery(absl::string_view tenant, absl::string_view id,
                           v1::WebhookDelivery d) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    RETURN_IF_ERROR(InsertDeliveryLocked(tenant, id, std::move(d)));
    return tx.Commit();
  }

  absl::StatusOr<std::pair<std::vector<v1::WebhookDelivery>, int64_t>> ListDeliveries(
      absl::string_view tenant, absl::string_view id, int64_t before, int limit) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT id, data FROM deliveries WHERE tenant = ?1 AND webhook = ?2 AND "
        "(?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4"));
    q.Bind(1, tenant).Bind(2, id).Bind(3, before).Bind(4, static_cast<int64_t>(limit + 1));
    std::vector<v1::WebhookDelivery> out;
    int64_t next = 0, last = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      if (static_cast<int>(out.size()) == limit) {
        next = last;
        break;
      }
      v1::WebhookDelivery d;
      if (!d.ParseFromString(std::string(q.ColumnBlob(1)))) {
        return absl::DataLossError("unreadable delivery row");
      }
      last = q.ColumnInt64(0);
      d.set_name(absl::StrCat("webhooks/", id, "/deliveries/", last));
      out.push_back(std::move(d));
    }
    return std::make_pair(std::move(out), next);
  }

 private:
  absl::StatusOr<bool> RecordProgressLocked(absl::string_view tenant, absl::string_view id,
                                            const LeaseOwner& owner, const Progress& p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // A caller's DISABLED stays; a 410 disables and, being a change of
    // state the caller sees, bumps the revision (the etag).
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "UPDATE webhooks SET position = CASE WHEN position > ?5 THEN position ELSE ?5 END, "
        "failures = ?6, next_attempt = ?7, "
        "last_error = ?8, state = CASE WHEN state = 3 OR ?9 = 0 THEN state ELSE ?9 END, "
        "revision = revision + (CASE WHEN ?9 = 3 AND state != 3 THEN 1 ELSE 0 END) "
        "WHERE tenant = ?1 AND id = ?2 AND lease_owner = ?3 AND lease_epoch = ?10 "
        "AND generation = ?4 RETURNING state"));
    int64_t state = 0;
    switch (p.state) {
      case Progress::State::kKeep: state = 0; break;
      case Progress::State::kActive: state = v1::Webhook::STATE_ACTIVE; break;
      case Progress::State::kFailing: state = v1::Webhook::STATE_FAILING; break;
      case Progress::State::kGone: state = v1::Webhook::STATE_DISABLED; break;
    }
    q.Bind(1, tenant).Bind(2, id).Bind(3, owner.name).Bind(4, p.generation).Bind(5, p.position)
        .Bind(6, static_cast<int64_t>(p.failures)).Bind(7, Micros(p.next_attempt))
        .Bind(8, p.last_error).Bind(9, state).Bind(10, owner.epoch);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return false;
    const bool disabled = q.ColumnInt64(0) == v1::Webhook::STATE_DISABLED;
    while (true) {
      ASSIGN_OR_RETURN(bool more, q.Step());
      if (!more) break;
    }
    return !disabled || p.state == Progress::State::kGone;
  }

  absl::Status InsertDeliveryLocked(absl::string_view tenant, absl::string_view id,
                                    v1::WebhookDelivery d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    d.clear_name();
    // Not for a webhook deleted while its attempt was in flight.
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "INSERT INTO deliveries (tenant, webhook, data) SELECT ?1, ?2, ?3 WHERE EXISTS "
        "(SELECT 1 FROM webhooks WHERE tenant = ?1 AND id = ?2) RETURNING id"));
    q.Bind(1, tenant).Bind(2, id).BindBlob(3, d.SerializeAsString());
    ASSIGN_OR_RETURN(bool inserted, Changed(q));
    // Pruned every 100 inserts of this webhook (counted since the store
    // opened), so each log stays near its 1000 newest.
    if (inserted && ++inserts_[{std::string(tenant), std::string(id)}] % 100 == 0) {
      ASSIGN_OR_RETURN(Statement prune, db_->Prepare(
          "DELETE FROM deliveries WHERE tenant = ?1 AND webhook = ?2 AND id <= "
          "(SELECT id FROM deliveries WHERE tenant = ?1 AND webhook = ?2 ORDER BY id DESC "
          "LIMIT 1 OFFSET ?3)"));
      prune.Bind(1, tenant).Bind(2, id).Bind(3, static_cast<int64_t>(kKeepDeliveries));
      RETURN_IF_ERROR(prune.Run());
    }
    return absl::OkStatus();
  }

  void BindSealed(Statement& q, const DataKey& key, const StoredWebhook& w, int first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string binding = Binding(w.id);
    v1::Webhook config;
    config.set_url(w.config.url());
    *config.mutable_event_types() = w.config.event_types();
    config.set_description(w.config.description());
    q.BindBlob(first, PiiVault::Seal(key, config.SerializeAsString(),
                                     {w.tenant, binding, "config"}));
    q.BindBlob(first + 1, PiiVault::Seal(key, w.secret, {w.tenant, binding, "secret"}));
    if (w.previous_secret.empty()) {
      q.BindNull(first + 2);
    } else {
      q.BindBlob(first + 2,
                 PiiVault::Seal(key, w.previous_secret, {w.tenant, binding, "previous_secret"}));
    }
    q.Bind(first + 3, Micros(w.previous_expire));
  }

  absl::StatusOr<DataKey> KeyOf(absl::string_view tenant, absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT key_ref, wrapped_key FROM webhooks WHERE tenant = ?1 AND id = ?2"));
    q.Bind(1, tenant).Bind(2, id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return absl::NotFoundError("no such webhook");
    return vault_->Unwrap(tenant, q.ColumnText(0), q.ColumnBlob(1));
  }

  absl::StatusOr<StoredWebhook> Read(Statement& q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    StoredWebhook w;
    w.tenant = q.ColumnText(0);
    w.id = q.ColumnText(1);
    ASSIGN_OR_RETURN(DataKey key, vault_->Unwrap(w.tenant, q.ColumnText(2), q.ColumnBlob(3)));
    const std::string binding = Binding(w.id);
    ASSIGN_OR_RETURN(std::string config,
                     PiiVault::Open(key, q.ColumnBlob(4), {w.tenant, binding, "config"}));
    if (!w.config.ParseFromString(config)) return absl::DataLossError("unreadable webhook row");
    ASSIGN_OR_RETURN(w.secret, PiiVault::Open(key, q.ColumnBlob(5), {w.tenant, binding, "secret"}));
    if (!q.ColumnIsNull(6)) {
      ASSIGN_OR_RETURN(w.previous_secret, PiiVault::Open(key, q.ColumnBlob(6),
                                                         {w.tenant, binding, "previous_secret"}));
    }
    w.previous_expire = FromMicros(q.ColumnInt64(7));
    const int64_t state = q.ColumnInt64(8);
    w.state = v1::Webhook::State_IsValid(static_cast<int>(state))
                  ? static_cast<v1::Webhook::State>(state)
                  : v1::Webhook::STATE_DISABLED;
    w.create_time = FromMicros(q.ColumnInt64(9));
    w.update_time = FromMicros(q.ColumnInt64(10));
    w.revision = q.ColumnInt64(11);
    w.generation = q.ColumnInt64(12);
    w.position = q.ColumnInt64(13);
    w.failures = static_cast<int>(q.ColumnInt64(14));
    w.next_attempt = FromMicros(q.ColumnInt64(15));
    w.last_error = q.ColumnText(16);
    w.request_id = q.ColumnText(17);
    w.request_digest = std::string(q.ColumnBlob(18));
    return w;
  }

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  const PiiVault* vault_;
  std::map<std::pair<std::string, std::string>, int64_t> inserts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookStore>> OpenWebhookStore(const std::string& db,
                                                                const PiiVault* vault) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> opened, OpenDatabase(db));
  return std::unique_ptr<WebhookStore>(new SqlWebhookStore(std::move(opened), vault));
}

absl::StatusOr<int64_t> RewrapWebhookKeys(const std::string& path, const PiiVault& vault) {
  if (!pg::IsUri(path) && !std::filesystem::exists(path)) return int64_t{0};
  ASSIGN_OR_RETURN(auto db, OpenDatabase(path));
  ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db));
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> rows;
  {
    ASSIGN_OR_RETURN(Statement q, db->Prepare(
        "SELECT tenant, id, key_ref, wrapped_key FROM webhooks WHERE master_key_id != ?1"));
    q.Bind(1, vault.current_key_id());
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      rows.emplace_back(q.ColumnText(0), q.ColumnText(1), q.ColumnText(2),
                        std::string(q.ColumnBlob(3)));
    }
  }
  for (const auto& [tenant, id, ref, wrapped] : rows) {
    ASSIGN_OR_RETURN(DataKey key, vault.Unwrap(tenant, ref, wrapped));
    ASSIGN_OR_RETURN(Statement up, db->Prepare(
        "UPDATE webhooks SET wrapped_key = ?3, master_key_id = ?4 WHERE tenant = ?1 AND id = ?2"));
    up.Bind(1, tenant).Bind(2, id).BindBlob(3, vault.Wrap(tenant, key))
        .Bind(4, vault.current_key_id());
    RETURN_IF_ERROR(up.Run());
  }
  RETURN_IF_ERROR(tx.Commit());
  return static_cast<int64_t>(rows.size());
}

}  // namespace counsel::cases::webhooks
