// The rules of case-svc's writes and of what a caller may see, apart from
// gRPC and storage: each Prepare* checks a request for the caller and the
// time and returns what the store applies (a NewCase, a CaseMutation run
// inside the store's transaction, a NewEvidence), or the error the caller
// gets; Present* mask personal data for callers without `cases.pii`.
//
//   CaseBook book(clock, advice_source);
//   ASSIGN_OR_RETURN(NewCase nc, book.PrepareCreate(cc, request));
//   store->CreateCase(ActorOf(cc), std::move(nc), done);
//
// The adapter (case_service.cc) verifies the context, authorizes, calls the
// book, hands the result to the store, presents and maps status.
#ifndef COUNSEL_CASES_DOMAIN_CASE_BOOK_H_
#define COUNSEL_CASES_DOMAIN_CASE_BOOK_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "case-svc/advice_source.h"
#include "case-svc/store/case_store.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

// Parses `cases/{id}`; InvalidArgument naming `field` otherwise.
absl::StatusOr<std::string> ParseCaseName(absl::string_view name, absl::string_view field);

// `cases/{case}/evidence/{evidence}` → (case id, evidence id).
absl::StatusOr<std::pair<std::string, std::string>> ParseEvidenceName(absl::string_view name,
                                                                     absl::string_view field);

// Actor of a verified context.
Actor ActorOf(const CallContext& cc);

// An item's own etag: a digest of what can change in it (state, note,
// completion), so that a tick on one item does not make another stale.
std::string ItemEtag(const v1::ChecklistItem& item);

// What a caller may see. Free text and identifiers are personal data:
// without cases.pii they are masked. Item etags are set on cases.
v1::Case PresentCase(const CallContext& cc, v1::Case c);
void PresentEvidence(const CallContext& cc, v1::Evidence& e);
void PresentEvent(const CallContext& cc, v1::CaseEvent& e);
void PresentNote(const CallContext& cc, v1::Note& n);

// Thread-safe (const; the advice source is).
class CaseBook {
 public:
  // Does not take ownership. `new_id` names new cases (RandomId by default).
  CaseBook(const Clock* clock, AdviceSource* advice,
           std::function<std::string()> new_id = nullptr);

  // A new case: validated, output-only fields set, severity and limitation
  // derived, and the checklist copied from the advice revision it pins.
  // UNAVAILABLE when guidance cannot be asked (nothing is stored then, and
  // a retry with the same request_id works).
  absl::StatusOr<NewCase> PrepareCreate(const CallContext& cc,
                                        const v1::CreateCaseRequest& request) const;

  // The fields of the update mask (camelCase or snake_case), validated as a
  // new case's would be; erased client data cannot be set again.
  absl::StatusOr<CaseMutation> PrepareUpdate(const CallContext& cc,
                                             const v1::UpdateCaseRequest& request) const;

  absl::StatusOr<CaseMutation> PrepareTransition(const v1::TransitionCaseRequest& request) const;

  // `*key` gets the item's key, for picking it out of the stored case.
  // Setting what is already there is no change: no write, no event.
  absl::StatusOr<CaseMutation> PrepareChecklistUpdate(
      const v1::UpdateChecklistItemRequest& request, std::string* key) const;

  // An upload's first message (with what later ones added) and its bytes:
  // the case id and the entry to store, its digest computed here and
  // checked against `attachment_sha256` when one was given.
  absl::StatusOr<std::pair<std::string, NewEvidence>> PrepareEvidence(
      const v1::AddEvidenceRequest& header, std::string attachment) const;

  // A later message of an upload may carry what the first did not (an HTTP
  // form whose file part comes before its description), each field once.
  static absl::Status MergeLateUploadMessage(const v1::AddEvidenceRequest& later,
                                             v1::AddEvidenceRequest* header);

  // The case id a note goes to, after checking the note.
  static absl::StatusOr<std::string> CheckNote(const v1::AddNoteRequest& request);

  // The case id to erase, after checking the reason.
  static absl::StatusOr<std::string> CheckErasure(const v1::EraseClientDataRequest& request);

 private:
  const Clock* clock_;
  AdviceSource* advice_;
  std::function<std::string()> new_id_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_CASE_BOOK_H_
