// Storage of cases behind a small interface, so that a PostgreSQL backend
// can follow the SQLite one (SQL lives in sqlite_case_store.cc and
// case_filter.cc only). Every method is scoped to one tenant; personal data
// is sealed inside the store and never reaches SQL in plaintext.
//
// Writes are asynchronous: they join the group commit and call `done` after
// the transaction holding them is durable.
#ifndef COUNSEL_CASES_STORE_CASE_STORE_H_
#define COUNSEL_CASES_STORE_CASE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "case-svc/crypto/pii_vault.h"
#include "common/clock.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

// Who acts, for which tenant and (optionally) which client only.
struct Actor {
  std::string tenant;
  std::string key_id;
  // When set, only this client's cases exist for the caller.
  std::string client_id;
  // Holds cases.pii: may see personal data, and so filter on it. Without it
  // a filter on a personal field is PERMISSION_DENIED (a filter is an oracle:
  // bisecting candidates recovers a masked value).
  bool pii = false;
};

struct NewCase {
  // Validated and normalised; name, state, severity, checklist and advice
  // set by the caller. Client fields are plaintext here, sealed by the store.
  v1::Case c;
  std::string request_id;
  std::string request_digest;
};

// A change to one case, applied inside the write transaction to the stored
// case. `apply` edits the case (client data included, in plaintext) and
// fills the event to record (type, changed fields, states, reason). An
// `apply` that sets no event type changed nothing: nothing is written, and
// the case comes back as it was.
struct CaseMutation {
  std::string case_id;
  // When not empty, must equal the case's etag (ABORTED otherwise).
  std::string expected_etag;
  std::function<absl::Status(v1::Case& c, v1::CaseEvent& event)> apply;
  // When set, a repeat of the same request (same digest) returns the case
  // without applying anything; the same id with another digest is
  // INVALID_ARGUMENT naming request_id.
  std::string request_id;
  std::string request_digest;
};

struct NewEvidence {
  v1::Evidence evidence;  // kind, counterpart (plaintext), times, summary, supersedes
  std::string attachment;  // bytes, may be empty
  std::string request_id;
};

struct EvidenceAttachment {
  v1::Evidence evidence;  // with its attachment's description
  std::string bytes;
};

struct CasePage {
  std::vector<v1::Case> cases;
  std::string next_page_token;
};

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// Thread-safe implementations required.
class CaseStore {
 public:
  virtual ~CaseStore() = default;

  // When `request_id` was used before: the same digest returns the case
  // created then; a different digest is InvalidArgument. An external_ref
  // already used in the tenant is AlreadyExists naming the existing case.
  virtual void CreateCase(const Actor& actor, NewCase request, Callback<v1::Case> done) = 0;
  virtual void MutateCase(const Actor& actor, CaseMutation mutation, Callback<v1::Case> done) = 0;
  virtual void AddEvidence(const Actor& actor, std::string case_id, NewEvidence evidence,
                           Callback<v1::Evidence> done) = 0;
  virtual void AddNote(const Actor& actor, std::string case_id, v1::Note note,
                       std::string request_id, Callback<v1::Note> done) = 0;

  // NotFound when the tenant (or the bound client) has no such case.
  virtual absl::StatusOr<v1::Case> GetCase(const Actor& actor, absl::string_view case_id) = 0;
  virtual absl::StatusOr<CasePage> ListCases(const Actor& actor, const v1::ListCasesRequest& request) = 0;
  virtual absl::StatusOr<v1::ListEvidenceResponse> ListEvidence(
      const Actor& actor, const v1::ListEvidenceRequest& request) = 0;
  // NotFound when the case (for the caller) or the entry does not exist.
  virtual absl::StatusOr<v1::Evidence> GetEvidence(const Actor& actor, absl::string_view case_id,
                                                   absl::string_view evidence_id) = 0;
  // The entry and its attachment's bytes, opened. NotFound as GetEvidence,
  // and when the entry has no attachment; FailedPrecondition once the
  // client's data was erased.
  virtual absl::StatusOr<EvidenceAttachment> ReadEvidenceAttachment(
      const Actor& actor, absl::string_view case_id, absl::string_view evidence_id) = 0;
  // Oldest first, paged.
  virtual absl::StatusOr<v1::ListNotesResponse> ListNotes(const Actor& actor,
                                                          const v1::ListNotesRequest& request) = 0;
  virtual absl::StatusOr<v1::ListCaseEventsResponse> ListCaseEvents(
      const Actor& actor, const v1::ListCaseEventsRequest& request) = 0;
  // Changes after `after_seq`, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const Actor& actor, int64_t after_seq, int limit) = 0;
  // The tenant's newest change sequence number (0 when none).
  virtual absl::StatusOr<int64_t> LatestSeq(absl::string_view tenant) = 0;
  // The time of change `seq` (to tell whether a cursor is past retention).
  virtual absl::StatusOr<std::optional<absl::Time>> ChangeTime(absl::string_view tenant,
                                                               int64_t seq) = 0;
  virtual absl::StatusOr<v1::CaseStats> Stats(const Actor& actor, const v1::GetCaseStatsRequest& request) = 0;

  // Destroys the data key of the case's client and overwrites every value
  // sealed with it (client fields, evidence counterparts and attachments,
  // notes) in all of that client's cases; the cases, their timelines and the
  // audit log stay. Idempotent.
  virtual void EraseClientData(const Actor& actor, std::string case_id, std::string reason,
                               Callback<v1::Case> done) = 0;

  // Recomputes the actor's tenant's audit chain (see audit/audit_chain.h).
  virtual absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(
      const Actor& actor, const std::string& expected_head) = 0;

  // Called after every commit that may have added changes.
  virtual void SetCommitListener(std::function<void()> listener) = 0;
};

struct CaseStoreOptions {
  // Keys the audit chain and the blind indexes; >= 32 bytes, separate from
  // the master key (so rotating the master key keeps both valid).
  std::string audit_key;
  // 1 commits each write on its own (the comparison baseline).
  int max_batch = 256;
  std::string synchronous = "FULL";
  int readers = 4;
  // The erasure ledger (see erasure_ledger.h); "" puts it beside a SQLite
  // database as `{path}.erasures` (PostgreSQL: none). Keep it with the key files, not in backups.
  std::string erasure_ledger;
  // Starts a new ledger for a database whose own is lost (disaster recovery:
  // erasures after the database was copied cannot be re-applied).
  bool replace_lost_erasure_ledger = false;
};

// The SQLite store at `path`, created and migrated on open.
absl::StatusOr<std::unique_ptr<CaseStore>> OpenSqliteCaseStore(
    const std::string& path, const PiiVault* vault, const Clock* clock,
    const CaseStoreOptions& options = {});

// The store in the counsel_cases schema of the PostgreSQL database `uri`
// (created and migrated on open, under a lock: replicas may start at once).
// Any number of replicas may serve one database: a tenant's writes run one
// after another, its changes commit in sequence order, and each replica's
// watchers wake on every replica's commits (LISTEN/NOTIFY). The erasure
// ledger is used only when `options.erasure_ledger` names one.
absl::StatusOr<std::unique_ptr<CaseStore>> OpenPostgresCaseStore(
    const std::string& uri, const PiiVault* vault, const Clock* clock,
    const CaseStoreOptions& options = {});

// PostgreSQL when `db` is a postgresql:// URI, else the SQLite file `db`.
absl::StatusOr<std::unique_ptr<CaseStore>> OpenCaseStore(
    const std::string& db, const PiiVault* vault, const Clock* clock,
    const CaseStoreOptions& options = {});

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_CASE_STORE_H_
