// Storage of cases behind a small interface, so that a PostgreSQL backend
// can follow the SQLite one. Every method is scoped to one tenant; personal
// data is sealed inside the store and never reaches SQL in plaintext.
#ifndef COUNSEL_CASES_STORE_CASE_STORE_H_
#define COUNSEL_CASES_STORE_CASE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "case-svc/crypto/pii_vault.h"
#include "common/clock.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

struct NewCase {
  // Validated and normalised; name, state, severity and times are set by
  // the caller. Client fields are plaintext here and sealed by the store.
  v1::Case c;
  // Idempotency key (may be empty) and a digest of the request body.
  std::string request_id;
  std::string request_digest;
  // Key id of the caller, for the record.
  std::string actor;
};

// Thread-safe implementations required.
class CaseStore {
 public:
  virtual ~CaseStore() = default;

  // Stores a new case. When `request_id` was used before: the same digest
  // returns the case created then; a different digest is InvalidArgument.
  // An external_ref already used in the tenant is AlreadyExists with
  // ErrorInfo metadata naming the existing case.
  virtual absl::StatusOr<v1::Case> CreateCase(absl::string_view tenant, const NewCase& request) = 0;

  // NotFound when the tenant has no such case.
  virtual absl::StatusOr<v1::Case> GetCase(absl::string_view tenant, absl::string_view case_id) = 0;
};

// The SQLite store at `path`, created and migrated on open.
absl::StatusOr<std::unique_ptr<CaseStore>> OpenSqliteCaseStore(const std::string& path,
                                                               const PiiVault* vault,
                                                               const Clock* clock);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_CASE_STORE_H_
