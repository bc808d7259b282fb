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
    absl::string_view key_id) const {
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
  cache_[std::string(key_id)] = Cached{record, now};
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
  // Views of the caller's header: the secret is hashed where it arrived,
  // never copied.
  absl::string_view key_id, secret;
  if (!ParseToken(absl::StripAsciiWhitespace(token), &key_id, &secret)) {
    return absl::UnauthenticatedError("malformed API key");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const KeyRecord> record, Find(key_id));
  const std::string hash = HashSecret(secret);
  if (record && failed_key_id != nullptr) *failed_key_id = std::string(key_id);
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

absl::StatusOr<std::shared_ptr<const KeyRecord>> Authenticator::AuthenticateSession(
    absl::string_view token) const {
  if (!absl::StartsWith(token, "cs_") || token.size() > 100) {
    return absl::UnauthenticatedError("not a session: sign in again");
  }
  const std::string hash = HashSecret(token);
  const absl::Time now = clock_->Now();
  std::optional<SessionRecord> session;
  bool cached = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(hash);
    if (it != sessions_.end() && now - it->second.fetched < ttl_) {
      session = it->second.record;
      cached = true;
    }
  }
  if (!cached) {
    ASSIGN_OR_RETURN(session, store_->FindSession(hash));
    absl::MutexLock lock(&mu_);
    if (sessions_.size() > 100000) {
      absl::erase_if(sessions_, [&](const auto& kv) { return now - kv.second.fetched >= ttl_; });
    }
    sessions_[hash] = CachedSession{session, now};
  }
  if (!session || session->end_time) {
    return absl::UnauthenticatedError("the session has ended: sign in again");
  }
  if (now >= session->expire_time) {
    return absl::UnauthenticatedError("the session has expired: sign in again");
  }
  if (now - session->last_seen >= kSessionIdle) {
    return absl::UnauthenticatedError("the session was idle too long: sign in again");
  }
  // Seen again: written at most once a minute (every replica reads it).
  if (now - session->last_seen >= absl::Minutes(1)) {
    RETURN_IF_ERROR(store_->TouchSession(hash, now));
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(hash);
    if (it != sessions_.end() && it->second.record) it->second.record->last_seen = now;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const KeyRecord> record, Find(session->key_id));
  if (!record || (record->revoke_time && *record->revoke_time <= now) ||
      (record->expire_time && *record->expire_time <= now)) {
    return absl::UnauthenticatedError("the session's key is no longer valid: sign in again");
  }
  return record;
}

absl::StatusOr<NewSession> Authenticator::StartSession(const KeyRecord& key) const {
  absl::Duration lifetime = kSessionLifetime;
  // A session never outlives its key.
  if (key.expire_time) lifetime = std::min(lifetime, *key.expire_time - clock_->Now());
  return store_->CreateSession(key.key_id, lifetime);
}

absl::Status Authenticator::EndSession(absl::string_view token) const {
  const std::string hash = HashSecret(token);
  RETURN_IF_ERROR(store_->EndSession(hash));
  absl::MutexLock lock(&mu_);
  sessions_.erase(hash);
  return absl::OkStatus();
}

}  // namespace counsel::gateway
