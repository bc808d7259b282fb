#include "common/sql.h"

#include "common/status_macros.h"

namespace counsel::sql {

absl::Status Statement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

absl::StatusOr<WriteTransaction> WriteTransaction::Begin(Database& db) {
  RETURN_IF_ERROR(db.BeginWrite());
  return WriteTransaction(&db);
}

WriteTransaction::~WriteTransaction() {
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

absl::Status WriteTransaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("transaction already ended");
  absl::Status status = db_->Exec("COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace counsel::sql
