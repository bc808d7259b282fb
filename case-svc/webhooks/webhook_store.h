// Storage of webhooks and their delivery attempts, behind a small interface
// (a PostgreSQL backend implements the same). The SQLite one keeps its own
// file beside the cases database, so delivery bookkeeping never takes the
// case writers' lock. URL, description, event types and secrets are sealed
// with a per-webhook data key wrapped by the master key (PiiVault): a URL
// often carries the receiver's own token.
#ifndef COUNSEL_CASES_WEBHOOKS_WEBHOOK_STORE_H_
#define COUNSEL_CASES_WEBHOOKS_WEBHOOK_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "case-svc/crypto/pii_vault.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases::webhooks {

struct StoredWebhook {
  std::string tenant;
  std::string id;
  // url, event_types, description: plaintext here, sealed at rest.
  v1::Webhook config;
  v1::Webhook::State state = v1::Webhook::STATE_ACTIVE;
  std::string secret;           // whsec_..., plaintext here
  std::string previous_secret;  // during a rotation
  absl::Time previous_expire = absl::InfinitePast();
  absl::Time create_time;
  absl::Time update_time;
  // Bumped by every write of a caller; the etag.
  int64_t revision = 1;
  // Bumped when a caller moves the position or restarts delivery (replay,
  // re-enabling): delivery progress of an older generation is dropped.
  int64_t generation = 1;
  // The last feed sequence number delivered or filtered out.
  int64_t position = 0;
  int failures = 0;
  absl::Time next_attempt = absl::InfinitePast();
  std::string last_error;
  std::string request_id;
  std::string request_digest;
};

// What one delivery step learned.
struct Progress {
  int64_t generation = 0;
  int64_t position = 0;
  int failures = 0;
  absl::Time next_attempt = absl::InfinitePast();
  std::string last_error;
  enum class State { kKeep, kActive, kFailing, kGone } state = State::kKeep;
};

// Who holds a webhook's delivery lease: a replica's name and the epoch of
// its current run (each start takes a new, larger one).
struct LeaseOwner {
  std::string name;
  int64_t epoch = 0;
};

// Thread-safe implementations required.
class WebhookStore {
 public:
  virtual ~WebhookStore() = default;

  virtual absl::Status Insert(const StoredWebhook& w) = 0;
  // NotFound when the tenant has no such webhook.
  virtual absl::StatusOr<StoredWebhook> Get(absl::string_view tenant, absl::string_view id) = 0;
  virtual absl::StatusOr<std::optional<StoredWebhook>> FindRequest(
      absl::string_view tenant, absl::string_view request_id) = 0;
  // By id, after `after_id`, at most `limit`.
  virtual absl::StatusOr<std::vector<StoredWebhook>> List(absl::string_view tenant,
                                                          absl::string_view after_id,
                                                          int limit) = 0;
  // Every webhook of every tenant, as (tenant, id).
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AllIds() = 0;
  // A caller's write: config, state, secrets, times and revision, when the
  // stored revision is `expected_revision` (Aborted otherwise). When the
  // generation differs from the stored one, the position, failures and next
  // attempt are written too.
  virtual absl::Status Replace(const StoredWebhook& w, int64_t expected_revision) = 0;
  // Deletes the webhook and its deliveries. NotFound when absent.
  virtual absl::Status Delete(absl::string_view tenant, absl::string_view id) = 0;

  // A new epoch for a starting replica, larger than every earlier one.
  virtual absl::StatusOr<int64_t> NextEpoch() = 0;
  // Takes or renews the right to deliver for this webhook until `until`,
  // unless another owner holds an unexpired lease (replicas share the
  // work); an earlier run of the same replica never keeps it. False when
  // someone else holds it.
  virtual absl::StatusOr<bool> Lease(absl::string_view tenant, absl::string_view id,
                                     const LeaseOwner& owner, absl::Time now,
                                     absl::Time until) = 0;
  // Gives the lease up (caught up: another replica may deliver at once).
  virtual absl::Status Release(absl::string_view tenant, absl::string_view id,
                               const LeaseOwner& owner) = 0;
  // Writes a step's outcome if `owner` still holds the lease and the
  // generation matches; false (and nothing written) otherwise. The position
  // never moves back. A caller's DISABLED is never overwritten by delivery,
  // and answers false too (the step stops).
  virtual absl::StatusOr<bool> RecordProgress(absl::string_view tenant, absl::string_view id,
                                              const LeaseOwner& owner, const Progress& p) = 0;
  // An attempt and the progress it made, in one transaction (the answer as
  // RecordProgress's).
  virtual absl::StatusOr<bool> RecordAttempt(absl::string_view tenant, absl::string_view id,
                                             const LeaseOwner& owner, v1::WebhookDelivery d,
                                             const Progress& p) = 0;
  // Appends an attempt (nothing when the webhook is gone); the oldest
  // beyond the newest 1000 per webhook are dropped.
  virtual absl::Status AddDelivery(absl::string_view tenant, absl::string_view id,
                                   v1::WebhookDelivery d) = 0;
  // Newest first, ids below `before` (0: from the newest), at most `limit`;
  // the second value is the id to continue below (0 at the end).
  virtual absl::StatusOr<std::pair<std::vector<v1::WebhookDelivery>, int64_t>> ListDeliveries(
      absl::string_view tenant, absl::string_view id, int64_t before, int limit) = 0;
};

// The store in the SQLite file `db`, or in the counsel_webhooks schema of
// the PostgreSQL database `db` names (shared by every case-svc replica),
// created and migrated on open.
absl::StatusOr<std::unique_ptr<WebhookStore>> OpenWebhookStore(const std::string& db,
                                                                const PiiVault* vault);

// Re-wraps every webhook data key under the vault's current master key
// (rotate-master-key); the number re-wrapped. A missing file is 0.
absl::StatusOr<int64_t> RewrapWebhookKeys(const std::string& path, const PiiVault& vault);

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_WEBHOOK_STORE_H_
