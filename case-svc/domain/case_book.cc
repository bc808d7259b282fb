#include "case-svc/domain/case_book.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "case-svc/domain/lifecycle.h"
#include "case-svc/domain/masking.h"
#include "case-svc/domain/severity.h"
#include "case-svc/domain/validation.h"
#include "common/crypto.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

std::string Digest(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return crypto::Sha256(bytes);
}

std::string HexSha256(absl::string_view data) {
  return crypto::HexEncode(crypto::Sha256(data));
}

// Fields UpdateCase may change, by mask path.
const std::vector<std::string>& UpdatablePaths() {
  static const auto* paths = new std::vector<std::string>{
      "external_ref", "client.display_name", "client.phone", "client.email",
      "client.national_id", "summary", "leaked_data", "suspected_source", "occurred_on",
      "discovered_time", "assignee", "labels", "police_report", "police_report.station",
      "police_report.receipt_number", "police_report.reported_on", "damage_known_on",
      "liable_party_identified_on"};
  return *paths;
}

// Output-only or immutable fields, refused by name.
bool IsReadOnlyPath(absl::string_view p) {
  static const auto* paths = new std::vector<std::string>{
      "name", "severity", "state", "advice", "checklist", "etag", "create_time", "update_time",
      "close_time", "limitation_ends_on", "incident_type", "client.id", "client.masked",
      "client.erase_time"};
  return std::find(paths->begin(), paths->end(), p) != paths->end();
}

std::string MaskCounterpart(const std::string& v) {
  if (absl::StartsWith(v, "+")) return MaskPhone(v);
  if (v.find('@') != std::string::npos) return MaskEmail(v);
  return MaskTail(v);
}

// Checklist items copied from the pinned advice revision's steps.
void CopyChecklist(const guidance::v1::Advice& advice, v1::Case& c) {
  c.set_advice(absl::StrCat(advice.name(), "@", advice.revision_id()));
  const int64_t discovered = TimeUtil::TimestampToMicroseconds(c.discovered_time());
  for (const auto& section : advice.sections()) {
    for (const auto& step : section.steps()) {
      if (!step.checklist()) continue;
      v1::ChecklistItem* item = c.add_checklist();
      item->set_name(absl::StrCat(c.name(), "/checklist/", step.key()));
      item->set_key(step.key());
      item->set_title(step.title());
      item->set_state(v1::ChecklistItem::STATE_PENDING);
      if (step.has_due_within()) {
        *item->mutable_due_time() = TimeUtil::MicrosecondsToTimestamp(
            discovered + TimeUtil::DurationToMicroseconds(step.due_within()));
      }
      for (const auto& cited : step.cited_provisions()) item->add_citations(cited.provision());
    }
  }
}

void Derive(v1::Case& c) {
  c.set_severity(DeriveSeverity(c.leaked_data()));
  const auto ends = LimitationEnds(c);
  if (ends) c.set_limitation_ends_on(FormatDate(*ends)); else c.clear_limitation_ends_on();
}

// external_ref is the firm's CRM id, unique in the tenant. A key that sees
// one client only (bound or delegate) may not set it: a conflict would
// confirm, and name, a case of another client.
absl::Status RequireFirmWideForExternalRef(const CallContext& cc, bool sets_it,
                                           absl::string_view field) {
  if (!sets_it || cc.client_id().empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      field, ": only a key for the whole firm may set external_ref; this key acts for one client"));
}

// A mask path as snake_case: HTTP/JSON callers send camelCase
// (client.displayName), gRPC callers snake_case.
std::string SnakeCasePath(const std::string& raw) {
  // FromJsonString reads a comma-separated list: one path only here.
  google::protobuf::FieldMask mask;
  if (raw.find(',') == std::string::npos &&
      google::protobuf::util::FieldMaskUtil::FromJsonString(raw, &mask) &&
      mask.paths_size() == 1) {
    return mask.paths(0);
  }
  return raw;
}

}  // namespace

std::string ItemEtag(const v1::ChecklistItem& item) {
  v1::ChecklistItem changeable;
  changeable.set_state(item.state());
  changeable.set_note(item.note());
  *changeable.mutable_complete_time() = item.complete_time();
  return absl::StrCat("i", crypto::HexEncode(Digest(changeable).substr(0, 8)));
}

