#include "gateway/keys/authenticator.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace counsel::gateway {

Authenticator::Authenticator(KeyStore* store, const Clock* clock, absl::Duration cache_ttl)
    : store_(store), clock_(clock), ttl_(cache_ttl) {
  if (sodium_init() < 0) abort();
}

absl::StatusOr<std::shared_ptr<const KeyRecord>> Authenticator::Find(
    const std::string& key_id) const {
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key_id);
    if (it != cache_.end() && now - it->second.fetched < ttl_) return it->second.record;
  }
  ASSIGN_OR_RETURN(std::optional<KeyRecord> found, store_->Lookup(key_id));
  std::shared_ptr<const KeyRecord> record =
      found ? std::make_shared<const KeyRecord>(std::move(*found)) : nullptr;
  absl::MutexLock lock(&mu_);
  // Unknown ids are cached too, so that guessing does not reach the
  // database more than once a second per id. The map is bounded by dropping
  // unknown and stale entries, never the live keys: a flood of invented ids
  // cannot evict every firm's key from the cache.
  if (cache_.size() > 100000) {
    absl::erase_if(cache_, [&](const auto& kv) {
      return kv.second.record == nullptr || now - kv.second.fetched >= ttl_;
    });
  }
  cache_[key_id] = Cached{record, now};
  return record;
}

absl::StatusOr<std::shared_ptr<const KeyRecord>> Authenticator::Authenticate(
    absl::string_view authorization, std::string* failed_key_id) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing API key: send `authorization: Bearer <key>`");
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization);
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("malformed authorization: expected `Bearer <key>`");
  }
  std::string key_id, secret;
  if (!ParseToken(absl::StripAsciiWhitespace(token), &key_id, &secret)) {
    return absl::UnauthenticatedError("malformed API key");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const KeyRecord> record, Find(key_id));
  const std::string hash = HashSecret(secret);
  sodium_memzero(secret.data(), secret.size());
  if (record && failed_key_id != nullptr) *failed_key_id = key_id;
  if (!record || record->secret_hash.size() != hash.size() ||
      sodium_memcmp(record->secret_hash.data(), hash.data(), hash.size()) != 0) {
    return absl::UnauthenticatedError("invalid API key");
  }
  const absl::Time now = clock_->Now();
  if (record->revoke_time && *record->revoke_time <= now) {
    return absl::UnauthenticatedError("API key revoked");
  }
  if (record->expire_time && *record->expire_time <= now) {
    return absl::UnauthenticatedError("API key expired");
  }
  if (failed_key_id != nullptr) failed_key_id->clear();
  return record;
}

}  // namespace counsel::gateway
