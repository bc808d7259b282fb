#include "case-svc/store/case_schema.h"

#include <tuple>

#include "case-svc/audit/audit_chain.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;
using sql::Database;
using sql::Statement;

const std::vector<sqlite::Migration>& Migrations() {
  static const auto* m = new std::vector<sqlite::Migration>{std::string(R"sql(
-- One data key per client (or per case when the firm gives no client id),
-- wrapped by the master key. Destroying the key erases the client's data.
CREATE TABLE client_keys (
  key_ref        TEXT PRIMARY KEY,
  tenant         TEXT NOT NULL,
  client_id      TEXT,
  master_key_id  TEXT NOT NULL,
  wrapped        BLOB,
  made_time      INTEGER NOT NULL,
  destroy_time   INTEGER
);
CREATE UNIQUE INDEX client_keys_by_client ON client_keys (tenant, client_id)
  WHERE client_id IS NOT NULL;

CREATE TABLE cases (
  tenant             TEXT NOT NULL,
  case_id            TEXT NOT NULL,
  external_ref       TEXT,
  client_id          TEXT NOT NULL,
  key_ref            TEXT NOT NULL REFERENCES client_keys (key_ref),
  name_sealed        BLOB,
  phone_sealed       BLOB,
  email_sealed       BLOB,
  national_id_sealed BLOB,
  state              INTEGER NOT NULL,
  severity           INTEGER NOT NULL,
  incident_type      TEXT NOT NULL,
  assignee           TEXT NOT NULL,
  suspected_source   TEXT NOT NULL,
  leaked_mask        INTEGER NOT NULL,   -- bit n set: LeakedData n leaked
  limitation_ends_on TEXT,
  next_due_time      INTEGER,            -- earliest due time of a PENDING item
  create_time        INTEGER NOT NULL,   -- unix micros
  update_time        INTEGER NOT NULL,
  revision           INTEGER NOT NULL,   -- bumps on every change; the etag
  data               BLOB NOT NULL,      -- Case proto without personal data
  PRIMARY KEY (tenant, case_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX cases_by_external_ref ON cases (tenant, external_ref)
  WHERE external_ref IS NOT NULL;
CREATE INDEX cases_by_create_time ON cases (tenant, create_time, case_id);
CREATE INDEX cases_by_update_time ON cases (tenant, update_time, case_id);
CREATE INDEX cases_by_state ON cases (tenant, state, create_time);

CREATE TABLE pending_items (
  tenant    TEXT NOT NULL,
  case_id   TEXT NOT NULL,
  item_key  TEXT NOT NULL,
  due_time  INTEGER NOT NULL,
  PRIMARY KEY (tenant, case_id, item_key)
) WITHOUT ROWID;
CREATE INDEX pending_items_by_due ON pending_items (tenant, due_time);

CREATE TABLE create_requests (
  tenant          TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  request_digest  BLOB NOT NULL,
  resource        TEXT NOT NULL,
  create_time     INTEGER NOT NULL,
  PRIMARY KEY (tenant, request_id)
) WITHOUT ROWID;

-- The timeline and the change feed: per-tenant sequence, assigned inside
-- the write transaction, so that commit order is sequence order.
CREATE TABLE tenant_seq (
  tenant  TEXT PRIMARY KEY,
  seq     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
  tenant     TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  case_id    TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  time       INTEGER NOT NULL,
  data       BLOB NOT NULL,              -- CaseEvent proto: ids and field names only
  PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
CREATE INDEX events_by_case ON events (tenant, case_id, seq);

CREATE TABLE evidence (
  tenant             TEXT NOT NULL,
  case_id            TEXT NOT NULL,
  evidence_id        TEXT NOT NULL,
  seq                INTEGER NOT NULL,   -- the event that added it: list order
  counterpart_sealed BLOB,
  attachment_sealed  BLOB,
  supersedes         TEXT,
  data               BLOB NOT NULL,      -- Evidence proto without personal data
  PRIMARY KEY (tenant, case_id, evidence_id)
) WITHOUT ROWID;
CREATE INDEX evidence_by_seq ON evidence (tenant, case_id, seq);

CREATE TABLE notes (
  tenant      TEXT NOT NULL,
  case_id     TEXT NOT NULL,
  note_id     TEXT NOT NULL,
  text_sealed BLOB NOT NULL,
  data        BLOB NOT NULL,
  PRIMARY KEY (tenant, case_id, note_id)
) WITHOUT ROWID;

-- The record of what happened cannot be edited in place.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER evidence_no_update BEFORE UPDATE OF data, supersedes, seq ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
)sql"),
      // The audit chain, and keyed blind indexes for equality lookups of
      // personal fields (no plaintext index anywhere).
      std::string(kAuditSchema) + R"sql(
ALTER TABLE cases ADD COLUMN phone_index TEXT;
ALTER TABLE cases ADD COLUMN national_id_index TEXT;
CREATE INDEX cases_by_phone_index ON cases (tenant, phone_index);
CREATE INDEX cases_by_national_id_index ON cases (tenant, national_id_index);
CREATE INDEX cases_by_assignee ON cases (tenant, assignee, create_time);
CREATE INDEX cases_by_severity ON cases (tenant, severity, create_time);
)sql",
      R"sql(
ALTER TABLE evidence ADD COLUMN counterpart_index TEXT;
CREATE INDEX evidence_by_counterpart ON evidence (tenant, counterpart_index);
)sql",
      // An erased client may come back: only one live key per client.
      R"sql(
DROP INDEX client_keys_by_client;
CREATE UNIQUE INDEX client_keys_by_client ON client_keys (tenant, client_id)
  WHERE client_id IS NOT NULL AND destroy_time IS NULL;
)sql"};
  return *m;
}

// The database's own facts (its erasure ledger's id), and free text sealed
// beside the row (after the static migrations above; the step that moves
// existing text needs the vault, so the store adds it).
const char kSealedTextSchema[] = R"sql(
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE cases ADD COLUMN text_sealed BLOB;
ALTER TABLE evidence ADD COLUMN summary_sealed BLOB;  -- summary and attachment description
ALTER TABLE events ADD COLUMN reason_sealed BLOB;
)sql";

