// Input rules for case data: phone numbers, national ids, lengths.
#ifndef COUNSEL_CASES_DOMAIN_VALIDATION_H_
#define COUNSEL_CASES_DOMAIN_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

// Normalises a phone number to E.164. Chinese mobiles are accepted in their
// usual local forms: 13812345678, 138 1234 5678, 138-1234-5678,
// +86 138 1234 5678, 0086 13812345678, 86-13812345678. Other numbers must be
// given in international form (+CC...). InvalidArgument naming `field`.
absl::StatusOr<std::string> NormalizePhone(absl::string_view input, absl::string_view field);

// Checks an 18-character resident identity number (GB 11643-1999): 17
// digits, a check character (0-9 or X) per ISO 7064 MOD 11-2, and a valid
// birth date. Returns the canonical form (upper-case X).
absl::StatusOr<std::string> NormalizeNationalId(absl::string_view input, absl::string_view field);

// Lower-cases and checks an e-mail address (one @, a dot in the domain).
absl::StatusOr<std::string> NormalizeEmail(absl::string_view input, absl::string_view field);

// An evidence counterpart in one form: E.164 for a phone number, lower case
// for an e-mail address, an account without spaces or dashes.
std::string NormalizeCounterpart(absl::string_view in);

// Valid UTF-8 of at most `max_chars` code points, with no control character
// (line breaks included) and no bidirectional override: a name or a short field.
absl::Status CheckText(absl::string_view text, size_t max_chars, absl::string_view field);

// As CheckText, for free text (summaries, notes, reasons): line breaks and
// tabs are allowed; other controls and bidirectional overrides are not.
absl::Status CheckFreeText(absl::string_view text, size_t max_chars, absl::string_view field);

// A YYYY-MM-DD date of something that happened: between 1900-01-01 and
// tomorrow (Asia/Shanghai) at `now`.
absl::StatusOr<absl::CivilDay> CheckPastDate(absl::string_view value, absl::Time now,
                                             absl::string_view field);

// A timestamp (CheckTimestamp) no later than one day after `now`.
absl::Status CheckPastTimestamp(const google::protobuf::Timestamp& t, absl::Time now,
                                absl::string_view field);

// A timestamp between 1970 and 9000 (so that adding due periods cannot leave
// protobuf's range). InvalidArgument naming `field` otherwise.
absl::Status CheckTimestamp(const google::protobuf::Timestamp& t, absl::string_view field);

// Validates and normalises the case of a CreateCase request in place:
// display name required, phone/national id/email normalised, at least one
// leaked data category, occurred_on not after discovered_time, lengths
// bounded, output-only fields ignored. Reports every violation at once.
absl::Status ValidateNewCase(v1::Case& c, absl::Time now);

// The same checks for a case whose client data was erased: the client's
// fields are absent and stay so.
absl::Status ValidateErasedCase(v1::Case& c, absl::Time now);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_VALIDATION_H_
