#include "case-svc/store/sql_case_store_impl.h"

#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

int BindActorAndFilter(Statement& q, int first, const Actor& actor, const SqlCondition& filter) {
  int i = first;
  q.Bind(i++, actor.tenant);
  q.Bind(i++, actor.client_id);
  q.Bind(i++, actor.client_id);
  for (const SqlValue& p : filter.params) {
    if (const auto* n = std::get_if<int64_t>(&p)) q.Bind(i++, *n);
    else q.Bind(i++, std::get<std::string>(p));
  }
  return i;
}

absl::StatusOr<v1::Case> SqlCaseStore::GetCase(const Actor& actor, absl::string_view case_id) {
  return readers_->With([&](Database& db) { return Load(db, actor, case_id); });
}

absl::StatusOr<CasePage> SqlCaseStore::ListCases(const Actor& actor,
                                   const v1::ListCasesRequest& request) {
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
    int i = BindActorAndFilter(q, 1, actor, filter);
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

absl::StatusOr<v1::ListEvidenceResponse> SqlCaseStore::ListEvidence(
    const Actor& actor, const v1::ListEvidenceRequest& request) {
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

absl::StatusOr<v1::Evidence> SqlCaseStore::GetEvidence(const Actor& actor, absl::string_view case_id,
                                         absl::string_view evidence_id) {
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

absl::StatusOr<EvidenceAttachment> SqlCaseStore::ReadEvidenceAttachment(
    const Actor& actor, absl::string_view case_id, absl::string_view evidence_id) {
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

absl::StatusOr<v1::ListNotesResponse> SqlCaseStore::ListNotes(const Actor& actor,
                                                const v1::ListNotesRequest& request) {
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

absl::StatusOr<v1::ListCaseEventsResponse> SqlCaseStore::ListCaseEvents(
    const Actor& actor, const v1::ListCaseEventsRequest& request) {
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

absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> SqlCaseStore::ChangesAfter(
    const Actor& actor, int64_t after_seq, int limit) {
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

absl::StatusOr<int64_t> SqlCaseStore::LatestSeq(absl::string_view tenant) {
  return readers_->With([&](Database& db) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(Statement q, db.Prepare("SELECT seq FROM tenant_seq WHERE tenant = ?1"));
    q.Bind(1, tenant);
    ASSIGN_OR_RETURN(bool row, q.Step());
    return row ? q.ColumnInt64(0) : int64_t{0};
  });
}

absl::StatusOr<std::optional<absl::Time>> SqlCaseStore::ChangeTime(absl::string_view tenant,
                                                     int64_t seq) {
  return readers_->With([&](Database& db) -> absl::StatusOr<std::optional<absl::Time>> {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT time FROM events WHERE tenant = ?1 AND seq = ?2"));
    q.Bind(1, tenant).Bind(2, seq);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<absl::Time>();
    return std::optional<absl::Time>(absl::FromUnixMicros(q.ColumnInt64(0)));
  });
}

std::string SqlCaseStore::TokenContext(absl::string_view list, const Actor& actor,
                                absl::string_view parent) {
  return absl::StrCat(list, "|", actor.tenant.size(), ":", actor.tenant, "|",
                      actor.client_id.size(), ":", actor.client_id, "|", parent);
}

std::string SqlCaseStore::SealToken(absl::string_view value, absl::string_view context) const {
  return Base32Encode(tokens_->Seal(value, context));
}

absl::StatusOr<std::string> SqlCaseStore::OpenToken(absl::string_view token,
                                      absl::string_view context) const {
  std::string raw;
  if (!Base32Decode(token, &raw)) return absl::InvalidArgumentError("not a token");
  return tokens_->Open(raw, context);
}

absl::StatusOr<int64_t> SqlCaseStore::SeqPageToken(const std::string& token,
                                     absl::string_view context) const {
  if (token.empty()) return 0;
  int64_t after = 0;
  auto raw = OpenToken(token, context);
  if (!raw.ok() || !absl::SimpleAtoi(*raw, &after) || after < 0) {
    return InvalidArgumentField("page_token", "is not a token this service issued");
  }
  return after;
}

absl::StatusOr<v1::Case> SqlCaseStore::FromRow(const Statement& q, absl::string_view tenant) {
  const std::string case_id = q.ColumnText(kCaseId);
  v1::Case c;
  if (!c.ParseFromString(std::string(q.ColumnBlob(kData)))) {
    return absl::DataLossError("unreadable case row");
  }
  c.set_etag(Etag(q.ColumnInt64(kRevision)));
  *c.mutable_create_time() = ToProto(q.ColumnInt64(kCreateTime));
  *c.mutable_update_time() = ToProto(q.ColumnInt64(kUpdateTime));
  if (q.ColumnIsNull(kKeyDestroyTime)) {
    ASSIGN_OR_RETURN(DataKey key, vault_->Unwrap(tenant, q.ColumnText(kKeyRef), q.ColumnBlob(kWrappedKey)));
    v1::Client* client = c.mutable_client();
    const struct {
      int col;
      const char* field;
      std::string* out;
    } fields[] = {{kNameSealed, "client.display_name", client->mutable_display_name()},
                  {kPhoneSealed, "client.phone", client->mutable_phone()},
                  {kEmailSealed, "client.email", client->mutable_email()},
                  {kNationalIdSealed, "client.national_id", client->mutable_national_id()}};
    for (const auto& f : fields) {
      if (q.ColumnIsNull(f.col)) continue;
      ASSIGN_OR_RETURN(*f.out, PiiVault::Open(key, q.ColumnBlob(f.col),
                                              Binding{tenant, case_id, f.field}));
    }
    if (!q.ColumnIsNull(kTextSealed)) {
      ASSIGN_OR_RETURN(std::string raw, PiiVault::Open(key, q.ColumnBlob(kTextSealed),
                                                       Binding{tenant, case_id, "text"}));
      v1::Case text;
      if (!text.ParseFromString(raw)) return absl::DataLossError("unreadable case text");
      PutFreeText(text, c);
    }
  } else {
    *c.mutable_client()->mutable_erase_time() = ToProto(q.ColumnInt64(kKeyDestroyTime));
  }
  return c;
}

absl::StatusOr<v1::Case> SqlCaseStore::Load(Database& db, const Actor& actor, absl::string_view case_id) {
  ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
      "SELECT ", kCaseColumns, " FROM cases c JOIN client_keys k ON k.key_ref = c.key_ref "
      "WHERE c.tenant = ?1 AND c.case_id = ?2 AND (?3 = '' OR c.client_id = ?3)")));
  q.Bind(1, actor.tenant).Bind(2, case_id).Bind(3, actor.client_id);
  ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return NotFound(case_id);
  return FromRow(q, actor.tenant);
}

absl::StatusOr<v1::Evidence> SqlCaseStore::ReadEvidence(Database& db, const std::string& tenant,
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

absl::Status SqlCaseStore::OpenEvidenceText(const DataKey& key, absl::string_view sealed,
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

}  // namespace counsel::cases::sql_store
