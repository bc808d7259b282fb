#include "common/sql_move.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"

namespace counsel::sql {
namespace {

struct Column {
  std::string name;
  std::string type;  // PostgreSQL's data_type: bigint, text, bytea, ...
};

absl::StatusOr<std::vector<Column>> DestinationColumns(pg::Database& db,
                                                       absl::string_view table) {
  ASSIGN_OR_RETURN(Statement q, db.Prepare(
      "SELECT column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = ?2 AND table_name = ?1 AND is_identity = 'NO' "
      "ORDER BY ordinal_position"));
  q.Bind(1, table).Bind(2, db.schema());
  std::vector<Column> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(Column{q.ColumnText(0), q.ColumnText(1)});
  }
  if (out.empty()) {
    return absl::InternalError(absl::StrCat("no table ", table, " at the destination"));
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> CountRows(Database& db, absl::string_view table) {
  ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat("SELECT count(*) FROM ", table)));
  ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt64(0) : 0;
}

absl::Status RequireEmpty(Database& db, absl::Span<const MovedTable> tables) {
  for (const MovedTable& table : tables) {
    ASSIGN_OR_RETURN(int64_t there, CountRows(db, table.name));
    if (there != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the destination is not empty (", table.name, " holds ", there,
          " rows): moving refuses to merge two firms' records"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CopyTable(Database& from, pg::Database& to, const MovedTable& table) {
  ASSIGN_OR_RETURN(std::vector<Column> columns, DestinationColumns(to, table.name));
  std::vector<std::string> names, params;
  for (size_t i = 0; i < columns.size(); ++i) {
    // Quoted: a name is read from the catalogue, never trusted as SQL.
    names.push_back(absl::StrCat("\"", absl::StrReplaceAll(columns[i].name, {{"\"", "\"\""}}),
                                 "\""));
    params.push_back(absl::StrCat("?", i + 1));
  }
  const std::string list = absl::StrJoin(names, ", ");
  const absl::string_view order_by = table.order_by;
  ASSIGN_OR_RETURN(Statement read,
                   from.Prepare(absl::StrCat("SELECT ", list, " FROM ", table.name,
                                             order_by.empty() ? "" : " ORDER BY ", order_by)));
  const std::string insert = absl::StrCat("INSERT INTO ", table.name, " (", list, ") VALUES (",
                                          absl::StrJoin(params, ", "), ")");
  int64_t n = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Statement put, to.Prepare(insert));
    for (size_t i = 0; i < columns.size(); ++i) {
      const int col = static_cast<int>(i);
      const int param = col + 1;
      if (read.ColumnIsNull(col)) {
        put.BindNull(param);
      } else if (columns[i].type == "bytea") {
        put.BindBlob(param, read.ColumnBlob(col));
      } else if (columns[i].type == "bigint" || columns[i].type == "integer") {
        put.Bind(param, read.ColumnInt64(col));
      } else if (columns[i].type == "double precision") {
        put.Bind(param, read.ColumnDouble(col));
      } else {
        put.Bind(param, read.ColumnBlob(col));
      }
    }
    RETURN_IF_ERROR(put.Run());
    ++n;
  }
  return n;
}

absl::StatusOr<MoveCounts> MoveTables(sqlite::Database& from, pg::Database& to,
                                      absl::Span<const MovedTable> tables, int lock_key) {
  // One snapshot of the source: writers that keep going do not tear it.
  RETURN_IF_ERROR(from.Exec("BEGIN"));
  struct EndRead {
    sqlite::Database* db;
    ~EndRead() { (void)db->Exec("ROLLBACK"); }
  } end_read{&from};
  MoveCounts counts;
  {
    ASSIGN_OR_RETURN(WriteTransaction tx, WriteTransaction::Begin(to));
    // Class 3 of the advisory locks: moves. No two at once into one schema,
    // and none into a schema that holds a firm.
    RETURN_IF_ERROR(to.Exec(absl::StrCat("SELECT pg_advisory_xact_lock(3, ", lock_key, ")")));
    RETURN_IF_ERROR(RequireEmpty(to, tables));
    for (const MovedTable& table : tables) {
      ASSIGN_OR_RETURN(int64_t copied, CopyTable(from, to, table));
      counts.emplace_back(table.name, copied);
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  for (const auto& [table, copied] : counts) {
    ASSIGN_OR_RETURN(int64_t there, CountRows(to, table));
    ASSIGN_OR_RETURN(int64_t here, CountRows(from, table));
    if (there != copied || here != copied) {
      return absl::DataLossError(absl::StrCat(table, ": ", here, " rows in the source, ", there,
                                              " at the destination"));
    }
  }
  return counts;
}

absl::StatusOr<std::unique_ptr<sqlite::Database>> OpenMoveSource(const std::string& from,
                                                                 const std::string& to,
                                                                 int want_version,
                                                                 absl::string_view program) {
  if (from.empty() || pg::IsUri(from) || !pg::IsUri(to)) {
    return absl::InvalidArgumentError("--from names a SQLite file, --to a postgresql:// URI");
  }
  if (!std::filesystem::exists(from)) {
    return absl::NotFoundError(absl::StrCat(from, " does not exist"));
  }
  sqlite::Options o;
  o.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db, sqlite::Database::Open(from, o));
  ASSIGN_OR_RETURN(int version, db->UserVersion());
  if (version != want_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the source is at schema version ", version, ", this program's is ", want_version,
        ": start ", program, " on it once (it migrates), then move it"));
  }
  return db;
}

}  // namespace counsel::sql
