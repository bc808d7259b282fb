#include "case-svc/webhooks/webhook_book.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "case-svc/change_feed.h"
#include "case-svc/webhooks/rules.h"
#include "case-svc/webhooks/signing.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases::webhooks {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPage = 50;
constexpr int kMaxWebhookPage = 100;
constexpr int kMaxDeliveryPage = 200;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::string Etag(int64_t revision) { return absl::StrCat("w", revision); }

absl::Status RequireFirm(const Actor& actor) {
  if (!actor.client_id.empty()) {
    return absl::PermissionDeniedError(
        "webhooks belong to the firm: a key bound to one client cannot manage them");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int requested, int max) {
  if (requested < 0) return InvalidArgumentField("page_size", "must not be negative");
  return requested == 0 ? kDefaultPage : std::min(requested, max);
}

// What a create request asks for, for its request_id: the same id with
// another body is refused.
std::string RequestDigest(const v1::Webhook& w) {
  v1::Webhook asked;
  asked.set_url(w.url());
  *asked.mutable_event_types() = w.event_types();
  asked.set_description(w.description());
  asked.set_state(w.state());
  return crypto::Sha256(asked.SerializeAsString());
}

}  // namespace

absl::StatusOr<std::string> ParseWebhookName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, "webhooks/") || id.empty() || id.size() > 64) {
    return InvalidArgumentField(field, "must be webhooks/{webhook}");
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      return InvalidArgumentField(field, "must be webhooks/{webhook}");
    }
  }
  return std::string(id);
}

WebhookBook::WebhookBook(WebhookStore* store, CaseStore* cases, Deliverer* deliverer,
                         const CursorCodec* cursors, std::string page_key, const Clock* clock,
                         WebhookBookOptions options, Resolver resolver)
    : store_(store), cases_(cases), deliverer_(deliverer), cursors_(cursors),
      pages_(crypto::DeriveKey(page_key, "webhook-page-token")), clock_(clock),
      options_(options), resolver_(std::move(resolver)) {}

absl::Status WebhookBook::CheckTarget(const v1::Webhook& w, absl::string_view prefix) {
  RETURN_IF_ERROR(ValidateWebhook(w, options_.policy, prefix));
  const std::string field = absl::StrCat(prefix, "url");
  ASSIGN_OR_RETURN(WebhookUrl url, ParseWebhookUrl(w.url(), options_.policy, field));
  auto address = ResolveTarget(url, options_.policy, resolver_, field);
  if (absl::IsUnavailable(address.status())) {
    return InvalidArgumentField(field, "has a host name that does not resolve");
  }
  return address.status();
}

v1::Webhook WebhookBook::Present(const StoredWebhook& w, bool with_secret) const {
  v1::Webhook out;
  out.set_name(absl::StrCat("webhooks/", w.id));
  out.set_url(w.config.url());
  *out.mutable_event_types() = w.config.event_types();
  out.set_description(w.config.description());
  out.set_state(w.state);
  *out.mutable_create_time() = ToProto(w.create_time);
  *out.mutable_update_time() = ToProto(w.update_time);
  out.set_etag(Etag(w.revision));
  if (with_secret) out.set_secret(w.secret);
  out.set_cursor(cursors_->Encode(w.tenant, "", w.position));
  out.set_consecutive_failures(w.failures);
  if (w.failures > 0 && w.next_attempt != absl::InfinitePast() &&
      w.state != v1::Webhook::STATE_DISABLED) {
    *out.mutable_next_attempt_time() = ToProto(w.next_attempt);
  }
  out.set_last_error(w.last_error);
  if (!w.previous_secret.empty() && w.previous_expire > clock_->Now()) {
    *out.mutable_previous_secret_expire_time() = ToProto(w.previous_expire);
  }
  return out;
}

