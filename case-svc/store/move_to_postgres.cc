// Moving a firm's cases from a SQLite file to PostgreSQL: every table row
// for row, sealed values and wrapped keys as they are (the master key never
// needed), in one transaction at the destination, then checked there.
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "absl/strings/str_join.h"
#include "case-svc/audit/audit_chain.h"
#include "case-svc/store/case_schema.h"
#include "case-svc/store/maintenance.h"
#include "case-svc/webhooks/webhook_store.h"
#include "common/crypto.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases {
namespace {

// In an order that meets foreign keys (cases name their client's key).
constexpr const char* kTables[] = {"client_keys", "cases",    "pending_items", "create_requests",
                                   "tenant_seq",  "events",   "evidence",      "notes",
                                   "meta",        "case_labels", "audit_log"};

struct Column {
  std::string name;
  std::string type;  // PostgreSQL's data_type: bigint, text, bytea
};

// Webhook subscriptions and their delivery logs (their own schema; the
// deliveries' ids are given afresh, in the same order).
constexpr const char* kWebhookTables[] = {"webhooks", "deliveries", "meta"};

absl::StatusOr<std::vector<Column>> ColumnsOf(sql::Database& db, const std::string& schema,
                                              const std::string& table) {
  ASSIGN_OR_RETURN(sql::Statement q, db.Prepare(
      "SELECT column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = ?2 AND table_name = ?1 AND is_identity = 'NO' "
      "ORDER BY ordinal_position"));
  q.Bind(1, table).Bind(2, schema);
  std::vector<Column> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(Column{q.ColumnText(0), q.ColumnText(1)});
  }
  if (out.empty()) return absl::InternalError(absl::StrCat("no table ", table, " at the destination"));
  return out;
}

absl::StatusOr<int64_t> Count(sql::Database& db, const std::string& table) {
  ASSIGN_OR_RETURN(sql::Statement q, db.Prepare(absl::StrCat("SELECT count(*) FROM ", table)));
  ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt64(0) : 0;
}

absl::StatusOr<int64_t> CopyTable(sqlite::Database& from, pg::Database& to,
                                  const std::string& table, absl::string_view order_by = "") {
  ASSIGN_OR_RETURN(std::vector<Column> columns, ColumnsOf(to, to.schema(), table));
  std::vector<std::string> names, params;
  for (size_t i = 0; i < columns.size(); ++i) {
    names.push_back(columns[i].name);
    params.push_back(absl::StrCat("?", i + 1));
  }
  const std::string list = absl::StrJoin(names, ", ");
  ASSIGN_OR_RETURN(sql::Statement read,
                   from.Prepare(absl::StrCat("SELECT ", list, " FROM ", table,
                                             order_by.empty() ? "" : " ORDER BY ", order_by)));
  const std::string insert = absl::StrCat("INSERT INTO ", table, " (", list, ") VALUES (",
                                          absl::StrJoin(params, ", "), ")");
  int64_t n = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(sql::Statement put, to.Prepare(insert));
    for (size_t i = 0; i < columns.size(); ++i) {
      const int col = static_cast<int>(i);
      const int param = col + 1;
      if (read.ColumnIsNull(col)) {
        put.BindNull(param);
      } else if (columns[i].type == "bytea") {
        put.BindBlob(param, read.ColumnBlob(col));
      } else if (columns[i].type == "bigint") {
        put.Bind(param, read.ColumnInt64(col));
      } else {
        put.Bind(param, read.ColumnBlob(col));
      }
    }
    RETURN_IF_ERROR(put.Run());
    ++n;
  }
  return n;
}

}  // namespace

