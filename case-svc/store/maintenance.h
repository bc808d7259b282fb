// Offline and online maintenance of cases.db: audit verification, backups,
// master-key rotation. Each works beside a running server (WAL mode).
#ifndef COUNSEL_CASES_STORE_MAINTENANCE_H_
#define COUNSEL_CASES_STORE_MAINTENANCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "case-svc/crypto/pii_vault.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

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
absl::Status BackupDatabase(const std::string& path, const std::string& to);

// Re-wraps every live data key under the vault's current master key, one
// small transaction at a time so that a serving process is never blocked
// for long. The vault must hold the old key too. Returns keys re-wrapped.
absl::StatusOr<int64_t> RewrapDataKeys(const std::string& path, const PiiVault& vault);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_MAINTENANCE_H_