// Columns for the filters a CRM syncs by: the incident's dates and labels
// (none of them personal data; they live in the row's clear `data` too).
const char kFilterColumnsSchema[] = R"sql(
ALTER TABLE cases ADD COLUMN discovered_time INTEGER;
ALTER TABLE cases ADD COLUMN occurred_on TEXT;
CREATE TABLE case_labels (
  tenant   TEXT NOT NULL,
  case_id  TEXT NOT NULL,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (tenant, case_id, key)
) WITHOUT ROWID, STRICT;
CREATE INDEX case_labels_by_value ON case_labels (tenant, key, value);
)sql";

const char kConjunctionIndexSchema[] = R"sql(
CREATE INDEX cases_by_state_assignee ON cases (tenant, state, assignee, create_time);
CREATE INDEX cases_by_state_severity ON cases (tenant, state, severity, create_time);
)sql";

// Writes the filter columns and label rows of one case from its proto.
absl::Status WriteFilterColumns(Database& db, const std::string& tenant,
                                const std::string& case_id, const v1::Case& c) {
  ASSIGN_OR_RETURN(Statement cols, db.Prepare(
      "UPDATE cases SET discovered_time = ?3, occurred_on = ?4 WHERE tenant = ?1 AND case_id = ?2"));
  cols.Bind(1, tenant).Bind(2, case_id);
  if (c.has_discovered_time()) {
    cols.Bind(3, TimeUtil::TimestampToMicroseconds(c.discovered_time()));
  } else {
    cols.BindNull(3);
  }
  if (c.occurred_on().empty()) cols.BindNull(4); else cols.Bind(4, c.occurred_on());
  RETURN_IF_ERROR(cols.Run());
  return WriteLabels(db, tenant, case_id, c, /*replace=*/true);
}

absl::Status WriteLabels(Database& db, const std::string& tenant, const std::string& case_id,
                         const v1::Case& c, bool replace) {
  if (replace) {
    ASSIGN_OR_RETURN(Statement del, db.Prepare(
        "DELETE FROM case_labels WHERE tenant = ?1 AND case_id = ?2"));
    del.Bind(1, tenant).Bind(2, case_id);
    RETURN_IF_ERROR(del.Run());
  }
  for (const auto& [key, value] : c.labels()) {
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO case_labels (tenant, case_id, key, value) VALUES (?1, ?2, ?3, ?4)"));
    ins.Bind(1, tenant).Bind(2, case_id).Bind(3, key).Bind(4, value);
    RETURN_IF_ERROR(ins.Run());
  }
  return absl::OkStatus();
}

absl::Status BackfillFilterColumns(Database& db) {
  std::vector<std::tuple<std::string, std::string, v1::Case>> rows;
  {
    ASSIGN_OR_RETURN(Statement q, db.Prepare("SELECT tenant, case_id, data FROM cases"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      v1::Case c;
      if (!c.ParseFromString(std::string(q.ColumnBlob(2)))) {
        return absl::DataLossError("unreadable case row");
      }
      rows.emplace_back(q.ColumnText(0), q.ColumnText(1), std::move(c));
    }
  }
  for (const auto& [tenant, case_id, c] : rows) {
    RETURN_IF_ERROR(WriteFilterColumns(db, tenant, case_id, c));
  }
  return absl::OkStatus();
}

}  // namespace counsel::cases::sql_store
