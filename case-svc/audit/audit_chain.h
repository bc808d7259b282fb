// The tamper-evident audit log: every mutation appends, in its own write
// transaction, an entry to its tenant's chain: an HMAC-SHA256 (keyed by the
// audit key, separate from the PII keys) over the previous entry's MAC, the
// entry's sequence number in its tenant, and the canonical entry. Editing,
// deleting or reordering entries breaks the MACs that follow; truncating the
// tail leaves a valid but shorter chain, caught only against a head
// exported earlier (`expected`).
//
// One chain per tenant: a firm verifies, and exports heads of, its own
// entries only, and learns nothing of another firm's (not even how many
// there are).
//
//   AuditChain chain(crypto::DeriveKey(audit_key, "audit-chain"));
//   RETURN_IF_ERROR(chain.Append(db, "firm-a", "key-1", "TYPE_CASE_CREATED", "cases/x", now));
//   ASSIGN_OR_RETURN(auto result, chain.Verify(db, "firm-a", std::nullopt));
#ifndef COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_
#define COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"
#include "common/sql.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

struct AuditHead {
  int64_t seq = 0;
  std::string mac;  // raw bytes; empty for an empty chain
  std::string ToString() const;  // "{seq}:{mac hex}"
  static absl::StatusOr<AuditHead> Parse(absl::string_view text);
};

// Thread-compatible; immutable after construction.
class AuditChain {
 public:
  explicit AuditChain(absl::string_view key);

  // Appends an entry to `tenant`'s chain inside the caller's open write
  // transaction.
  absl::Status Append(sql::Database& db, absl::string_view tenant, absl::string_view actor,
                      absl::string_view action, absl::string_view resource, int64_t time_micros);

  // Recomputes `tenant`'s chain. With `expected`, also checks the chain
  // still passes through that head (so a truncated tail is caught).
  absl::StatusOr<v1::VerifyAuditLogResponse> Verify(sql::Database& db,
                                                    absl::string_view tenant,
                                                    const std::optional<AuditHead>& expected);

  absl::StatusOr<AuditHead> Head(sql::Database& db, absl::string_view tenant);

  // Every tenant with a chain, in order (the operator's `audit verify`).
  absl::StatusOr<std::vector<std::string>> Tenants(sql::Database& db);

  // A migration step: moves a database's single, global chain (the first
  // schema) into per-tenant chains, after verifying it whole; refuses to
  // convert a chain that does not verify (FAILED_PRECONDITION).
  absl::Status AdoptGlobalLog(sql::Database& db);

 private:
  std::string Mac(absl::string_view prev, int64_t seq, absl::string_view canonical) const;
  crypto::Hmac hmac_;
};

// The chain's MAC key, derived from the store's audit key. The one
// derivation: the store and the offline verifier (`audit verify`) both call
// it, so they cannot drift apart.
std::string AuditChainKey(absl::string_view audit_key);

// The schema the chain needs (part of the case store's migrations), and the
// step that converts the first schema's global chain (with AdoptGlobalLog).
extern const char kAuditSchema[];
extern const char kAuditPerTenantSchema[];

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_AUDIT_AUDIT_CHAIN_H_
