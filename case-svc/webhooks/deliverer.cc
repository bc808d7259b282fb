#include "case-svc/webhooks/deliverer.h"

#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "case-svc/webhooks/signing.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases::webhooks {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kPreviousSecretLife = absl::Hours(24);

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// What the delivery log keeps of one attempt: never the answer's body.
v1::WebhookDelivery AttemptRecord(const std::string& message_id, const std::string& event_type,
                                  const std::string& cursor, int attempt, absl::Time at,
                                  const OutboundResponse& response, Verdict verdict) {
  v1::WebhookDelivery d;
  d.set_message_id(message_id);
  d.set_event_type(event_type);
  d.set_cursor(cursor);
  d.set_attempt(attempt);
  *d.mutable_attempt_time() = ToProto(at);
  d.set_status_code(response.status_code);
  *d.mutable_latency() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(response.latency));
  switch (verdict) {
    case Verdict::kDelivered:
      d.set_outcome(v1::WebhookDelivery::OUTCOME_SUCCEEDED);
      break;
    case Verdict::kGone:
      d.set_outcome(v1::WebhookDelivery::OUTCOME_GONE);
      d.set_error(response.error);
      break;
    case Verdict::kRetry:
      d.set_outcome(v1::WebhookDelivery::OUTCOME_FAILED);
      d.set_error(response.error);
      break;
  }
  return d;
}

std::function<double()> DefaultRandom() {
  return [] {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
  };
}

class StoreFeed final : public FeedReader {
 public:
  explicit StoreFeed(CaseStore* cases) : cases_(cases) {}
  absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const std::string& tenant, int64_t after, int limit) override {
    Actor reader;
    reader.tenant = tenant;
    reader.key_id = "webhooks";
    return cases_->ChangesAfter(reader, after, limit);
  }

 private:
  CaseStore* cases_;
};

}  // namespace

std::unique_ptr<FeedReader> CaseStoreFeed(CaseStore* cases) {
  return std::make_unique<StoreFeed>(cases);
}

Deliverer::Deliverer(WebhookStore* webhooks, FeedReader* feed, const CursorCodec* cursors,
                     Sender* sender, const Clock* clock, TargetPolicy policy,
                     DelivererOptions options, Resolver resolver)
    : webhooks_(webhooks), feed_(feed), cursors_(cursors), sender_(sender), clock_(clock),
      policy_(policy), options_(std::move(options)), resolver_(std::move(resolver)) {
  if (options_.owner.empty()) options_.owner = RandomId(10);
  lease_owner_ = LeaseOwner{options_.owner, options_.epoch};
  if (!options_.random) options_.random = DefaultRandom();
}

Deliverer::~Deliverer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

void Deliverer::Start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Work(); });
}

void Deliverer::Notify() {
  absl::MutexLock lock(&mu_);
  // Idle webhooks look again, queued behind what was due before now.
  const absl::Time now = absl::Now();
  for (auto& [key, e] : entries_) {
    if (e.disabled) continue;
    if (e.busy) {
      e.kicked = true;
    } else if (e.due == absl::InfiniteFuture()) {
      e.due = now;
    }
  }
  cv_.SignalAll();
}

void Deliverer::Refresh(const std::string& tenant, const std::string& id) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[{tenant, id}];
  e.due = absl::Now();
  e.disabled = false;
  e.refreshed = true;
  cv_.SignalAll();
}

void Deliverer::Rescan() {
  auto ids = webhooks_->AllIds();
  if (!ids.ok()) {
    log::Warning("webhook rescan failed", {{"error", ids.status().ToString()}});
    return;
  }
  absl::MutexLock lock(&mu_);
  std::set<Key> present(ids->begin(), ids->end());
  // Merged, not replaced: a webhook created (and refreshed) after the list
  // was read stays; one deleted meanwhile goes at its next step (NotFound).
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool keep = present.count(it->first) > 0 || it->second.busy || it->second.refreshed;
    it = keep ? std::next(it) : entries_.erase(it);
  }
  const absl::Time now = absl::Now();
  for (const Key& key : present) {
    if (entries_.count(key) == 0) entries_[key].due = now;  // another replica's, or new
  }
  cv_.SignalAll();
}

