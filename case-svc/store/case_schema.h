// The case store's SQL schema: the migrations in order, and the filter
// columns a case's row carries beside its sealed proto. Dialect-specific:
// a second backend has its own.
#ifndef COUNSEL_CASES_STORE_CASE_SCHEMA_H_
#define COUNSEL_CASES_STORE_CASE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/sqlite.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases::sql_store {

// The static migrations, oldest first (before the steps that need the
// vault or the audit chain, which the store adds).
const std::vector<sqlite::Migration>& Migrations();

// The meta table and the sealed free-text columns.
extern const char kSealedTextSchema[];
// The incident's dates and labels as columns (none personal data).
extern const char kFilterColumnsSchema[];
// Indexes for the conjunctions a dashboard asks most (a state with an
// assignee or a severity): without them a conjunction that matches little
// scans every case of one of its terms.
extern const char kConjunctionIndexSchema[];

// PostgreSQL's schema (postgres_case_store.cc): the shape SQLite's steps
// arrive at, as one step.
const std::vector<std::string>& PostgresMigrations();

// The version SQLite's steps bring a database to (sqlite_case_store.cc).
int SqliteSchemaVersion();

// Writes the filter columns and label rows of one case from its proto.
absl::Status WriteFilterColumns(sql::Database& db, const std::string& tenant,
                                const std::string& case_id, const v1::Case& c);
// Writes the label rows of one case (`replace`: removing its old ones first).
absl::Status WriteLabels(sql::Database& db, const std::string& tenant, const std::string& case_id,
                         const v1::Case& c, bool replace);
// Fills them for every existing row (the migration that adds them).
absl::Status BackfillFilterColumns(sql::Database& db);

}  // namespace counsel::cases::sql_store

#endif  // COUNSEL_CASES_STORE_CASE_SCHEMA_H_
