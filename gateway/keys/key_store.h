// API keys: `ck_<id>_<secret>`. Only a SHA-256 of the secret is stored (the
// secret is 32 random bytes, so a slow hash adds nothing); the id is public
// and appears in logs.
//
//   ASSIGN_OR_RETURN(auto store, OpenKeyStore("var/gateway.db", clock));
//   ASSIGN_OR_RETURN(NewKey k, store->Create({.tenant = "firm-a",
//                                             .scopes = {"cases.read"}}));
//   std::cout << k.token;   // shown once, never stored
#ifndef COUNSEL_GATEWAY_KEYS_KEY_STORE_H_
#define COUNSEL_GATEWAY_KEYS_KEY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace counsel::gateway {

struct KeyRecord {
  std::string key_id;
  std::string tenant;
  std::string name;
  std::vector<std::string> scopes;
  // The firm's client id the key is bound to, if any.
  std::string client_id;
  absl::Time create_time;
  std::optional<absl::Time> expire_time;
  std::optional<absl::Time> revoke_time;
  // Token bucket: sustained calls per second and burst; 0 uses the defaults.
  double rate_per_second = 0;
  int burst = 0;
  // Streams the key may hold open at once; 0 uses the gateway's default.
  int max_streams = 0;
  // SHA-256 of the secret.
  std::string secret_hash;
};

struct KeySpec {
  std::string tenant;
  std::vector<std::string> scopes;
  std::string name;
  std::string client_id;
  std::optional<absl::Duration> ttl;
  double rate_per_second = 0;
  int burst = 0;
  int max_streams = 0;
};

struct NewKey {
  KeyRecord record;
  // The whole key to hand to the caller: ck_<id>_<secret>.
  std::string token;
};

// A browser session: it stands for one key (its tenant, scopes and client
// binding, no more), and is stored hashed, as keys are.
struct SessionRecord {
  std::string key_id;
  absl::Time create_time;
  absl::Time last_seen;   // written at most once a minute
  absl::Time expire_time;  // the absolute lifetime
  std::optional<absl::Time> end_time;
};

struct NewSession {
  SessionRecord record;
  // The cookie value handed to the browser; only its hash is stored.
  std::string token;
};

// Every scope a key may hold.
const std::vector<std::string>& KnownScopes();

// Splits "ck_<id>_<secret>" into views of `token`; false when malformed.
bool ParseToken(absl::string_view token, absl::string_view* key_id, absl::string_view* secret);
std::string HashSecret(absl::string_view secret);

// Thread-safe.
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // InvalidArgument for an empty tenant, unknown scopes or no scopes.
  virtual absl::StatusOr<NewKey> Create(const KeySpec& spec) = 0;
  virtual absl::StatusOr<std::vector<KeyRecord>> List(absl::string_view tenant) = 0;
  // NotFound for an unknown id; revoking twice keeps the first time.
  virtual absl::Status Revoke(absl::string_view key_id) = 0;
  virtual absl::StatusOr<std::optional<KeyRecord>> Lookup(absl::string_view key_id) = 0;

  // Sessions (the HTTP front's cookies), looked up by the SHA-256 of their
  // token.
  virtual absl::StatusOr<NewSession> CreateSession(absl::string_view key_id,
                                                   absl::Duration lifetime) = 0;
  virtual absl::StatusOr<std::optional<SessionRecord>> FindSession(
      absl::string_view token_hash) = 0;
  virtual absl::Status TouchSession(absl::string_view token_hash, absl::Time seen) = 0;
  // Ending twice keeps the first time.
  virtual absl::Status EndSession(absl::string_view token_hash) = 0;

  // A shared token bucket (`rate` per second, at most `burst`), for quotas
  // that hold across replicas: takes up to `want` whole tokens from it and
  // returns how many were taken. Unimplemented where the store is this
  // replica's alone (SQLite): quotas are then kept in memory.
  virtual absl::StatusOr<double> LeaseTokens(absl::string_view /*name*/, double /*rate*/,
                                             double /*burst*/, double /*want*/,
                                             absl::Time /*now*/) {
    return absl::UnimplementedError("quotas are this replica's own");
  }
};

// The key store in the SQLite file `db`, or in the counsel_gateway schema
// of the PostgreSQL database `db` names (postgresql://…), which replicas
// share: keys, revocations and sessions, and quotas (LeaseTokens).
absl::StatusOr<std::unique_ptr<KeyStore>> OpenKeyStore(const std::string& db,
                                                       const Clock* clock);

// Copies the SQLite key database `from` (at this program's schema) into
// schema counsel_gateway of the PostgreSQL database `to`: keys (their
// secrets' hashes as they are) and sessions, in one transaction; refuses a
// destination that holds any, and checks both tables' counts at both ends.
// Returns the rows moved per table.
absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> MoveKeysToPostgres(
    const std::string& from, const std::string& to);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_KEYS_KEY_STORE_H_