void Deliverer::Work() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    if (now >= next_rescan_) {
      next_rescan_ = now + options_.rescan;
      mu_.Unlock();
      Rescan();
      mu_.Lock();
      continue;
    }
    // Earliest due first: a webhook with a long backlog goes to the back
    // after each step, so it cannot starve the others.
    auto best = entries_.end();
    absl::Time wake = next_rescan_;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const Entry& e = it->second;
      if (e.busy || e.disabled) continue;
      if (e.due <= now) {
        if (best == entries_.end() || e.due < best->second.due) best = it;
      } else {
        wake = std::min(wake, e.due);
      }
    }
    if (best == entries_.end()) {
      cv_.WaitWithDeadline(&mu_, wake);
      continue;
    }
    const Key key = best->first;
    best->second.busy = true;
    best->second.kicked = false;
    best->second.refreshed = false;
    mu_.Unlock();
    auto result = Step(key.first, key.second);
    mu_.Lock();
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.busy = false;
    if (!result.ok() && absl::IsNotFound(result.status())) {
      if (!e.refreshed) entries_.erase(it);
      continue;
    }
    const absl::Time after = absl::Now();
    if (e.refreshed) {
      e.due = after;  // a caller changed it during the step
    } else if (!result.ok()) {
      log::Warning("webhook step failed", {{"webhook", key.second},
                                           {"error", result.status().ToString()}});
      e.due = after + absl::Seconds(5);
    } else {
      e.disabled = result->disabled;
      e.due = result->next == absl::InfinitePast() ? after : result->next;
      // A commit during the step may have added changes it did not read.
      if (e.kicked && e.due == absl::InfiniteFuture()) e.due = after;
    }
    e.kicked = false;
  }
}

std::vector<std::string> Deliverer::SigningSecrets(const StoredWebhook& w, absl::Time now) const {
  std::vector<std::string> secrets = {w.secret};
  if (!w.previous_secret.empty() && w.previous_expire > now) secrets.push_back(w.previous_secret);
  return secrets;
}

OutboundResponse Deliverer::Send(const StoredWebhook& w, const std::string& message_id,
                                 const std::string& body, absl::Time now) {
  OutboundResponse refused;
  // The URL is checked again at each attempt: the operator's policy may be
  // stricter now than when it was written, and the name may resolve
  // elsewhere.
  auto url = ParseWebhookUrl(w.config.url(), policy_);
  if (!url.ok()) {
    refused.error = std::string(url.status().message());
    return refused;
  }
  auto address = ResolveTarget(*url, policy_, resolver_);
  if (!address.ok()) {
    refused.error = std::string(address.status().message());
    return refused;
  }
  const int64_t timestamp = absl::ToUnixSeconds(now);
  auto signature = SignatureHeader(SigningSecrets(w, now), message_id, timestamp, body);
  if (!signature.ok()) {
    refused.error = "the webhook's secret is unreadable";
    return refused;
  }
  OutboundRequest request;
  request.url = *std::move(url);
  request.address = *address;
  request.headers = {{"content-type", "application/json"},
                     {"webhook-id", message_id},
                     {"webhook-timestamp", absl::StrCat(timestamp)},
                     {"webhook-signature", *signature}};
  request.body = body;
  return sender_->Post(request);
}

