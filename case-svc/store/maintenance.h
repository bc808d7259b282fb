// Offline and online maintenance of the case database (a SQLite file or a
// postgresql:// URI): audit verification, backups, master-key rotation,
// moving a firm to PostgreSQL. Each works beside a running server.
#ifndef COUNSEL_CASES_STORE_MAINTENANCE_H_
#define COUNSEL_CASES_STORE_MAINTENANCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "case-svc/crypto/pii_vault.h"
#include "common/sql.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

// The case database `db` names, as it is (not migrated); NotFound when
// there is none.
absl::StatusOr<std::unique_ptr<sql::Database>> OpenCaseDatabase(const std::string& db,
                                                                bool read_only);

struct TenantAudit {
  std::string tenant;
  v1::VerifyAuditLogResponse result;
};

// Verifies the audit chains of the database at `path` (read-only): `tenant`'s
// (against `expected_head` when given), or every tenant's when empty.
absl::StatusOr<std::vector<TenantAudit>> VerifyAuditFile(const std::string& path,
                                                         const std::string& audit_key,
                                                         const std::string& tenant,
                                                         const std::string& expected_head);

// A consistent copy of the database (SQLite online backup API, taken while
// writers continue), fsynced, written to `to` (must not exist).
// FailedPrecondition for PostgreSQL, which backs itself up.
absl::Status BackupDatabase(const std::string& path, const std::string& to);

// Re-wraps every live data key under the vault's current master key, one
// small transaction at a time so that a serving process is never blocked
// for long. The vault must hold the old key too. Returns keys re-wrapped.
absl::StatusOr<int64_t> RewrapDataKeys(const std::string& path, const PiiVault& vault);

struct MoveReport {
  std::vector<std::pair<std::string, int64_t>> rows;  // table, rows copied
  int tenants_verified = 0;
};

// Copies the SQLite database `from` (at this program's schema version) into
// the counsel_cases schema of the PostgreSQL database `to`, sealed values and
// wrapped keys as they are, in one transaction; refuses a destination that
// holds any record. Then checks at the destination that every table has the
// source's row count and every tenant's audit chain verifies (with
// `audit_key`) and ends at the source's head. Writers on `from` should be
// stopped first: what they write after the copy's snapshot stays behind.
//
// `webhooks_from`, when not empty, is the SQLite webhook database to copy
// into the counsel_webhooks schema too (sealed as it is).
absl::StatusOr<MoveReport> MoveToPostgres(const std::string& from, const std::string& to,
                                          const std::string& audit_key,
                                          const std::string& webhooks_from = "");

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_MAINTENANCE_H_
