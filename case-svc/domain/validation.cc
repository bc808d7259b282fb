#include "case-svc/domain/validation.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/rpc/error_details.pb.h"

namespace counsel::cases {
namespace {

constexpr size_t kMaxName = 200;
constexpr size_t kMaxShort = 200;
constexpr size_t kMaxSummary = 10000;
constexpr size_t kMaxLabels = 64;

}  // namespace

namespace {

absl::Status CheckCharacters(absl::string_view text, size_t max_chars, absl::string_view field,
                             bool free_text) {
  size_t n = 0, i = 0;
  char32_t cp;
  while (i < text.size()) {
    if (!utf8::Next(text, &i, &cp)) return InvalidArgumentField(field, "is not valid UTF-8");
    if (utf8::IsForbiddenControl(cp, free_text)) {
      return InvalidArgumentField(
          field, free_text ? "holds a control character or a bidirectional override "
                             "(only line breaks and tabs are allowed)"
                           : "holds a control character, a line break or a bidirectional "
                             "override");
    }
    ++n;
  }
  if (n > max_chars) {
    return InvalidArgumentField(field, absl::StrCat("is longer than ", max_chars, " characters"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckText(absl::string_view text, size_t max_chars, absl::string_view field) {
  return CheckCharacters(text, max_chars, field, false);
}

absl::Status CheckFreeText(absl::string_view text, size_t max_chars, absl::string_view field) {
  return CheckCharacters(text, max_chars, field, true);
}

absl::StatusOr<absl::CivilDay> CheckPastDate(absl::string_view value, absl::Time now,
                                             absl::string_view field) {
  ASSIGN_OR_RETURN(absl::CivilDay day, ParseDate(value, field));
  // One day of slack for clocks and time zones; nothing in a case happened
  // before 1900.
  const absl::CivilDay latest = absl::ToCivilDay(now, ShanghaiTimeZone()) + 1;
  if (day < absl::CivilDay(1900, 1, 1) || day > latest) {
    return InvalidArgumentField(
        field, absl::StrCat("must be a date between 1900-01-01 and ", FormatDate(latest)));
  }
  return day;
}

absl::Status CheckPastTimestamp(const google::protobuf::Timestamp& t, absl::Time now,
                                absl::string_view field) {
  RETURN_IF_ERROR(CheckTimestamp(t, field));
  if (absl::FromUnixSeconds(t.seconds()) > now + absl::Hours(24)) {
    return InvalidArgumentField(field, "is in the future");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizePhone(absl::string_view input, absl::string_view field) {
  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
      continue;
    } else {
      return InvalidArgumentField(field, "is not a phone number");
    }
  }
  if (!plus && absl::StartsWith(digits, "00")) {
    digits = digits.substr(2);
    plus = true;
  }
  // A Chinese mobile: 1[3-9]X XXXX XXXX, optionally after 86.
  auto is_cn_mobile = [](absl::string_view d) {
    return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
  };
  if (!plus && is_cn_mobile(digits)) return absl::StrCat("+86", digits);
  if (!plus && digits.size() == 13 && absl::StartsWith(digits, "86") &&
      is_cn_mobile(absl::string_view(digits).substr(2))) {
    return absl::StrCat("+", digits);
  }
  if (plus) {
    if (absl::StartsWith(digits, "86") && !is_cn_mobile(absl::string_view(digits).substr(2)) &&
        digits.size() == 13) {
      return InvalidArgumentField(field, "is not a valid Chinese mobile number");
    }
    if (digits.size() >= 8 && digits.size() <= 15 && digits[0] != '0') {
      return absl::StrCat("+", digits);
    }
  }
  return InvalidArgumentField(
      field, "is not a phone number: give a Chinese mobile (13812345678) or +CC form");
}

absl::StatusOr<std::string> NormalizeNationalId(absl::string_view input,
                                                absl::string_view field) {
  std::string id(absl::StripAsciiWhitespace(input));
  if (id.size() != 18) return InvalidArgumentField(field, "must be 18 characters");
  id[17] = absl::ascii_toupper(static_cast<unsigned char>(id[17]));
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCheck[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(id[static_cast<size_t>(i)]))) {
      return InvalidArgumentField(field, "must be 17 digits and a check character");
    }
    sum += (id[static_cast<size_t>(i)] - '0') * kWeights[i];
  }
  if (kCheck[sum % 11] != id[17]) {
    return InvalidArgumentField(field, "has a wrong check character (GB 11643)");
  }
  const std::string birth = absl::StrCat(id.substr(6, 4), "-", id.substr(10, 2), "-", id.substr(12, 2));
  if (!ParseDate(birth, field).ok()) {
    return InvalidArgumentField(field, "holds an impossible birth date");
  }
  return id;
}

absl::StatusOr<std::string> NormalizeEmail(absl::string_view input, absl::string_view field) {
  const std::string email = absl::AsciiStrToLower(absl::StripAsciiWhitespace(input));
  const size_t at = email.find('@');
  if (email.size() > 254 || at == std::string::npos || at == 0 ||
      email.find('@', at + 1) != std::string::npos ||
      email.find('.', at) == std::string::npos || email.back() == '.' ||
      email.find_first_of(" \t\r\n<>\",;") != std::string::npos) {
    return InvalidArgumentField(field, "is not an e-mail address");
  }
  return email;
}

std::string NormalizeCounterpart(absl::string_view in) {
  const std::string trimmed(absl::StripAsciiWhitespace(in));
  if (trimmed.find('@') != std::string::npos) {
    auto e = NormalizeEmail(trimmed, "x");
    if (e.ok()) return *e;
  }
  auto p = NormalizePhone(trimmed, "x");
  if (p.ok()) return *p;
  std::string out;
  for (char c : trimmed) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

absl::Status CheckTimestamp(const google::protobuf::Timestamp& t, absl::string_view field) {
  constexpr int64_t kYear9000 = 221845392000;
  if (t.seconds() < 0 || t.seconds() > kYear9000 || t.nanos() < 0 || t.nanos() > 999999999) {
    return InvalidArgumentField(field, "is not a time between 1970 and 9000");
  }
  return absl::OkStatus();
}

namespace {

absl::Status Validate(v1::Case& c, bool client_erased, absl::Time now) {
  std::vector<std::pair<std::string, std::string>> violations;
  auto note = [&](const absl::Status& s) {
    if (s.ok()) return;
    google::rpc::Status rpc = ToRpcStatus(s);
    for (const auto& any : rpc.details()) {
      google::rpc::BadRequest bad;
      if (any.UnpackTo(&bad)) {
        for (const auto& v : bad.field_violations()) violations.emplace_back(v.field(), v.description());
      }
    }
  };
  v1::Client& client = *c.mutable_client();
  if (client_erased) {
    // Nothing to check: the values are gone for good.
  } else if (client.display_name().empty()) {
    violations.emplace_back("case.client.display_name", "is required");
  } else {
    note(CheckText(client.display_name(), kMaxName, "case.client.display_name"));
  }
  note(CheckText(client.id(), kMaxShort, "case.client.id"));
  if (c.has_discovered_time()) {
    note(CheckPastTimestamp(c.discovered_time(), now, "case.discovered_time"));
  }
  if (!client_erased && !client.phone().empty()) {
    auto p = NormalizePhone(client.phone(), "case.client.phone");
    if (p.ok()) client.set_phone(*p); else note(p.status());
  }
  if (!client_erased && !client.national_id().empty()) {
    auto n = NormalizeNationalId(client.national_id(), "case.client.national_id");
    if (n.ok()) client.set_national_id(*n); else note(n.status());
  }
  if (!client_erased && !client.email().empty()) {
    auto e = NormalizeEmail(client.email(), "case.client.email");
    if (e.ok()) client.set_email(*e); else note(e.status());
  }
  if (c.leaked_data_size() == 0) {
    violations.emplace_back("case.leaked_data", "needs at least one category");
  }
  for (int i = 0; i < c.leaked_data_size(); ++i) {
    if (c.leaked_data(i) == v1::LEAKED_DATA_UNSPECIFIED || !v1::LeakedData_IsValid(c.leaked_data(i))) {
      violations.emplace_back(absl::StrCat("case.leaked_data[", i, "]"), "is not a known category");
    }
  }
  if (c.incident_type().empty()) c.set_incident_type("personal-information-leak");
  {
    // A slug: it names the advice to pin, in a filter sent to guidance-svc.
    const std::string& t = c.incident_type();
    bool slug = t.size() <= 63 && absl::ascii_islower(static_cast<unsigned char>(t[0]));
    for (char ch : t) {
      slug = slug && (absl::ascii_islower(static_cast<unsigned char>(ch)) ||
                      absl::ascii_isdigit(static_cast<unsigned char>(ch)) || ch == '-');
    }
    if (!slug) violations.emplace_back("case.incident_type", "must match [a-z][a-z0-9-]{0,62}");
  }
  note(CheckText(c.external_ref(), kMaxShort, "case.external_ref"));
  note(CheckFreeText(c.summary(), kMaxSummary, "case.summary"));
  note(CheckText(c.suspected_source(), kMaxShort, "case.suspected_source"));
  note(CheckText(c.assignee(), kMaxShort, "case.assignee"));
  if (c.labels_size() > static_cast<int>(kMaxLabels)) {
    violations.emplace_back("case.labels", "has more than 64 labels");
  }
  for (const auto& [k, v] : c.labels()) {
    note(CheckText(k, 63, "case.labels"));
    note(CheckText(v, 63, "case.labels"));
  }
  if (!c.occurred_on().empty()) {
    auto day = CheckPastDate(c.occurred_on(), now, "case.occurred_on");
    if (!day.ok()) {
      note(day.status());
    } else if (c.has_discovered_time() &&
               *day > absl::ToCivilDay(absl::FromUnixSeconds(c.discovered_time().seconds()),
                                       ShanghaiTimeZone())) {
      violations.emplace_back("case.occurred_on", "is after discovered_time");
    }
  }
  for (const auto& [value, field] : {std::pair{c.damage_known_on(), "case.damage_known_on"},
                                     std::pair{c.liable_party_identified_on(),
                                               "case.liable_party_identified_on"}}) {
    if (!value.empty()) note(CheckPastDate(value, now, field).status());
  }
  if (!c.police_report().reported_on().empty()) {
    note(CheckPastDate(c.police_report().reported_on(), now, "case.police_report.reported_on")
             .status());
  }
  note(CheckText(c.police_report().station(), kMaxShort, "case.police_report.station"));
  note(CheckText(c.police_report().receipt_number(), kMaxShort,
                 "case.police_report.receipt_number"));
  if (!violations.empty()) return InvalidArgumentFields(violations);
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateNewCase(v1::Case& c, absl::Time now) { return Validate(c, false, now); }
absl::Status ValidateErasedCase(v1::Case& c, absl::Time now) { return Validate(c, true, now); }

}  // namespace counsel::cases
