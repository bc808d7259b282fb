// The SQLite case store, one class whose parts live in their own files,
// LevelDB's db_impl style: sqlite_case_store.cc opens, migrates and
// orchestrates (the writer, keys, blind indexes); sqlite_case_writes.cc
// stores cases, events, evidence and notes in the writer's transactions;
// sqlite_case_reads.cc answers reads from the reader pool; sqlite_case_erasure.cc
// destroys client keys and keeps the erasure ledger; case_stats.cc counts.
// The row layout is case_rows.h, the schema case_schema.h. Internal: callers
// use OpenSqlCaseStore (case_store.h).
#ifndef COUNSEL_CASES_STORE_SQL_CASE_STORE_IMPL_H_
#define COUNSEL_CASES_STORE_SQL_CASE_STORE_IMPL_H_

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
#include "common/postgres.h"
#include "common/sql.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "case-svc/store/case_rows.h"
#include "case-svc/store/case_schema.h"
#include "case-svc/store/reader_pool.h"

namespace counsel::cases::sql_store {

using sql::Database;
using sql::Statement;

// Binds, from parameter `first` on, what every case query of an actor
// starts with (`tenant = ? AND (? = '' OR client_id = ?)`) and then a
// compiled filter's parameters; returns the next parameter index.
int BindActorAndFilter(Statement& q, int first, const Actor& actor, const SqlCondition& filter);

class SqlCaseStore final : public CaseStore {
 public:
  SqlCaseStore(const PiiVault* vault, const Clock* clock) : vault_(vault), clock_(clock) {}

  // The SQLite file at `path` (sqlite_case_store.cc).
  absl::Status OpenSqlite(const std::string& path, const CaseStoreOptions& options);
  // The counsel_cases schema of a PostgreSQL database (postgres_case_store.cc).
  absl::Status OpenPostgres(const std::string& uri, const CaseStoreOptions& options);

  void SetCommitListener(std::function<void()> listener) override;

  void CreateCase(const Actor& actor, NewCase request, Callback<v1::Case> done) override;

  void MutateCase(const Actor& actor, CaseMutation mutation, Callback<v1::Case> done) override;

  void AddEvidence(const Actor& actor, std::string case_id, NewEvidence evidence,
                   Callback<v1::Evidence> done) override;

  void AddNote(const Actor& actor, std::string case_id, v1::Note note, std::string request_id,
               Callback<v1::Note> done) override;

  void EraseClientData(const Actor& actor, std::string case_id, std::string reason,
                       Callback<v1::Case> done) override;

  absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(
      const Actor& actor, const std::string& expected_head) override;

  absl::StatusOr<v1::Case> GetCase(const Actor& actor, absl::string_view case_id) override;

  absl::StatusOr<CasePage> ListCases(const Actor& actor,
                                     const v1::ListCasesRequest& request) override;

  absl::StatusOr<v1::ListEvidenceResponse> ListEvidence(
      const Actor& actor, const v1::ListEvidenceRequest& request) override;

  absl::StatusOr<v1::Evidence> GetEvidence(const Actor& actor, absl::string_view case_id,
                                           absl::string_view evidence_id) override;

  absl::StatusOr<EvidenceAttachment> ReadEvidenceAttachment(
      const Actor& actor, absl::string_view case_id, absl::string_view evidence_id) override;

  absl::StatusOr<v1::ListNotesResponse> ListNotes(const Actor& actor,
                                                  const v1::ListNotesRequest& request) override;

  absl::StatusOr<v1::ListCaseEventsResponse> ListCaseEvents(
      const Actor& actor, const v1::ListCaseEventsRequest& request) override;

  absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const Actor& actor, int64_t after_seq, int limit) override;

  absl::StatusOr<int64_t> LatestSeq(absl::string_view tenant) override;

  absl::StatusOr<std::optional<absl::Time>> ChangeTime(absl::string_view tenant,
                                                       int64_t seq) override;

  absl::StatusOr<v1::CaseStats> Stats(const Actor& actor,
                                      const v1::GetCaseStatsRequest& request) override;

 private:
  // Keyed hash of a normalised value, per tenant and field.
  std::string BlindIndex(absl::string_view tenant, absl::string_view field,
                         absl::string_view value) const;

  // Moves the free text of rows written before it was sealed into sealed
  // columns (one migration, in its transaction). Append-only tables are
  // opened for it and closed again inside the same transaction.
  absl::Status SealLegacyFreeText(Database& db);

  // Page tokens are sealed (crypto::TokenSealer): opaque, bound to the
  // tenant, the client binding and the list they page, so a token neither
  // shows a tenant-wide sequence number nor works anywhere else.
  static std::string TokenContext(absl::string_view list, const Actor& actor,
                                  absl::string_view parent);
  std::string SealToken(absl::string_view value, absl::string_view context) const;
  absl::StatusOr<std::string> OpenToken(absl::string_view token,
                                        absl::string_view context) const;
  // Lists ordered by an append-only sequence resume after the last seq returned.
  absl::StatusOr<int64_t> SeqPageToken(const std::string& token,
                                       absl::string_view context) const;

  // Only a caller who may read personal data may compare it.
  BlindIndexFn BlindForActor(const Actor& actor) const;