absl::StatusOr<StoredWebhook> WebhookBook::Load(const Actor& actor, absl::string_view name,
                                                absl::string_view field) {
  RETURN_IF_ERROR(RequireFirm(actor));
  ASSIGN_OR_RETURN(std::string id, ParseWebhookName(name, field));
  auto w = store_->Get(actor.tenant, id);
  if (absl::IsNotFound(w.status())) {
    return absl::NotFoundError(absl::StrCat("webhooks/", id, " not found"));
  }
  return w;
}

absl::StatusOr<v1::Webhook> WebhookBook::Create(const Actor& actor,
                                                const v1::CreateWebhookRequest& r) {
  RETURN_IF_ERROR(RequireFirm(actor));
  if (!r.has_webhook()) return InvalidArgumentField("webhook", "is required");
  if (r.request_id().size() > 128) {
    return InvalidArgumentField("request_id", "is longer than 128 bytes");
  }
  const std::string digest = RequestDigest(r.webhook());
  if (!r.request_id().empty()) {
    ASSIGN_OR_RETURN(auto prior, store_->FindRequest(actor.tenant, r.request_id()));
    if (prior) return Repeat(*prior, digest);
  }
  RETURN_IF_ERROR(CheckTarget(r.webhook(), "webhook."));
  ASSIGN_OR_RETURN(int64_t latest, cases_->LatestSeq(actor.tenant));
  const absl::Time now = clock_->Now();
  StoredWebhook w;
  w.tenant = actor.tenant;
  w.id = RandomId(10);
  w.config.set_url(r.webhook().url());
  *w.config.mutable_event_types() = r.webhook().event_types();
  w.config.set_description(r.webhook().description());
  w.state = r.webhook().state() == v1::Webhook::STATE_DISABLED ? v1::Webhook::STATE_DISABLED
                                                         : v1::Webhook::STATE_ACTIVE;
  w.secret = NewWebhookSecret();
  w.create_time = w.update_time = now;
  // From now on: a new webhook receives the changes after its creation
  // (ReplayWebhook sends older ones).
  w.position = latest;
  w.request_id = r.request_id();
  w.request_digest = digest;
  const absl::Status inserted = store_->Insert(w);
  if (absl::IsAlreadyExists(inserted) && !w.request_id.empty()) {
    // The same request, concurrently: answer as the one that won.
    ASSIGN_OR_RETURN(auto prior, store_->FindRequest(actor.tenant, r.request_id()));
    if (prior) return Repeat(*prior, digest);
  }
  RETURN_IF_ERROR(inserted);
  if (deliverer_ != nullptr) deliverer_->Refresh(w.tenant, w.id);
  return Present(w, /*with_secret=*/true);
}

absl::StatusOr<v1::Webhook> WebhookBook::Repeat(const StoredWebhook& prior,
                                                const std::string& digest) const {
  if (prior.request_digest != digest) {
    return InvalidArgumentField("request_id", "was used with another request body");
  }
  // The secret again only while it is the one that first answer carried,
  // and for a day: a request id seen in a log does not yield a secret
  // rotated since.
  const bool first_secret = prior.previous_secret.empty() &&
                            clock_->Now() - prior.create_time < absl::Hours(24);
  return Present(prior, first_secret);
}

void WebhookBook::RestartDelivery(StoredWebhook& w, int64_t position) {
  // A new generation: progress a step of the old one writes is dropped.
  w.generation += 1;
  w.position = position;
  w.failures = 0;
  w.next_attempt = absl::InfinitePast();
  w.last_error.clear();
}

absl::Status WebhookBook::Save(StoredWebhook& w) {
  const int64_t read_revision = w.revision;
  w.revision = read_revision + 1;
  w.update_time = clock_->Now();
  RETURN_IF_ERROR(store_->Replace(w, read_revision));
  if (deliverer_ != nullptr) deliverer_->Refresh(w.tenant, w.id);
  return absl::OkStatus();
}

absl::StatusOr<v1::Webhook> WebhookBook::Get(const Actor& actor, const v1::GetWebhookRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.name(), "name"));
  return Present(w, false);
}

