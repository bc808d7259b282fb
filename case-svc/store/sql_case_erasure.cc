#include "case-svc/store/sql_case_store_impl.h"

#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

absl::Status SqlCaseStore::ScrubKey(Database& db, const std::string& tenant, const std::string& key_ref,
                      int64_t now) {
  // The key first: without it nothing sealed can be opened again.
  for (const char* sql : {
           "UPDATE client_keys SET wrapped = NULL, destroy_time = coalesce(destroy_time, ?2) "
           "WHERE key_ref = ?1",
           "UPDATE cases SET name_sealed = NULL, phone_sealed = NULL, email_sealed = NULL, "
           "national_id_sealed = NULL, phone_index = NULL, national_id_index = NULL, "
           "text_sealed = NULL WHERE key_ref = ?1",
           "UPDATE evidence SET counterpart_sealed = NULL, attachment_sealed = NULL, "
           "counterpart_index = NULL, summary_sealed = NULL "
           "WHERE (tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)",
           "UPDATE notes SET text_sealed = substr(text_sealed, 1, 0) "
           "WHERE (tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)",
           // An event stays (the record that something happened); only its
           // sealed reason, the one column that may change, goes.
           "UPDATE events SET reason_sealed = NULL WHERE reason_sealed IS NOT NULL AND "
           "(tenant, case_id) IN (SELECT tenant, case_id FROM cases WHERE key_ref = ?1)"}) {
    ASSIGN_OR_RETURN(Statement up, db.Prepare(sql));
    up.Bind(1, key_ref);
    if (absl::string_view(sql).find("?2") != absl::string_view::npos) up.Bind(2, now);
    RETURN_IF_ERROR(up.Run());
  }
  ASSIGN_OR_RETURN(Statement del, db.Prepare(
      "DELETE FROM create_requests WHERE tenant = ?2 AND (resource IN "
      "(SELECT case_id FROM cases WHERE key_ref = ?1) OR resource IN "
      "(SELECT e.evidence_id FROM evidence e JOIN cases c ON c.tenant = e.tenant AND "
      "c.case_id = e.case_id WHERE c.key_ref = ?1) OR resource IN "
      "(SELECT n.note_id FROM notes n JOIN cases c ON c.tenant = n.tenant AND "
      "c.case_id = n.case_id WHERE c.key_ref = ?1))"));
  del.Bind(1, key_ref).Bind(2, tenant);
  return del.Run();
}

absl::Status SqlCaseStore::OpenLedger(Database& db, const std::string& ledger_path,
                        bool replace_lost_ledger) {
  // Under the write lock: of processes opening a new database at once, one
  // creates the ledger and the others read it.
  ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(db));
  ASSIGN_OR_RETURN(ledger_, ErasureLedger::Open(ledger_path));
  ASSIGN_OR_RETURN(Statement q,
                   db.Prepare("SELECT value FROM meta WHERE key = 'erasure_ledger'"));
  ASSIGN_OR_RETURN(bool row, q.Step());
  const std::string recorded = row ? q.ColumnText(0) : "";
  if (!recorded.empty() && ledger_->id() != recorded && ledger_->id().empty() &&
      replace_lost_ledger) {
    // Disaster recovery, chosen by the operator: erasures made after this
    // database was copied cannot be re-applied.
    log::Warning("erasure_ledger_replaced", {{"lost", recorded}, {"ledger", ledger_path}});
    ASSIGN_OR_RETURN(ledger_, ErasureLedger::Create(ledger_path));
    ASSIGN_OR_RETURN(Statement up, db.Prepare(
        "UPDATE meta SET value = ?1 WHERE key = 'erasure_ledger'"));
    up.Bind(1, ledger_->id());
    RETURN_IF_ERROR(up.Run());
    return tx.Commit();
  }
  if (!recorded.empty() && ledger_->id() != recorded) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this database's erasure ledger (", recorded, ") is ",
        ledger_->id().empty() ? "missing" : "not the one at", " ", ledger_path,
        ": put it back (or pass --erasure_ledger) before opening the database, or erased "
        "clients' data could come back"));
  }
  // A ledger older than the database (a stale copy of it) would miss
  // erasures the database has seen: every destroyed key must be in it.
  if (!recorded.empty()) {
    absl::flat_hash_set<std::string> listed;
    for (const auto& e : ledger_->entries()) listed.insert(e.key_ref);
    ASSIGN_OR_RETURN(Statement destroyed, db.Prepare(
        "SELECT key_ref FROM client_keys WHERE destroy_time IS NOT NULL"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, destroyed.Step());
      if (!row) break;
      if (!listed.contains(destroyed.ColumnText(0))) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the erasure ledger at ", ledger_path, " is older than the database (it lacks "
            "an erasure the database holds): restore the current ledger before opening"));
      }
    }
  }
  if (recorded.empty()) {
    if (ledger_->id().empty()) {
      ASSIGN_OR_RETURN(ledger_, ErasureLedger::Create(ledger_path));
    }
    ASSIGN_OR_RETURN(Statement ins, db.Prepare(
        "INSERT INTO meta (key, value) VALUES ('erasure_ledger', ?1)"));
    ins.Bind(1, ledger_->id());
    RETURN_IF_ERROR(ins.Run());
  }
  return tx.Commit();
}

