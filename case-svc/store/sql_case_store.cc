#include "case-svc/store/sql_case_store_impl.h"

#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

absl::Status SqlCaseStore::InitKeys(const CaseStoreOptions& options) {
  if (options.audit_key.size() < 32) {
    return absl::FailedPreconditionError("the audit key must hold at least 32 bytes");
  }
  audit_ = std::make_unique<AuditChain>(AuditChainKey(options.audit_key));
  index_key_ = crypto::DeriveKey(options.audit_key, "blind-index");
  tokens_ = std::make_unique<crypto::TokenSealer>(
      crypto::DeriveKey(options.audit_key, "page-token"));
  return absl::OkStatus();
}

void SqlCaseStore::Start(std::unique_ptr<Database> writer, std::unique_ptr<ReaderPool> readers,
                         int max_batch, Writer::Work before_commit) {
  readers_ = std::move(readers);
  writer_ = std::make_unique<Writer>(std::move(writer), max_batch, [this] { Committed(); },
                                     std::move(before_commit));
}

void SqlCaseStore::Committed() {
  std::function<void()> l;
  {
    absl::MutexLock lock(&listener_mu_);
    l = listener_;
  }
  if (l) l();
}

void SqlCaseStore::SetCommitListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void SqlCaseStore::CreateCase(const Actor& actor, NewCase request, Callback<v1::Case> done) {
  auto result = std::make_shared<v1::Case>();
  writer_->Submit(
      actor.tenant, [this, actor, request = std::move(request), result](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(*result, CreateIn(db, actor, request));
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (s.ok()) done(std::move(*result)); else done(s);
      });
}

void SqlCaseStore::MutateCase(const Actor& actor, CaseMutation mutation, Callback<v1::Case> done) {
  auto result = std::make_shared<v1::Case>();
  writer_->Submit(
      actor.tenant, [this, actor, mutation = std::move(mutation), result](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(*result, MutateIn(db, actor, mutation));
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (s.ok()) done(std::move(*result)); else done(s);
      });
}

void SqlCaseStore::AddEvidence(const Actor& actor, std::string case_id, NewEvidence evidence,
                 Callback<v1::Evidence> done) {
  auto result = std::make_shared<v1::Evidence>();
  writer_->Submit(
      actor.tenant, [this, actor, case_id = std::move(case_id), evidence = std::move(evidence),
       result](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(*result, AddEvidenceIn(db, actor, case_id, evidence));
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (s.ok()) done(std::move(*result)); else done(s);
      });
}

void SqlCaseStore::AddNote(const Actor& actor, std::string case_id, v1::Note note, std::string request_id,
             Callback<v1::Note> done) {
  auto result = std::make_shared<v1::Note>();
  writer_->Submit(
      actor.tenant, [this, actor, case_id = std::move(case_id), note = std::move(note),
       request_id = std::move(request_id), result](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(*result, AddNoteIn(db, actor, case_id, note, request_id));
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (s.ok()) done(std::move(*result)); else done(s);
      });
}

void SqlCaseStore::EraseClientData(const Actor& actor, std::string case_id, std::string reason,
                     Callback<v1::Case> done) {
  auto result = std::make_shared<v1::Case>();
  writer_->Submit(
      actor.tenant, [this, actor, case_id = std::move(case_id), reason = std::move(reason),
       result](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(*result, EraseIn(db, actor, case_id, reason));
        return absl::OkStatus();
      },
      [result, done = std::move(done)](absl::Status s) {
        if (s.ok()) done(std::move(*result)); else done(s);
      },
      // Acknowledged only once the engine keeps no earlier version of the rows.
      /*forget_versions=*/true);
}

absl::StatusOr<v1::VerifyAuditLogResponse> SqlCaseStore::VerifyAuditLog(
    const Actor& actor, const std::string& expected_head) {
  std::optional<AuditHead> expected;
  if (!expected_head.empty()) {
    ASSIGN_OR_RETURN(expected, AuditHead::Parse(expected_head));
  }
  return readers_->With(
      [&](Database& db) { return audit_->Verify(db, actor.tenant, expected); });
}

absl::Status SqlCaseStore::SealLegacyFreeText(Database& db) {
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

std::string SqlCaseStore::BlindIndex(absl::string_view tenant, absl::string_view field,
                       absl::string_view value) const {
  const std::string msg = absl::StrCat(tenant.size(), ":", tenant, "|", field, "|", value);
  // Hex text: filters bind it as text, and text never equals a blob.
  return crypto::HexEncode(crypto::KeyedHash(index_key_, msg, 16));
}

BlindIndexFn SqlCaseStore::BlindForActor(const Actor& actor) const {
  return actor.pii ? BlindFor(actor.tenant) : nullptr;
}

BlindIndexFn SqlCaseStore::BlindFor(const std::string& tenant) const {
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

std::string SqlCaseStore::Digest(absl::string_view s) {
  return crypto::HexEncode(crypto::Sha256(s).substr(0, 8));
}

absl::StatusOr<DataKey> SqlCaseStore::NewOrExistingKey(Database& db, const std::string& tenant,
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

absl::StatusOr<std::optional<DataKey>> SqlCaseStore::KeyFor(Database& db, const std::string& tenant,
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

}  // namespace counsel::cases::sql_store
