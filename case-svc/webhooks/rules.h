// The rules of webhooks that need no I/O: what a webhook may say, which
// changes it wants, what a delivery carries, what an answer means, and when
// to try again. Unit-tested on their own (rules_test.cc).
#ifndef COUNSEL_CASES_WEBHOOKS_RULES_H_
#define COUNSEL_CASES_WEBHOOKS_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "case-svc/webhooks/target.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases::webhooks {

// `case.created`, `case.updated`, `case.state_changed`,
// `case.checklist_item_updated`, `case.evidence_added`, `case.note_added`,
// `case.client_data_erased`; "" for an unknown type.
std::string EventTypeName(v1::CaseEvent::Type type);
const std::vector<std::string>& EventTypeNames();
constexpr absl::string_view kPingType = "webhook.ping";

// What a caller may write: url (ParseWebhookUrl), event_types (known names,
// no repeats, at most 16), description (at most 500 bytes of UTF-8), state
// (ACTIVE or DISABLED only; unset reads as ACTIVE). InvalidArgument naming
// the field (prefixed with `prefix`).
absl::Status ValidateWebhook(const v1::Webhook& w, const TargetPolicy& policy,
                             absl::string_view prefix = "webhook.");
// The same but the URL.
absl::Status ValidateWebhookFields(const v1::Webhook& w, absl::string_view prefix = "webhook.");

// Whether the webhook delivers changes of this type.
bool Wants(const v1::Webhook& w, v1::CaseEvent::Type type);

// `webhook-id`: the same for every attempt at one change of one webhook,
// different across webhooks and changes.
std::string MessageId(absl::string_view webhook_id, int64_t seq);

// The JSON body (v1::WebhookEvent) for a change. Ids and field names only:
// the event's free-text reason and every personal value stay out. The same
// change and cursor always give the same bytes.
std::string ChangePayload(absl::string_view tenant, const v1::Change& change,
                          absl::string_view cursor);
std::string PingPayload(absl::string_view tenant, absl::string_view webhook_name,
                        absl::Time now);

enum class Verdict {
  kDelivered,  // 2xx
  kGone,       // 410: the receiver asks us to stop; the webhook is disabled
  kRetry,      // anything else, no answer and timeouts included
};
Verdict Judge(int status_code);

struct RetryPolicy {
  absl::Duration initial = absl::Seconds(5);
  absl::Duration max = absl::Hours(1);
  // Consecutive failures after which the webhook shows FAILING.
  int failing_after = 5;
};

// The wait after the `failures`-th failure in a row (1-based): initial ×
// 2^(failures-1), capped at max, then scaled into [½, 1] of itself by
// `unit` (uniform in [0, 1)) so receivers recovering from one outage are
// not hit by every sender at once. There is no last attempt: a webhook
// never expires.
absl::Duration RetryDelay(int failures, const RetryPolicy& policy, double unit);

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_RULES_H_
