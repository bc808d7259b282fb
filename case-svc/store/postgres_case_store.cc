// The case store on PostgreSQL: the same tables and queries as on SQLite
// (case_schema.cc holds SQLite's history of migrations; this is the shape
// they arrive at), in the counsel_cases schema. What PostgreSQL adds for
// replicas: each write locks its tenant (Writer, pg::Database::LockScope),
// so a tenant's change sequence numbers commit in order on every replica;
// each batch that wrote NOTIFYs, and every replica LISTENs, so a watcher on
// any replica wakes for a change made through any other.
#include "case-svc/store/sql_case_store_impl.h"

namespace counsel::cases::sql_store {
namespace {

constexpr char kSchema[] = "counsel_cases";
// The wake-up channel; a wake-up only: watchers read the rows.
constexpr char kChangesChannel[] = "counsel_cases_changes";

}  // namespace

const std::vector<std::string>& PostgresMigrations() {
  static const auto* m = new std::vector<std::string>{R"sql(
CREATE TABLE client_keys (
  key_ref        TEXT PRIMARY KEY,
  tenant         TEXT NOT NULL,
  client_id      TEXT,
  master_key_id  TEXT NOT NULL,
  wrapped        BYTEA,
  made_time      BIGINT NOT NULL,
  destroy_time   BIGINT
);
CREATE UNIQUE INDEX client_keys_by_client ON client_keys (tenant, client_id)
  WHERE client_id IS NOT NULL AND destroy_time IS NULL;

CREATE TABLE cases (
  tenant             TEXT NOT NULL,
  case_id            TEXT NOT NULL,
  external_ref       TEXT,
  client_id          TEXT NOT NULL,
  key_ref            TEXT NOT NULL REFERENCES client_keys (key_ref),
  name_sealed        BYTEA,
  phone_sealed       BYTEA,
  email_sealed       BYTEA,
  national_id_sealed BYTEA,
  state              BIGINT NOT NULL,
  severity           BIGINT NOT NULL,
  incident_type      TEXT NOT NULL,
  assignee           TEXT NOT NULL,
  suspected_source   TEXT NOT NULL,
  leaked_mask        BIGINT NOT NULL,
  limitation_ends_on TEXT,
  next_due_time      BIGINT,
  create_time        BIGINT NOT NULL,
  update_time        BIGINT NOT NULL,
  revision           BIGINT NOT NULL,
  data               BYTEA NOT NULL,
  phone_index        TEXT,
  national_id_index  TEXT,
  text_sealed        BYTEA,
  discovered_time    BIGINT,
  occurred_on        TEXT,
  PRIMARY KEY (tenant, case_id)
);
CREATE UNIQUE INDEX cases_by_external_ref ON cases (tenant, external_ref)
  WHERE external_ref IS NOT NULL;
CREATE INDEX cases_by_create_time ON cases (tenant, create_time, case_id);
CREATE INDEX cases_by_update_time ON cases (tenant, update_time, case_id);
CREATE INDEX cases_by_state ON cases (tenant, state, create_time);
CREATE INDEX cases_by_phone_index ON cases (tenant, phone_index);
CREATE INDEX cases_by_national_id_index ON cases (tenant, national_id_index);
CREATE INDEX cases_by_assignee ON cases (tenant, assignee, create_time);
CREATE INDEX cases_by_severity ON cases (tenant, severity, create_time);
CREATE INDEX cases_by_state_assignee ON cases (tenant, state, assignee, create_time);
CREATE INDEX cases_by_state_severity ON cases (tenant, state, severity, create_time);
CREATE INDEX cases_by_key_ref ON cases (key_ref);

CREATE TABLE pending_items (
  tenant    TEXT NOT NULL,
  case_id   TEXT NOT NULL,
  item_key  TEXT NOT NULL,
  due_time  BIGINT NOT NULL,
  PRIMARY KEY (tenant, case_id, item_key)
);
CREATE INDEX pending_items_by_due ON pending_items (tenant, due_time);

CREATE TABLE create_requests (
  tenant          TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  request_digest  BYTEA NOT NULL,
  resource        TEXT NOT NULL,
  create_time     BIGINT NOT NULL,
  PRIMARY KEY (tenant, request_id)
);

CREATE TABLE tenant_seq (
  tenant  TEXT PRIMARY KEY,
  seq     BIGINT NOT NULL
);
CREATE TABLE events (
  tenant        TEXT NOT NULL,
  seq           BIGINT NOT NULL,
  case_id       TEXT NOT NULL,
  client_id     TEXT NOT NULL,
  time          BIGINT NOT NULL,
  data          BYTEA NOT NULL,
  reason_sealed BYTEA,
  PRIMARY KEY (tenant, seq)
);
CREATE INDEX events_by_case ON events (tenant, case_id, seq);

CREATE TABLE evidence (
  tenant             TEXT NOT NULL,
  case_id            TEXT NOT NULL,
  evidence_id        TEXT NOT NULL,
  seq                BIGINT NOT NULL,
  counterpart_sealed BYTEA,
  attachment_sealed  BYTEA,
  supersedes         TEXT,
  data               BYTEA NOT NULL,
  counterpart_index  TEXT,
  summary_sealed     BYTEA,
  PRIMARY KEY (tenant, case_id, evidence_id)
);
CREATE INDEX evidence_by_seq ON evidence (tenant, case_id, seq);
CREATE INDEX evidence_by_counterpart ON evidence (tenant, counterpart_index);

CREATE TABLE notes (
  tenant      TEXT NOT NULL,
  case_id     TEXT NOT NULL,
  note_id     TEXT NOT NULL,
  text_sealed BYTEA NOT NULL,
  data        BYTEA NOT NULL,
  PRIMARY KEY (tenant, case_id, note_id)
);

CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);

CREATE TABLE case_labels (
  tenant   TEXT NOT NULL,
  case_id  TEXT NOT NULL,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (tenant, case_id, key)
);
CREATE INDEX case_labels_by_value ON case_labels (tenant, key, value);

CREATE TABLE audit_log (
  tenant    TEXT NOT NULL,
  seq       BIGINT NOT NULL,
  time      BIGINT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  resource  TEXT NOT NULL,
  mac       BYTEA NOT NULL,
  PRIMARY KEY (tenant, seq)
);

-- The record of what happened cannot be edited in place (as on SQLite:
-- the sealed free-text columns may be cleared by an erasure).
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OF tenant, seq, case_id, client_id, time, data
  ON events FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER evidence_no_update BEFORE UPDATE OF data, supersedes, seq ON evidence
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
)sql"};
  return *m;
}

