// Turns an `authorization: Bearer ck_...` header into the key's record.
// Records are cached for at most `cache_ttl` (default one second), so a
// revocation takes effect within that time without a database read per call.
#ifndef COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_
#define COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_

#include <memory>
#include <optional>

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

  // A browser session, from its cookie value: the record of the key it
  // stands for, checked as Authenticate checks a key (so a revoked key ends
  // its sessions within the cache's second). UNAUTHENTICATED for an unknown,
  // ended, idle (30 min) or expired (12 h) session.
  absl::StatusOr<std::shared_ptr<const KeyRecord>> AuthenticateSession(
      absl::string_view token) const;
  // Starts a session for a key already authenticated.
  absl::StatusOr<NewSession> StartSession(const KeyRecord& key) const;
  // Ends the session at once here (other replicas within the second).
  absl::Status EndSession(absl::string_view token) const;

  static constexpr absl::Duration kSessionIdle = absl::Minutes(30);
  static constexpr absl::Duration kSessionLifetime = absl::Hours(12);

 private:
  struct Cached {
    std::shared_ptr<const KeyRecord> record;  // null: no such key
    absl::Time fetched;
  };
  absl::StatusOr<std::shared_ptr<const KeyRecord>> Find(absl::string_view key_id) const;

  KeyStore* store_;
  const Clock* clock_;
  absl::Duration ttl_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
  struct CachedSession {
    std::optional<SessionRecord> record;
    absl::Time fetched;
  };
  // By token hash; bounded like the key cache.
  mutable absl::flat_hash_map<std::string, CachedSession> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_KEYS_AUTHENTICATOR_H_
