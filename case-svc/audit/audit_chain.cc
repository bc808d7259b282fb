#include "case-svc/audit/audit_chain.h"

#include <sodium.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace counsel::cases {

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

std::string AuditHead::ToString() const {
  return absl::StrCat(seq, ":", absl::BytesToHexString(mac));
}

absl::StatusOr<AuditHead> AuditHead::Parse(absl::string_view text) {
  const size_t colon = text.find(':');
  AuditHead head;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(text.substr(0, colon), &head.seq) ||
      head.seq < 0 || text.size() - colon - 1 != 64) {
    return InvalidArgumentField("expected_head", "must be {seq}:{64 hex digits}");
  }
  head.mac = absl::HexStringToBytes(text.substr(colon + 1));
  return head;
}

AuditChain::AuditChain(std::string key) : key_(std::move(key)) {
  if (sodium_init() < 0) abort();
}

std::string AuditChain::Mac(absl::string_view prev, int64_t seq,
                            absl::string_view canonical) const {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  const std::string header = absl::StrCat(prev.size(), ":");
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(header.data()), header.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(prev.data()), prev.size());
  const std::string body = absl::StrCat("|", seq, "|", canonical);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

namespace {

// Length-prefixed fields: no value can imitate a separator.
std::string Canonical(int64_t time, absl::string_view tenant, absl::string_view actor,
                      absl::string_view action, absl::string_view resource) {
  return absl::StrCat(time, "|", tenant.size(), ":", tenant, "|", actor.size(), ":", actor, "|",
                      action.size(), ":", action, "|", resource.size(), ":", resource);
}

}  // namespace

absl::StatusOr<AuditHead> AuditChain::Head(sqlite::Database& db) {
  ASSIGN_OR_RETURN(sqlite::Statement q,
                   db.Prepare("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"));
  ASSIGN_OR_RETURN(bool row, q.Step());
  AuditHead head;
  if (row) {
    head.seq = q.ColumnInt64(0);
    head.mac = std::string(q.ColumnBlob(1));
  }
  return head;
}

absl::Status AuditChain::Append(sqlite::Database& db, absl::string_view tenant,
                                absl::string_view actor, absl::string_view action,
                                absl::string_view resource, int64_t time_micros) {
  ASSIGN_OR_RETURN(AuditHead head, Head(db));
  const int64_t seq = head.seq + 1;
  const std::string mac = Mac(head.mac, seq, Canonical(time_micros, tenant, actor, action, resource));
  ASSIGN_OR_RETURN(sqlite::Statement ins, db.Prepare(
      "INSERT INTO audit_log (seq, time, tenant, actor, action, resource, mac) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  ins.Bind(1, seq).Bind(2, time_micros).Bind(3, tenant).Bind(4, actor).Bind(5, action)
      .Bind(6, resource).BindBlob(7, mac);
  return ins.Run();
}

absl::StatusOr<v1::VerifyAuditLogResponse> AuditChain::Verify(
    sqlite::Database& db, const std::optional<AuditHead>& expected) {
  v1::VerifyAuditLogResponse out;
  ASSIGN_OR_RETURN(sqlite::Statement q, db.Prepare(
      "SELECT seq, time, tenant, actor, action, resource, mac FROM audit_log ORDER BY seq"));
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
                                Canonical(q.ColumnInt64(1), q.ColumnText(2), q.ColumnText(3),
                                          q.ColumnText(4), q.ColumnText(5)));
    const absl::string_view stored = q.ColumnBlob(6);
    if (stored.size() != mac.size() ||
        sodium_memcmp(stored.data(), mac.data(), mac.size()) != 0) {
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
    ASSIGN_OR_RETURN(sqlite::Statement at,
                     db.Prepare("SELECT mac FROM audit_log WHERE seq = ?1"));
    at.Bind(1, expected->seq);
    ASSIGN_OR_RETURN(bool row, at.Step());
    if (expected->seq > 0 && (!row || at.ColumnBlob(0) != expected->mac)) {
      return fail(expected->seq, "the log does not pass through the expected head");
    }
  }
  out.set_ok(true);
  return out;
}

}  // namespace counsel::cases
