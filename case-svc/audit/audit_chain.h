// The tamper-evident audit log: every mutation appends, in its own write
// transaction, an entry chained by HMAC-SHA256 over (previous MAC, sequence,
// canonical entry), keyed by the audit key (separate from the PII keys).
// Editing, deleting, reordering or truncating entries breaks the chain;
// truncation of the tail is caught against a head exported earlier.
#ifndef COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_
#define COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sqlite.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

struct AuditHead {
  int64_t seq = 0;
  std::string mac;  // raw bytes; empty for an empty log
  std::string ToString() const;  // "{seq}:{mac hex}"
  static absl::StatusOr<AuditHead> Parse(absl::string_view text);
};

// Thread-compatible; immutable after construction.
class AuditChain {
 public:
  explicit AuditChain(std::string key);

  // Appends an entry inside the caller's open write transaction.
  absl::Status Append(sqlite::Database& db, absl::string_view tenant, absl::string_view actor,
                      absl::string_view action, absl::string_view resource, int64_t time_micros);

  // Recomputes the whole chain. With `expected`, also checks the log still
  // reaches that head (so a truncated tail is caught).
  absl::StatusOr<v1::VerifyAuditLogResponse> Verify(sqlite::Database& db,
                                                    const std::optional<AuditHead>& expected);

  absl::StatusOr<AuditHead> Head(sqlite::Database& db);

 private:
  std::string Mac(absl::string_view prev, int64_t seq, absl::string_view canonical) const;
  std::string key_;
};

// The schema the chain needs (part of the case store's migrations).
extern const char kAuditSchema[];

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_
