#include "case-svc/store/case_rows.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

// AIP-158: zero asks for the default, anything above the maximum is clamped.
absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) return InvalidArgumentField("page_size", "must not be negative");
  return requested == 0 ? kDefaultPageSize : std::min<int>(requested, kMaxPageSize);
}

google::protobuf::Timestamp ToProto(int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}
int64_t Micros(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

std::string Etag(int64_t revision) { return absl::StrCat("r", revision); }

int64_t LeakedMask(const v1::Case& c) {
  int64_t mask = 0;
  for (int d : c.leaked_data()) mask |= int64_t{1} << d;
  return mask;
}

void ScrubClient(v1::Case& c) {
  v1::Client* client = c.mutable_client();
  client->clear_display_name();
  client->clear_phone();
  client->clear_email();
  client->clear_national_id();
  client->clear_masked();
  c.clear_etag();
  c.clear_create_time();
  c.clear_update_time();
}

v1::Case AsWritten(v1::Case c, int64_t revision, int64_t now) {
  // Every field Store seals or moves aside comes back as it was; of what
  // ScrubClient clears, only these are not restored.
  c.mutable_client()->clear_masked();
  c.set_etag(Etag(revision));
  *c.mutable_create_time() = ToProto(now);
  *c.mutable_update_time() = ToProto(now);
  return c;
}

absl::Status NotFound(absl::string_view case_id) {
  return absl::NotFoundError(absl::StrCat("cases/", case_id, " does not exist"));
}

v1::Case TakeFreeText(v1::Case& c) {
  v1::Case text;
  if (!c.summary().empty()) text.set_summary(std::move(*c.mutable_summary()));
  c.clear_summary();
  for (auto& item : *c.mutable_checklist()) {
    if (item.note().empty()) continue;
    v1::ChecklistItem* t = text.add_checklist();
    t->set_key(item.key());
    t->set_note(std::move(*item.mutable_note()));
    item.clear_note();
  }
  return text;
}

void PutFreeText(const v1::Case& text, v1::Case& c) {
  if (!text.summary().empty()) c.set_summary(text.summary());
  for (const auto& t : text.checklist()) {
    for (auto& item : *c.mutable_checklist()) {
      if (item.key() == t.key()) item.set_note(t.note());
    }
  }
}

bool HasFreeText(const v1::Case& text) {
  return !text.summary().empty() || text.checklist_size() > 0;
}

v1::Evidence TakeEvidenceText(v1::Evidence& e) {
  v1::Evidence text;
  if (!e.summary().empty()) text.set_summary(std::move(*e.mutable_summary()));
  if (e.has_attachment()) *text.mutable_attachment() = e.attachment();
  e.clear_summary();
  e.clear_attachment();
  return text;
}

bool HasEvidenceText(const v1::Evidence& text) {
  return !text.summary().empty() || text.has_attachment();
}

std::string EvidenceTextField(absl::string_view evidence_id) {
  return absl::StrCat("evidence/", evidence_id, "/text");
}

}  // namespace counsel::cases::sql_store