absl::StatusOr<Deliverer::StepResult> Deliverer::Step(const std::string& tenant,
                                                      const std::string& id) {
  StepResult result;
  auto loaded = webhooks_->Get(tenant, id);
  if (!loaded.ok()) return loaded.status();
  const StoredWebhook& w = *loaded;
  if (w.state == v1::Webhook::STATE_DISABLED) {
    result.disabled = true;
    return result;
  }
  const absl::Time start = clock_->Now();
  if (w.next_attempt > start) {
    result.next = w.next_attempt;
    return result;
  }
  auto changes = feed_->ChangesAfter(tenant, w.position, options_.batch);
  if (!changes.ok()) return changes.status();
  if (changes->empty()) return result;  // idle: nothing to lease for
  // Held for one send at a time, renewed before each: a send that outlives
  // it cannot race a replica that took over (the lease outlasts a send).
  // Renewed once half of it is gone: what is left still outlasts a send.
  absl::Time leased_until = absl::InfinitePast();
  auto lease = [&](absl::Time now) -> absl::StatusOr<bool> {
    if (now < leased_until - options_.lease / 2) return true;
    ASSIGN_OR_RETURN(bool held,
                     webhooks_->Lease(tenant, id, lease_owner_, now, now + options_.lease));
    if (held) leased_until = now + options_.lease;
    return held;
  };
  ASSIGN_OR_RETURN(bool leased, lease(start));
  if (!leased) {
    // Another replica delivers for it now.
    result.next = start + options_.lease / 4;
    return result;
  }

  Progress p;
  p.generation = w.generation;
  p.position = w.position;
  p.failures = w.failures;
  p.last_error = w.last_error;
  bool moved = false;  // filtered changes not yet written
  auto write = [&]() -> absl::StatusOr<bool> {
    moved = false;
    return webhooks_->RecordProgress(tenant, id, lease_owner_, p);
  };
  for (const auto& [seq, change] : *changes) {
    const absl::Time now = clock_->Now();
    if (now - start > options_.step_budget) {
      result.next = absl::InfinitePast();  // the rest in a later step, after the others
      break;
    }
    const bool expired = TimeUtil::TimestampToMicroseconds(change.commit_time()) <
                         absl::ToUnixMicros(now - options_.retention);
    if (expired || !Wants(w.config, change.event().type())) {
      p.position = seq;
      moved = true;
      continue;
    }
    ASSIGN_OR_RETURN(bool still, lease(now));
    if (!still) {
      result.next = now + options_.lease / 4;
      return result;
    }
    const std::string cursor = cursors_->EncodeStable(tenant, "", seq);
    const std::string message_id = MessageId(id, seq);
    const OutboundResponse response =
        Send(w, message_id, ChangePayload(tenant, change, cursor), now);
    const Verdict verdict = Judge(response.status_code);
    v1::WebhookDelivery d = AttemptRecord(message_id, EventTypeName(change.event().type()),
                                          cursor, p.failures + 1, now, response, verdict);
    switch (verdict) {
      case Verdict::kDelivered:
        p.position = seq;
        p.failures = 0;
        p.last_error.clear();
        p.next_attempt = absl::InfinitePast();
        p.state = w.state == v1::Webhook::STATE_FAILING ? Progress::State::kActive
                                                  : Progress::State::kKeep;
        break;
      case Verdict::kGone:
        p.failures += 1;
        p.last_error = "410 Gone: the receiver asked for no more deliveries; webhook disabled";
        p.state = Progress::State::kGone;
        break;
      case Verdict::kRetry:
        p.failures += 1;
        p.last_error = response.error.empty() ? absl::StrCat("HTTP ", response.status_code)
                                              : response.error;
        p.next_attempt = now + RetryDelay(p.failures, options_.retry, options_.random());
        p.state = p.failures >= options_.retry.failing_after ? Progress::State::kFailing
                                                             : Progress::State::kKeep;
        break;
    }
    moved = false;
    auto written = webhooks_->RecordAttempt(tenant, id, lease_owner_, d, p);
    if (!written.ok()) return written.status();
    if (!*written) {  // a caller moved or disabled it meanwhile: look again
      result.next = absl::InfinitePast();
      return result;
    }
    if (verdict == Verdict::kGone) {
      result.disabled = true;
      return result;
    }
    if (verdict == Verdict::kRetry) {
      result.next = p.next_attempt;
      return result;
    }
    ++result.delivered;
    // Keep the state written for the rest of the step.
    if (p.state == Progress::State::kActive) p.state = Progress::State::kKeep;
  }
  if (moved) {
    auto written = write();
    if (!written.ok()) return written.status();
  }
  if (static_cast<int>(changes->size()) == options_.batch) {
    result.next = absl::InfinitePast();
  } else {
    (void)webhooks_->Release(tenant, id, lease_owner_);  // caught up: others may take it
  }
  return result;
}

v1::WebhookDelivery Deliverer::Ping(const StoredWebhook& w) {
  const absl::Time now = clock_->Now();
  const std::string message_id = absl::StrCat("msg_", w.id, "_ping_", RandomId(8));
  const OutboundResponse response =
      Send(w, message_id, PingPayload(w.tenant, absl::StrCat("webhooks/", w.id), now), now);
  const v1::WebhookDelivery d = AttemptRecord(message_id, std::string(kPingType), "", 1, now,
                                              response, Judge(response.status_code));
  const absl::Status recorded = webhooks_->AddDelivery(w.tenant, w.id, d);
  if (!recorded.ok()) log::Warning("webhook ping not recorded", {{"webhook", w.id}});
  return d;
}

}  // namespace counsel::cases::webhooks
