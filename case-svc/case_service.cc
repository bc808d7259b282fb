// The gRPC adapter of CaseService. Each method verifies the signed call
// context and authorizes, calls the book (domain/case_book.h) for the rules,
// hands the result to the store, presents it for the caller and maps the
// status at the edge. The streaming methods are in case_streams.cc.
#include "case-svc/case_service.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "case-svc/domain/case_book.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

std::string Method(absl::string_view name) {
  return absl::StrCat("/", v1::CaseService::service_full_name(), "/", name);
}

}  // namespace

CaseServiceImpl::CaseServiceImpl(const ContextKey* key, const Clock* clock, CaseStore* store,
                                 AdviceSource* advice, CaseServiceOptions options,
                                 webhooks::WebhookBook* webhooks, webhooks::Deliverer* deliverer)
    : key_(key), clock_(clock), store_(store), webhooks_(webhooks), deliverer_(deliverer),
      options_(options), book_(clock, advice), cursors_(CursorCodec::ForContextKey(*key)),
      executor_(options.threads), creates_(options.create_threads),
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
    grpc::CallbackServerContext* context, absl::string_view method, absl::string_view scope,
    std::function<void(const CallContext&, std::function<void(absl::Status)>)> start,
    Executor* on) {
  auto cc = Authorize(*context, method, scope);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!cc.ok()) {
    reactor->Finish(ToGrpcStatus(cc.status()));
    return reactor;
  }
  Executor& executor = on != nullptr ? *on : executor_;
  executor.Schedule([reactor, cc = *std::move(cc), start = std::move(start)] {
    start(cc, [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  });
  return reactor;
}

Callback<v1::Case> CaseServiceImpl::PresentInto(const CallContext& cc, v1::Case* response,
                                                std::function<void(absl::Status)> done) {
  return [cc, response, done = std::move(done)](absl::StatusOr<v1::Case> c) {
    if (c.ok()) *response = PresentCase(cc, std::move(*c));
    done(c.status());
  };
}

void CaseServiceImpl::Mutate(const CallContext& cc, absl::StatusOr<CaseMutation> mutation,
                             Callback<v1::Case> done) {
  if (!mutation.ok()) {
    done(mutation.status());
    return;
  }
  store_->MutateCase(ActorOf(cc), *std::move(mutation), std::move(done));
}

grpc::ServerUnaryReactor* CaseServiceImpl::CreateCase(grpc::CallbackServerContext* context,
                                                      const v1::CreateCaseRequest* request,
                                                      v1::Case* response) {
  return RunWrite(context, "CreateCase", kScopeCasesWrite,
                  [this, request, response](const CallContext& cc, auto done) {
                    auto prepared = book_.PrepareCreate(cc, *request);
                    if (!prepared.ok()) return done(prepared.status());
                    store_->CreateCase(ActorOf(cc), *std::move(prepared),
                                       PresentInto(cc, response, std::move(done)));
                  },
                  &creates_);
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* context,
                                                   const v1::GetCaseRequest* request,
                                                   v1::Case* response) {
  return Run(context, "GetCase", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(std::string id, ParseCaseName(request->name(), "name"));
    ASSIGN_OR_RETURN(v1::Case c, store_->GetCase(ActorOf(cc), id));
    *response = PresentCase(cc, std::move(c));
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
      *response->add_cases() = PresentCase(cc, std::move(c));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(grpc::CallbackServerContext* context,
                                                     const v1::ListCasesRequest* request,
                                                     v1::ListCasesResponse* response) {
  return Run(context, "ListCases", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(CasePage page, store_->ListCases(ActorOf(cc), *request));
    for (auto& c : page.cases) *response->add_cases() = PresentCase(cc, std::move(c));
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateCase(grpc::CallbackServerContext* context,
                                                      const v1::UpdateCaseRequest* request,
                                                      v1::Case* response) {
  return RunWrite(context, "UpdateCase", kScopeCasesWrite,
                  [this, request, response](const CallContext& cc, auto done) {
                    Mutate(cc, book_.PrepareUpdate(cc, *request),
                           PresentInto(cc, response, std::move(done)));
                  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::TransitionCase(grpc::CallbackServerContext* context,
                                                          const v1::TransitionCaseRequest* request,
                                                          v1::Case* response) {
  return RunWrite(context, "TransitionCase", kScopeCasesWrite,
                  [this, request, response](const CallContext& cc, auto done) {
                    Mutate(cc, book_.PrepareTransition(*request),
                           PresentInto(cc, response, std::move(done)));
                  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateChecklistItem(
    grpc::CallbackServerContext* context, const v1::UpdateChecklistItemRequest* request,
    v1::ChecklistItem* response) {
  return RunWrite(context, "UpdateChecklistItem", kScopeCasesWrite,
                  [this, request, response](const CallContext& cc, auto done) {
    auto key = std::make_shared<std::string>();
    // Presented as the whole case would be (a note is free text).
    Mutate(cc, book_.PrepareChecklistUpdate(*request, key.get()),
           [cc, key, response, done](absl::StatusOr<v1::Case> c) {
             if (c.ok()) {
               const v1::Case shown = PresentCase(cc, *std::move(c));
               for (const auto& item : shown.checklist()) {
                 if (item.key() == *key) *response = item;
               }
             }
             done(c.status());
           });
  });
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

grpc::ServerUnaryReactor* CaseServiceImpl::ListNotes(grpc::CallbackServerContext* context,
                                                     const v1::ListNotesRequest* request,
                                                     v1::ListNotesResponse* response) {
  return Run(context, "ListNotes", kScopeCasesRead, [=](const CallContext& cc) -> absl::Status {
    RETURN_IF_ERROR(ParseCaseName(request->parent(), "parent").status());
    ASSIGN_OR_RETURN(*response, store_->ListNotes(ActorOf(cc), *request));
    for (auto& n : *response->mutable_notes()) PresentNote(cc, n);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::AddNote(grpc::CallbackServerContext* context,
                                                   const v1::AddNoteRequest* request,
                                                   v1::Note* response) {
  return RunWrite(context, "AddNote", kScopeCasesWrite,
                  [this, request, response](const CallContext& cc, auto done) {
    auto id = CaseBook::CheckNote(*request);
    if (!id.ok()) return done(id.status());
    v1::Note note;
    note.set_text(request->note().text());
    store_->AddNote(ActorOf(cc), *id, std::move(note), request->request_id(),
                    [cc, response, done](absl::StatusOr<v1::Note> n) {
                      if (n.ok()) {
                        *response = std::move(*n);
                        PresentNote(cc, *response);
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
      it = seen.emplace(name, PresentCase(cc, std::move(c))).first;
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

grpc::ServerUnaryReactor* CaseServiceImpl::EraseClientData(
    grpc::CallbackServerContext* context, const v1::EraseClientDataRequest* request,
    v1::Case* response) {
  return RunWrite(context, "EraseClientData", kScopeCasesAdmin,
                  [this, request, response](const CallContext& cc, auto done) {
                    auto id = CaseBook::CheckErasure(*request);
                    if (!id.ok()) return done(id.status());
                    store_->EraseClientData(ActorOf(cc), *id, request->reason(),
                                            PresentInto(cc, response, std::move(done)));
                  });
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
