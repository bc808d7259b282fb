#include "case-svc/audit/audit_chain.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace counsel::cases {

// The first schema: one chain over every tenant (converted by the step below).
const char kAuditSchema[] = R"sql(
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  tenant    TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  resource  TEXT NOT NULL,
  mac       BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

const char kAuditPerTenantSchema[] = R"sql(
ALTER TABLE audit_log RENAME TO audit_log_global;
DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
CREATE TABLE audit_log (
  tenant    TEXT NOT NULL,
  seq       INTEGER NOT NULL,   -- 1, 2, ... within the tenant
  time      INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  resource  TEXT NOT NULL,
  mac       BLOB NOT NULL,
  PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

std::string AuditHead::ToString() const {
  return absl::StrCat(seq, ":", crypto::HexEncode(mac));
}

absl::StatusOr<AuditHead> AuditHead::Parse(absl::string_view text) {
  const size_t colon = text.find(':');
  AuditHead head;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(text.substr(0, colon), &head.seq) ||
      head.seq < 0 || text.size() - colon - 1 != 64 ||
      !crypto::HexDecode(text.substr(colon + 1), &head.mac)) {
    return InvalidArgumentField("expected_head", "must be {seq}:{64 hex digits}");
  }
  return head;
}

AuditChain::AuditChain(absl::string_view key) : hmac_(key) {}

std::string AuditChain::Mac(absl::string_view prev, int64_t seq,
                            absl::string_view canonical) const {
  return hmac_.Sign(absl::StrCat(prev.size(), ":", prev, "|", seq, "|", canonical));
}

namespace {

// Length-prefixed fields: no value can imitate a separator.
std::string Canonical(int64_t time, absl::string_view tenant, absl::string_view actor,
                      absl::string_view action, absl::string_view resource) {
  return absl::StrCat(time, "|", tenant.size(), ":", tenant, "|", actor.size(), ":", actor, "|",
                      action.size(), ":", action, "|", resource.size(), ":", resource);
}

}  // namespace

absl::StatusOr<AuditHead> AuditChain::Head(sql::Database& db, absl::string_view tenant) {
  ASSIGN_OR_RETURN(sql::Statement q, db.Prepare(
      "SELECT seq, mac FROM audit_log WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1"));
  q.Bind(1, tenant);
  ASSIGN_OR_RETURN(bool row, q.Step());
  AuditHead head;
  if (row) {
    head.seq = q.ColumnInt64(0);
    head.mac = std::string(q.ColumnBlob(1));
  }
  return head;
}

absl::Status AuditChain::Append(sql::Database& db, absl::string_view tenant,
                                absl::string_view actor, absl::string_view action,
                                absl::string_view resource, int64_t time_micros) {
  ASSIGN_OR_RETURN(AuditHead head, Head(db, tenant));
  const int64_t seq = head.seq + 1;
  const std::string mac = Mac(head.mac, seq, Canonical(time_micros, tenant, actor, action, resource));
  ASSIGN_OR_RETURN(sql::Statement ins, db.Prepare(
      "INSERT INTO audit_log (tenant, seq, time, actor, action, resource, mac) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  ins.Bind(1, tenant).Bind(2, seq).Bind(3, time_micros).Bind(4, actor).Bind(5, action)
      .Bind(6, resource).BindBlob(7, mac);
  return ins.Run();
}

absl::StatusOr<v1::VerifyAuditLogResponse> AuditChain::Verify(
    sql::Database& db, absl::string_view tenant, const std::optional<AuditHead>& expected) {
  v1::VerifyAuditLogResponse out;
  ASSIGN_OR_RETURN(sql::Statement q, db.Prepare(
      "SELECT seq, time, actor, action, resource, mac FROM audit_log WHERE tenant = ?1 "
      "ORDER BY seq"));
  q.Bind(1, tenant);
  std::string prev;
  int64_t want = 1;
  auto fail = [&](int64_t seq, absl::string_view problem) {
    out.set_ok(false);
    out.set_first_bad_sequence(seq);
    out.set_problem(std::string(problem));
    return out;
  };
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    const int64_t seq = q.ColumnInt64(0);
    if (seq != want) return fail(want, "an entry is missing or out of order");
    const std::string mac = Mac(prev, seq,
                                Canonical(q.ColumnInt64(1), tenant, q.ColumnText(2),
                                          q.ColumnText(3), q.ColumnText(4)));
    if (!crypto::ConstantTimeEquals(q.ColumnBlob(5), mac)) {
      return fail(seq, "the entry does not match its MAC: it was changed");
    }
    prev = mac;
    out.set_entries_checked(out.entries_checked() + 1);
    ++want;
  }
  AuditHead head{want - 1, prev};
  out.set_head(head.ToString());
  if (expected) {
    if (head.seq < expected->seq) {
      return fail(head.seq + 1, "the log ends before the expected head: it was truncated");
    }
    // The entry at the expected sequence must carry the expected MAC.
    ASSIGN_OR_RETURN(sql::Statement at, db.Prepare(
        "SELECT mac FROM audit_log WHERE tenant = ?1 AND seq = ?2"));
    at.Bind(1, tenant).Bind(2, expected->seq);
    ASSIGN_OR_RETURN(bool row, at.Step());
    if (expected->seq > 0 && (!row || !crypto::ConstantTimeEquals(at.ColumnBlob(0), expected->mac))) {
      return fail(expected->seq, "the log does not pass through the expected head");
    }
  }
  out.set_ok(true);
  return out;
}

absl::StatusOr<std::vector<std::string>> AuditChain::Tenants(sql::Database& db) {
  ASSIGN_OR_RETURN(sql::Statement q,
                   db.Prepare("SELECT DISTINCT tenant FROM audit_log ORDER BY tenant"));
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(q.ColumnText(0));
  }
  return out;
}

absl::Status AuditChain::AdoptGlobalLog(sql::Database& db) {
  ASSIGN_OR_RETURN(sql::Statement q, db.Prepare(
      "SELECT seq, time, tenant, actor, action, resource, mac FROM audit_log_global "
      "ORDER BY seq"));
  std::string prev;
  int64_t want = 1;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    const int64_t seq = q.ColumnInt64(0);
    const std::string tenant = q.ColumnText(2), actor = q.ColumnText(3),
                      action = q.ColumnText(4), resource = q.ColumnText(5);
    const int64_t time = q.ColumnInt64(1);
    const std::string mac = Mac(prev, seq, Canonical(time, tenant, actor, action, resource));
    if (seq != want || !crypto::ConstantTimeEquals(q.ColumnBlob(6), mac)) {
      // Converting would launder an edit into a fresh, valid chain.
      return absl::FailedPreconditionError(absl::StrCat(
          "the audit log does not verify at entry ", want,
          ": investigate (counsel-cases audit verify with the previous release) before "
          "upgrading"));
    }
    RETURN_IF_ERROR(Append(db, tenant, actor, action, resource, time));
    prev = mac;
    ++want;
  }
  // Nothing of the global order (another firm's activity) stays behind.
  return db.Exec("DROP TABLE audit_log_global");
}

std::string AuditChainKey(absl::string_view audit_key) {
  return crypto::DeriveKey(audit_key, "audit-chain");
}

}  // namespace counsel::cases