absl::StatusOr<std::string> ParseCaseName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, "cases/") || id.empty() || id.size() > 64) {
    return InvalidArgumentField(field, "must be cases/{case}");
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidArgumentField(field, "must be cases/{case}");
    }
  }
  return std::string(id);
}

// `cases/{case}/evidence/{evidence}` → (case id, evidence id).
absl::StatusOr<std::pair<std::string, std::string>> ParseEvidenceName(absl::string_view name,
                                                                      absl::string_view field) {
  const size_t at = name.find("/evidence/");
  if (at == absl::string_view::npos) {
    return InvalidArgumentField(field, "must be cases/{case}/evidence/{evidence}");
  }
  ASSIGN_OR_RETURN(std::string case_id, ParseCaseName(name.substr(0, at), field));
  const absl::string_view evidence_id = name.substr(at + 10);
  bool id_ok = !evidence_id.empty() && evidence_id.size() <= 64;
  for (char ch : evidence_id) {
    id_ok = id_ok &&
            (absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
  }
  if (!id_ok) return InvalidArgumentField(field, "must be cases/{case}/evidence/{evidence}");
  return std::make_pair(std::move(case_id), std::string(evidence_id));
}

Actor ActorOf(const CallContext& cc) {
  return Actor{cc.tenant(), cc.key_id(), cc.client_id(), HasScope(cc, kScopeCasesPii)};
}

v1::Case PresentCase(const CallContext& cc, v1::Case c) {
  for (auto& item : *c.mutable_checklist()) item.set_etag(ItemEtag(item));
  if (!HasScope(cc, kScopeCasesPii)) {
    MaskClient(*c.mutable_client());
    MaskCaseText(c);
  }
  return c;
}

// Free text is personal data: without cases.pii its identifiers are masked.
void PresentEvidence(const CallContext& cc, v1::Evidence& e) {
  if (HasScope(cc, kScopeCasesPii)) return;
  if (!e.counterpart().empty()) e.set_counterpart(MaskCounterpart(e.counterpart()));
  if (!e.summary().empty()) e.set_summary(MaskIdentifiersInText(e.summary()));
  if (!e.attachment().filename().empty()) {
    e.mutable_attachment()->set_filename(MaskIdentifiersInText(e.attachment().filename()));
  }
}

void PresentEvent(const CallContext& cc, v1::CaseEvent& e) {
  if (!HasScope(cc, kScopeCasesPii) && !e.reason().empty()) {
    e.set_reason(MaskIdentifiersInText(e.reason()));
  }
}

void PresentNote(const CallContext& cc, v1::Note& n) {
  if (!HasScope(cc, kScopeCasesPii)) n.set_text(MaskIdentifiersInText(n.text()));
}

CaseBook::CaseBook(const Clock* clock, AdviceSource* advice, std::function<std::string()> new_id)
    : clock_(clock), advice_(advice), new_id_(new_id ? std::move(new_id) : [] { return RandomId(); }) {}

absl::StatusOr<NewCase> CaseBook::PrepareCreate(const CallContext& cc,
                                                const v1::CreateCaseRequest& request) const {
  if (!request.has_case_()) return InvalidArgumentField("case", "is required");
  RETURN_IF_ERROR(CheckText(request.request_id(), 64, "request_id"));
  NewCase nc;
  nc.c = request.case_();
  v1::Case& c = nc.c;
  // A client-bound caller acts for its client only.
  if (!cc.client_id().empty()) {
    if (!c.client().id().empty() && c.client().id() != cc.client_id()) {
      return absl::PermissionDeniedError("this key acts for another client");
    }
    c.mutable_client()->set_id(cc.client_id());
  }
  RETURN_IF_ERROR(RequireFirmWideForExternalRef(cc, !c.external_ref().empty(), "case.external_ref"));
  RETURN_IF_ERROR(ValidateNewCase(c, clock_->Now()));
  // Output-only fields are set here, whatever the request said.
  c.set_name(absl::StrCat("cases/", new_id_()));
  c.set_state(v1::Case::STATE_NEW);
  c.clear_checklist();
  c.clear_advice();
  c.clear_etag();
  c.clear_close_time();
  c.mutable_client()->clear_masked();
  c.mutable_client()->clear_erase_time();
  if (!c.has_discovered_time()) {
    *c.mutable_discovered_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock_->Now()));
  }
  Derive(c);
  // Pin the advice before anything is stored: without guidance-svc the
  // create fails UNAVAILABLE and a retry with the same request_id works.
  ASSIGN_OR_RETURN(SharedAdvice advice,
                   advice_->LatestFor(cc.tenant(), c.incident_type()));
  if (advice) CopyChecklist(*advice, c);
  nc.request_id = request.request_id();
  nc.request_digest = Digest(request);
  return nc;
}

