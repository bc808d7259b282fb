#include "case-svc/store/sql_case_store_impl.h"

#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

absl::Status SqlCaseStore::Store(Database& db, const std::string& tenant, const std::string& case_id,
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
  // One statement writes every column of the row (each statement is a
  // round trip to PostgreSQL, and work for SQLite).
  const std::string sql = insert
      ? "INSERT INTO cases (tenant, case_id, external_ref, client_id, key_ref, name_sealed, "
        "phone_sealed, email_sealed, national_id_sealed, state, severity, incident_type, "
        "assignee, suspected_source, leaked_mask, limitation_ends_on, next_due_time, "
        "create_time, update_time, revision, data, phone_index, national_id_index, "
        "text_sealed, discovered_time, occurred_on) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19, ?20, ?21, ?22, ?23, ?24, "
        "?25)"
      : "UPDATE cases SET external_ref = ?3, name_sealed = ?6, phone_sealed = ?7, "
        "email_sealed = ?8, national_id_sealed = ?9, state = ?10, severity = ?11, "
        "incident_type = ?12, assignee = ?13, suspected_source = ?14, leaked_mask = ?15, "
        "limitation_ends_on = ?16, next_due_time = ?17, update_time = ?18, revision = ?19, "
        "data = ?20, phone_index = ?21, national_id_index = ?22, text_sealed = ?23, "
        "discovered_time = ?24, occurred_on = ?25 "
        "WHERE tenant = ?1 AND case_id = ?2 AND (?4 IS NOT NULL OR ?5 IS NOT NULL)";
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
  if (c.client().phone().empty() || key == nullptr) s.BindNull(21);
  else s.Bind(21, BlindIndex(tenant, "client.phone", c.client().phone()));
  if (c.client().national_id().empty() || key == nullptr) s.BindNull(22);
  else s.Bind(22, BlindIndex(tenant, "client.national_id", c.client().national_id()));
  if (HasFreeText(text) && key != nullptr) {
    s.BindBlob(23, PiiVault::Seal(*key, text.SerializeAsString(), Binding{tenant, case_id, "text"}));
  } else {
    s.BindNull(23);
  }
  if (c.has_discovered_time()) s.Bind(24, TimeUtil::TimestampToMicroseconds(c.discovered_time()));
  else s.BindNull(24);
  if (c.occurred_on().empty()) s.BindNull(25); else s.Bind(25, c.occurred_on());
  RETURN_IF_ERROR(s.Run());
  // A new case has no labels or pending items to replace.
  RETURN_IF_ERROR(WriteLabels(db, tenant, case_id, c, /*replace=*/!insert));
  // The overdue index: PENDING items with a due time.
  if (!insert) {
    ASSIGN_OR_RETURN(Statement del, db.Prepare(
        "DELETE FROM pending_items WHERE tenant = ?1 AND case_id = ?2"));
    del.Bind(1, tenant).Bind(2, case_id);
    RETURN_IF_ERROR(del.Run());
  }
  // One statement for the case's pending items (a new case from the shipped
  // advice has seven): a statement each cost a round trip on PostgreSQL.
  std::vector<const v1::ChecklistItem*> pending;
  for (const auto& item : c.checklist()) {
    if (item.state() == v1::ChecklistItem::STATE_PENDING && item.has_due_time()) {
      pending.push_back(&item);
    }
  }
  // Chunks keep each statement's text among a few cached shapes and far
  // below either engine's limit on parameters.
  constexpr size_t kRowsPerStatement = 16;
  for (size_t start = 0; start < pending.size(); start += kRowsPerStatement) {
    const size_t rows = std::min(kRowsPerStatement, pending.size() - start);
    std::string sql = "INSERT INTO pending_items (tenant, case_id, item_key, due_time) VALUES ";
    for (size_t r = 0; r < rows; ++r) {
      absl::StrAppend(&sql, r == 0 ? "" : ", ", "(?1, ?2, ?", 3 + 2 * r, ", ?", 4 + 2 * r, ")");
    }
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(sql));
    ins.Bind(1, tenant).Bind(2, case_id);
    for (size_t r = 0; r < rows; ++r) {
      const v1::ChecklistItem& item = *pending[start + r];
      ins.Bind(static_cast<int>(3 + 2 * r), item.key())
          .Bind(static_cast<int>(4 + 2 * r), Micros(item.due_time()));
    }
    RETURN_IF_ERROR(ins.Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqlCaseStore::AppendEvent(Database& db, const std::string& tenant,
                                    const std::string& case_id, const std::string& client_id,
                                    v1::CaseEvent event, int64_t now) {
  int64_t seq = 0;
  {
    ASSIGN_OR_RETURN(Statement up, db.Prepare(
        "INSERT INTO tenant_seq (tenant, seq) VALUES (?1, 1) "
        "ON CONFLICT (tenant) DO UPDATE SET seq = tenant_seq.seq + 1 RETURNING seq"));
    up.Bind(1, tenant);
    ASSIGN_OR_RETURN(bool row, up.Step());
    if (!row) return absl::InternalError("sequence missing");
    seq = up.ColumnInt64(0);
    RETURN_IF_ERROR(up.Run());
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

std::string SqlCaseStore::ScopedRequestId(const Actor& actor, const std::string& request_id) {
  return absl::StrCat(actor.key_id.size(), ":", actor.key_id, "|", actor.client_id.size(), ":",
                      actor.client_id, "|", request_id);
}

absl::StatusOr<std::string> SqlCaseStore::PriorRequest(Database& db, const Actor& actor,
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

absl::Status SqlCaseStore::RecordRequest(Database& db, const Actor& actor,
                           const std::string& request_id, const std::string& digest,
                           const std::string& resource, int64_t now) {
  if (request_id.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement ins, db.Prepare(
      "INSERT INTO create_requests (tenant, request_id, request_digest, resource, create_time) "
      "VALUES (?1, ?2, ?3, ?4, ?5)"));
  ins.Bind(1, actor.tenant).Bind(2, ScopedRequestId(actor, request_id)).BindBlob(3, digest).Bind(4, resource).Bind(5, now);
  return ins.Run();
}

absl::Status SqlCaseStore::CheckExternalRefFree(Database& db, const std::string& tenant,
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

absl::StatusOr<v1::Case> SqlCaseStore::CreateIn(Database& db, const Actor& actor, const NewCase& request) {
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
  return AsWritten(c, /*revision=*/1, now);
}

absl::StatusOr<v1::Case> SqlCaseStore::MutateIn(Database& db, const Actor& actor, const CaseMutation& m) {
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

absl::StatusOr<v1::Evidence> SqlCaseStore::AddEvidenceIn(Database& db, const Actor& actor,
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

absl::StatusOr<v1::Note> SqlCaseStore::AddNoteIn(Database& db, const Actor& actor, const std::string& case_id,
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

}  // namespace counsel::cases::sql_store
