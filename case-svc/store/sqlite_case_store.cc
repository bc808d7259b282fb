#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "case-svc/audit/audit_chain.h"
#include "case-svc/domain/validation.h"
#include "case-svc/store/case_filter.h"
#include "case-svc/store/case_store.h"
#include "case-svc/store/erasure_ledger.h"
#include "common/logging.h"
#include "case-svc/store/writer.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include <sodium.h>

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;
using sqlite::Database;
using sqlite::Statement;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// AIP-158: zero asks for the default, anything above the maximum is clamped.
absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) return InvalidArgumentField("page_size", "must not be negative");
  return requested == 0 ? kDefaultPageSize : std::min<int>(requested, kMaxPageSize);
}

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
constexpr char kSealedTextSchema[] = R"sql(
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
constexpr char kFilterColumnsSchema[] = R"sql(
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
  ASSIGN_OR_RETURN(Statement del, db.Prepare(
      "DELETE FROM case_labels WHERE tenant = ?1 AND case_id = ?2"));
  del.Bind(1, tenant).Bind(2, case_id);
  RETURN_IF_ERROR(del.Run());
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

google::protobuf::Timestamp ToProto(int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}
int64_t Micros(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

std::string Etag(int64_t revision) { return absl::StrCat("r", revision); }

int64_t LeakedMask(const v1::Case& c) {
  int64_t mask = 0;
  for (int d : c.leaked_data()) mask |= int64_t{1} << d;
  return mask;
}

void ScrubClient(v1::Case& c) {
  v1::Client* client = c.mutable_client();
  client->clear_display_name();
  client->clear_phone();
  client->clear_email();
  client->clear_national_id();
  client->clear_masked();
  c.clear_etag();
  c.clear_create_time();
  c.clear_update_time();
}

absl::Status NotFound(absl::string_view case_id) {
  return absl::NotFoundError(absl::StrCat("cases/", case_id, " does not exist"));
}

// Pools read-only connections; WAL lets them read beside the writer.
class ReaderPool {
 public:
  static absl::StatusOr<std::unique_ptr<ReaderPool>> Open(const std::string& path, int n,
                                                           const std::string& synchronous) {
    auto pool = std::make_unique<ReaderPool>();
    for (int i = 0; i < n; ++i) {
      sqlite::Options o;
      o.read_only = true;
      o.synchronous = synchronous;
      ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, o));
      pool->free_.push_back(std::move(db));
    }
    return pool;
  }
  template <typename Fn>
  auto With(Fn fn) -> decltype(fn(std::declval<Database&>())) {
    std::unique_ptr<Database> db;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(+[](std::vector<std::unique_ptr<Database>>* f) { return !f->empty(); },
                                &free_));
      db = std::move(free_.back());
      free_.pop_back();
    }
    auto result = fn(*db);
    absl::MutexLock lock(&mu_);
    free_.push_back(std::move(db));
    return result;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Database>> free_ ABSL_GUARDED_BY(mu_);
};

constexpr char kCaseColumns[] =
    "c.case_id, c.data, c.revision, c.create_time, c.update_time, c.key_ref, k.wrapped, "
    "c.name_sealed, c.phone_sealed, c.email_sealed, c.national_id_sealed, k.destroy_time, "
    "c.text_sealed";
// Columns of kCaseColumns; a query may select its sort key after them.
constexpr int kTextSealedColumn = 12;
constexpr int kCaseColumnCount = 13;

// Free text is personal data: a case's summary and checklist notes are kept
// apart from the rest of the row, sealed under the client's data key.
v1::Case TakeFreeText(v1::Case& c) {
  v1::Case text;
  if (!c.summary().empty()) text.set_summary(std::move(*c.mutable_summary()));
  c.clear_summary();
  for (auto& item : *c.mutable_checklist()) {
    if (item.note().empty()) continue;
    v1::ChecklistItem* t = text.add_checklist();
    t->set_key(item.key());
    t->set_note(std::move(*item.mutable_note()));
    item.clear_note();
  }
  return text;
}

void PutFreeText(const v1::Case& text, v1::Case& c) {
  if (!text.summary().empty()) c.set_summary(text.summary());
  for (const auto& t : text.checklist()) {
    for (auto& item : *c.mutable_checklist()) {
      if (item.key() == t.key()) item.set_note(t.note());
    }
  }
}

bool HasFreeText(const v1::Case& text) {
  return !text.summary().empty() || text.checklist_size() > 0;
}

// An evidence's summary and its attachment's description (file name, type,
// size, digest: a name such as 张三_身份证.jpg, a digest that confirms a
// file) are the client's too: sealed together, apart from the row.
v1::Evidence TakeEvidenceText(v1::Evidence& e) {
  v1::Evidence text;
  if (!e.summary().empty()) text.set_summary(std::move(*e.mutable_summary()));
  if (e.has_attachment()) *text.mutable_attachment() = e.attachment();
  e.clear_summary();
  e.clear_attachment();
  return text;
}

bool HasEvidenceText(const v1::Evidence& text) {
  return !text.summary().empty() || text.has_attachment();
}

std::string EvidenceTextField(absl::string_view evidence_id) {
  return absl::StrCat("evidence/", evidence_id, "/text");
}

class SqliteCaseStore final : public CaseStore {
 public:
  SqliteCaseStore(const PiiVault* vault, const Clock* clock) : vault_(vault), clock_(clock) {}