absl::StatusOr<CaseMutation> CaseBook::PrepareUpdate(const CallContext& cc,
                                                     const v1::UpdateCaseRequest& request) const {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(request.case_().name(), "case.name"));
  if (request.update_mask().paths_size() == 0) {
    return InvalidArgumentField("update_mask", "name the fields to update");
  }
  std::vector<std::string> paths;
  for (int i = 0; i < request.update_mask().paths_size(); ++i) {
    const std::string snake = SnakeCasePath(request.update_mask().paths(i));
    const std::string field = absl::StrCat("update_mask.paths[", i, "]");
    if (IsReadOnlyPath(snake)) {
      return InvalidArgumentField(field, absl::StrCat("'", snake, "' is output-only or immutable"));
    }
    if (std::find(UpdatablePaths().begin(), UpdatablePaths().end(), snake) ==
        UpdatablePaths().end()) {
      return InvalidArgumentField(field, absl::StrCat("'", snake, "' is not a field of Case"));
    }
    if (snake == "external_ref") {
      RETURN_IF_ERROR(RequireFirmWideForExternalRef(cc, true, "case.external_ref"));
    }
    paths.push_back(snake);
  }
  // Validate the incoming values as a new case would be.
  v1::Case incoming = request.case_();
  CaseMutation m;
  m.case_id = id;
  m.expected_etag = request.case_().etag();
  const absl::Time now = clock_->Now();
  m.apply = [paths, incoming, now](v1::Case& c, v1::CaseEvent& event) -> absl::Status {
    v1::Case updated = c;
    google::protobuf::FieldMask mask;
    for (const auto& p : paths) mask.add_paths(p);
    google::protobuf::util::FieldMaskUtil::MergeOptions options;
    options.set_replace_repeated_fields(true);
    options.set_replace_message_fields(true);
    google::protobuf::util::FieldMaskUtil::MergeMessageTo(incoming, mask, options, &updated);
    // Re-check with the full validation of a new case (normalising too).
    if (c.client().has_erase_time()) {
      for (const auto& p : paths) {
        if (absl::StartsWith(p, "client.")) {
          return FailedPreconditionViolation(
              "ERASED", c.name(), "the client's data was erased and cannot be set again");
        }
      }
      RETURN_IF_ERROR(ValidateErasedCase(updated, now));
    } else {
      RETURN_IF_ERROR(ValidateNewCase(updated, now));
    }
    Derive(updated);
    c = std::move(updated);
    event.set_type(v1::CaseEvent::TYPE_CASE_UPDATED);
    for (const auto& p : paths) event.add_changed_fields(p);
    return absl::OkStatus();
  };
  return m;
}