absl::StatusOr<v1::ListWebhooksResponse> WebhookBook::List(const Actor& actor,
                                                           const v1::ListWebhooksRequest& r) {
  RETURN_IF_ERROR(RequireFirm(actor));
  ASSIGN_OR_RETURN(int size, PageSize(r.page_size(), kMaxWebhookPage));
  const std::string context = absl::StrCat("webhooks|", actor.tenant);
  std::string after;
  if (!r.page_token().empty()) {
    std::string raw;
    if (!Base32Decode(r.page_token(), &raw)) {
      return InvalidArgumentField("page_token", "is not a token this service issued");
    }
    auto opened = pages_.Open(raw, context);
    if (!opened.ok()) return InvalidArgumentField("page_token", "is not a token this service issued");
    after = *opened;
  }
  ASSIGN_OR_RETURN(auto rows, store_->List(actor.tenant, after, size + 1));
  v1::ListWebhooksResponse out;
  for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
    *out.add_webhooks() = Present(rows[i], false);
  }
  if (static_cast<int>(rows.size()) > size) {
    out.set_next_page_token(Base32Encode(pages_.Seal(rows[size - 1].id, context)));
  }
  return out;
}

absl::StatusOr<v1::Webhook> WebhookBook::Update(const Actor& actor,
                                                const v1::UpdateWebhookRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.webhook().name(), "webhook.name"));
  if (r.update_mask().paths().empty()) {
    return InvalidArgumentField("update_mask", "is required (url, description, event_types, state)");
  }
  if (!r.webhook().etag().empty() && r.webhook().etag() != Etag(w.revision)) {
    return absl::AbortedError("the webhook changed since it was read (etag mismatch)");
  }
  const bool was_disabled = w.state == v1::Webhook::STATE_DISABLED;
  const std::string old_url = w.config.url();
  v1::Webhook merged;
  merged.set_url(w.config.url());
  *merged.mutable_event_types() = w.config.event_types();
  merged.set_description(w.config.description());
  merged.set_state(w.state == v1::Webhook::STATE_DISABLED ? v1::Webhook::STATE_DISABLED : v1::Webhook::STATE_ACTIVE);
  for (const std::string& path : r.update_mask().paths()) {
    if (path == "url") {
      merged.set_url(r.webhook().url());
    } else if (path == "description") {
      merged.set_description(r.webhook().description());
    } else if (path == "event_types" || path == "eventTypes") {
      *merged.mutable_event_types() = r.webhook().event_types();
    } else if (path == "state") {
      if (r.webhook().state() != v1::Webhook::STATE_ACTIVE &&
          r.webhook().state() != v1::Webhook::STATE_DISABLED) {
        return InvalidArgumentField("webhook.state", "may be set to STATE_ACTIVE or STATE_DISABLED only");
      }
      merged.set_state(r.webhook().state());
    } else {
      return InvalidArgumentField("update_mask",
                                  absl::StrCat("names a field that cannot be updated; the fields "
                                               "are url, description, event_types, state"));
    }
  }
  bool url_changed = false;
  for (const std::string& path : r.update_mask().paths()) url_changed |= path == "url";
  // The stored URL is not resolved again for other edits: a lapsed domain
  // or a stricter policy must not keep a caller from disabling it.
  if (url_changed) {
    RETURN_IF_ERROR(CheckTarget(merged, "webhook."));
  } else {
    RETURN_IF_ERROR(ValidateWebhookFields(merged, "webhook."));
  }
  w.config.set_url(merged.url());
  *w.config.mutable_event_types() = merged.event_types();
  w.config.set_description(merged.description());
  const bool enabling = was_disabled && merged.state() == v1::Webhook::STATE_ACTIVE;
  if (merged.state() == v1::Webhook::STATE_DISABLED) {
    w.state = v1::Webhook::STATE_DISABLED;
  } else if (was_disabled) {
    w.state = v1::Webhook::STATE_ACTIVE;
  }
  // Re-enabled, or pointed elsewhere: the next attempt is due now.
  if (enabling || merged.url() != old_url) RestartDelivery(w, w.position);
  RETURN_IF_ERROR(Save(w));
  ASSIGN_OR_RETURN(StoredWebhook stored, store_->Get(w.tenant, w.id));
  return Present(stored, false);
}

