// Moving a firm's cases from a SQLite file to PostgreSQL: every table row
// for row, sealed values and wrapped keys as they are (the master key never
// needed), in one transaction at the destination, then checked there.
#include "absl/strings/str_cat.h"
#include "case-svc/audit/audit_chain.h"
#include "case-svc/store/case_schema.h"
#include "case-svc/store/maintenance.h"
#include "case-svc/webhooks/webhook_store.h"
#include "common/crypto.h"
#include "common/postgres.h"
#include "common/sql_move.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases {
namespace {

// In an order that meets foreign keys (cases name their client's key).
constexpr sql::MovedTable kTables[] = {
    {"client_keys"}, {"cases"}, {"pending_items"}, {"create_requests"}, {"tenant_seq"},
    {"events"},      {"evidence"}, {"notes"},     {"meta"},            {"case_labels"},
    {"audit_log"}};

// Webhook subscriptions and their delivery logs (their own schema; the
// deliveries' ids are given afresh, in the same order).
constexpr sql::MovedTable kWebhookTables[] = {{"webhooks"}, {"deliveries", "id"}, {"meta"}};

}  // namespace

absl::StatusOr<MoveReport> MoveToPostgres(const std::string& from, const std::string& to,
                                          const std::string& audit_key,
                                          const std::string& webhooks_from) {
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> src,
                   sql::OpenMoveSource(from, to, sql_store::SqliteSchemaVersion(),
                                       "counsel-cases"));
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> dst, pg::Database::Open(to, "counsel_cases"));
  RETURN_IF_ERROR(dst->Migrate(sql_store::PostgresMigrations()));
  std::unique_ptr<sql::Database> hooks_source;
  std::unique_ptr<pg::Database> hooks_dst;
  if (!webhooks_from.empty()) {
    ASSIGN_OR_RETURN(hooks_source, OpenCaseDatabase(webhooks_from, true));
    // Opening the store creates its schema there.
    RETURN_IF_ERROR(webhooks::OpenWebhookStore(to, nullptr).status());
    ASSIGN_OR_RETURN(hooks_dst, pg::Database::Open(to, "counsel_webhooks"));
    RETURN_IF_ERROR(sql::RequireEmpty(*hooks_dst, kWebhookTables));
  }
  MoveReport report;
  ASSIGN_OR_RETURN(report.rows, sql::MoveTables(*src, *dst, kTables, /*lock_key=*/0));
  if (hooks_dst != nullptr) {
    ASSIGN_OR_RETURN(sql::MoveCounts hooks,
                     sql::MoveTables(static_cast<sqlite::Database&>(*hooks_source), *hooks_dst,
                                     kWebhookTables, /*lock_key=*/1));
    for (auto& [table, copied] : hooks) {
      report.rows.emplace_back(absl::StrCat("webhooks.", table), copied);
    }
  }
  // Checked at the destination: every tenant's chain intact and ending
  // where the source's does (MoveTables counted the rows).
  AuditChain chain(AuditChainKey(audit_key));
  ASSIGN_OR_RETURN(std::vector<std::string> tenants, chain.Tenants(*src));
  for (const std::string& tenant : tenants) {
    ASSIGN_OR_RETURN(v1::VerifyAuditLogResponse before, chain.Verify(*src, tenant, std::nullopt));
    ASSIGN_OR_RETURN(v1::VerifyAuditLogResponse after, chain.Verify(*dst, tenant, std::nullopt));
    if (!after.ok() || after.head() != before.head()) {
      return absl::DataLossError(absl::StrCat("tenant ", tenant, "'s audit chain does not verify ",
                                              "at the destination: ", after.problem()));
    }
    ++report.tenants_verified;
  }
  return report;
}

}  // namespace counsel::cases