absl::StatusOr<CaseMutation> CaseBook::PrepareTransition(
    const v1::TransitionCaseRequest& request) const {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(request.name(), "name"));
  if (request.state() == v1::Case::STATE_UNSPECIFIED ||
      !v1::Case::State_IsValid(request.state())) {
    return InvalidArgumentField("state", "name the state to move to");
  }
  if (absl::StripAsciiWhitespace(request.reason()).empty()) {
    return InvalidArgumentField("reason", "is required");
  }
  RETURN_IF_ERROR(CheckFreeText(request.reason(), 2000, "reason"));
  RETURN_IF_ERROR(CheckFreeText(request.override_reason(), 2000, "override_reason"));
  RETURN_IF_ERROR(CheckText(request.request_id(), 64, "request_id"));
  CaseMutation m;
  m.case_id = id;
  m.expected_etag = request.etag();
  if (!request.request_id().empty()) {
    v1::TransitionCaseRequest body = request;
    body.clear_request_id();
    m.request_id = request.request_id();
    m.request_digest = Digest(body);
  }
  const auto to = request.state();
  const std::string reason = request.reason(), override_reason = request.override_reason();
  const absl::Time now = clock_->Now();
  m.apply = [to, reason, override_reason, now](v1::Case& c,
                                               v1::CaseEvent& event) -> absl::Status {
    RETURN_IF_ERROR(CheckTransition(c, to, override_reason));
    event.set_type(v1::CaseEvent::TYPE_STATE_CHANGED);
    event.set_from_state(c.state());
    event.set_to_state(to);
    event.set_reason(override_reason.empty()
                         ? reason
                         : absl::StrCat(reason, " (override: ", override_reason, ")"));
    event.add_changed_fields("state");
    c.set_state(to);
    if (to == v1::Case::STATE_CLOSED) {
      *c.mutable_close_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    } else {
      c.clear_close_time();
    }
    return absl::OkStatus();
  };
  return m;
}

absl::StatusOr<CaseMutation> CaseBook::PrepareChecklistUpdate(
    const v1::UpdateChecklistItemRequest& request, std::string* key_out) const {
  absl::string_view name = request.item().name();
  const size_t at = name.find("/checklist/");
  if (at == absl::string_view::npos) {
    return InvalidArgumentField("item.name", "must be cases/{case}/checklist/{key}");
  }
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(name.substr(0, at), "item.name"));
  const std::string key(name.substr(at + 11));
  if (key_out != nullptr) *key_out = key;
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) paths = {"state", "note"};
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i] != "state" && paths[i] != "note") {
      return InvalidArgumentField(absl::StrCat("update_mask.paths[", i, "]"),
                                  "only state and note can be updated");
    }
  }
  const v1::ChecklistItem in = request.item();
  if (std::find(paths.begin(), paths.end(), "state") != paths.end() &&
      (in.state() == v1::ChecklistItem::STATE_UNSPECIFIED ||
       !v1::ChecklistItem::State_IsValid(in.state()))) {
    return InvalidArgumentField("item.state", "name a state");
  }
  RETURN_IF_ERROR(CheckFreeText(in.note(), 2000, "item.note"));
  CaseMutation m;
  m.case_id = id;
  const absl::Time now = clock_->Now();
  m.apply = [key, paths, in, now](v1::Case& c, v1::CaseEvent& event) -> absl::Status {
    for (auto& item : *c.mutable_checklist()) {
      if (item.key() != key) continue;
      // The item's own etag (or, as before, the whole case's).
      if (!in.etag().empty() && in.etag() != ItemEtag(item) && in.etag() != c.etag()) {
        return absl::AbortedError(absl::StrCat(
            item.name(), " changed since etag ", in.etag(), " (now ", ItemEtag(item),
            "); read it again and retry"));
      }
      // Setting what is already there changes nothing: the same answer,
      // no write, no event (a retried tick is safe).
      const bool same_state = std::find(paths.begin(), paths.end(), "state") == paths.end() ||
                              item.state() == in.state();
      const bool same_note = std::find(paths.begin(), paths.end(), "note") == paths.end() ||
                             item.note() == in.note();
      if (same_state && same_note) return absl::OkStatus();
      for (const auto& p : paths) {
        if (p == "state") {
          item.set_state(in.state());
          if (in.state() == v1::ChecklistItem::STATE_DONE) {
            *item.mutable_complete_time() =
                TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
          } else {
            item.clear_complete_time();
          }
        } else {
          item.set_note(in.note());
        }
        event.add_changed_fields(p);
      }
      event.set_type(v1::CaseEvent::TYPE_CHECKLIST_ITEM_UPDATED);
      event.set_resource(item.name());
      return absl::OkStatus();
    }
    return absl::NotFoundError(absl::StrCat(c.name(), "/checklist/", key, " does not exist"));
  };
  return m;
}