absl::Status WebhookBook::Delete(const Actor& actor, const v1::DeleteWebhookRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.name(), "name"));
  if (!r.etag().empty() && r.etag() != Etag(w.revision)) {
    return absl::AbortedError("the webhook changed since it was read (etag mismatch)");
  }
  RETURN_IF_ERROR(store_->Delete(w.tenant, w.id));
  if (deliverer_ != nullptr) deliverer_->Refresh(w.tenant, w.id);
  return absl::OkStatus();
}

absl::StatusOr<v1::Webhook> WebhookBook::RotateSecret(const Actor& actor,
                                                      const v1::RotateWebhookSecretRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.name(), "name"));
  w.previous_secret = w.secret;
  w.previous_expire = clock_->Now() + options_.previous_secret_life;
  w.secret = NewWebhookSecret();
  RETURN_IF_ERROR(Save(w));
  return Present(w, /*with_secret=*/true);
}

absl::StatusOr<v1::ListWebhookDeliveriesResponse> WebhookBook::ListDeliveries(
    const Actor& actor, const v1::ListWebhookDeliveriesRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.parent(), "parent"));
  ASSIGN_OR_RETURN(int size, PageSize(r.page_size(), kMaxDeliveryPage));
  const std::string context = absl::StrCat("deliveries|", actor.tenant, "|", w.id);
  int64_t before = 0;
  if (!r.page_token().empty()) {
    std::string raw;
    auto opened = Base32Decode(r.page_token(), &raw) ? pages_.Open(raw, context)
                                                     : absl::InvalidArgumentError("");
    if (!opened.ok() || !absl::SimpleAtoi(*opened, &before) || before <= 0) {
      return InvalidArgumentField("page_token", "is not a token this service issued");
    }
  }
  ASSIGN_OR_RETURN(auto page, store_->ListDeliveries(w.tenant, w.id, before, size));
  v1::ListWebhookDeliveriesResponse out;
  for (auto& d : page.first) *out.add_deliveries() = std::move(d);
  if (page.second > 0) {
    out.set_next_page_token(Base32Encode(pages_.Seal(absl::StrCat(page.second), context)));
  }
  return out;
}

absl::StatusOr<v1::Webhook> WebhookBook::Replay(const Actor& actor,
                                                const v1::ReplayWebhookRequest& r) {
  ASSIGN_OR_RETURN(StoredWebhook w, Load(actor, r.name(), "name"));
  int64_t seq = 0;
  if (!r.cursor().empty()) {
    ASSIGN_OR_RETURN(seq, cursors_->Decode(actor.tenant, "", r.cursor(), "cursor"));
    RETURN_IF_ERROR(CheckResumable(*cases_, actor.tenant, seq,
                                   clock_->Now() - options_.change_retention, "cursor"));
  }
  if (w.state == v1::Webhook::STATE_DISABLED) {
    return FailedPreconditionViolation("STATE", "name",
                                       "the webhook is STATE_DISABLED; set state STATE_ACTIVE first");
  }
  RestartDelivery(w, seq);
  RETURN_IF_ERROR(Save(w));
  return Present(w, false);
}

void WebhookBook::Test(const Actor& actor, const v1::TestWebhookRequest& r,
                       std::function<void(absl::StatusOr<v1::WebhookDelivery>)> done) {
  auto w = Load(actor, r.name(), "name");
  if (!w.ok()) {
    done(w.status());
    return;
  }
  if (deliverer_ == nullptr) {
    done(absl::UnimplementedError("webhook delivery is not running"));
    return;
  }
  pings_.Schedule([this, w = *std::move(w), done = std::move(done)] {
    done(deliverer_->Ping(w));
  });
}

}  // namespace counsel::cases::webhooks
