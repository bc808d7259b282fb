#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "case-svc/store/case_store.h"
#include "common/errors.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;

const std::vector<std::string>& Migrations() {
  static const auto* m = new std::vector<std::string>{
      R"sql(
-- One data key per client (or per case when the firm gives no client id),
-- wrapped by the master key. Destroying the key erases the client's data.
CREATE TABLE client_keys (
  key_ref        TEXT PRIMARY KEY,
  tenant         TEXT NOT NULL,
  client_id      TEXT,
  master_key_id  TEXT NOT NULL,
  wrapped        BLOB,
  create_time    INTEGER NOT NULL,
  destroy_time   INTEGER
);
CREATE UNIQUE INDEX client_keys_by_client ON client_keys (tenant, client_id)
  WHERE client_id IS NOT NULL;

CREATE TABLE cases (
  tenant          TEXT NOT NULL,
  case_id         TEXT NOT NULL,
  external_ref    TEXT,
  client_id       TEXT,
  key_ref         TEXT NOT NULL REFERENCES client_keys (key_ref),
  name_sealed     BLOB,
  phone_sealed    BLOB,
  email_sealed    BLOB,
  national_id_sealed BLOB,
  state           INTEGER NOT NULL,
  severity        INTEGER NOT NULL,
  incident_type   TEXT NOT NULL,
  assignee        TEXT NOT NULL,
  create_time     INTEGER NOT NULL,   -- unix micros
  update_time     INTEGER NOT NULL,
  revision        INTEGER NOT NULL,   -- bumps on every change; the etag
  data            BLOB NOT NULL,      -- Case proto without personal data
  PRIMARY KEY (tenant, case_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX cases_by_external_ref ON cases (tenant, external_ref)
  WHERE external_ref IS NOT NULL;
CREATE INDEX cases_by_create_time ON cases (tenant, create_time, case_id);

CREATE TABLE create_requests (
  tenant          TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  request_digest  BLOB NOT NULL,
  case_id         TEXT NOT NULL,
  create_time     INTEGER NOT NULL,
  PRIMARY KEY (tenant, request_id)
) WITHOUT ROWID;
)sql",
  };
  return *m;
}

std::string Etag(int64_t revision) { return absl::StrCat("r", revision); }

google::protobuf::Timestamp ToProto(int64_t micros) {
  google::protobuf::Timestamp t;
  t.set_seconds(micros / 1000000);
  t.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return t;
}

class SqliteCaseStore final : public CaseStore {
 public:
  SqliteCaseStore(std::unique_ptr<Database> db, const PiiVault* vault, const Clock* clock)
      : db_(std::move(db)), vault_(vault), clock_(clock) {}

  absl::StatusOr<v1::Case> CreateCase(absl::string_view tenant, const NewCase& request) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    if (!request.request_id.empty()) {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT request_digest, case_id FROM create_requests WHERE tenant = ?1 AND request_id = ?2"));
      q.Bind(1, tenant).Bind(2, request.request_id);
      ASSIGN_OR_RETURN(bool seen, q.Step());
      if (seen) {
        if (q.ColumnBlob(0) != request.request_digest) {
          return InvalidArgumentField(
              "request_id", "was already used for a different request; use a new request_id");
        }
        const std::string case_id = q.ColumnText(1);
        return LoadLocked(tenant, case_id);
      }
    }
    const v1::Case& c = request.c;
    const std::string case_id(absl::StripPrefix(c.name(), "cases/"));
    if (!c.external_ref().empty()) {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT case_id FROM cases WHERE tenant = ?1 AND external_ref = ?2"));
      q.Bind(1, tenant).Bind(2, c.external_ref());
      ASSIGN_OR_RETURN(bool exists, q.Step());
      if (exists) {
        const std::string existing = absl::StrCat("cases/", q.ColumnText(0));
        return ErrorWithReason(absl::StatusCode::kAlreadyExists, "EXTERNAL_REF_EXISTS",
                               absl::StrCat("external_ref is already used by ", existing),
                               {{"case", existing}});
      }
    }
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(DataKey key, DataKeyFor(tenant, c.client().id(), now));
    const Binding name_b{tenant, case_id, "client.display_name"};
    const Binding phone_b{tenant, case_id, "client.phone"};
    const Binding email_b{tenant, case_id, "client.email"};
    const Binding nid_b{tenant, case_id, "client.national_id"};
    v1::Case stored = c;
    ScrubClient(stored);
    stored.clear_create_time();
    stored.clear_update_time();
    stored.clear_etag();
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
        "INSERT INTO cases (tenant, case_id, external_ref, client_id, key_ref, name_sealed, "
        "phone_sealed, email_sealed, national_id_sealed, state, severity, incident_type, assignee, "
        "create_time, update_time, revision, data) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, 1, ?15)"));
    ins.Bind(1, tenant).Bind(2, case_id);
    if (c.external_ref().empty()) ins.BindNull(3); else ins.Bind(3, c.external_ref());
    if (c.client().id().empty()) ins.BindNull(4); else ins.Bind(4, c.client().id());
    ins.Bind(5, key.ref);
    BindSealed(ins, 6, key, c.client().display_name(), name_b);
    BindSealed(ins, 7, key, c.client().phone(), phone_b);
    BindSealed(ins, 8, key, c.client().email(), email_b);
    BindSealed(ins, 9, key, c.client().national_id(), nid_b);
    ins.Bind(10, static_cast<int64_t>(c.state())).Bind(11, static_cast<int64_t>(c.severity()))
        .Bind(12, c.incident_type()).Bind(13, c.assignee()).Bind(14, now)
        .BindBlob(15, stored.SerializeAsString());
    RETURN_IF_ERROR(ins.Run());
    if (!request.request_id.empty()) {
      ASSIGN_OR_RETURN(Statement req, db_->Prepare(
          "INSERT INTO create_requests (tenant, request_id, request_digest, case_id, create_time) "
          "VALUES (?1, ?2, ?3, ?4, ?5)"));
      req.Bind(1, tenant).Bind(2, request.request_id).BindBlob(3, request.request_digest)
          .Bind(4, case_id).Bind(5, now);
      RETURN_IF_ERROR(req.Run());
    }
    ASSIGN_OR_RETURN(v1::Case out, LoadLocked(tenant, case_id));
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  absl::StatusOr<v1::Case> GetCase(absl::string_view tenant, absl::string_view case_id) override {
    absl::MutexLock lock(&mu_);
    return LoadLocked(tenant, case_id);
  }

 private:
  static void ScrubClient(v1::Case& c) {
    v1::Client* client = c.mutable_client();
    client->clear_display_name();
    client->clear_phone();
    client->clear_email();
    client->clear_national_id();
  }

  static void BindSealed(Statement& stmt, int index, const DataKey& key, const std::string& value,
                         const Binding& binding) {
    if (value.empty()) {
      stmt.BindNull(index);
    } else {
      stmt.BindBlob(index, PiiVault::Seal(key, value, binding));
    }
  }

  // The client's live data key, made on first use. Cases without a client
  // id get a key of their own.
  absl::StatusOr<DataKey> DataKeyFor(absl::string_view tenant, const std::string& client_id,
                                     int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!client_id.empty()) {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT key_ref, wrapped FROM client_keys WHERE tenant = ?1 AND client_id = ?2 "
          "AND destroy_time IS NULL"));
      q.Bind(1, tenant).Bind(2, client_id);
      ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) return vault_->Unwrap(tenant, q.ColumnText(0), q.ColumnBlob(1));
    }
    DataKey key = PiiVault::NewDataKey();
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
        "INSERT INTO client_keys (key_ref, tenant, client_id, master_key_id, wrapped, create_time) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    ins.Bind(1, key.ref).Bind(2, tenant);
    if (client_id.empty()) ins.BindNull(3); else ins.Bind(3, client_id);
    ins.Bind(4, vault_->current_key_id()).BindBlob(5, vault_->Wrap(tenant, key)).Bind(6, now);
    RETURN_IF_ERROR(ins.Run());
    return key;
  }

  absl::StatusOr<v1::Case> LoadLocked(absl::string_view tenant, absl::string_view case_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT c.data, c.revision, c.create_time, c.update_time, c.key_ref, k.wrapped, "
        "c.name_sealed, c.phone_sealed, c.email_sealed, c.national_id_sealed, k.destroy_time "
        "FROM cases c JOIN client_keys k ON k.key_ref = c.key_ref "
        "WHERE c.tenant = ?1 AND c.case_id = ?2"));
    q.Bind(1, tenant).Bind(2, case_id);
    ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("cases/", case_id, " does not exist"));
    v1::Case c;
    if (!c.ParseFromString(std::string(q.ColumnBlob(0)))) {
      return absl::DataLossError("unreadable case row");
    }
    c.set_etag(Etag(q.ColumnInt64(1)));
    *c.mutable_create_time() = ToProto(q.ColumnInt64(2));
    *c.mutable_update_time() = ToProto(q.ColumnInt64(3));
    if (q.ColumnIsNull(10)) {
      ASSIGN_OR_RETURN(DataKey key, vault_->Unwrap(tenant, q.ColumnText(4), q.ColumnBlob(5)));
      v1::Client* client = c.mutable_client();
      const struct {
        int col;
        const char* field;
        std::string* out;
      } fields[] = {{6, "client.display_name", client->mutable_display_name()},
                    {7, "client.phone", client->mutable_phone()},
                    {8, "client.email", client->mutable_email()},
                    {9, "client.national_id", client->mutable_national_id()}};
      for (const auto& f : fields) {
        if (q.ColumnIsNull(f.col)) continue;
        ASSIGN_OR_RETURN(*f.out, PiiVault::Open(key, q.ColumnBlob(f.col),
                                                Binding{tenant, case_id, f.field}));
      }
    } else {
      *c.mutable_client()->mutable_erase_time() = ToProto(q.ColumnInt64(10));
    }
    return c;
  }

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  const PiiVault* vault_;
  const Clock* clock_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CaseStore>> OpenSqliteCaseStore(const std::string& path,
                                                               const PiiVault* vault,
                                                               const Clock* clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, {}));
  RETURN_IF_ERROR(db->Migrate(Migrations()));
  return std::unique_ptr<CaseStore>(new SqliteCaseStore(std::move(db), vault, clock));
}

}  // namespace counsel::cases