namespace {

absl::StatusOr<std::unique_ptr<sql::Database>> Connect(const std::string& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> db, pg::Database::Open(uri, kSchema));
  return std::unique_ptr<sql::Database>(std::move(db));
}

}  // namespace

absl::Status SqlCaseStore::OpenPostgres(const std::string& uri, const CaseStoreOptions& options) {
  RETURN_IF_ERROR(InitKeys(options));
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> db, pg::Database::Open(uri, kSchema));
  RETURN_IF_ERROR(db->Migrate(PostgresMigrations()));
  if (!options.erasure_ledger.empty()) {
    RETURN_IF_ERROR(OpenLedger(*db, options.erasure_ledger, options.replace_lost_erasure_ledger));
    RETURN_IF_ERROR(ApplyLedger(*db));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ReaderPool> readers,
                   ReaderPool::Open(options.readers, [&] { return Connect(uri); }));
  ASSIGN_OR_RETURN(notifications_, pg::Listener::Start(uri, kChangesChannel, [this] { Committed(); }));
  Start(std::move(db), std::move(readers), options.max_batch, [](sql::Database& tx) {
    // Delivered at COMMIT, to every listening replica (this one too).
    return static_cast<pg::Database&>(tx).Notify(kChangesChannel, "");
  });
  return absl::OkStatus();
}

}  // namespace counsel::cases::sql_store

namespace counsel::cases {

absl::StatusOr<std::unique_ptr<CaseStore>> OpenPostgresCaseStore(
    const std::string& uri, const PiiVault* vault, const Clock* clock,
    const CaseStoreOptions& options) {
  auto store = std::make_unique<sql_store::SqlCaseStore>(vault, clock);
  RETURN_IF_ERROR(store->OpenPostgres(uri, options));
  return std::unique_ptr<CaseStore>(std::move(store));
}

}  // namespace counsel::cases
