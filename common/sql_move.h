// Moving a program's tables from its SQLite file to PostgreSQL: row for row,
// bytes as they are (sealed values stay sealed), in one transaction at the
// destination read from one snapshot of the source, refused when the
// destination already holds rows, and counted again at both ends after.
// Every program's `migrate` command is built on it; what each adds (the
// audit chains of case-svc) it checks itself.
#ifndef COUNSEL_COMMON_SQL_MOVE_H_
#define COUNSEL_COMMON_SQL_MOVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/postgres.h"
#include "common/sql.h"
#include "common/sqlite.h"

namespace counsel::sql {

// A table to move, in an order that meets foreign keys, and the column its
// rows are read in when the destination gives an identity afresh.
struct MovedTable {
  const char* name;
  const char* order_by = "";
};

// The rows each table received, in the order moved.
using MoveCounts = std::vector<std::pair<std::string, int64_t>>;

absl::StatusOr<int64_t> CountRows(Database& db, absl::string_view table);

// FailedPrecondition naming the first of `tables` that holds rows: a move
// never merges two firms' records.
absl::Status RequireEmpty(Database& db, absl::Span<const MovedTable> tables);

// Copies every row of `table`, the columns the destination declares (bar
// identity columns, which it numbers itself).
absl::StatusOr<int64_t> CopyTable(Database& from, pg::Database& to, const MovedTable& table);

// Moves `tables` from one read snapshot of `from` in one transaction at
// `to`, holding PostgreSQL advisory lock (3, `lock_key`) so that two moves
// into one schema cannot interleave; then checks that both ends count what
// was copied. `to` must be migrated to the schema the tables belong to.
absl::StatusOr<MoveCounts> MoveTables(sqlite::Database& from, pg::Database& to,
                                      absl::Span<const MovedTable> tables, int lock_key);

// The source of a move, read-only. InvalidArgument unless `from` names a
// file and `to` a postgresql:// URI; NotFound without the file;
// FailedPrecondition when the file's schema is not this program's
// (`want_version`): a move copies the current shape, so `program` is to be
// started on the file once first.
absl::StatusOr<std::unique_ptr<sqlite::Database>> OpenMoveSource(const std::string& from,
                                                                 const std::string& to,
                                                                 int want_version,
                                                                 absl::string_view program);

}  // namespace counsel::sql

#endif  // COUNSEL_COMMON_SQL_MOVE_H_
