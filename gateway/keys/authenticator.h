// Turns an `authorization: Bearer ck_...` header into the key's record.
// Records are cached for at most `cache_ttl` (default one second), so a
// revocation takes effect within that time without a database read per call.
#ifndef COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_
#define COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gateway/keys/key_store.h"

namespace counsel::gateway {

// Thread-safe.
class Authenticator {
 public:
  Authenticator(KeyStore* store, const Clock* clock, absl::Duration cache_ttl = absl::Seconds(1));

  // UNAUTHENTICATED when the header is missing or malformed, or the key is
  // unknown, wrong, revoked or expired. Messages never echo the key. The
  // record is shared with the cache (every call reads it; none copies it).
  // On failure, `*failed_key_id` (when given) is set to the presented key id
  // if that id names a key that exists (a wrong secret, or a revoked or
  // expired key), and left empty otherwise.
  absl::StatusOr<std::shared_ptr<const KeyRecord>> Authenticate(
      absl::string_view authorization, std::string* failed_key_id = nullptr) const;

 private:
  struct Cached {
    std::shared_ptr<const KeyRecord> record;  // null: no such key
    absl::Time fetched;
  };
  absl::StatusOr<std::shared_ptr<const KeyRecord>> Find(const std::string& key_id) const;

  KeyStore* store_;
  const Clock* clock_;
  absl::Duration ttl_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_
