// The schema of the guidance database, one forward-only migration list per
// engine shared by the stores that use it (statutes, advice): guidance.db,
// or schema counsel_guidance on PostgreSQL.
#ifndef COUNSEL_GUIDANCE_STORE_SCHEMA_H_
#define COUNSEL_GUIDANCE_STORE_SCHEMA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sql.h"
#include "common/sqlite.h"

namespace counsel::guidance {

inline constexpr char kGuidanceSchema[] = "counsel_guidance";
// Notified when an import commits new statute text: every replica reloads
// its catalogue.
inline constexpr char kStatutesChannel[] = "counsel_guidance_statutes";

// The trigram full-text index over article text, a table of the SQLite
// file (a migration step) or of each replica's in-memory index when the
// statutes are on PostgreSQL: one definition, so both search alike.
extern const char kProvisionIndexSchema[];

const std::vector<sqlite::Migration>& GuidanceMigrations();
const std::vector<std::string>& GuidancePostgresMigrations();

// The guidance database `db` (a file path or a postgresql:// URI), opened
// and migrated to this program's schema.
absl::StatusOr<std::unique_ptr<sql::Database>> OpenGuidanceDatabase(const std::string& db);

// Until the returned connection is closed, no other import into `db` runs
// (a session advisory lock on PostgreSQL; SQLite's file has one importer,
// the operator, and gets nullptr).
absl::StatusOr<std::unique_ptr<sql::Database>> HoldImportLock(const std::string& db);

// Copies the SQLite guidance database `from` (at this program's schema)
// into schema counsel_guidance of the PostgreSQL database `to`: statutes
// with their versions and articles, advice drafts and every revision, in
// one transaction; refuses a destination holding any of them, and checks
// every table's count at both ends. Returns the rows moved per table.
absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> MoveGuidanceToPostgres(
    const std::string& from, const std::string& to);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STORE_SCHEMA_H_