  absl::Status Init(const std::string& path, const SqliteCaseStoreOptions& options) {
    if (options.audit_key.size() < 32) {
      return absl::FailedPreconditionError("the audit key must hold at least 32 bytes");
    }
    audit_ = std::make_unique<AuditChain>(crypto::DeriveKey(options.audit_key, kAuditKeyLabel));
    index_key_ = crypto::DeriveKey(options.audit_key, "blind-index");
    tokens_ = std::make_unique<crypto::TokenSealer>(
        crypto::DeriveKey(options.audit_key, "page-token"));
    sqlite::Options o;
    o.synchronous = options.synchronous;
    ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, o));
    // Freed pages are zeroed, so erased ciphertext does not linger in the file.
    RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete=ON"));
    std::vector<sqlite::Migration> steps = Migrations();
    steps.emplace_back(std::string(kSealedTextSchema),
                       [this](Database& db) { return SealLegacyFreeText(db); });
    steps.emplace_back(std::string(kAuditPerTenantSchema),
                       [this](Database& db) { return audit_->AdoptGlobalLog(db); });
    steps.emplace_back(std::string(), sqlite::MakeTablesStrict);
    steps.emplace_back(std::string(kFilterColumnsSchema), BackfillFilterColumns);
    RETURN_IF_ERROR(db->Migrate(steps));
    RETURN_IF_ERROR(OpenLedger(*db,
                               options.erasure_ledger.empty() ? path + ".erasures"
                                                              : options.erasure_ledger,
                               options.replace_lost_erasure_ledger));
    RETURN_IF_ERROR(ApplyLedger(*db));
    // Statistics for the planner, so that a filter picks its most selective
    // index (cheap: analyses only what changed a lot since last time).
    RETURN_IF_ERROR(db->Exec("PRAGMA analysis_limit=1000; PRAGMA optimize=0x10002"));
    // A new database's schema lives only in the WAL until a checkpoint, and
    // SQLite discards a WAL whose main file is empty: checkpoint now, so the
    // main file holds the schema (synced) before any write is acknowledged.
    RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    ASSIGN_OR_RETURN(readers_, ReaderPool::Open(path, options.readers, options.synchronous));
    writer_ = std::make_unique<Writer>(std::move(db), options.max_batch, [this] {
      std::function<void()> l;
      {
        absl::MutexLock lock(&listener_mu_);
        l = listener_;
      }
      if (l) l();
    });
    return absl::OkStatus();
  }

  void SetCommitListener(std::function<void()> listener) override {
    absl::MutexLock lock(&listener_mu_);
    listener_ = std::move(listener);
  }

  void CreateCase(const Actor& actor, NewCase request, Callback<v1::Case> done) override {
    auto result = std::make_shared<v1::Case>();
    writer_->Submit(
        [this, actor, request = std::move(request), result](Database& db) -> absl::Status {
          ASSIGN_OR_RETURN(*result, CreateIn(db, actor, request));
          return absl::OkStatus();
        },
        [result, done = std::move(done)](absl::Status s) {
          if (s.ok()) done(std::move(*result)); else done(s);
        });
  }

  void MutateCase(const Actor& actor, CaseMutation mutation, Callback<v1::Case> done) override {
    auto result = std::make_shared<v1::Case>();
    writer_->Submit(
        [this, actor, mutation = std::move(mutation), result](Database& db) -> absl::Status {
          ASSIGN_OR_RETURN(*result, MutateIn(db, actor, mutation));
          return absl::OkStatus();
        },
        [result, done = std::move(done)](absl::Status s) {
          if (s.ok()) done(std::move(*result)); else done(s);
        });
  }

  void AddEvidence(const Actor& actor, std::string case_id, NewEvidence evidence,
                   Callback<v1::Evidence> done) override {
    auto result = std::make_shared<v1::Evidence>();
    writer_->Submit(
        [this, actor, case_id = std::move(case_id), evidence = std::move(evidence),
         result](Database& db) -> absl::Status {
          ASSIGN_OR_RETURN(*result, AddEvidenceIn(db, actor, case_id, evidence));
          return absl::OkStatus();
        },
        [result, done = std::move(done)](absl::Status s) {
          if (s.ok()) done(std::move(*result)); else done(s);
        });
  }

  void AddNote(const Actor& actor, std::string case_id, v1::Note note, std::string request_id,
               Callback<v1::Note> done) override {
    auto result = std::make_shared<v1::Note>();
    writer_->Submit(
        [this, actor, case_id = std::move(case_id), note = std::move(note),
         request_id = std::move(request_id), result](Database& db) -> absl::Status {
          ASSIGN_OR_RETURN(*result, AddNoteIn(db, actor, case_id, note, request_id));
          return absl::OkStatus();
        },
        [result, done = std::move(done)](absl::Status s) {
          if (s.ok()) done(std::move(*result)); else done(s);
        });
  }

  void EraseClientData(const Actor& actor, std::string case_id, std::string reason,
                       Callback<v1::Case> done) override {
    auto result = std::make_shared<v1::Case>();
    writer_->Submit(
        [this, actor, case_id = std::move(case_id), reason = std::move(reason),
         result](Database& db) -> absl::Status {
          ASSIGN_OR_RETURN(*result, EraseIn(db, actor, case_id, reason));
          return absl::OkStatus();
        },
        [result, done = std::move(done)](absl::Status s) {
          if (s.ok()) done(std::move(*result)); else done(s);
        },
        // Acknowledged only once no earlier page version remains in the WAL.
        /*truncate_wal=*/true);
  }

  absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(
      const Actor& actor, const std::string& expected_head) override {
    std::optional<AuditHead> expected;
    if (!expected_head.empty()) {
      ASSIGN_OR_RETURN(expected, AuditHead::Parse(expected_head));
    }
    return readers_->With(
        [&](Database& db) { return audit_->Verify(db, actor.tenant, expected); });
  }

  absl::StatusOr<v1::Case> GetCase(const Actor& actor, absl::string_view case_id) override {
    return readers_->With([&](Database& db) { return Load(db, actor, case_id); });
  }

  absl::StatusOr<CasePage> ListCases(const Actor& actor,
                                     const v1::ListCasesRequest& request) override {
    ASSIGN_OR_RETURN(const int size, PageSize(request.page_size()));
    ASSIGN_OR_RETURN(SqlCondition filter,
                     CompileCaseFilter(request.filter(), clock_->Now(), BlindForActor(actor)));
    // order_by: one of create_time, update_time, severity; asc or desc.
    std::string column = "create_time";
    bool desc = true;
    if (!request.order_by().empty()) {
      std::vector<std::string> parts = absl::StrSplit(request.order_by(), ' ', absl::SkipEmpty());
      if (parts.empty() || parts.size() > 2 ||
          (parts[0] != "create_time" && parts[0] != "update_time" && parts[0] != "severity") ||
          (parts.size() == 2 && parts[1] != "asc" && parts[1] != "desc")) {
        return InvalidArgumentField(
            "order_by", "must be create_time, update_time or severity, then asc or desc");
      }
      column = parts[0];
      desc = parts.size() == 1 ? parts[0] != "severity" ? false : true : parts[1] == "desc";
    }
    // The page token carries the last row's sort key and id (keyset paging:
    // stable under concurrent inserts) and a digest of the query it belongs to.
    const std::string query_digest = Digest(absl::StrCat(request.filter(), "|", column, desc));
    std::optional<std::pair<int64_t, std::string>> after;
    const std::string token_context = TokenContext("cases", actor, "");
    if (!request.page_token().empty()) {
      std::vector<std::string> parts;
      if (auto raw = OpenToken(request.page_token(), token_context); raw.ok()) {
        parts = absl::StrSplit(*raw, '|');
      }
      int64_t key = 0;
      if (parts.size() != 3 || parts[0] != query_digest || !absl::SimpleAtoi(parts[1], &key)) {
        return InvalidArgumentField("page_token",
                                    "is not a token of this query (filter and order_by)");
      }
      after = std::make_pair(key, parts[2]);
    }
    std::string sql = absl::StrCat("SELECT ", kCaseColumns, ", c.", column,
                                   " FROM cases c JOIN client_keys k ON k.key_ref = c.key_ref "
                                   "WHERE c.tenant = ? AND (? = '' OR c.client_id = ?) AND (",
                                   filter.sql, ")");
    const char* cmp = desc ? "<" : ">";
    if (after) {
      absl::StrAppend(&sql, " AND (c.", column, " ", cmp, " ? OR (c.", column, " = ? AND c.case_id ",
                      cmp, " ?))");
    }
    const char* dir = desc ? "DESC" : "ASC";
    absl::StrAppend(&sql, " ORDER BY c.", column, " ", dir, ", c.case_id ", dir, " LIMIT ?");
    return readers_->With([&](Database& db) -> absl::StatusOr<CasePage> {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(sql));
      int i = 1;
      q.Bind(i++, actor.tenant);
      q.Bind(i++, actor.client_id);
      q.Bind(i++, actor.client_id);
      for (const SqlValue& p : filter.params) {
        if (const auto* n = std::get_if<int64_t>(&p)) q.Bind(i++, *n);
        else q.Bind(i++, std::get<std::string>(p));
      }
      if (after) {
        q.Bind(i++, after->first);
        q.Bind(i++, after->first);
        q.Bind(i++, after->second);
      }
      q.Bind(i++, size + 1);
      CasePage page;
      int64_t last_key = 0;
      std::string last_id;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (static_cast<int>(page.cases.size()) == size) {
          page.next_page_token = SealToken(
              absl::StrCat(query_digest, "|", last_key, "|", last_id), token_context);
          break;
        }
        ASSIGN_OR_RETURN(v1::Case c, FromRow(q, actor.tenant));
        last_key = q.ColumnInt64(kCaseColumnCount);
        last_id = q.ColumnText(0);
        page.cases.push_back(std::move(c));
      }
      return page;
    });
  }

  absl::StatusOr<v1::ListEvidenceResponse> ListEvidence(
      const Actor& actor, const v1::ListEvidenceRequest& request) override {
    const std::string case_id(absl::StripPrefix(request.parent(), "cases/"));
    ASSIGN_OR_RETURN(const int size, PageSize(request.page_size()));
    const std::string token_context = TokenContext("evidence", actor, case_id);
    ASSIGN_OR_RETURN(const int64_t after, SeqPageToken(request.page_token(), token_context));
    std::string counterpart_index;
    if (!request.filter().empty()) {
      if (!actor.pii) {
        return absl::PermissionDeniedError(
            "filter: counterpart is personal data; filtering on it needs the cases.pii scope");
      }
      absl::string_view f = absl::StripAsciiWhitespace(request.filter());
      const bool named = absl::ConsumePrefix(&f, "counterpart");
      f = absl::StripAsciiWhitespace(f);
      if (!named || !absl::ConsumePrefix(&f, "=")) {
        return InvalidArgumentField("filter", "supports counterpart = \"...\" only");
      }
      f = absl::StripAsciiWhitespace(f);
      if (f.size() < 2 || f.front() != '"' || f.back() != '"') {
        return InvalidArgumentField("filter", "the counterpart must be quoted");
      }
      counterpart_index = BlindIndex(actor.tenant, "evidence.counterpart",
                                     NormalizeCounterpart(f.substr(1, f.size() - 2)));
    }
    return readers_->With([&](Database& db) -> absl::StatusOr<v1::ListEvidenceResponse> {
      ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, case_id));
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, case_id));
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT e.evidence_id, e.seq, e.data, e.counterpart_sealed, "
          "(SELECT s.evidence_id FROM evidence s WHERE s.tenant = e.tenant AND "
          " s.case_id = e.case_id AND s.supersedes = e.evidence_id ORDER BY s.seq LIMIT 1), "
          "e.summary_sealed "
          "FROM evidence e WHERE e.tenant = ?1 AND e.case_id = ?2 AND e.seq > ?3 "
          "AND (?5 = '' OR e.counterpart_index = ?5) ORDER BY e.seq LIMIT ?4"));
      q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, after).Bind(4, size + 1)
          .Bind(5, counterpart_index);
      v1::ListEvidenceResponse out;
      int64_t last = 0;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (out.evidence_size() == size) {
          out.set_next_page_token(SealToken(absl::StrCat(last), token_context));
          break;
        }
        last = q.ColumnInt64(1);
        v1::Evidence e;
        if (!e.ParseFromString(std::string(q.ColumnBlob(2)))) {
          return absl::DataLossError("unreadable evidence row");
        }
        if (!q.ColumnIsNull(4)) {
          e.set_superseded_by(absl::StrCat("cases/", case_id, "/evidence/", q.ColumnText(4)));
          if (request.hide_superseded()) continue;
        }
        if (!q.ColumnIsNull(3) && key) {
          ASSIGN_OR_RETURN(*e.mutable_counterpart(),
                           PiiVault::Open(*key, q.ColumnBlob(3),
                                          Binding{actor.tenant, case_id,
                                                  absl::StrCat("evidence/", q.ColumnText(0),
                                                               "/counterpart")}));
        }
        if (!q.ColumnIsNull(5) && key) {
          RETURN_IF_ERROR(OpenEvidenceText(*key, q.ColumnBlob(5), actor.tenant, case_id,
                                           q.ColumnText(0), e));
        }
        *out.add_evidence() = std::move(e);
      }
      return out;
    });
  }

  absl::StatusOr<v1::Evidence> GetEvidence(const Actor& actor, absl::string_view case_id,
                                           absl::string_view evidence_id) override {
    const std::string c_id(case_id), e_id(evidence_id);
    return readers_->With([&](Database& db) -> absl::StatusOr<v1::Evidence> {
      RETURN_IF_ERROR(Load(db, actor, c_id).status());
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, c_id));
      auto e = ReadEvidence(db, actor.tenant, c_id, e_id, key);
      if (absl::IsNotFound(e.status())) {
        return absl::NotFoundError(absl::StrCat("cases/", c_id, "/evidence/", e_id,
                                                " does not exist"));
      }
      if (!e.ok()) return e.status();
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT evidence_id FROM evidence WHERE tenant = ?1 AND case_id = ?2 AND "
          "supersedes = ?3 ORDER BY seq LIMIT 1"));
      q.Bind(1, actor.tenant).Bind(2, c_id).Bind(3, e_id);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) e->set_superseded_by(absl::StrCat("cases/", c_id, "/evidence/", q.ColumnText(0)));
      return e;
    });
  }

  absl::StatusOr<EvidenceAttachment> ReadEvidenceAttachment(
      const Actor& actor, absl::string_view case_id, absl::string_view evidence_id) override {
    const std::string c_id(case_id), e_id(evidence_id);
    return readers_->With([&](Database& db) -> absl::StatusOr<EvidenceAttachment> {
      RETURN_IF_ERROR(Load(db, actor, c_id).status());
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, c_id));
      const std::string name = absl::StrCat("cases/", c_id, "/evidence/", e_id);
      auto e = ReadEvidence(db, actor.tenant, c_id, e_id, key);
      if (absl::IsNotFound(e.status())) {
        return absl::NotFoundError(absl::StrCat(name, " does not exist"));
      }
      if (!e.ok()) return e.status();
      if (!key) {
        return absl::FailedPreconditionError(
            "the client's data was erased: the attachment is gone");
      }
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT attachment_sealed FROM evidence WHERE tenant = ?1 AND case_id = ?2 AND "
          "evidence_id = ?3"));
      q.Bind(1, actor.tenant).Bind(2, c_id).Bind(3, e_id);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row || q.ColumnIsNull(0) || !e->has_attachment()) {
        return absl::NotFoundError(absl::StrCat(name, " has no attachment"));
      }
      EvidenceAttachment out;
      ASSIGN_OR_RETURN(out.bytes,
                       PiiVault::Open(*key, q.ColumnBlob(0),
                                      Binding{actor.tenant, c_id,
                                              absl::StrCat("evidence/", e_id, "/attachment")}));
      out.evidence = *std::move(e);
      return out;
    });
  }

  absl::StatusOr<v1::ListNotesResponse> ListNotes(const Actor& actor,
                                                  const v1::ListNotesRequest& request) override {
    const std::string case_id(absl::StripPrefix(request.parent(), "cases/"));
    ASSIGN_OR_RETURN(const int size, PageSize(request.page_size()));
    const std::string token_context = TokenContext("notes", actor, case_id);
    // The token holds the last note's (create time, id): notes are ordered
    // by when they were written.
    std::pair<int64_t, std::string> after{-1, ""};
    if (!request.page_token().empty()) {
      auto raw = OpenToken(request.page_token(), token_context);
      std::vector<std::string> parts;
      if (raw.ok()) parts = absl::StrSplit(*raw, '|');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after.first)) {
        return InvalidArgumentField("page_token", "is not a token this service issued");
      }
      after.second = parts[1];
    }
    return readers_->With([&](Database& db) -> absl::StatusOr<v1::ListNotesResponse> {
      RETURN_IF_ERROR(Load(db, actor, case_id).status());
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, case_id));
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT note_id, text_sealed, data FROM notes WHERE tenant = ?1 AND case_id = ?2"));
      q.Bind(1, actor.tenant).Bind(2, case_id);
      std::vector<std::pair<std::pair<int64_t, std::string>, v1::Note>> notes;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        v1::Note n;
        if (!n.ParseFromString(std::string(q.ColumnBlob(2)))) {
          return absl::DataLossError("unreadable note row");
        }
        const std::string id = q.ColumnText(0);
        const std::pair<int64_t, std::string> at{Micros(n.create_time()), id};
        if (at <= after) continue;
        if (key && !q.ColumnBlob(1).empty()) {
          ASSIGN_OR_RETURN(*n.mutable_text(),
                           PiiVault::Open(*key, q.ColumnBlob(1),
                                          Binding{actor.tenant, case_id,
                                                  absl::StrCat("notes/", id)}));
        }
        notes.emplace_back(at, std::move(n));
      }
      std::sort(notes.begin(), notes.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      v1::ListNotesResponse out;
      for (size_t i = 0; i < notes.size() && out.notes_size() < size; ++i) {
        *out.add_notes() = std::move(notes[i].second);
        if (out.notes_size() == size && i + 1 < notes.size()) {
          out.set_next_page_token(SealToken(
              absl::StrCat(notes[i].first.first, "|", notes[i].first.second), token_context));
        }
      }
      return out;
    });
  }

  absl::StatusOr<v1::ListCaseEventsResponse> ListCaseEvents(
      const Actor& actor, const v1::ListCaseEventsRequest& request) override {
    const std::string case_id(absl::StripPrefix(request.parent(), "cases/"));
    ASSIGN_OR_RETURN(const int size, PageSize(request.page_size()));
    const std::string token_context = TokenContext("events", actor, case_id);
    ASSIGN_OR_RETURN(const int64_t after, SeqPageToken(request.page_token(), token_context));
    return readers_->With([&](Database& db) -> absl::StatusOr<v1::ListCaseEventsResponse> {
      RETURN_IF_ERROR(Load(db, actor, case_id).status());
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, case_id));
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT seq, data, reason_sealed FROM events WHERE tenant = ?1 AND case_id = ?2 "
          "AND seq > ?3 ORDER BY seq LIMIT ?4"));
      q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, after).Bind(4, size + 1);
      v1::ListCaseEventsResponse out;
      int64_t last = 0;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (out.events_size() == size) {
          out.set_next_page_token(SealToken(absl::StrCat(last), token_context));
          break;
        }
        last = q.ColumnInt64(0);
        v1::CaseEvent* e = out.add_events();
        if (!e->ParseFromString(std::string(q.ColumnBlob(1)))) {
          return absl::DataLossError("unreadable event row");
        }
        if (!q.ColumnIsNull(2) && key) {
          ASSIGN_OR_RETURN(*e->mutable_reason(),
                           PiiVault::Open(*key, q.ColumnBlob(2),
                                          Binding{actor.tenant, case_id,
                                                  absl::StrCat("events/", last, "/reason")}));
        }
      }
      return out;
    });
  }

  absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const Actor& actor, int64_t after_seq, int limit) override {
    return readers_->With(
        [&](Database& db) -> absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> {
          ASSIGN_OR_RETURN(Statement q, db.Prepare(
              "SELECT seq, time, data FROM events WHERE tenant = ?1 AND seq > ?2 "
              "AND (?3 = '' OR client_id = ?3) ORDER BY seq LIMIT ?4"));
          q.Bind(1, actor.tenant).Bind(2, after_seq).Bind(3, actor.client_id).Bind(4, limit);
          std::vector<std::pair<int64_t, v1::Change>> out;
          while (true) {
            ASSIGN_OR_RETURN(bool row, q.Step());
            if (!row) break;
            v1::Change c;
            if (!c.mutable_event()->ParseFromString(std::string(q.ColumnBlob(2)))) {
              return absl::DataLossError("unreadable event row");
            }
            // The feed carries ids and field names only: no free text.
            c.mutable_event()->clear_reason();
            *c.mutable_commit_time() = ToProto(q.ColumnInt64(1));
            out.emplace_back(q.ColumnInt64(0), std::move(c));
          }
          return out;
        });
  }

  absl::StatusOr<int64_t> LatestSeq(absl::string_view tenant) override {
    return readers_->With([&](Database& db) -> absl::StatusOr<int64_t> {
      ASSIGN_OR_RETURN(Statement q, db.Prepare("SELECT seq FROM tenant_seq WHERE tenant = ?1"));
      q.Bind(1, tenant);
      ASSIGN_OR_RETURN(bool row, q.Step());
      return row ? q.ColumnInt64(0) : int64_t{0};
    });
  }

  absl::StatusOr<std::optional<absl::Time>> ChangeTime(absl::string_view tenant,
                                                       int64_t seq) override {
    return readers_->With([&](Database& db) -> absl::StatusOr<std::optional<absl::Time>> {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT time FROM events WHERE tenant = ?1 AND seq = ?2"));
      q.Bind(1, tenant).Bind(2, seq);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return std::optional<absl::Time>();
      return std::optional<absl::Time>(absl::FromUnixMicros(q.ColumnInt64(0)));
    });
  }

  absl::StatusOr<v1::CaseStats> Stats(const Actor& actor,
                                      const v1::GetCaseStatsRequest& request) override {
    const absl::Time now = clock_->Now();
    ASSIGN_OR_RETURN(SqlCondition filter,
                     CompileCaseFilter(request.filter(), now, BlindForActor(actor)));
    const std::string where = absl::StrCat(
        "tenant = ? AND (? = '' OR client_id = ?) AND (", filter.sql, ")");
    auto bind = [&](Statement& q) {
      int i = 1;
      q.Bind(i++, actor.tenant);
      q.Bind(i++, actor.client_id);
      q.Bind(i++, actor.client_id);
      for (const SqlValue& p : filter.params) {
        if (const auto* n = std::get_if<int64_t>(&p)) q.Bind(i++, *n);
        else q.Bind(i++, std::get<std::string>(p));
      }
      return i;
    };
    return readers_->With([&](Database& db) -> absl::StatusOr<v1::CaseStats> {
      v1::CaseStats out;
      {
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
            "SELECT state, count(*) FROM cases c WHERE ", where, " GROUP BY state ORDER BY state")));
        bind(q);
        while (true) {
          ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          auto* c = out.add_by_state();
          c->set_key(v1::Case::State_Name(static_cast<v1::Case::State>(q.ColumnInt64(0))));
          c->set_count(q.ColumnInt64(1));
          out.set_total_cases(out.total_cases() + q.ColumnInt64(1));
        }
      }
      {
        std::string sums;
        for (int d = 1; d <= v1::LeakedData_MAX; ++d) {
          absl::StrAppend(&sums, d > 1 ? ", " : "", "sum((leaked_mask >> ", d, ") & 1)");
        }
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat("SELECT ", sums, " FROM cases c WHERE ", where)));
        bind(q);
        ASSIGN_OR_RETURN(bool row, q.Step());
        for (int d = 1; row && d <= v1::LeakedData_MAX; ++d) {
          if (q.ColumnInt64(d - 1) == 0) continue;
          auto* c = out.add_by_leaked_data();
          c->set_key(v1::LeakedData_Name(static_cast<v1::LeakedData>(d)));
          c->set_count(q.ColumnInt64(d - 1));
        }
      }
      {
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
            "SELECT suspected_source, count(*) AS n FROM cases c WHERE ", where,
            " AND suspected_source != '' GROUP BY suspected_source ORDER BY n DESC LIMIT 50")));
        bind(q);
        while (true) {
          ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          auto* c = out.add_by_suspected_source();
          c->set_key(q.ColumnText(0));
          c->set_count(q.ColumnInt64(1));
        }
      }
      {
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
            "SELECT count(*) FROM pending_items p WHERE p.tenant = ? AND p.due_time < ? AND "
            "p.case_id IN (SELECT case_id FROM cases c WHERE ", where, ")")));
        q.Bind(1, actor.tenant).Bind(2, absl::ToUnixMicros(now));
        int i = 3;
        q.Bind(i++, actor.tenant);
        q.Bind(i++, actor.client_id);
        q.Bind(i++, actor.client_id);
        for (const SqlValue& p : filter.params) {
          if (const auto* n = std::get_if<int64_t>(&p)) q.Bind(i++, *n);
          else q.Bind(i++, std::get<std::string>(p));
        }
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) out.set_overdue_checklist_items(q.ColumnInt64(0));
      }
      {
        // Median age of cases not RESOLVED or CLOSED.
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
            "SELECT create_time FROM cases c WHERE ", where, " AND state NOT IN (6, 7) "
            "ORDER BY create_time")));
        bind(q);
        std::vector<int64_t> times;
        while (true) {
          ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          times.push_back(q.ColumnInt64(0));
        }
        if (!times.empty()) {
          const int64_t median = times[times.size() / 2];
          out.set_median_open_age_seconds((absl::ToUnixMicros(now) - median) / 1000000);
        }
      }
      {
        const absl::CivilDay today = absl::ToCivilDay(now, ShanghaiTimeZone());
        ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
            "SELECT count(*) FROM cases c WHERE ", where,
            " AND limitation_ends_on >= ? AND limitation_ends_on <= ?")));
        int i = bind(q);
        q.Bind(i++, FormatDate(today));
        q.Bind(i++, FormatDate(today + 90));
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) out.set_limitation_ending_within_90_days(q.ColumnInt64(0));
      }
      return out;
    });
  }

 private:
  // Keyed hash of a normalised value, per tenant and field.
  std::string BlindIndex(absl::string_view tenant, absl::string_view field,
                         absl::string_view value) const {
    const std::string msg = absl::StrCat(tenant.size(), ":", tenant, "|", field, "|", value);
    unsigned char out[16];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size(), reinterpret_cast<const unsigned char*>(index_key_.data()),
                       index_key_.size());
    // Hex text: filters bind it as text, and text never equals a blob.
    return crypto::HexEncode(absl::string_view(reinterpret_cast<const char*>(out), sizeof out));
  }

  // Moves the free text of rows written before it was sealed into sealed
  // columns (one migration, in its transaction). Append-only tables are
  // opened for it and closed again inside the same transaction.
  absl::Status SealLegacyFreeText(Database& db) {
    RETURN_IF_ERROR(db.Exec("DROP TRIGGER evidence_no_update; DROP TRIGGER events_no_update"));
    // Cases, in primary-key batches (a table may hold millions).
    std::string tenant, id;
    for (;;) {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT tenant, case_id, data FROM cases WHERE (tenant, case_id) > (?1, ?2) "
          "ORDER BY tenant, case_id LIMIT 500"));
      q.Bind(1, tenant).Bind(2, id);
      std::vector<std::tuple<std::string, std::string, std::string>> rows;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        rows.emplace_back(q.ColumnText(0), q.ColumnText(1), std::string(q.ColumnBlob(2)));
      }
      if (rows.empty()) break;
      for (auto& [t, c_id, data] : rows) {
        v1::Case c;
        if (!c.ParseFromString(data)) return absl::DataLossError("unreadable case row");
        const v1::Case text = TakeFreeText(c);
        if (!HasFreeText(text)) continue;
        ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, t, c_id));
        ASSIGN_OR_RETURN(Statement up, db.Prepare(
            "UPDATE cases SET data = ?3, text_sealed = ?4 WHERE tenant = ?1 AND case_id = ?2"));
        up.Bind(1, t).Bind(2, c_id).BindBlob(3, c.SerializeAsString());
        if (key) {
          up.BindBlob(4, PiiVault::Seal(*key, text.SerializeAsString(), Binding{t, c_id, "text"}));
        } else {
          up.BindNull(4);
        }
        RETURN_IF_ERROR(up.Run());
      }
      tenant = std::get<0>(rows.back());
      id = std::get<1>(rows.back());
    }
    // Evidence summaries and event reasons, in primary-key batches too.
    for (const bool evidence : {true, false}) {
      std::string k1, k2, k3;  // the last primary key seen
      int64_t last_seq = 0;
      for (;;) {
        ASSIGN_OR_RETURN(Statement q, db.Prepare(
            evidence ? "SELECT tenant, case_id, evidence_id, data FROM evidence "
                       "WHERE (tenant, case_id, evidence_id) > (?1, ?2, ?3) "
                       "ORDER BY tenant, case_id, evidence_id LIMIT 500"
                     : "SELECT tenant, case_id, seq, data FROM events WHERE (tenant, seq) > "
                       "(?1, ?4) AND ?2 IS NULL AND ?3 IS NULL ORDER BY tenant, seq LIMIT 500"));
        q.Bind(1, k1);
        if (evidence) q.Bind(2, k2).Bind(3, k3); else q.Bind(4, last_seq);
        // (tenant, case, item: evidence id or seq, data)
        std::vector<std::tuple<std::string, std::string, std::string, std::string>> rows;
        while (true) {
          ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          rows.emplace_back(q.ColumnText(0), q.ColumnText(1),
                            evidence ? q.ColumnText(2) : absl::StrCat(q.ColumnInt64(2)),
                            std::string(q.ColumnBlob(3)));
        }
        if (rows.empty()) break;
        for (auto& [t, c_id, item, data] : rows) {
          std::string text, stripped;
          if (evidence) {
            v1::Evidence e;
            if (!e.ParseFromString(data)) return absl::DataLossError("unreadable evidence row");
            const v1::Evidence taken = TakeEvidenceText(e);
            if (HasEvidenceText(taken)) text = taken.SerializeAsString();
            stripped = e.SerializeAsString();
          } else {
            v1::CaseEvent e;
            if (!e.ParseFromString(data)) return absl::DataLossError("unreadable event row");
            text = std::move(*e.mutable_reason());
            e.clear_reason();
            stripped = e.SerializeAsString();
          }
          if (text.empty()) continue;
          ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, t, c_id));
          ASSIGN_OR_RETURN(Statement up, db.Prepare(
              evidence ? "UPDATE evidence SET data = ?4, summary_sealed = ?5 WHERE tenant = ?1 "
                         "AND case_id = ?2 AND evidence_id = ?3"
                       : "UPDATE events SET data = ?4, reason_sealed = ?5 WHERE tenant = ?1 "
                         "AND case_id = ?2 AND seq = CAST(?3 AS INTEGER)"));
          up.Bind(1, t).Bind(2, c_id).Bind(3, item).BindBlob(4, stripped);
          const std::string field = evidence ? EvidenceTextField(item)
                                             : absl::StrCat("events/", item, "/reason");
          if (key) up.BindBlob(5, PiiVault::Seal(*key, text, Binding{t, c_id, field}));
          else up.BindNull(5);
          RETURN_IF_ERROR(up.Run());
        }
        const auto& [t, c_id, item, data] = rows.back();
        k1 = t;
        k2 = c_id;
        k3 = item;
        if (!evidence) (void)absl::SimpleAtoi(item, &last_seq);
      }
    }
    return db.Exec(R"sql(
CREATE TRIGGER events_no_update
BEFORE UPDATE OF tenant, seq, case_id, client_id, time, data ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER evidence_no_update BEFORE UPDATE OF data, supersedes, seq ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END;
)sql");
  }

  // Page tokens are sealed (crypto::TokenSealer): opaque, bound to the
  // tenant, the client binding and the list they page, so a token neither
  // shows a tenant-wide sequence number nor works anywhere else.
  static std::string TokenContext(absl::string_view list, const Actor& actor,
                                  absl::string_view parent) {
    return absl::StrCat(list, "|", actor.tenant.size(), ":", actor.tenant, "|",
                        actor.client_id.size(), ":", actor.client_id, "|", parent);
  }
  std::string SealToken(absl::string_view value, absl::string_view context) const {
    return Base32Encode(tokens_->Seal(value, context));
  }
  absl::StatusOr<std::string> OpenToken(absl::string_view token,
                                        absl::string_view context) const {
    std::string raw;
    if (!Base32Decode(token, &raw)) return absl::InvalidArgumentError("not a token");
    return tokens_->Open(raw, context);
  }
  // Lists ordered by an append-only sequence resume after the last seq returned.
  absl::StatusOr<int64_t> SeqPageToken(const std::string& token,
                                       absl::string_view context) const {
    if (token.empty()) return 0;
    int64_t after = 0;
    auto raw = OpenToken(token, context);
    if (!raw.ok() || !absl::SimpleAtoi(*raw, &after) || after < 0) {
      return InvalidArgumentField("page_token", "is not a token this service issued");
    }
    return after;
  }

  // Only a caller who may read personal data may compare it.
  BlindIndexFn BlindForActor(const Actor& actor) const {
    return actor.pii ? BlindFor(actor.tenant) : nullptr;
  }

  BlindIndexFn BlindFor(const std::string& tenant) const {
    return [this, tenant](absl::string_view field, absl::string_view value)
               -> absl::StatusOr<std::string> {
      if (field == "client.phone") {
        ASSIGN_OR_RETURN(std::string p, NormalizePhone(value, "filter"));
        return BlindIndex(tenant, field, p);
      }
      ASSIGN_OR_RETURN(std::string id, NormalizeNationalId(value, "filter"));
      return BlindIndex(tenant, field, id);
    };
  }

  static std::string Digest(absl::string_view s) {
    return crypto::HexEncode(crypto::Sha256(s).substr(0, 8));
  }

  // The client's live data key, made on first use. Cases without a client
  // id get a key of their own.
  absl::StatusOr<DataKey> NewOrExistingKey(Database& db, const std::string& tenant,
                                           const std::string& client_id, int64_t now) {
    if (!client_id.empty()) {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT key_ref, wrapped FROM client_keys WHERE tenant = ?1 AND client_id = ?2 "
          "AND destroy_time IS NULL"));
      q.Bind(1, tenant).Bind(2, client_id);
      ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) return vault_->Unwrap(tenant, q.ColumnText(0), q.ColumnBlob(1));
    }
    DataKey key = PiiVault::NewDataKey();
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO client_keys (key_ref, tenant, client_id, master_key_id, wrapped, made_time) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    ins.Bind(1, key.ref).Bind(2, tenant);
    if (client_id.empty()) ins.BindNull(3); else ins.Bind(3, client_id);
    ins.Bind(4, vault_->current_key_id()).BindBlob(5, vault_->Wrap(tenant, key)).Bind(6, now);
    RETURN_IF_ERROR(ins.Run());
    return key;
  }

  // The data key of a case's client; nullopt once erased.
  absl::StatusOr<std::optional<DataKey>> KeyFor(Database& db, const std::string& tenant,
                                                const std::string& case_id) {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT k.key_ref, k.wrapped, k.destroy_time FROM cases c JOIN client_keys k "
        "ON k.key_ref = c.key_ref WHERE c.tenant = ?1 AND c.case_id = ?2"));
    q.Bind(1, tenant).Bind(2, case_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotFound(case_id);
    if (!q.ColumnIsNull(2)) return std::optional<DataKey>();
    ASSIGN_OR_RETURN(DataKey key, vault_->Unwrap(tenant, q.ColumnText(0), q.ColumnBlob(1)));
    return std::optional<DataKey>(std::move(key));
  }

  absl::StatusOr<v1::Case> FromRow(const Statement& q, absl::string_view tenant) {
    const std::string case_id = q.ColumnText(0);
    v1::Case c;
    if (!c.ParseFromString(std::string(q.ColumnBlob(1)))) {
      return absl::DataLossError("unreadable case row");
    }
    c.set_etag(Etag(q.ColumnInt64(2)));
    *c.mutable_create_time() = ToProto(q.ColumnInt64(3));
    *c.mutable_update_time() = ToProto(q.ColumnInt64(4));
    if (q.ColumnIsNull(11)) {
      ASSIGN_OR_RETURN(DataKey key, vault_->Unwrap(tenant, q.ColumnText(5), q.ColumnBlob(6)));
      v1::Client* client = c.mutable_client();
      const struct {
        int col;
        const char* field;
        std::string* out;
      } fields[] = {{7, "client.display_name", client->mutable_display_name()},
                    {8, "client.phone", client->mutable_phone()},
                    {9, "client.email", client->mutable_email()},
                    {10, "client.national_id", client->mutable_national_id()}};
      for (const auto& f : fields) {
        if (q.ColumnIsNull(f.col)) continue;
        ASSIGN_OR_RETURN(*f.out, PiiVault::Open(key, q.ColumnBlob(f.col),
                                                Binding{tenant, case_id, f.field}));
      }
      if (!q.ColumnIsNull(kTextSealedColumn)) {
        ASSIGN_OR_RETURN(std::string raw, PiiVault::Open(key, q.ColumnBlob(kTextSealedColumn),
                                                         Binding{tenant, case_id, "text"}));
        v1::Case text;
        if (!text.ParseFromString(raw)) return absl::DataLossError("unreadable case text");
        PutFreeText(text, c);
      }
    } else {
      *c.mutable_client()->mutable_erase_time() = ToProto(q.ColumnInt64(11));
    }
    return c;
  }

  absl::StatusOr<v1::Case> Load(Database& db, const Actor& actor, absl::string_view case_id) {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
        "SELECT ", kCaseColumns, " FROM cases c JOIN client_keys k ON k.key_ref = c.key_ref "
        "WHERE c.tenant = ?1 AND c.case_id = ?2 AND (?3 = '' OR c.client_id = ?3)")));
    q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, actor.client_id);
    ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return NotFound(case_id);
    return FromRow(q, actor.tenant);
  }

  // Writes every column of a case row from `c` (plaintext client data).
  absl::Status Store(Database& db, const std::string& tenant, const std::string& case_id,
                     const v1::Case& c, bool insert, const DataKey* key, int64_t now,
                     int64_t revision) {
    v1::Case stored = c;
    ScrubClient(stored);
    const v1::Case text = TakeFreeText(stored);
    auto seal = [&](const std::string& value, const char* field) -> std::optional<std::string> {
      if (value.empty() || key == nullptr) return std::nullopt;
      return PiiVault::Seal(*key, value, Binding{tenant, case_id, field});
    };
    int64_t next_due = 0;
    for (const auto& item : c.checklist()) {
      if (item.state() != v1::ChecklistItem::STATE_PENDING || !item.has_due_time()) continue;
      const int64_t due = Micros(item.due_time());
      next_due = next_due == 0 ? due : std::min(next_due, due);
    }
    const std::string sql = insert
        ? "INSERT INTO cases (tenant, case_id, external_ref, client_id, key_ref, name_sealed, "
          "phone_sealed, email_sealed, national_id_sealed, state, severity, incident_type, "
          "assignee, suspected_source, leaked_mask, limitation_ends_on, next_due_time, "
          "create_time, update_time, revision, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
          "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19, ?20)"
        : "UPDATE cases SET external_ref = ?3, name_sealed = ?6, phone_sealed = ?7, "
          "email_sealed = ?8, national_id_sealed = ?9, state = ?10, severity = ?11, "
          "incident_type = ?12, assignee = ?13, suspected_source = ?14, leaked_mask = ?15, "
          "limitation_ends_on = ?16, next_due_time = ?17, update_time = ?18, revision = ?19, "
          "data = ?20 WHERE tenant = ?1 AND case_id = ?2 AND (?4 IS NOT NULL OR ?5 IS NOT NULL)";
    ASSIGN_OR_RETURN(Statement s, db.Prepare(sql));
    s.Bind(1, tenant).Bind(2, case_id);
    if (c.external_ref().empty()) s.BindNull(3); else s.Bind(3, c.external_ref());
    s.Bind(4, c.client().id()).Bind(5, key != nullptr ? key->ref : std::string());
    const std::pair<const std::string*, const char*> sealed[] = {
        {&c.client().display_name(), "client.display_name"},
        {&c.client().phone(), "client.phone"},
        {&c.client().email(), "client.email"},
        {&c.client().national_id(), "client.national_id"}};
    int col = 6;
    for (const auto& [value, field] : sealed) {
      if (auto box = seal(*value, field)) s.BindBlob(col++, *box); else s.BindNull(col++);
    }
    s.Bind(10, static_cast<int64_t>(c.state())).Bind(11, static_cast<int64_t>(c.severity()))
        .Bind(12, c.incident_type()).Bind(13, c.assignee()).Bind(14, c.suspected_source())
        .Bind(15, LeakedMask(c));
    if (c.limitation_ends_on().empty()) s.BindNull(16); else s.Bind(16, c.limitation_ends_on());
    if (next_due == 0) s.BindNull(17); else s.Bind(17, next_due);
    s.Bind(18, now).Bind(19, revision).BindBlob(20, stored.SerializeAsString());
    RETURN_IF_ERROR(s.Run());
    RETURN_IF_ERROR(WriteFilterColumns(db, tenant, case_id, c));
    {
      ASSIGN_OR_RETURN(Statement idx, db.Prepare(
          "UPDATE cases SET phone_index = ?3, national_id_index = ?4, text_sealed = ?5 "
          "WHERE tenant = ?1 AND case_id = ?2"));
      idx.Bind(1, tenant).Bind(2, case_id);
      if (HasFreeText(text) && key != nullptr) {
        idx.BindBlob(5, PiiVault::Seal(*key, text.SerializeAsString(),
                                       Binding{tenant, case_id, "text"}));
      } else {
        idx.BindNull(5);
      }
      if (c.client().phone().empty() || key == nullptr) idx.BindNull(3);
      else idx.Bind(3, BlindIndex(tenant, "client.phone", c.client().phone()));
      if (c.client().national_id().empty() || key == nullptr) idx.BindNull(4);
      else idx.Bind(4, BlindIndex(tenant, "client.national_id", c.client().national_id()));
      RETURN_IF_ERROR(idx.Run());
    }
    // The overdue index: PENDING items with a due time.
    {
      ASSIGN_OR_RETURN(Statement del, db.Prepare(
          "DELETE FROM pending_items WHERE tenant = ?1 AND case_id = ?2"));
      del.Bind(1, tenant).Bind(2, case_id);
      RETURN_IF_ERROR(del.Run());
    }
    for (const auto& item : c.checklist()) {
      if (item.state() != v1::ChecklistItem::STATE_PENDING || !item.has_due_time()) continue;
      ASSIGN_OR_RETURN(Statement ins, db.Prepare(
          "INSERT INTO pending_items (tenant, case_id, item_key, due_time) VALUES (?1, ?2, ?3, ?4)"));
      ins.Bind(1, tenant).Bind(2, case_id).Bind(3, item.key()).Bind(4, Micros(item.due_time()));
      RETURN_IF_ERROR(ins.Run());
    }
    return absl::OkStatus();
  }

  // Appends an event with the tenant's next sequence number.
  absl::StatusOr<int64_t> AppendEvent(Database& db, const std::string& tenant,
                                      const std::string& case_id, const std::string& client_id,
                                      v1::CaseEvent event, int64_t now) {
    {
      ASSIGN_OR_RETURN(Statement up, db.Prepare(
          "INSERT INTO tenant_seq (tenant, seq) VALUES (?1, 1) "
          "ON CONFLICT (tenant) DO UPDATE SET seq = seq + 1"));
      up.Bind(1, tenant);
      RETURN_IF_ERROR(up.Run());
    }
    int64_t seq = 0;
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare("SELECT seq FROM tenant_seq WHERE tenant = ?1"));
      q.Bind(1, tenant);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return absl::InternalError("sequence missing");
      seq = q.ColumnInt64(0);
    }
    event.set_name(absl::StrCat("cases/", case_id, "/events/", seq));
    event.set_case_(absl::StrCat("cases/", case_id));
    *event.mutable_time() = ToProto(now);
    // A reason is free text: sealed under the client's key (and so gone with
    // it on erasure, though the event itself stays).
    v1::CaseEvent stored = event;
    stored.clear_reason();
    std::optional<std::string> reason;
    if (!event.reason().empty()) {
      ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, tenant, case_id));
      if (key) {
        reason = PiiVault::Seal(*key, event.reason(),
                                Binding{tenant, case_id, absl::StrCat("events/", seq, "/reason")});
      }
      // Without the key (the erasure itself) the reason is not kept: it is
      // free text about the client, and nothing could erase it later.
    }
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO events (tenant, seq, case_id, client_id, time, data, reason_sealed) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    ins.Bind(1, tenant).Bind(2, seq).Bind(3, case_id).Bind(4, client_id).Bind(5, now)
        .BindBlob(6, stored.SerializeAsString());
    if (reason) ins.BindBlob(7, *reason); else ins.BindNull(7);
    RETURN_IF_ERROR(ins.Run());
    // Every mutation records an event, so every mutation is audited here,
    // in the same transaction.
    RETURN_IF_ERROR(audit_->Append(db, tenant, event.actor(),
                                   v1::CaseEvent::Type_Name(event.type()),
                                   event.resource().empty() ? event.case_() : event.resource(),
                                   now));
    return seq;
  }

  // Request ids are scoped to the key and its client binding (each length-
  // prefixed, so no id can imitate another scope): no key meets another's
  // request ids, so replaying one with a guessed body (200 when the guess is
  // right, 400 when not) tells it nothing about what someone else sent. A
  // retry uses the key of the first attempt.
  static std::string ScopedRequestId(const Actor& actor, const std::string& request_id) {
    return absl::StrCat(actor.key_id.size(), ":", actor.key_id, "|", actor.client_id.size(), ":",
                        actor.client_id, "|", request_id);
  }

  // An earlier create with the same request id: its resource, or
  // InvalidArgument when the body differs; "" when there was none.
  absl::StatusOr<std::string> PriorRequest(Database& db, const Actor& actor,
                                           const std::string& request_id,
                                           const std::string& digest) {
    if (request_id.empty()) return std::string();
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT request_digest, resource FROM create_requests WHERE tenant = ?1 AND request_id = ?2"));
    q.Bind(1, actor.tenant).Bind(2, ScopedRequestId(actor, request_id));
    ASSIGN_OR_RETURN(bool seen, q.Step());
    if (!seen) return std::string();
    if (q.ColumnBlob(0) != digest) {
      return InvalidArgumentField("request_id",
                                  "was already used for a different request; use a new request_id");
    }
    return q.ColumnText(1);
  }

  absl::Status RecordRequest(Database& db, const Actor& actor,
                             const std::string& request_id, const std::string& digest,
                             const std::string& resource, int64_t now) {
    if (request_id.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO create_requests (tenant, request_id, request_digest, resource, create_time) "
        "VALUES (?1, ?2, ?3, ?4, ?5)"));
    ins.Bind(1, actor.tenant).Bind(2, ScopedRequestId(actor, request_id)).BindBlob(3, digest).Bind(4, resource).Bind(5, now);
    return ins.Run();
  }

  // ALREADY_EXISTS naming `field` and the case that holds `external_ref`
  // (only keys for the whole firm may set one, so the name is theirs to see).
  absl::Status CheckExternalRefFree(Database& db, const std::string& tenant,
                                    const std::string& external_ref, const std::string& case_id,
                                    absl::string_view field) {
    if (external_ref.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT case_id FROM cases WHERE tenant = ?1 AND external_ref = ?2 AND case_id != ?3"));
    q.Bind(1, tenant).Bind(2, external_ref).Bind(3, case_id);
    ASSIGN_OR_RETURN(bool exists, q.Step());
    if (!exists) return absl::OkStatus();
    const std::string existing = absl::StrCat("cases/", q.ColumnText(0));
    return ErrorWithReason(absl::StatusCode::kAlreadyExists, "EXTERNAL_REF_EXISTS",
                           absl::StrCat(field, ": is already used by ", existing),
                           {{"case", existing}, {"field", std::string(field)}});
  }

  absl::StatusOr<v1::Case> CreateIn(Database& db, const Actor& actor, const NewCase& request) {
    const std::string& tenant = actor.tenant;
    ASSIGN_OR_RETURN(std::string prior,
                     PriorRequest(db, actor, request.request_id, request.request_digest));
    if (!prior.empty()) return Load(db, actor, prior);
    const v1::Case& c = request.c;
    const std::string case_id(absl::StripPrefix(c.name(), "cases/"));
    RETURN_IF_ERROR(CheckExternalRefFree(db, tenant, c.external_ref(), case_id,
                                         "case.external_ref"));
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(DataKey key, NewOrExistingKey(db, tenant, c.client().id(), now));
    RETURN_IF_ERROR(Store(db, tenant, case_id, c, /*insert=*/true, &key, now, 1));
    RETURN_IF_ERROR(RecordRequest(db, actor, request.request_id, request.request_digest,
                                  case_id, now));
    v1::CaseEvent event;
    event.set_type(v1::CaseEvent::TYPE_CASE_CREATED);
    event.set_actor(actor.key_id);
    event.set_to_state(c.state());
    RETURN_IF_ERROR(AppendEvent(db, tenant, case_id, c.client().id(), event, now).status());
    return Load(db, actor, case_id);
  }

  absl::StatusOr<v1::Case> MutateIn(Database& db, const Actor& actor, const CaseMutation& m) {
    ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, m.case_id));
    // Before the etag: a retry carries the etag of before the first attempt.
    ASSIGN_OR_RETURN(const std::string prior,
                     PriorRequest(db, actor, m.request_id, m.request_digest));
    if (!prior.empty()) return c;
    if (!m.expected_etag.empty() && m.expected_etag != c.etag()) {
      return absl::AbortedError(absl::StrCat(
          c.name(), " changed since etag ", m.expected_etag, " (now ", c.etag(),
          "); read it again and retry"));
    }
    int64_t revision = 0;
    if (!absl::SimpleAtoi(absl::string_view(c.etag()).substr(1), &revision)) {
      return absl::DataLossError(absl::StrCat(c.name(), " holds an unreadable revision"));
    }
    const std::string external_ref_before = c.external_ref();
    v1::CaseEvent event;
    event.set_actor(actor.key_id);
    RETURN_IF_ERROR(m.apply(c, event));
    if (event.type() == v1::CaseEvent::TYPE_UNSPECIFIED) return Load(db, actor, m.case_id);
    if (c.external_ref() != external_ref_before) {
      RETURN_IF_ERROR(CheckExternalRefFree(db, actor.tenant, c.external_ref(), m.case_id,
                                           "case.external_ref"));
    }
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, m.case_id));
    RETURN_IF_ERROR(Store(db, actor.tenant, m.case_id, c, /*insert=*/false,
                          key ? &*key : nullptr, now, revision + 1));
    RETURN_IF_ERROR(AppendEvent(db, actor.tenant, m.case_id, c.client().id(), event, now).status());
    RETURN_IF_ERROR(RecordRequest(db, actor, m.request_id, m.request_digest, m.case_id, now));
    return Load(db, actor, m.case_id);
  }

  // Destroys a data key and every value sealed with it (and the idempotency
  // records of its client's requests, which digest personal data).
  absl::Status ScrubKey(Database& db, const std::string& tenant, const std::string& key_ref,
                        int64_t now) {
    // The key first: without it nothing sealed can be opened again.
    for (const char* sql : {
             "UPDATE client_keys SET wrapped = NULL, destroy_time = coalesce(destroy_time, ?2) "
             "WHERE key_ref = ?1",
             "UPDATE cases SET name_sealed = NULL, phone_sealed = NULL, email_sealed = NULL, "
             "national_id_sealed = NULL, phone_index = NULL, national_id_index = NULL, "
             "text_sealed = NULL WHERE key_ref = ?1",
             "UPDATE evidence SET counterpart_sealed = NULL, attachment_sealed = NULL, "
             "counterpart_index = NULL, summary_sealed = NULL "
             "WHERE (tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)",
             "UPDATE notes SET text_sealed = x'' "
             "WHERE (tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)",
             // An event stays (the record that something happened); only its
             // sealed reason, the one column that may change, goes.
             "UPDATE events SET reason_sealed = NULL WHERE reason_sealed IS NOT NULL AND "
             "(tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)"}) {
      ASSIGN_OR_RETURN(Statement up, db.Prepare(sql));
      up.Bind(1, key_ref);
      if (absl::string_view(sql).find("?2") != absl::string_view::npos) up.Bind(2, now);
      RETURN_IF_ERROR(up.Run());
    }
    ASSIGN_OR_RETURN(Statement del, db.Prepare(
        "DELETE FROM create_requests WHERE tenant = ?2 AND (resource IN "
        "(SELECT case_id FROM cases WHERE key_ref = ?1) OR resource IN "
        "(SELECT e.evidence_id FROM evidence e JOIN cases c ON c.tenant = e.tenant AND "
        "c.case_id = e.case_id WHERE c.key_ref = ?1) OR resource IN "
        "(SELECT n.note_id FROM notes n JOIN cases c ON c.tenant = n.tenant AND "
        "c.case_id = n.case_id WHERE c.key_ref = ?1))"));
    del.Bind(1, key_ref).Bind(2, tenant);
    return del.Run();
  }

  // Opens the database's own ledger, creating it with a new database: a
  // database that has a ledger refuses to open without that same one.
  absl::Status OpenLedger(Database& db, const std::string& ledger_path,
                          bool replace_lost_ledger) {
    // Under the write lock: of processes opening a new database at once, one
    // creates the ledger and the others read it.
    ASSIGN_OR_RETURN(sqlite::Transaction tx, sqlite::Transaction::Begin(db));
    ASSIGN_OR_RETURN(ledger_, ErasureLedger::Open(ledger_path));
    ASSIGN_OR_RETURN(Statement q,
                     db.Prepare("SELECT value FROM meta WHERE key = 'erasure_ledger'"));
    ASSIGN_OR_RETURN(bool row, q.Step());
    const std::string recorded = row ? q.ColumnText(0) : "";
    if (!recorded.empty() && ledger_->id() != recorded && ledger_->id().empty() &&
        replace_lost_ledger) {
      // Disaster recovery, chosen by the operator: erasures made after this
      // database was copied cannot be re-applied.
      log::Warning("erasure_ledger_replaced", {{"lost", recorded}, {"ledger", ledger_path}});
      ASSIGN_OR_RETURN(ledger_, ErasureLedger::Create(ledger_path));
      ASSIGN_OR_RETURN(Statement up, db.Prepare(
          "UPDATE meta SET value = ?1 WHERE key = 'erasure_ledger'"));
      up.Bind(1, ledger_->id());
      RETURN_IF_ERROR(up.Run());
      return tx.Commit();
    }
    if (!recorded.empty() && ledger_->id() != recorded) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this database's erasure ledger (", recorded, ") is ",
          ledger_->id().empty() ? "missing" : "not the one at", " ", ledger_path,
          ": put it back (or pass --erasure_ledger) before opening the database, or erased "
          "clients' data could come back"));
    }
    // A ledger older than the database (a stale copy of it) would miss
    // erasures the database has seen: every destroyed key must be in it.
    if (!recorded.empty()) {
      absl::flat_hash_set<std::string> listed;
      for (const auto& e : ledger_->entries()) listed.insert(e.key_ref);
      ASSIGN_OR_RETURN(Statement destroyed, db.Prepare(
          "SELECT key_ref FROM client_keys WHERE destroy_time IS NOT NULL"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, destroyed.Step());
        if (!row) break;
        if (!listed.contains(destroyed.ColumnText(0))) {
          return absl::FailedPreconditionError(absl::StrCat(
              "the erasure ledger at ", ledger_path, " is older than the database (it lacks "
              "an erasure the database holds): restore the current ledger before opening"));
        }
      }
    }
    if (recorded.empty()) {
      if (ledger_->id().empty()) {
        ASSIGN_OR_RETURN(ledger_, ErasureLedger::Create(ledger_path));
      }
      ASSIGN_OR_RETURN(Statement ins, db.Prepare(
          "INSERT INTO meta (key, value) VALUES ('erasure_ledger', ?1)"));
      ins.Bind(1, ledger_->id());
      RETURN_IF_ERROR(ins.Run());
    }
    return tx.Commit();
  }

  // Erases again every key the ledger names that this database still holds
  // (it was restored from a backup older than the erasure).
  absl::Status ApplyLedger(Database& db) {
    ASSIGN_OR_RETURN(sqlite::Transaction tx, sqlite::Transaction::Begin(db));
    int reapplied = 0;
    for (const ErasureLedger::Entry& e : ledger_->entries()) {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT 1 FROM client_keys WHERE key_ref = ?1 AND tenant = ?2 AND wrapped IS NOT NULL"));
      q.Bind(1, e.key_ref).Bind(2, e.tenant);
      ASSIGN_OR_RETURN(bool live, q.Step());
      if (!live) continue;
      RETURN_IF_ERROR(ScrubKey(db, e.tenant, e.key_ref, e.time_micros));
      std::vector<std::pair<std::string, std::string>> cases;  // case id, client id
      {
        ASSIGN_OR_RETURN(Statement c, db.Prepare(
            "SELECT case_id, client_id FROM cases WHERE key_ref = ?1 ORDER BY case_id"));
        c.Bind(1, e.key_ref);
        while (true) {
          ASSIGN_OR_RETURN(bool row, c.Step());
          if (!row) break;
          cases.emplace_back(c.ColumnText(0), c.ColumnText(1));
        }
      }
      for (const auto& [id, client] : cases) {
        v1::CaseEvent event;
        event.set_type(v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
        event.set_actor("erasure-ledger");
        event.set_reason("erased again on open: the database was restored from before the erasure");
        event.add_changed_fields("client");
        RETURN_IF_ERROR(
            AppendEvent(db, e.tenant, id, client, event, absl::ToUnixMicros(clock_->Now()))
                .status());
      }
      ++reapplied;
    }
    RETURN_IF_ERROR(tx.Commit());
    if (reapplied > 0) {
      log::Warning("erasures_reapplied", {{"keys", reapplied}, {"ledger", ledger_->path()}});
      RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Case> EraseIn(Database& db, const Actor& actor, const std::string& case_id,
                                   const std::string& reason) {
    ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, case_id));
    if (c.client().has_erase_time()) return c;  // already erased: nothing more to do
    std::string key_ref;
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT key_ref FROM cases WHERE tenant = ?1 AND case_id = ?2"));
      q.Bind(1, actor.tenant).Bind(2, case_id);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return NotFound(case_id);
      key_ref = q.ColumnText(0);
    }
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    // The ledger first, durably: a backup restored later is erased again on
    // open, even if this transaction were lost.
    RETURN_IF_ERROR(ledger_->Record(actor.tenant, key_ref, now));
    RETURN_IF_ERROR(ScrubKey(db, actor.tenant, key_ref, now));
    // Every case of the client records the erasure.
    std::vector<std::string> cases;
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT case_id FROM cases WHERE key_ref = ?1 ORDER BY case_id"));
      q.Bind(1, key_ref);
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        cases.push_back(q.ColumnText(0));
      }
    }
    for (const std::string& id : cases) {
      v1::CaseEvent event;
      event.set_type(v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
      event.set_actor(actor.key_id);
      event.set_reason(reason);
      event.add_changed_fields("client");
      RETURN_IF_ERROR(AppendEvent(db, actor.tenant, id, c.client().id(), event, now).status());
    }
    return Load(db, actor, case_id);
  }

  absl::StatusOr<v1::Evidence> AddEvidenceIn(Database& db, const Actor& actor,
                                             const std::string& case_id, const NewEvidence& in) {
    // Bound to the case: the same request id for another case is a conflict.
    const std::string digest = absl::StrCat(
        case_id, "|", in.evidence.SerializeAsString(), Digest(in.attachment));
    ASSIGN_OR_RETURN(std::string prior,
                     PriorRequest(db, actor, in.request_id, Digest(digest)));
    ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, case_id));
    ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, case_id));
    if (!prior.empty()) return ReadEvidence(db, actor.tenant, case_id, prior, key);
    if (!key) {
      return absl::FailedPreconditionError("the client's data was erased: no evidence can be added");
    }
    if (!in.evidence.supersedes().empty()) {
      const std::string prefix = absl::StrCat("cases/", case_id, "/evidence/");
      absl::string_view old = in.evidence.supersedes();
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT 1 FROM evidence WHERE tenant = ?1 AND case_id = ?2 AND evidence_id = ?3"));
      const bool named = absl::ConsumePrefix(&old, prefix);
      q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, old);
      ASSIGN_OR_RETURN(bool exists, q.Step());
      if (!named || !exists) {
        return InvalidArgumentField("evidence.supersedes", "names no evidence of this case");
      }
    }
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    const std::string id = RandomId();
    v1::Evidence e = in.evidence;
    e.set_name(absl::StrCat("cases/", case_id, "/evidence/", id));
    *e.mutable_create_time() = ToProto(now);
    e.set_author(actor.key_id);
    v1::CaseEvent event;
    event.set_type(v1::CaseEvent::TYPE_EVIDENCE_ADDED);
    event.set_actor(actor.key_id);
    event.set_resource(e.name());
    ASSIGN_OR_RETURN(int64_t seq, AppendEvent(db, actor.tenant, case_id, c.client().id(), event, now));
    v1::Evidence stored = e;
    stored.clear_counterpart();
    const v1::Evidence text = TakeEvidenceText(stored);
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO evidence (tenant, case_id, evidence_id, seq, counterpart_sealed, "
        "attachment_sealed, supersedes, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    ins.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, id).Bind(4, seq);
    if (e.counterpart().empty()) {
      ins.BindNull(5);
    } else {
      ins.BindBlob(5, PiiVault::Seal(*key, e.counterpart(),
                                     Binding{actor.tenant, case_id,
                                             absl::StrCat("evidence/", id, "/counterpart")}));
    }
    if (in.attachment.empty()) {
      ins.BindNull(6);
    } else {
      ins.BindBlob(6, PiiVault::Seal(*key, in.attachment,
                                     Binding{actor.tenant, case_id,
                                             absl::StrCat("evidence/", id, "/attachment")}));
    }
    if (e.supersedes().empty()) {
      ins.BindNull(7);
    } else {
      ins.Bind(7, std::string(absl::StripPrefix(e.supersedes(),
                                                absl::StrCat("cases/", case_id, "/evidence/"))));
    }
    ins.BindBlob(8, stored.SerializeAsString());
    RETURN_IF_ERROR(ins.Run());
    if (!e.counterpart().empty()) {
      ASSIGN_OR_RETURN(Statement idx, db.Prepare(
          "UPDATE evidence SET counterpart_index = ?4 WHERE tenant = ?1 AND case_id = ?2 "
          "AND evidence_id = ?3"));
      idx.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, id)
          .Bind(4, BlindIndex(actor.tenant, "evidence.counterpart", e.counterpart()));
      RETURN_IF_ERROR(idx.Run());
    }
    if (HasEvidenceText(text)) {
      ASSIGN_OR_RETURN(Statement up, db.Prepare(
          "UPDATE evidence SET summary_sealed = ?4 WHERE tenant = ?1 AND case_id = ?2 "
          "AND evidence_id = ?3"));
      up.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, id)
          .BindBlob(4, PiiVault::Seal(*key, text.SerializeAsString(),
                                      Binding{actor.tenant, case_id, EvidenceTextField(id)}));
      RETURN_IF_ERROR(up.Run());
    }
    RETURN_IF_ERROR(RecordRequest(db, actor, in.request_id, Digest(digest), id, now));
    return e;
  }

  absl::StatusOr<v1::Evidence> ReadEvidence(Database& db, const std::string& tenant,
                                            const std::string& case_id, const std::string& id,
                                            const std::optional<DataKey>& key) {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT data, counterpart_sealed, summary_sealed FROM evidence WHERE tenant = ?1 "
        "AND case_id = ?2 AND evidence_id = ?3"));
    q.Bind(1, tenant).Bind(2, case_id).Bind(3, id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return absl::NotFoundError("evidence does not exist");
    v1::Evidence e;
    if (!e.ParseFromString(std::string(q.ColumnBlob(0)))) {
      return absl::DataLossError("unreadable evidence row");
    }
    if (!q.ColumnIsNull(1) && key) {
      ASSIGN_OR_RETURN(*e.mutable_counterpart(),
                       PiiVault::Open(*key, q.ColumnBlob(1),
                                      Binding{tenant, case_id,
                                              absl::StrCat("evidence/", id, "/counterpart")}));
    }
    if (!q.ColumnIsNull(2) && key) {
      RETURN_IF_ERROR(OpenEvidenceText(*key, q.ColumnBlob(2), tenant, case_id, id, e));
    }
    return e;
  }

  static absl::Status OpenEvidenceText(const DataKey& key, absl::string_view sealed,
                                       const std::string& tenant, const std::string& case_id,
                                       const std::string& id, v1::Evidence& e) {
    ASSIGN_OR_RETURN(std::string raw,
                     PiiVault::Open(key, sealed, Binding{tenant, case_id, EvidenceTextField(id)}));
    v1::Evidence text;
    if (!text.ParseFromString(raw)) return absl::DataLossError("unreadable evidence text");
    if (!text.summary().empty()) e.set_summary(text.summary());
    if (text.has_attachment()) *e.mutable_attachment() = text.attachment();
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Note> AddNoteIn(Database& db, const Actor& actor, const std::string& case_id,
                                     const v1::Note& in, const std::string& request_id) {
    const std::string digest = Digest(absl::StrCat("note|", case_id, "|", in.text()));
    ASSIGN_OR_RETURN(std::string prior, PriorRequest(db, actor, request_id, digest));
    ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, case_id));
    ASSIGN_OR_RETURN(std::optional<DataKey> key, KeyFor(db, actor.tenant, case_id));
    if (!key) {
      return absl::FailedPreconditionError("the client's data was erased: no note can be added");
    }
    if (!prior.empty()) {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(
          "SELECT data FROM notes WHERE tenant = ?1 AND case_id = ?2 AND note_id = ?3"));
      q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, prior);
      ASSIGN_OR_RETURN(bool row, q.Step());
      v1::Note n;
      if (row) n.ParseFromString(std::string(q.ColumnBlob(0)));
      n.set_text(in.text());
      return n;
    }
    const int64_t now = absl::ToUnixMicros(clock_->Now());
    const std::string id = RandomId();
    v1::Note n;
    n.set_name(absl::StrCat("cases/", case_id, "/notes/", id));
    n.set_author(actor.key_id);
    *n.mutable_create_time() = ToProto(now);
    v1::CaseEvent event;
    event.set_type(v1::CaseEvent::TYPE_NOTE_ADDED);
    event.set_actor(actor.key_id);
    event.set_resource(n.name());
    RETURN_IF_ERROR(AppendEvent(db, actor.tenant, case_id, c.client().id(), event, now).status());
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO notes (tenant, case_id, note_id, text_sealed, data) VALUES (?1, ?2, ?3, ?4, ?5)"));
    ins.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, id)
        .BindBlob(4, PiiVault::Seal(*key, in.text(),
                                    Binding{actor.tenant, case_id, absl::StrCat("notes/", id)}))
        .BindBlob(5, n.SerializeAsString());
    RETURN_IF_ERROR(ins.Run());
    RETURN_IF_ERROR(RecordRequest(db, actor, request_id, digest, id, now));
    n.set_text(in.text());
    return n;
  }

  const PiiVault* vault_;
  const Clock* clock_;
  std::unique_ptr<AuditChain> audit_;
  std::unique_ptr<ErasureLedger> ledger_;
  std::unique_ptr<crypto::TokenSealer> tokens_;
  std::string index_key_;
  std::unique_ptr<ReaderPool> readers_;
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
  // Last: the writer thread stops (finishing queued work) before the rest goes.
  std::unique_ptr<Writer> writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CaseStore>> OpenSqliteCaseStore(
    const std::string& path, const PiiVault* vault, const Clock* clock,
    const SqliteCaseStoreOptions& options) {
  auto store = std::make_unique<SqliteCaseStore>(vault, clock);
  RETURN_IF_ERROR(store->Init(path, options));
  return std::unique_ptr<CaseStore>(std::move(store));
}

}  // namespace counsel::cases
