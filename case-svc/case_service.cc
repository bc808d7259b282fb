#include "case-svc/case_service.h"

#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "case-svc/domain/lifecycle.h"
#include "case-svc/domain/masking.h"
#include "case-svc/domain/severity.h"
#include "case-svc/domain/validation.h"
#include "common/dates.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

std::string Method(absl::string_view name) {
  return absl::StrCat("/", v1::CaseService::service_full_name(), "/", name);
}

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

// An item's own etag: a digest of what can change in it (state, note,
// completion), so that a tick on one item does not make another stale.
std::string ItemEtag(const v1::ChecklistItem& item) {
  v1::ChecklistItem changeable;
  changeable.set_state(item.state());
  changeable.set_note(item.note());
  *changeable.mutable_complete_time() = item.complete_time();
  return absl::StrCat("i", crypto::HexEncode(Digest(changeable).substr(0, 8)));
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

}  // namespace

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

namespace {

// external_ref is the firm's CRM id, unique in the tenant. A key that sees
// one client only (bound or delegate) may not set it: a conflict would
// confirm, and name, a case of another client.
absl::Status RequireFirmWideForExternalRef(const CallContext& cc, bool sets_it,
                                           absl::string_view field) {
  if (!sets_it || cc.client_id().empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      field, ": only a key for the whole firm may set external_ref; this key acts for one client"));
}

}  // namespace

CaseServiceImpl::CaseServiceImpl(const ContextKey* key, const Clock* clock, CaseStore* store,
                                 AdviceSource* advice, CaseServiceOptions options,
                                 webhooks::WebhookBook* webhooks, webhooks::Deliverer* deliverer)
    : key_(key), clock_(clock), store_(store), advice_(advice), webhooks_(webhooks),
      deliverer_(deliverer), options_(options), cursors_(CursorCodec::ForContextKey(*key)),
      hub_(options.bookmark_interval) {
  store_->SetCommitListener([this] {
    hub_.Notify();
    if (deliverer_ != nullptr) deliverer_->Notify();
  });
}

CaseServiceImpl::~CaseServiceImpl() { store_->SetCommitListener(nullptr); }

absl::StatusOr<CallContext> CaseServiceImpl::Authorize(const grpc::CallbackServerContext& context,
                                                       absl::string_view method,
                                                       absl::string_view scope) const {
  ASSIGN_OR_RETURN(CallContext cc, key_->Verify(context, Method(method), clock_->Now()));
  RETURN_IF_ERROR(RequireScopeFor(cc, method, scope));
  return cc;
}

