#include "case-svc/webhooks/rules.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/utf8.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases::webhooks {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxEventTypes = 16;
constexpr size_t kMaxDescriptionBytes = 500;

// Fields in declaration order, so a change sent again is the same bytes.
std::string ToJson(const google::protobuf::Message& s) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(s, &out, options);
  return out;
}

}  // namespace

std::string EventTypeName(v1::CaseEvent::Type type) {
  switch (type) {
    case v1::CaseEvent::TYPE_CASE_CREATED: return "case.created";
    case v1::CaseEvent::TYPE_CASE_UPDATED: return "case.updated";
    case v1::CaseEvent::TYPE_STATE_CHANGED: return "case.state_changed";
    case v1::CaseEvent::TYPE_CHECKLIST_ITEM_UPDATED: return "case.checklist_item_updated";
    case v1::CaseEvent::TYPE_EVIDENCE_ADDED: return "case.evidence_added";
    case v1::CaseEvent::TYPE_NOTE_ADDED: return "case.note_added";
    case v1::CaseEvent::TYPE_CLIENT_DATA_ERASED: return "case.client_data_erased";
    default: return "";
  }
}

const std::vector<std::string>& EventTypeNames() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (int t = 1; v1::CaseEvent::Type_IsValid(t); ++t) {
      v->push_back(EventTypeName(static_cast<v1::CaseEvent::Type>(t)));
    }
    return v;
  }();
  return *names;
}

absl::Status ValidateWebhook(const v1::Webhook& w, const TargetPolicy& policy,
                             absl::string_view prefix) {
  auto parsed = ParseWebhookUrl(w.url(), policy, absl::StrCat(prefix, "url"));
  if (!parsed.ok()) return parsed.status();
  return ValidateWebhookFields(w, prefix);
}

absl::Status ValidateWebhookFields(const v1::Webhook& w, absl::string_view prefix) {
  if (static_cast<size_t>(w.event_types_size()) > kMaxEventTypes) {
    return InvalidArgumentField(absl::StrCat(prefix, "event_types"), "has more than 16 entries");
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& t : w.event_types()) {
    const auto& known = EventTypeNames();
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      return InvalidArgumentField(absl::StrCat(prefix, "event_types"),
                                  absl::StrCat("has an unknown type; the types are ",
                                               absl::StrJoin(known, ", ")));
    }
    if (!seen.insert(t).second) {
      return InvalidArgumentField(absl::StrCat(prefix, "event_types"), "names a type twice");
    }
  }
  if (w.description().size() > kMaxDescriptionBytes || !utf8::IsValid(w.description())) {
    return InvalidArgumentField(absl::StrCat(prefix, "description"),
                                "must be UTF-8 of at most 500 bytes");
  }
  if (w.state() != v1::Webhook::STATE_UNSPECIFIED && w.state() != v1::Webhook::STATE_ACTIVE &&
      w.state() != v1::Webhook::STATE_DISABLED) {
    return InvalidArgumentField(absl::StrCat(prefix, "state"),
                                "may be set to STATE_ACTIVE or STATE_DISABLED only");
  }
  return absl::OkStatus();
}

bool Wants(const v1::Webhook& w, v1::CaseEvent::Type type) {
  if (w.event_types().empty()) return true;
  const std::string name = EventTypeName(type);
  return std::find(w.event_types().begin(), w.event_types().end(), name) !=
         w.event_types().end();
}

std::string MessageId(absl::string_view webhook_id, int64_t seq) {
  return absl::StrCat("msg_", webhook_id, "_", seq);
}

std::string ChangePayload(absl::string_view tenant, const v1::Change& change,
                          absl::string_view cursor) {
  const v1::CaseEvent& e = change.event();
  v1::WebhookEvent body;
  body.set_type(EventTypeName(e.type()));
  *body.mutable_timestamp() = change.commit_time();
  v1::WebhookEvent::Data& data = *body.mutable_data();
  data.set_tenant(std::string(tenant));
  data.set_case_(e.case_());
  data.set_event(e.name());
  data.set_resource(e.resource());
  *data.mutable_changed_fields() = e.changed_fields();
  if (e.type() == v1::CaseEvent::TYPE_STATE_CHANGED) {
    data.set_from_state(e.from_state());
    data.set_to_state(e.to_state());
  }
  data.set_cursor(std::string(cursor));
  *data.mutable_commit_time() = change.commit_time();
  return ToJson(body);
}

std::string PingPayload(absl::string_view tenant, absl::string_view webhook_name,
                        absl::Time now) {
  v1::WebhookEvent body;
  body.set_type(std::string(kPingType));
  *body.mutable_timestamp() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  body.mutable_data()->set_tenant(std::string(tenant));
  body.mutable_data()->set_webhook(std::string(webhook_name));
  return ToJson(body);
}

Verdict Judge(int status_code) {
  if (status_code >= 200 && status_code < 300) return Verdict::kDelivered;
  if (status_code == 410) return Verdict::kGone;
  return Verdict::kRetry;
}

absl::Duration RetryDelay(int failures, const RetryPolicy& policy, double unit) {
  absl::Duration d = policy.initial;
  for (int i = 1; i < failures && d < policy.max; ++i) d *= 2;
  d = std::min(d, policy.max);
  unit = std::clamp(unit, 0.0, 1.0);
  return d * (0.5 + 0.5 * unit);
}

}  // namespace counsel::cases::webhooks
