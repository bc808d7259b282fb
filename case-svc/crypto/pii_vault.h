// Sealing of personal data at rest (libsodium XChaCha20-Poly1305).
//
// Each client has a random data key; data keys are stored wrapped (sealed)
// by a master key from the key file. A sealed value carries the reference of
// its data key and is bound, as associated data, to its tenant, case and
// field, so a value copied into another row or field does not open.
//
//   PiiVault vault({{master_key_bytes}});
//   DataKey dk = PiiVault::NewDataKey();
//   std::string wrapped = vault.Wrap("firm-a", dk).value();
//   std::string sealed = PiiVault::Seal(dk, "13812345678", Binding{"firm-a", "case1", "phone"});
//   PiiVault::Open(dk, sealed, Binding{"firm-a", "case1", "phone"}) == "13812345678"
#ifndef COUNSEL_CASES_CRYPTO_PII_VAULT_H_
#define COUNSEL_CASES_CRYPTO_PII_VAULT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::cases {

// A data key and its reference (26 characters, random).
struct DataKey {
  std::string ref;
  std::string key;  // 32 bytes
  ~DataKey();
};

// Where a sealed value belongs.
struct Binding {
  absl::string_view tenant;
  absl::string_view case_id;
  absl::string_view field;
};

// Thread-safe (immutable).
class PiiVault {
 public:
  // `master_keys`: raw key-file bytes, the first one current. Older keys
  // still unwrap data keys until every key is re-wrapped.
  explicit PiiVault(std::vector<std::string> master_keys);
  ~PiiVault();

  // 16 hex characters naming the current master key (never the key).
  const std::string& current_key_id() const { return current_id_; }
  static std::string KeyIdOf(absl::string_view master_key);

  // Wraps a data key under the current master key; the result names the
  // master key it needs.
  std::string Wrap(absl::string_view tenant, const DataKey& key) const;
  // Unwraps; FailedPrecondition when the master key is not loaded,
  // DataLoss when the wrapped bytes do not open.
  absl::StatusOr<DataKey> Unwrap(absl::string_view tenant, absl::string_view ref,
                                 absl::string_view wrapped) const;
  // The master key id a wrapped key needs.
  static std::string WrappedKeyId(absl::string_view wrapped);

  static DataKey NewDataKey();
  static std::string Seal(const DataKey& key, absl::string_view plaintext, const Binding& binding);
  // DataLoss when the value does not open with this key and binding.
  static absl::StatusOr<std::string> Open(const DataKey& key, absl::string_view sealed,
                                          const Binding& binding);
  // The data key reference a sealed value names ("" if malformed).
  static std::string KeyRefOf(absl::string_view sealed);

 private:
  std::map<std::string, std::string> keys_;  // key id → 32-byte wrapping key
  std::string current_id_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_CRYPTO_PII_VAULT_H_
