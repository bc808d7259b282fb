// Delivery of the change feed to webhooks, inside case-svc (it owns the feed
// and its transactions).
//
// For each webhook, one change at a time, in feed order: a change is sent
// only after every change before it was delivered (or filtered out), so the
// events of a case, and of the tenant, never overtake each other. The
// position is stored after each delivery: a restart or kill -9 sends at
// most the change in flight again, under the same webhook-id. Workers read
// the feed through the store's readers and write to the webhook store only,
// so they never hold the case writers up.
//
//   auto feed = CaseStoreFeed(&case_store);
//   Deliverer d(&webhook_store, feed.get(), &cursors, sender.get(), clock, policy, {});
//   d.Start();            // worker threads
//   store.SetCommitListener([&] { d.Notify(); });
#ifndef COUNSEL_CASES_WEBHOOKS_DELIVERER_H_
#define COUNSEL_CASES_WEBHOOKS_DELIVERER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "case-svc/store/case_store.h"
#include "case-svc/webhooks/rules.h"
#include "case-svc/webhooks/sender.h"
#include "case-svc/webhooks/target.h"
#include "case-svc/webhooks/webhook_store.h"
#include "common/clock.h"
#include "common/feed_cursor.h"

namespace counsel::cases::webhooks {

// The feed as the deliverer reads it: a tenant's changes after `after`,
// oldest first, without free text.
class FeedReader {
 public:
  virtual ~FeedReader() = default;
  virtual absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const std::string& tenant, int64_t after, int limit) = 0;
};
// Reads the case store's feed (its reader pool, never its writer).
std::unique_ptr<FeedReader> CaseStoreFeed(CaseStore* cases);

struct DelivererOptions {
  int workers = 4;
  RetryPolicy retry;
  // Changes read from the feed per step.
  int batch = 64;
  // How long one send may hold a webhook (replicas share the work by
  // lease); renewed before each send, so longer than a send can take.
  absl::Duration lease = absl::Seconds(40);
  // How long one step may go on before the webhook goes to the back of the
  // queue (fairness between webhooks with backlogs).
  absl::Duration step_budget = absl::Seconds(2);
  // How often the list of webhooks is re-read (another replica's writes).
  absl::Duration rescan = absl::Seconds(10);
  // Changes older than this are past the feed's retention: skipped, as
  // ListChanges skips them.
  absl::Duration retention = absl::Hours(24 * 30);
  // Names this replica's leases; random when empty. `epoch` grows with each
  // start (WebhookStore::NextEpoch): a replica restarted under the same name
  // takes the leases of its earlier runs back at once, and those runs' late
  // writes are refused.
  std::string owner;
  int64_t epoch = 0;
  // Uniform in [0, 1): the jitter of retries. Tests inject a fixed one.
  std::function<double()> random;
};

// Thread-safe.
class Deliverer {
 public:
  // Does not take ownership.
  Deliverer(WebhookStore* webhooks, FeedReader* feed, const CursorCodec* cursors, Sender* sender,
            const Clock* clock, TargetPolicy policy, DelivererOptions options,
            Resolver resolver = SystemResolver());
  ~Deliverer();  // stops the workers

  void Start();
  // After a commit: webhooks with nothing to send look again.
  void Notify();
  // After a caller changed, replayed, created or deleted the webhook.
  void Refresh(const std::string& tenant, const std::string& id);

  struct StepResult {
    // When this webhook wants its next step; InfiniteFuture: when a change
    // arrives (or it is re-enabled).
    absl::Time next = absl::InfiniteFuture();
    int delivered = 0;
    // Disabled: no step until a Refresh.
    bool disabled = false;
  };
  // One step for one webhook: sends what is due, in order, until a failure,
  // the end of the feed or the step's budget. Tests call it directly.
  absl::StatusOr<StepResult> Step(const std::string& tenant, const std::string& id);

  // One signed `webhook.ping`, recorded with the deliveries (TestWebhook).
  v1::WebhookDelivery Ping(const StoredWebhook& w);

 private:
  struct Entry {
    // When to step next; InfiniteFuture: at the next commit.
    absl::Time due = absl::InfinitePast();
    bool busy = false;
    bool disabled = false;
    bool kicked = false;     // a commit came during the step
    bool refreshed = false;  // a caller changed it during the step
  };
  using Key = std::pair<std::string, std::string>;

  void Work();
  void Rescan();
  // Sends one message; fills the delivery record.
  OutboundResponse Send(const StoredWebhook& w, const std::string& message_id,
                        const std::string& body, absl::Time now);
  std::vector<std::string> SigningSecrets(const StoredWebhook& w, absl::Time now) const;

  WebhookStore* webhooks_;
  FeedReader* feed_;
  const CursorCodec* cursors_;
  Sender* sender_;
  const Clock* clock_;
  const TargetPolicy policy_;
  DelivererOptions options_;
  Resolver resolver_;
  LeaseOwner lease_owner_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_rescan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<std::thread> threads_;
};

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_DELIVERER_H_