absl::Status SqlCaseStore::ApplyLedger(Database& db) {
  ASSIGN_OR_RETURN(sql::WriteTransaction tx, sql::WriteTransaction::Begin(db));
  int reapplied = 0;
  if (ledger_ == nullptr) return tx.Commit();
  for (const ErasureLedger::Entry& e : ledger_->entries()) {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT 1 FROM client_keys WHERE key_ref = ?1 AND tenant = ?2 AND wrapped IS NOT NULL"));
    q.Bind(1, e.key_ref).Bind(2, e.tenant);
    ASSIGN_OR_RETURN(bool live, q.Step());
    if (!live) continue;
    RETURN_IF_ERROR(ScrubKey(db, e.tenant, e.key_ref, e.time_micros));
    std::vector<std::pair<std::string, std::string>> cases;  // case id, client id
    {
      ASSIGN_OR_RETURN(Statement c, db.Prepare(
          "SELECT case_id, client_id FROM cases WHERE key_ref = ?1 ORDER BY case_id"));
      c.Bind(1, e.key_ref);
      while (true) {
        ASSIGN_OR_RETURN(bool row, c.Step());
        if (!row) break;
        cases.emplace_back(c.ColumnText(0), c.ColumnText(1));
      }
    }
    for (const auto& [id, client] : cases) {
      v1::CaseEvent event;
      event.set_type(v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
      event.set_actor("erasure-ledger");
      event.set_reason("erased again on open: the database was restored from before the erasure");
      event.add_changed_fields("client");
      RETURN_IF_ERROR(
          AppendEvent(db, e.tenant, id, client, event, absl::ToUnixMicros(clock_->Now()))
              .status());
    }
    ++reapplied;
  }
  RETURN_IF_ERROR(tx.Commit());
  if (reapplied > 0) {
    log::Warning("erasures_reapplied", {{"keys", reapplied}, {"ledger", ledger_->path()}});
    RETURN_IF_ERROR(db.ForgetOverwrittenVersions());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Case> SqlCaseStore::EraseIn(Database& db, const Actor& actor, const std::string& case_id,
                                 const std::string& reason) {
  ASSIGN_OR_RETURN(v1::Case c, Load(db, actor, case_id));
  if (c.client().has_erase_time()) return c;  // already erased: nothing more to do
  std::string key_ref;
  {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT key_ref FROM cases WHERE tenant = ?1 AND case_id = ?2"));
    q.Bind(1, actor.tenant).Bind(2, case_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return NotFound(case_id);
    key_ref = q.ColumnText(0);
  }
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  // The ledger first, durably: a backup restored later is erased again on
  // open, even if this transaction were lost.
  if (ledger_ != nullptr) RETURN_IF_ERROR(ledger_->Record(actor.tenant, key_ref, now));
  RETURN_IF_ERROR(ScrubKey(db, actor.tenant, key_ref, now));
  // Every case of the client records the erasure.
  std::vector<std::string> cases;
  {
    ASSIGN_OR_RETURN(Statement q, db.Prepare(
        "SELECT case_id FROM cases WHERE key_ref = ?1 ORDER BY case_id"));
    q.Bind(1, key_ref);
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      cases.push_back(q.ColumnText(0));
    }
  }
  for (const std::string& id : cases) {
    v1::CaseEvent event;
    event.set_type(v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
    event.set_actor(actor.key_id);
    event.set_reason(reason);
    event.add_changed_fields("client");
    RETURN_IF_ERROR(AppendEvent(db, actor.tenant, id, c.client().id(), event, now).status());
  }
  return Load(db, actor, case_id);
}

}  // namespace counsel::cases::sql_store