absl::Status CaseBook::MergeLateUploadMessage(const v1::AddEvidenceRequest& later,
                                              v1::AddEvidenceRequest* header) {
  if (!later.parent().empty()) {
    return InvalidArgumentField("parent", "only the first message names the parent");
  }
  if (later.has_evidence()) {
    if (header->has_evidence()) return InvalidArgumentField("evidence", "is given twice");
    *header->mutable_evidence() = later.evidence();
  }
  if (!later.request_id().empty()) {
    if (!header->request_id().empty()) return InvalidArgumentField("request_id", "is given twice");
    header->set_request_id(later.request_id());
  }
  if (!later.attachment_sha256().empty()) {
    if (!header->attachment_sha256().empty()) {
      return InvalidArgumentField("attachment_sha256", "is given twice");
    }
    header->set_attachment_sha256(later.attachment_sha256());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, NewEvidence>> CaseBook::PrepareEvidence(
    const v1::AddEvidenceRequest& header, std::string attachment) const {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(header.parent(), "parent"));
  if (!header.has_evidence()) {
    return InvalidArgumentField("evidence", "is required (its kind at least)");
  }
  NewEvidence ne;
  ne.evidence = header.evidence();
  v1::Evidence& e = ne.evidence;
  if (e.kind() == v1::Evidence::KIND_UNSPECIFIED || !v1::Evidence::Kind_IsValid(e.kind())) {
    return InvalidArgumentField("evidence.kind", "is required");
  }
  RETURN_IF_ERROR(CheckFreeText(e.summary(), 10000, "evidence.summary"));
  if (e.has_occurred_time()) {
    RETURN_IF_ERROR(CheckPastTimestamp(e.occurred_time(), clock_->Now(),
                                       "evidence.occurred_time"));
  }
  RETURN_IF_ERROR(CheckText(e.counterpart(), 200, "evidence.counterpart"));
  RETURN_IF_ERROR(CheckText(header.request_id(), 64, "request_id"));
  RETURN_IF_ERROR(CheckText(e.attachment().filename(), 255, "evidence.attachment.filename"));
  RETURN_IF_ERROR(CheckText(e.attachment().content_type(), 127, "evidence.attachment.content_type"));
  if (!e.counterpart().empty()) e.set_counterpart(NormalizeCounterpart(e.counterpart()));
  e.clear_name();
  e.clear_superseded_by();
  e.clear_create_time();
  e.clear_author();
  const std::string sha = HexSha256(attachment);
  if (!header.attachment_sha256().empty() &&
      absl::AsciiStrToLower(header.attachment_sha256()) != sha) {
    return InvalidArgumentField("attachment_sha256",
                                "does not match the bytes received; nothing was stored");
  }
  if (!attachment.empty()) {
    e.mutable_attachment()->set_size_bytes(static_cast<int64_t>(attachment.size()));
    e.mutable_attachment()->set_sha256(sha);
  } else {
    e.clear_attachment();
  }
  ne.attachment = std::move(attachment);
  ne.request_id = header.request_id();
  return std::make_pair(id, std::move(ne));
}

absl::StatusOr<std::string> CaseBook::CheckNote(const v1::AddNoteRequest& request) {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(request.parent(), "parent"));
  if (absl::StripAsciiWhitespace(request.note().text()).empty()) {
    return InvalidArgumentField("note.text", "is required");
  }
  RETURN_IF_ERROR(CheckFreeText(request.note().text(), 10000, "note.text"));
  RETURN_IF_ERROR(CheckText(request.request_id(), 64, "request_id"));
  return id;
}

absl::StatusOr<std::string> CaseBook::CheckErasure(const v1::EraseClientDataRequest& request) {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(request.name(), "name"));
  if (absl::StripAsciiWhitespace(request.reason()).empty()) {
    return InvalidArgumentField("reason", "is required (e.g. the client's request under PIPL 第四十七条)");
  }
  RETURN_IF_ERROR(CheckFreeText(request.reason(), 2000, "reason"));
  return id;
}

}  // namespace counsel::cases
