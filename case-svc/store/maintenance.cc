#include "case-svc/store/maintenance.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "case-svc/audit/audit_chain.h"
#include "common/crypto.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases {

absl::StatusOr<std::unique_ptr<sql::Database>> OpenCaseDatabase(const std::string& db,
                                                                bool read_only) {
  if (pg::IsUri(db)) {
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> pg, pg::Database::Open(db, "counsel_cases"));
    ASSIGN_OR_RETURN(sql::Statement q, pg->Prepare(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'counsel_cases' "
        "AND table_name = 'audit_log'"));
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || q.ColumnInt64(0) == 0) {
      return absl::NotFoundError("the database holds no counsel_cases schema");
    }
    return std::unique_ptr<sql::Database>(std::move(pg));
  }
  if (!std::filesystem::exists(db)) {
    return absl::NotFoundError(absl::StrCat(db, " does not exist"));
  }
  sqlite::Options o;
  o.read_only = read_only;
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> file, sqlite::Database::Open(db, o));
  return std::unique_ptr<sql::Database>(std::move(file));
}

absl::StatusOr<std::vector<TenantAudit>> VerifyAuditFile(const std::string& path,
                                                         const std::string& audit_key,
                                                         const std::string& tenant,
                                                         const std::string& expected_head) {
  if (!expected_head.empty() && tenant.empty()) {
    return absl::InvalidArgumentError("--head names a point in one tenant's chain: add --tenant");
  }
  ASSIGN_OR_RETURN(auto db, OpenCaseDatabase(path, /*read_only=*/true));
  AuditChain chain(AuditChainKey(audit_key));
  std::optional<AuditHead> expected;
  if (!expected_head.empty()) {
    ASSIGN_OR_RETURN(expected, AuditHead::Parse(expected_head));
  }
  std::vector<std::string> tenants;
  if (tenant.empty()) {
    ASSIGN_OR_RETURN(tenants, chain.Tenants(*db));
  } else {
    tenants.push_back(tenant);
  }
  std::vector<TenantAudit> out;
  for (const std::string& t : tenants) {
    ASSIGN_OR_RETURN(v1::VerifyAuditLogResponse r, chain.Verify(*db, t, expected));
    out.push_back(TenantAudit{t, std::move(r)});
  }
  return out;
}

absl::Status BackupDatabase(const std::string& path, const std::string& to) {
  if (pg::IsUri(path)) {
    return absl::FailedPreconditionError(
        "a PostgreSQL database is backed up by its server (pg_basebackup and WAL archiving, or "
        "the CloudNativePG Cluster's backups): see docs/operations.md");
  }
  if (std::filesystem::exists(to)) {
    return absl::AlreadyExistsError(absl::StrCat(to, " exists; choose a new file"));
  }
  sqlite::Options o;
  o.read_only = true;
  ASSIGN_OR_RETURN(auto src, sqlite::Database::Open(path, o));
  ASSIGN_OR_RETURN(auto dst, sqlite::Database::Open(to, {}));
  sqlite3_backup* b = sqlite3_backup_init(dst->raw(), "main", src->raw(), "main");
  if (b == nullptr) return dst->LastError("starting the backup");
  int rc;
  // Copies in steps; a write in between restarts from the changed pages, so
  // the result is one consistent snapshot.
  while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
         rc == SQLITE_LOCKED) {
    if (rc != SQLITE_OK) sqlite3_sleep(10);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("backup failed: ", sqlite3_errstr(rc)));
  RETURN_IF_ERROR(dst->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  dst.reset();
  const int fd = ::open(to.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::filesystem::remove(to + "-wal");
  std::filesystem::remove(to + "-shm");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RewrapDataKeys(const std::string& path, const PiiVault& vault) {
  ASSIGN_OR_RETURN(auto db, OpenCaseDatabase(path, /*read_only=*/false));
  int64_t done = 0;
  while (true) {
    ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(*db));
    std::vector<std::tuple<std::string, std::string, std::string>> batch;
    {
      ASSIGN_OR_RETURN(sql::Statement q, db->Prepare(
          "SELECT key_ref, tenant, wrapped FROM client_keys WHERE wrapped IS NOT NULL "
          "AND master_key_id != ?1 LIMIT 100"));
      q.Bind(1, vault.current_key_id());
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        batch.emplace_back(q.ColumnText(0), q.ColumnText(1), std::string(q.ColumnBlob(2)));
      }
    }
    if (batch.empty()) return done;
    for (const auto& [ref, tenant, wrapped] : batch) {
      ASSIGN_OR_RETURN(DataKey key, vault.Unwrap(tenant, ref, wrapped));
      // Only a key still live: one a serving replica erased since the read
      // stays destroyed (PostgreSQL reads without the write lock SQLite's
      // BEGIN IMMEDIATE takes).
      ASSIGN_OR_RETURN(sql::Statement up, db->Prepare(
          "UPDATE client_keys SET wrapped = ?2, master_key_id = ?3 WHERE key_ref = ?1 "
          "AND wrapped IS NOT NULL AND master_key_id != ?3 RETURNING key_ref"));
      up.Bind(1, ref).BindBlob(2, vault.Wrap(tenant, key)).Bind(3, vault.current_key_id());
      ASSIGN_OR_RETURN(bool rewrapped, up.Step());
      RETURN_IF_ERROR(up.Run());
      if (rewrapped) ++done;
    }
    RETURN_IF_ERROR(tx.Commit());
  }
}

}  // namespace counsel::cases