  BlindIndexFn BlindFor(const std::string& tenant) const;

  static std::string Digest(absl::string_view s);

  // The client's live data key, made on first use. Cases without a client
  // id get a key of their own.
  absl::StatusOr<DataKey> NewOrExistingKey(Database& db, const std::string& tenant,
                                           const std::string& client_id, int64_t now);

  // The data key of a case's client; nullopt once erased.
  absl::StatusOr<std::optional<DataKey>> KeyFor(Database& db, const std::string& tenant,
                                                const std::string& case_id);

  absl::StatusOr<v1::Case> FromRow(const Statement& q, absl::string_view tenant);

  absl::StatusOr<v1::Case> Load(Database& db, const Actor& actor, absl::string_view case_id);

  // Writes every column of a case row from `c` (plaintext client data).
  absl::Status Store(Database& db, const std::string& tenant, const std::string& case_id,
                     const v1::Case& c, bool insert, const DataKey* key, int64_t now,
                     int64_t revision);

  // Appends an event with the tenant's next sequence number.
  absl::StatusOr<int64_t> AppendEvent(Database& db, const std::string& tenant,
                                      const std::string& case_id, const std::string& client_id,
                                      v1::CaseEvent event, int64_t now);

  // Request ids are scoped to the key and its client binding (each length-
  // prefixed, so no id can imitate another scope): no key meets another's
  // request ids, so replaying one with a guessed body (200 when the guess is
  // right, 400 when not) tells it nothing about what someone else sent. A
  // retry uses the key of the first attempt.
  static std::string ScopedRequestId(const Actor& actor, const std::string& request_id);

  // An earlier create with the same request id: its resource, or
  // InvalidArgument when the body differs; "" when there was none.
  absl::StatusOr<std::string> PriorRequest(Database& db, const Actor& actor,
                                           const std::string& request_id,
                                           const std::string& digest);

  absl::Status RecordRequest(Database& db, const Actor& actor,
                             const std::string& request_id, const std::string& digest,
                             const std::string& resource, int64_t now);

  // ALREADY_EXISTS naming `field` and the case that holds `external_ref`
  // (only keys for the whole firm may set one, so the name is theirs to see).
  absl::Status CheckExternalRefFree(Database& db, const std::string& tenant,
                                    const std::string& external_ref, const std::string& case_id,
                                    absl::string_view field);

  absl::StatusOr<v1::Case> CreateIn(Database& db, const Actor& actor, const NewCase& request);

  absl::StatusOr<v1::Case> MutateIn(Database& db, const Actor& actor, const CaseMutation& m);

  // Destroys a data key and every value sealed with it (and the idempotency
  // records of its client's requests, which digest personal data).
  absl::Status ScrubKey(Database& db, const std::string& tenant, const std::string& key_ref,
                        int64_t now);

  // Opens the database's own ledger, creating it with a new database: a
  // database that has a ledger refuses to open without that same one.
  absl::Status OpenLedger(Database& db, const std::string& ledger_path,
                          bool replace_lost_ledger);

  // Erases again every key the ledger names that this database still holds
  // (it was restored from a backup older than the erasure).
  absl::Status ApplyLedger(Database& db);

  absl::StatusOr<v1::Case> EraseIn(Database& db, const Actor& actor, const std::string& case_id,
                                   const std::string& reason);

  absl::StatusOr<v1::Evidence> AddEvidenceIn(Database& db, const Actor& actor,
                                             const std::string& case_id, const NewEvidence& in);

  absl::StatusOr<v1::Evidence> ReadEvidence(Database& db, const std::string& tenant,
                                            const std::string& case_id, const std::string& id,
                                            const std::optional<DataKey>& key);

  static absl::Status OpenEvidenceText(const DataKey& key, absl::string_view sealed,
                                       const std::string& tenant, const std::string& case_id,
                                       const std::string& id, v1::Evidence& e);

  absl::StatusOr<v1::Note> AddNoteIn(Database& db, const Actor& actor, const std::string& case_id,
                                     const v1::Note& in, const std::string& request_id);

  // The keys derived from the audit key.
  absl::Status InitKeys(const CaseStoreOptions& options);
  // Serves from `writer` (migrated, its ledger applied) and `readers`.
  void Start(std::unique_ptr<Database> writer, std::unique_ptr<ReaderPool> readers,
             int max_batch, Writer::Work before_commit = nullptr);
  // After every commit, on this replica or (PostgreSQL) another.
  void Committed();

  const PiiVault* vault_;
  const Clock* clock_;
  std::unique_ptr<AuditChain> audit_;
  std::unique_ptr<ErasureLedger> ledger_;
  std::unique_ptr<crypto::TokenSealer> tokens_;
  std::string index_key_;
  std::unique_ptr<ReaderPool> readers_;
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
  // The writer thread stops (finishing queued work) before the rest goes.
  std::unique_ptr<Writer> writer_;
  // PostgreSQL: wakes this replica's watchers on every replica's commits.
  // Stops first.
  std::unique_ptr<pg::Listener> notifications_;
};

}  // namespace counsel::cases::sql_store

#endif  // COUNSEL_CASES_STORE_SQL_CASE_STORE_IMPL_H_