// Refuses a destination table that holds rows.
absl::Status CheckEmpty(sql::Database& db, absl::Span<const char* const> tables) {
  for (const char* table : tables) {
    ASSIGN_OR_RETURN(int64_t there, Count(db, table));
    if (there != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the destination is not empty (", table, " holds ", there,
          " rows): moving refuses to merge two firms' records"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MoveReport> MoveToPostgres(const std::string& from, const std::string& to,
                                          const std::string& audit_key,
                                          const std::string& webhooks_from) {
  if (pg::IsUri(from) || !pg::IsUri(to)) {
    return absl::InvalidArgumentError("--from names a SQLite file, --to a postgresql:// URI");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sql::Database> source, OpenCaseDatabase(from, true));
  auto& src = static_cast<sqlite::Database&>(*source);
  ASSIGN_OR_RETURN(int version, src.UserVersion());
  if (version != sql_store::SqliteSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the source is at schema version ", version, ", this program's is ",
        sql_store::SqliteSchemaVersion(), ": start counsel-cases on it once (it migrates), then move it"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> dst, pg::Database::Open(to, "counsel_cases"));
  RETURN_IF_ERROR(dst->Migrate(sql_store::PostgresMigrations()));
  std::unique_ptr<sql::Database> hooks_source;
  std::unique_ptr<pg::Database> hooks_dst;
  if (!webhooks_from.empty()) {
    ASSIGN_OR_RETURN(hooks_source, OpenCaseDatabase(webhooks_from, true));
    // Opening the store creates its schema there.
    RETURN_IF_ERROR(webhooks::OpenWebhookStore(to, nullptr).status());
    ASSIGN_OR_RETURN(hooks_dst, pg::Database::Open(to, "counsel_webhooks"));
    RETURN_IF_ERROR(CheckEmpty(*hooks_dst, kWebhookTables));
  }
  // One snapshot of the source: writers that keep going do not tear it.
  RETURN_IF_ERROR(src.Exec("BEGIN"));
  struct EndRead {
    sqlite::Database* db;
    ~EndRead() { (void)db->Exec("ROLLBACK"); }
  } end_read{&src};
  MoveReport report;
  {
    ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(*dst));
    // No two moves at once, and none into a database that holds a firm.
    RETURN_IF_ERROR(dst->Exec("SELECT pg_advisory_xact_lock(3, 0)"));  // class 3: moves
    RETURN_IF_ERROR(CheckEmpty(*dst, kTables));
    for (const char* table : kTables) {
      ASSIGN_OR_RETURN(int64_t copied, CopyTable(src, *dst, table));
      report.rows.emplace_back(table, copied);
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  if (hooks_dst != nullptr) {
    auto& hooks_src = static_cast<sqlite::Database&>(*hooks_source);
    ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(*hooks_dst));
    for (const char* table : kWebhookTables) {
      ASSIGN_OR_RETURN(int64_t copied, CopyTable(hooks_src, *hooks_dst, table,
                                                 std::string(table) == "deliveries" ? "id" : ""));
      ASSIGN_OR_RETURN(int64_t here, Count(hooks_src, table));
      if (copied != here) return absl::DataLossError(absl::StrCat(table, ": rows changed while moving"));
      report.rows.emplace_back(absl::StrCat("webhooks.", table), copied);
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  // Checked at the destination: every table's count, every tenant's chain
  // intact and ending where the source's does.
  for (const auto& [table, copied] : report.rows) {
    if (absl::StartsWith(table, "webhooks.")) continue;  // counted as copied
    ASSIGN_OR_RETURN(int64_t there, Count(*dst, table));
    ASSIGN_OR_RETURN(int64_t here, Count(src, table));
    if (there != copied || here != copied) {
      return absl::DataLossError(absl::StrCat(table, ": ", here, " rows in the source, ", there,
                                              " at the destination"));
    }
  }
  AuditChain chain(AuditChainKey(audit_key));
  ASSIGN_OR_RETURN(std::vector<std::string> tenants, chain.Tenants(src));
  for (const std::string& tenant : tenants) {
    ASSIGN_OR_RETURN(v1::VerifyAuditLogResponse before, chain.Verify(src, tenant, std::nullopt));
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