grpc::ServerUnaryReactor* CaseServiceImpl::Run(
    grpc::CallbackServerContext* context, absl::string_view method, absl::string_view scope,
    std::function<absl::Status(const CallContext&)> work) {
  auto cc = Authorize(*context, method, scope);
  if (!cc.ok()) return FinishUnary(context, cc.status());
  return FinishUnaryOn(executor_, context,
                       [cc = *std::move(cc), work = std::move(work)] { return work(cc); });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RunWrite(
    grpc::CallbackServerContext* context, absl::string_view method,
    std::function<void(const CallContext&, std::function<void(absl::Status)>)> start) {
  auto cc = Authorize(*context, method, kScopeCasesWrite);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!cc.ok()) {
    reactor->Finish(ToGrpcStatus(cc.status()));
    return reactor;
  }
  executor_.Schedule([reactor, cc = *std::move(cc), start = std::move(start)] {
    start(cc, [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  });
  return reactor;
}

v1::Case CaseServiceImpl::Present(const CallContext& cc, v1::Case c) const {
  for (auto& item : *c.mutable_checklist()) item.set_etag(ItemEtag(item));
  if (!HasScope(cc, kScopeCasesPii)) {
    MaskClient(*c.mutable_client());
    MaskCaseText(c);
  }
  return c;
}

namespace {

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

}  // namespace

grpc::ServerUnaryReactor* CaseServiceImpl::CreateCase(grpc::CallbackServerContext* context,
                                                      const v1::CreateCaseRequest* request,
                                                      v1::Case* response) {
  return RunWrite(context, "CreateCase", [this, request, response](
                                             const CallContext& cc,
                                             std::function<void(absl::Status)> done) {
    auto prepared = [&]() -> absl::StatusOr<NewCase> {
      if (!request->has_case_()) return InvalidArgumentField("case", "is required");
      RETURN_IF_ERROR(CheckText(request->request_id(), 64, "request_id"));
      NewCase nc;
      nc.c = request->case_();
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
      c.set_name(absl::StrCat("cases/", RandomId()));
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
      ASSIGN_OR_RETURN(std::optional<guidance::v1::Advice> advice,
                       advice_->LatestFor(cc.tenant(), c.incident_type()));
      if (advice) CopyChecklist(*advice, c);
      nc.request_id = request->request_id();
      nc.request_digest = Digest(*request);
      return nc;
    }();
    if (!prepared.ok()) {
      done(prepared.status());
      return;
    }
    store_->CreateCase(ActorOf(cc), std::move(*prepared),
                       [this, cc, response, done](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = Present(cc, std::move(*c));
                         done(c.status());
                       });
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* context,
                                                   const v1::GetCaseRequest* request,
                                                   v1::Case* response) {
  return Run(context, "GetCase", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(std::string id, ParseCaseName(request->name(), "name"));
    ASSIGN_OR_RETURN(v1::Case c, store_->GetCase(ActorOf(cc), id));
    *response = Present(cc, std::move(c));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::BatchGetCases(
    grpc::CallbackServerContext* context, const v1::BatchGetCasesRequest* request,
    v1::BatchGetCasesResponse* response) {
  return Run(context, "BatchGetCases", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    if (request->names().empty()) return InvalidArgumentField("names", "name at least one case");
    if (request->names_size() > 100) {
      return InvalidArgumentField("names", "at most 100 names in one call");
    }
    std::vector<std::string> ids;
    for (int i = 0; i < request->names_size(); ++i) {
      ASSIGN_OR_RETURN(std::string id,
                       ParseCaseName(request->names(i), absl::StrCat("names[", i, "]")));
      ids.push_back(std::move(id));
    }
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(v1::Case c, store_->GetCase(ActorOf(cc), id));
      *response->add_cases() = Present(cc, std::move(c));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(grpc::CallbackServerContext* context,
                                                     const v1::ListCasesRequest* request,
                                                     v1::ListCasesResponse* response) {
  return Run(context, "ListCases", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(CasePage page, store_->ListCases(ActorOf(cc), *request));
    for (auto& c : page.cases) *response->add_cases() = Present(cc, std::move(c));
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateCase(grpc::CallbackServerContext* context,
                                                      const v1::UpdateCaseRequest* request,
                                                      v1::Case* response) {
  return RunWrite(context, "UpdateCase", [this, request, response](
                                             const CallContext& cc,
                                             std::function<void(absl::Status)> done) {
    auto mutation = [&]() -> absl::StatusOr<CaseMutation> {
      ASSIGN_OR_RETURN(std::string id, ParseCaseName(request->case_().name(), "case.name"));
      if (request->update_mask().paths_size() == 0) {
        return InvalidArgumentField("update_mask", "name the fields to update");
      }
      std::vector<std::string> paths;
      for (int i = 0; i < request->update_mask().paths_size(); ++i) {
        const std::string& raw = request->update_mask().paths(i);
        std::string snake;
        for (char ch : raw) {
          if (absl::ascii_isupper(static_cast<unsigned char>(ch))) {
            snake += '_';
            snake += absl::ascii_tolower(static_cast<unsigned char>(ch));
          } else {
            snake += ch;
          }
        }
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
      v1::Case incoming = request->case_();
      CaseMutation m;
      m.case_id = id;
      m.expected_etag = request->case_().etag();
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
    }();
    if (!mutation.ok()) {
      done(mutation.status());
      return;
    }
    store_->MutateCase(ActorOf(cc), std::move(*mutation),
                       [this, cc, response, done](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = Present(cc, std::move(*c));
                         done(c.status());
                       });
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::TransitionCase(grpc::CallbackServerContext* context,
                                                          const v1::TransitionCaseRequest* request,
                                                          v1::Case* response) {
  return RunWrite(context, "TransitionCase", [this, request, response](
                                                 const CallContext& cc,
                                                 std::function<void(absl::Status)> done) {
    auto mutation = [&]() -> absl::StatusOr<CaseMutation> {
      ASSIGN_OR_RETURN(std::string id, ParseCaseName(request->name(), "name"));
      if (request->state() == v1::Case::STATE_UNSPECIFIED ||
          !v1::Case::State_IsValid(request->state())) {
        return InvalidArgumentField("state", "name the state to move to");
      }
      if (absl::StripAsciiWhitespace(request->reason()).empty()) {
        return InvalidArgumentField("reason", "is required");
      }
      RETURN_IF_ERROR(CheckFreeText(request->reason(), 2000, "reason"));
      RETURN_IF_ERROR(CheckFreeText(request->override_reason(), 2000, "override_reason"));
      RETURN_IF_ERROR(CheckText(request->request_id(), 64, "request_id"));
      CaseMutation m;
      m.case_id = id;
      m.expected_etag = request->etag();
      if (!request->request_id().empty()) {
        v1::TransitionCaseRequest body = *request;
        body.clear_request_id();
        m.request_id = request->request_id();
        m.request_digest = Digest(body);
      }
      const auto to = request->state();
      const std::string reason = request->reason(), override_reason = request->override_reason();
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
    }();
    if (!mutation.ok()) {
      done(mutation.status());
      return;
    }
    store_->MutateCase(ActorOf(cc), std::move(*mutation),
                       [this, cc, response, done](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) *response = Present(cc, std::move(*c));
                         done(c.status());
                       });
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateChecklistItem(
    grpc::CallbackServerContext* context, const v1::UpdateChecklistItemRequest* request,
    v1::ChecklistItem* response) {
  return RunWrite(context, "UpdateChecklistItem", [this, request, response](
                                                      const CallContext& cc,
                                                      std::function<void(absl::Status)> done) {
    auto mutation = [&]() -> absl::StatusOr<CaseMutation> {
      absl::string_view name = request->item().name();
      const size_t at = name.find("/checklist/");
      if (at == absl::string_view::npos) {
        return InvalidArgumentField("item.name", "must be cases/{case}/checklist/{key}");
      }
      ASSIGN_OR_RETURN(std::string id, ParseCaseName(name.substr(0, at), "item.name"));
      const std::string key(name.substr(at + 11));
      std::vector<std::string> paths(request->update_mask().paths().begin(),
                                     request->update_mask().paths().end());
      if (paths.empty()) paths = {"state", "note"};
      for (size_t i = 0; i < paths.size(); ++i) {
        if (paths[i] != "state" && paths[i] != "note") {
          return InvalidArgumentField(absl::StrCat("update_mask.paths[", i, "]"),
                                      "only state and note can be updated");
        }
      }
      const v1::ChecklistItem in = request->item();
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
    }();
    if (!mutation.ok()) {
      done(mutation.status());
      return;
    }
    const std::string key(request->item().name().substr(request->item().name().find("/checklist/") + 11));
    store_->MutateCase(ActorOf(cc), std::move(*mutation),
                       [this, cc, key, response, done](absl::StatusOr<v1::Case> c) {
                         if (c.ok()) {
                           // Presented as the whole case would be (a note is free text).
                           c = Present(cc, *std::move(c));
                           for (const auto& item : c->checklist()) {
                             if (item.key() == key) {
                               *response = item;
                             }
                           }
                         }
                         done(c.status());
                       });
  });
}

// Client-streaming upload of one evidence entry with its attachment.
class EvidenceUpload final : public grpc::ServerReadReactor<v1::AddEvidenceRequest> {
 public:
  EvidenceUpload(CaseServiceImpl* service, grpc::CallbackServerContext* context,
                 v1::Evidence* response)
      : service_(service), context_(context), response_(response) {
    auto cc = service->Authorize(*context, "AddEvidence", kScopeCasesWrite);
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    cc_ = *cc;
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The end of the stream, or a cancelled upload: only the first is
      // evidence; a partial attachment must never be stored.
      if (context_->IsCancelled()) {
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the upload was cancelled"));
      } else {
        Complete();
      }
      return;
    }
    if (first_) {
      first_ = false;
      header_ = message_;
      header_.clear_chunk();
    } else if (absl::Status st = MergeLate(message_); !st.ok()) {
      Finish(ToGrpcStatus(st));
      return;
    }
    if (attachment_.size() + message_.chunk().size() > service_->options_.max_attachment_bytes) {
      Finish(ToGrpcStatus(InvalidArgumentField("chunk", "the attachment is larger than 20 MiB")));
      return;
    }
    attachment_ += message_.chunk();
    message_.Clear();
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  // A later message may carry what the first did not (an HTTP form whose
  // file part comes before its description), each field once.
  absl::Status MergeLate(const v1::AddEvidenceRequest& m) {
    if (!m.parent().empty()) {
      return InvalidArgumentField("parent", "only the first message names the parent");
    }
    if (m.has_evidence()) {
      if (header_.has_evidence()) return InvalidArgumentField("evidence", "is given twice");
      *header_.mutable_evidence() = m.evidence();
    }
    if (!m.request_id().empty()) {
      if (!header_.request_id().empty()) return InvalidArgumentField("request_id", "is given twice");
      header_.set_request_id(m.request_id());
    }
    if (!m.attachment_sha256().empty()) {
      if (!header_.attachment_sha256().empty()) {
        return InvalidArgumentField("attachment_sha256", "is given twice");
      }
      header_.set_attachment_sha256(m.attachment_sha256());
    }
    return absl::OkStatus();
  }

  void Complete() {
    auto prepared = [&]() -> absl::StatusOr<std::pair<std::string, NewEvidence>> {
      if (first_) return InvalidArgumentField("parent", "no message was sent");
      ASSIGN_OR_RETURN(std::string id, ParseCaseName(header_.parent(), "parent"));
      if (!header_.has_evidence()) {
        return InvalidArgumentField("evidence", "is required (its kind at least)");
      }
      NewEvidence ne;
      ne.evidence = header_.evidence();
      v1::Evidence& e = ne.evidence;
      if (e.kind() == v1::Evidence::KIND_UNSPECIFIED || !v1::Evidence::Kind_IsValid(e.kind())) {
        return InvalidArgumentField("evidence.kind", "is required");
      }
      RETURN_IF_ERROR(CheckFreeText(e.summary(), 10000, "evidence.summary"));
      if (e.has_occurred_time()) {
        RETURN_IF_ERROR(CheckPastTimestamp(e.occurred_time(), service_->clock_->Now(),
                                           "evidence.occurred_time"));
      }
      RETURN_IF_ERROR(CheckText(e.counterpart(), 200, "evidence.counterpart"));
      RETURN_IF_ERROR(CheckText(header_.request_id(), 64, "request_id"));
      RETURN_IF_ERROR(CheckText(e.attachment().filename(), 255, "evidence.attachment.filename"));
      RETURN_IF_ERROR(CheckText(e.attachment().content_type(), 127, "evidence.attachment.content_type"));
      if (!e.counterpart().empty()) e.set_counterpart(NormalizeCounterpart(e.counterpart()));
      e.clear_name();
      e.clear_superseded_by();
      e.clear_create_time();
      e.clear_author();
      const std::string sha = HexSha256(attachment_);
      if (!header_.attachment_sha256().empty() &&
          absl::AsciiStrToLower(header_.attachment_sha256()) != sha) {
        return InvalidArgumentField("attachment_sha256",
                                    "does not match the bytes received; nothing was stored");
      }
      if (!attachment_.empty()) {
        e.mutable_attachment()->set_size_bytes(static_cast<int64_t>(attachment_.size()));
        e.mutable_attachment()->set_sha256(sha);
      } else {
        e.clear_attachment();
      }
      ne.attachment = std::move(attachment_);
      ne.request_id = header_.request_id();
      return std::make_pair(id, std::move(ne));
    }();
    if (!prepared.ok()) {
      Finish(ToGrpcStatus(prepared.status()));
      return;
    }
    const CallContext cc = cc_;
    service_->store_->AddEvidence(
        ActorOf(cc), prepared->first, std::move(prepared->second),
        [this, cc](absl::StatusOr<v1::Evidence> e) {
          if (e.ok()) {
            *response_ = std::move(*e);
            PresentEvidence(cc, *response_);
          }
          Finish(ToGrpcStatus(e.status()));
        });
  }

  CaseServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  v1::Evidence* response_;
  CallContext cc_;
  v1::AddEvidenceRequest message_;
  v1::AddEvidenceRequest header_;
  bool first_ = true;
  std::string attachment_;
};

grpc::ServerReadReactor<v1::AddEvidenceRequest>* CaseServiceImpl::AddEvidence(
    grpc::CallbackServerContext* context, v1::Evidence* response) {
  return new EvidenceUpload(this, context, response);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListEvidence(grpc::CallbackServerContext* context,
                                                        const v1::ListEvidenceRequest* request,
                                                        v1::ListEvidenceResponse* response) {
  return Run(context, "ListEvidence", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    RETURN_IF_ERROR(ParseCaseName(request->parent(), "parent").status());
    ASSIGN_OR_RETURN(*response, store_->ListEvidence(ActorOf(cc), *request));
    for (auto& e : *response->mutable_evidence()) PresentEvidence(cc, e);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetEvidence(grpc::CallbackServerContext* context,
                                                       const v1::GetEvidenceRequest* request,
                                                       v1::Evidence* response) {
  return Run(context, "GetEvidence", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(auto ids, ParseEvidenceName(request->name(), "name"));
    const auto& [case_id, evidence_id] = ids;
    ASSIGN_OR_RETURN(*response, store_->GetEvidence(ActorOf(cc), case_id, evidence_id));
    PresentEvidence(cc, *response);
    return absl::OkStatus();
  });
}

// ReadEvidenceAttachment: the opened attachment is checked against its
// stored digest, then written one chunk at a time (the next once the
// previous has gone), so a slow reader holds one chunk of gRPC's buffers.
class AttachmentReader final
    : public grpc::ServerWriteReactor<v1::ReadEvidenceAttachmentResponse> {
 public:
  static constexpr size_t kChunk = 64 << 10;

  AttachmentReader(CaseServiceImpl* service, grpc::CallbackServerContext* context,
                   const v1::ReadEvidenceAttachmentRequest* request) {
    auto cc = service->Authorize(*context, "ReadEvidenceAttachment", kScopeCasesRead);
    if (cc.ok() && !HasScope(*cc, kScopeCasesPii) && cc->client_id().empty()) {
      // Bytes cannot be masked: without cases.pii only the client's own
      // key (or one acting for the client) may read them.
      cc = absl::PermissionDeniedError(
          "an attachment cannot be masked: reading it needs cases.pii, or a key bound to or "
          "acting for the case's client");
    }
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    service->executor_.Schedule([this, service, cc = *std::move(cc), request] {
      if (absl::Status st = Load(service, cc, *request); !st.ok()) {
        Finish(ToGrpcStatus(st));
        return;
      }
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away"));
      return;
    }
    WriteNext();
  }

  void OnDone() override {
    if (service_ != nullptr) service_->download_bytes_.fetch_sub(held_);
    delete this;
  }

 private:
  absl::Status Load(CaseServiceImpl* service, const CallContext& cc,
                    const v1::ReadEvidenceAttachmentRequest& request) {
    ASSIGN_OR_RETURN(auto ids, ParseEvidenceName(request.name(), "name"));
    if (request.read_limit() < 0) return InvalidArgumentField("read_limit", "must be >= 0");
    ASSIGN_OR_RETURN(EvidenceAttachment a,
                     service->store_->ReadEvidenceAttachment(ActorOf(cc), ids.first, ids.second));
    if (HexSha256(a.bytes) != a.evidence.attachment().sha256()) {
      return absl::DataLossError(
          "the stored attachment does not match its SHA-256; nothing was sent");
    }
    const int64_t size = static_cast<int64_t>(a.bytes.size());
    // Each download holds its opened attachment until it ends: their sum
    // is capped, so slow readers cannot pin the process's memory.
    if (service->download_bytes_.fetch_add(size) + size > service->options_.max_download_bytes) {
      service->download_bytes_.fetch_sub(size);
      return ResourceExhaustedRetryAfter(
          "too many attachments are being downloaded at once; retry shortly", absl::Seconds(1));
    }
    service_ = service;
    held_ = size;
    // A negative offset counts back from the end (the last N bytes).
    const int64_t offset = request.read_offset() < 0
                               ? std::max<int64_t>(0, size + request.read_offset())
                               : request.read_offset();
    if (offset >= size) {
      return absl::OutOfRangeError(
          absl::StrCat("read_offset is beyond the attachment's ", size, " bytes"));
    }
    bytes_ = std::move(a.bytes);
    next_ = static_cast<size_t>(offset);
    end_ = request.read_limit() == 0 || request.read_limit() > size - offset
               ? bytes_.size()
               : static_cast<size_t>(offset + request.read_limit());
    *first_.mutable_attachment() = a.evidence.attachment();
    return absl::OkStatus();
  }

  // Always one message, even for an empty range: the first describes the
  // attachment.
  void WriteNext() {
    if (sent_first_ && next_ >= end_) {
      Finish(grpc::Status::OK);
      return;
    }
    message_ = sent_first_ ? v1::ReadEvidenceAttachmentResponse() : first_;
    sent_first_ = true;
    const size_t n = std::min(kChunk, end_ - next_);
    message_.set_offset(static_cast<int64_t>(next_));
    message_.set_chunk(bytes_.substr(next_, n));
    next_ += n;
    StartWrite(&message_);
  }

  CaseServiceImpl* service_ = nullptr;  // set once bytes are held
  int64_t held_ = 0;
  std::string bytes_;
  size_t next_ = 0, end_ = 0;
  bool sent_first_ = false;
  v1::ReadEvidenceAttachmentResponse first_, message_;
};

grpc::ServerWriteReactor<v1::ReadEvidenceAttachmentResponse>*
CaseServiceImpl::ReadEvidenceAttachment(grpc::CallbackServerContext* context,
                                        const v1::ReadEvidenceAttachmentRequest* request) {
  return new AttachmentReader(this, context, request);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListNotes(grpc::CallbackServerContext* context,
                                                     const v1::ListNotesRequest* request,
                                                     v1::ListNotesResponse* response) {
  return Run(context, "ListNotes", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    RETURN_IF_ERROR(ParseCaseName(request->parent(), "parent").status());
    ASSIGN_OR_RETURN(*response, store_->ListNotes(ActorOf(cc), *request));
    if (!HasScope(cc, kScopeCasesPii)) {
      for (auto& n : *response->mutable_notes()) n.set_text(MaskIdentifiersInText(n.text()));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::AddNote(grpc::CallbackServerContext* context,
                                                   const v1::AddNoteRequest* request,
                                                   v1::Note* response) {
  return RunWrite(context, "AddNote", [this, request, response](
                                          const CallContext& cc,
                                          std::function<void(absl::Status)> done) {
    auto id = ParseCaseName(request->parent(), "parent");
    absl::Status st = id.status();
    if (st.ok() && absl::StripAsciiWhitespace(request->note().text()).empty()) {
      st = InvalidArgumentField("note.text", "is required");
    }
    if (st.ok()) st = CheckFreeText(request->note().text(), 10000, "note.text");
    if (st.ok()) st = CheckText(request->request_id(), 64, "request_id");
    if (!st.ok()) {
      done(st);
      return;
    }
    v1::Note note;
    note.set_text(request->note().text());
    store_->AddNote(ActorOf(cc), *id, std::move(note), request->request_id(),
                    [cc, response, done](absl::StatusOr<v1::Note> n) {
                      if (n.ok()) {
                        *response = std::move(*n);
                        if (!HasScope(cc, kScopeCasesPii)) {
                          response->set_text(MaskIdentifiersInText(response->text()));
                        }
                      }
                      done(n.status());
                    });
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCaseEvents(
    grpc::CallbackServerContext* context, const v1::ListCaseEventsRequest* request,
    v1::ListCaseEventsResponse* response) {
  return Run(context, "ListCaseEvents", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    RETURN_IF_ERROR(ParseCaseName(request->parent(), "parent").status());
    ASSIGN_OR_RETURN(*response, store_->ListCaseEvents(ActorOf(cc), *request));
    for (auto& e : *response->mutable_events()) PresentEvent(cc, e);
    return absl::OkStatus();
  });
}

absl::Status CaseServiceImpl::AttachCases(
    const CallContext& cc, std::vector<std::pair<int64_t, v1::Change>>& changes) const {
  // One read per case, however many of its changes the page holds.
  absl::flat_hash_map<std::string, v1::Case> seen;
  for (auto& [seq, change] : changes) {
    const std::string& name = change.event().case_();
    auto it = seen.find(name);
    if (it == seen.end()) {
      ASSIGN_OR_RETURN(std::string id, ParseCaseName(name, "case"));
      ASSIGN_OR_RETURN(v1::Case c, store_->GetCase(ActorOf(cc), id));
      it = seen.emplace(name, Present(cc, std::move(c))).first;
    }
    *change.mutable_case_() = it->second;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CaseServiceImpl::DecodeCursor(const CallContext& cc,
                                                          absl::string_view cursor,
                                                          absl::string_view field, int64_t* seq) {
  ASSIGN_OR_RETURN(*seq, cursors_.Decode(cc.tenant(), cc.client_id(), cursor, field));
  RETURN_IF_ERROR(CheckResumable(*store_, cc.tenant(), *seq,
                                 clock_->Now() - options_.change_retention, field));
  return std::string(cursor);
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListChanges(grpc::CallbackServerContext* context,
                                                       const v1::ListChangesRequest* request,
                                                       v1::ListChangesResponse* response) {
  return Run(context, "ListChanges", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    if (request->page_size() < 0) return InvalidArgumentField("page_size", "must not be negative");
    const int size = request->page_size() == 0 ? 100 : std::min(request->page_size(), 1000);
    int64_t seq = 0;
    if (!request->cursor().empty()) {
      RETURN_IF_ERROR(DecodeCursor(cc, request->cursor(), "cursor", &seq).status());
    }
    ASSIGN_OR_RETURN(auto changes, store_->ChangesAfter(ActorOf(cc), seq, size));
    const absl::Time horizon = clock_->Now() - options_.change_retention;
    if (request->view() == v1::CHANGE_VIEW_FULL) RETURN_IF_ERROR(AttachCases(cc, changes));
    for (auto& [s, change] : changes) {
      seq = s;
      if (TimeUtil::TimestampToMicroseconds(change.commit_time()) < absl::ToUnixMicros(horizon)) {
        continue;
      }
      change.set_cursor(cursors_.Encode(cc.tenant(), cc.client_id(), s));
      PresentEvent(cc, *change.mutable_event());
      *response->add_changes() = std::move(change);
    }
    response->set_next_cursor(cursors_.Encode(cc.tenant(), cc.client_id(), seq));
    return absl::OkStatus();
  });
}

// A server stream of the tenant's changes from a cursor, then live, with
// bookmarks while idle. A slow reader only slows itself: it reads committed
// changes from the database at its own pace.
class ChangeWatch final : public grpc::ServerWriteReactor<v1::WatchChangesResponse> {
 public:
  ChangeWatch(CaseServiceImpl* service, grpc::CallbackServerContext* context,
              const v1::WatchChangesRequest* request)
      : service_(service), link_(std::make_shared<Link>()) {
    auto cc = service->Authorize(*context, "WatchChanges", kScopeCasesRead);
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    cc_ = *cc;
    full_ = request->view() == v1::CHANGE_VIEW_FULL;
    absl::Status st;
    if (request->cursor().empty()) {
      auto latest = service->store_->LatestSeq(cc_.tenant());
      st = latest.status();
      if (latest.ok()) seq_ = *latest;
    } else {
      st = service->DecodeCursor(cc_, request->cursor(), "cursor", &seq_).status();
    }
    if (!st.ok()) {
      Finish(ToGrpcStatus(st));
      return;
    }
    // The first fetch starts before the hub can wake this watcher, so that
    // a wake-up finds it busy and only asks for a rescan: one operation in
    // flight at a time.
    absl::MutexLock lock(&mu_);
    FetchLocked();
    link_->watch = this;
    hub_id_ = service->hub_.Add([link = link_](bool bookmark) {
      absl::MutexLock lock(&link->mu);
      if (link->watch != nullptr) link->watch->Wake(bookmark);
    });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    if (!ok || cancelled_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      return;
    }
    if (!pending_.empty()) {
      WriteNextLocked();
    } else {
      FetchLocked();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!busy_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&link_->mu);
      link_->watch = nullptr;
    }
    if (hub_id_ != 0) service_->hub_.Remove(hub_id_);
    delete this;
  }

 private:
  struct Link {
    absl::Mutex mu;
    ChangeWatch* watch = nullptr;
  };

  void Wake(bool bookmark) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (cancelled_) {
      if (!busy_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (busy_) {
      if (!bookmark) rescan_ = true;
      return;
    }
    if (bookmark) {
      WriteBookmarkLocked();
    } else {
      FetchLocked();
    }
  }

  void WriteBookmarkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_.Clear();
    current_.mutable_bookmark()->set_cursor(
        service_->cursors_.Encode(cc_.tenant(), cc_.client_id(), seq_));
    *current_.mutable_bookmark()->mutable_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(service_->clock_->Now()));
    busy_ = true;
    StartWrite(&current_);
  }

  void FetchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    busy_ = true;
    rescan_ = false;
    service_->executor_.Schedule([this] {
      auto changes = service_->store_->ChangesAfter(ActorOf(cc_), seq_, 100);
      if (changes.ok() && full_) {
        if (absl::Status st = service_->AttachCases(cc_, *changes); !st.ok()) changes = st;
      }
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (!changes.ok()) {
        FinishLocked(ToGrpcStatus(changes.status()));
        return;
      }
      if (cancelled_) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      for (auto& [s, change] : *changes) {
        change.set_cursor(service_->cursors_.Encode(cc_.tenant(), cc_.client_id(), s));
        pending_.emplace_back(s, std::move(change));
      }
      const bool first = std::exchange(first_fetch_, false);
      if (!pending_.empty()) {
        WriteNextLocked();
      } else if (first) {
        // At once, not at the first interval: the watcher learns where it
        // starts (a gateway joining watchers onto it needs that).
        WriteBookmarkLocked();
      } else if (rescan_) {
        FetchLocked();
      }
    });
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [s, change] = std::move(pending_.front());
    pending_.pop_front();
    seq_ = s;
    current_.Clear();
    PresentEvent(cc_, *change.mutable_event());
    *current_.mutable_change() = std::move(change);
    busy_ = true;
    StartWrite(&current_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  CaseServiceImpl* service_;
  std::shared_ptr<Link> link_;
  int64_t hub_id_ = 0;
  CallContext cc_;
  absl::Mutex mu_;
  int64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<int64_t, v1::Change>> pending_ ABSL_GUARDED_BY(mu_);
  bool full_ = false;  // CHANGE_VIEW_FULL: each change carries its case
  bool first_fetch_ ABSL_GUARDED_BY(mu_) = true;
  v1::WatchChangesResponse current_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool rescan_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerWriteReactor<v1::WatchChangesResponse>* CaseServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context, const v1::WatchChangesRequest* request) {
  return new ChangeWatch(this, context, request);
}

grpc::ServerUnaryReactor* CaseServiceImpl::EraseClientData(
    grpc::CallbackServerContext* context, const v1::EraseClientDataRequest* request,
    v1::Case* response) {
  auto cc = Authorize(*context, "EraseClientData", kScopeCasesAdmin);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!cc.ok()) {
    reactor->Finish(ToGrpcStatus(cc.status()));
    return reactor;
  }
  auto id = ParseCaseName(request->name(), "name");
  absl::Status st = id.status();
  if (st.ok() && absl::StripAsciiWhitespace(request->reason()).empty()) {
    st = InvalidArgumentField("reason", "is required (e.g. the client's request under PIPL 第四十七条)");
  }
  if (st.ok()) st = CheckFreeText(request->reason(), 2000, "reason");
  if (!st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  store_->EraseClientData(ActorOf(*cc), *id, request->reason(),
                          [this, cc = *cc, reactor, response](absl::StatusOr<v1::Case> c) {
                            if (c.ok()) *response = Present(cc, std::move(*c));
                            reactor->Finish(ToGrpcStatus(c.status()));
                          });
  return reactor;
}

grpc::ServerUnaryReactor* CaseServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* context, const v1::VerifyAuditLogRequest* request,
    v1::VerifyAuditLogResponse* response) {
  return Run(context, "VerifyAuditLog", kScopeCasesAdmin, [=](const CallContext& cc) -> absl::Status {
    // The chain is the firm's: its count and head speak of every client.
    if (!cc.client_id().empty()) {
      return absl::PermissionDeniedError(
          "the audit chain covers the whole firm: verify it with a key that is not bound to "
          "one client");
    }
    ASSIGN_OR_RETURN(*response, store_->VerifyAuditLog(ActorOf(cc), request->expected_head()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCaseStats(grpc::CallbackServerContext* context,
                                                        const v1::GetCaseStatsRequest* request,
                                                        v1::CaseStats* response) {
  return Run(context, "GetCaseStats", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_->Stats(ActorOf(cc), *request));
    return absl::OkStatus();
  });
}

}  // namespace counsel::cases
