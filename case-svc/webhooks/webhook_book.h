// The rules of the webhook methods, between the gRPC adapter (which verifies
// the context and maps statuses) and the stores: names, validation, etags,
// idempotent creation, secrets and their rotation, paging, replay. Every
// method acts for one tenant; a webhook of another tenant does not exist.
#ifndef COUNSEL_CASES_WEBHOOKS_WEBHOOK_BOOK_H_
#define COUNSEL_CASES_WEBHOOKS_WEBHOOK_BOOK_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "case-svc/store/case_store.h"
#include "case-svc/webhooks/deliverer.h"
#include "case-svc/webhooks/target.h"
#include "case-svc/webhooks/webhook_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/executor.h"
#include "common/feed_cursor.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases::webhooks {

struct WebhookBookOptions {
  TargetPolicy policy;
  absl::Duration change_retention = absl::Hours(24 * 30);
  absl::Duration previous_secret_life = absl::Hours(24);
};

// Thread-safe.
class WebhookBook {
 public:
  // Does not take ownership. `page_key`: 32 bytes for page tokens.
  WebhookBook(WebhookStore* store, CaseStore* cases, Deliverer* deliverer,
              const CursorCodec* cursors, std::string page_key, const Clock* clock,
              WebhookBookOptions options, Resolver resolver = SystemResolver());

  absl::StatusOr<v1::Webhook> Create(const Actor& actor, const v1::CreateWebhookRequest& r);
  absl::StatusOr<v1::Webhook> Get(const Actor& actor, const v1::GetWebhookRequest& r);
  absl::StatusOr<v1::ListWebhooksResponse> List(const Actor& actor,
                                                const v1::ListWebhooksRequest& r);
  absl::StatusOr<v1::Webhook> Update(const Actor& actor, const v1::UpdateWebhookRequest& r);
  absl::Status Delete(const Actor& actor, const v1::DeleteWebhookRequest& r);
  absl::StatusOr<v1::Webhook> RotateSecret(const Actor& actor,
                                           const v1::RotateWebhookSecretRequest& r);
  absl::StatusOr<v1::ListWebhookDeliveriesResponse> ListDeliveries(
      const Actor& actor, const v1::ListWebhookDeliveriesRequest& r);
  absl::StatusOr<v1::Webhook> Replay(const Actor& actor, const v1::ReplayWebhookRequest& r);
  // The attempt may take the whole send timeout: it runs on the book's own
  // threads, and `done` is called there.
  void Test(const Actor& actor, const v1::TestWebhookRequest& r,
            std::function<void(absl::StatusOr<v1::WebhookDelivery>)> done);

 private:
  absl::StatusOr<StoredWebhook> Load(const Actor& actor, absl::string_view name,
                                     absl::string_view field);
  // Refuses what the URL policy refuses, resolving the host now.
  absl::Status CheckTarget(const v1::Webhook& w, absl::string_view prefix);
  v1::Webhook Present(const StoredWebhook& w, bool with_secret) const;
  // The answer to a create repeated with its request id.
  absl::StatusOr<v1::Webhook> Repeat(const StoredWebhook& prior, const std::string& digest) const;
  // Delivery starts again at `position`, due now.
  static void RestartDelivery(StoredWebhook& w, int64_t position);
  // A caller's write of `w` as read: Aborted when it changed meanwhile.
  absl::Status Save(StoredWebhook& w);

  WebhookStore* store_;
  CaseStore* cases_;
  Deliverer* deliverer_;
  const CursorCodec* cursors_;
  crypto::TokenSealer pages_;
  const Clock* clock_;
  WebhookBookOptions options_;
  Resolver resolver_;
  Executor pings_{2};
};

// `webhooks/{id}` → id; InvalidArgument naming `field` otherwise.
absl::StatusOr<std::string> ParseWebhookName(absl::string_view name, absl::string_view field);

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_WEBHOOK_BOOK_H_
