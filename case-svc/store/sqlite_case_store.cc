// The case store on a SQLite file: its migrations (case_schema.cc), the
// erasure ledger beside it, the writer's connection and read-only readers.
#include "case-svc/store/sql_case_store_impl.h"

namespace counsel::cases::sql_store {

namespace {

// The steps the store adds after the static ones (they need the vault or
// the audit chain).
constexpr int kStepsAfterStatic = 5;

}  // namespace

int SqliteSchemaVersion() { return static_cast<int>(Migrations().size()) + kStepsAfterStatic; }

absl::Status SqlCaseStore::OpenSqlite(const std::string& path, const CaseStoreOptions& options) {
  RETURN_IF_ERROR(InitKeys(options));
  sqlite::Options o;
  o.synchronous = options.synchronous;
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db, sqlite::Database::Open(path, o));
  // Freed pages are zeroed, so erased ciphertext does not linger in the file.
  RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete=ON"));
  std::vector<sqlite::Migration> steps = Migrations();
  steps.emplace_back(std::string(kSealedTextSchema),
                     [this](sqlite::Database& db) { return SealLegacyFreeText(db); });
  steps.emplace_back(std::string(kAuditPerTenantSchema),
                     [this](sqlite::Database& db) { return audit_->AdoptGlobalLog(db); });
  steps.emplace_back(std::string(), sqlite::MakeTablesStrict);
  steps.emplace_back(std::string(kFilterColumnsSchema),
                     [](sqlite::Database& db) { return BackfillFilterColumns(db); });
  steps.emplace_back(std::string(kConjunctionIndexSchema));
  if (static_cast<int>(steps.size()) != SqliteSchemaVersion()) {
    return absl::InternalError("kStepsAfterStatic is out of date");
  }
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
  ASSIGN_OR_RETURN(std::unique_ptr<ReaderPool> readers,
                   ReaderPool::Open(options.readers,
                                    [&]() -> absl::StatusOr<std::unique_ptr<sql::Database>> {
                                      sqlite::Options r;
                                      r.read_only = true;
                                      r.synchronous = options.synchronous;
                                      ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> c,
                                                       sqlite::Database::Open(path, r));
                                      return std::unique_ptr<sql::Database>(std::move(c));
                                    }));
  Start(std::move(db), std::move(readers), options.max_batch);
  return absl::OkStatus();
}

}  // namespace counsel::cases::sql_store

namespace counsel::cases {

absl::StatusOr<std::unique_ptr<CaseStore>> OpenSqliteCaseStore(
    const std::string& path, const PiiVault* vault, const Clock* clock,
    const CaseStoreOptions& options) {
  auto store = std::make_unique<sql_store::SqlCaseStore>(vault, clock);
  RETURN_IF_ERROR(store->OpenSqlite(path, options));
  return std::unique_ptr<CaseStore>(std::move(store));
}

absl::StatusOr<std::unique_ptr<CaseStore>> OpenCaseStore(const std::string& db,
                                                         const PiiVault* vault, const Clock* clock,
                                                         const CaseStoreOptions& options) {
  if (pg::IsUri(db)) return OpenPostgresCaseStore(db, vault, clock, options);
  return OpenSqliteCaseStore(db, vault, clock, options);
}

}  // namespace counsel::cases
