// Masking of client personal data for callers without `cases.pii`:
//   phone        +8613812345678 → 138****5678 (the national number, middle
//                four hidden; other countries keep their code and last four)
//   national id  keeps the first 6 (region) and last 4: 110105********123X
//   name         keeps the first character (the family name): 张**
//   email        keeps the first character and the domain: z***@example.com
#ifndef COUNSEL_CASES_DOMAIN_MASKING_H_
#define COUNSEL_CASES_DOMAIN_MASKING_H_

#include <string>

#include "absl/strings/string_view.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

std::string MaskPhone(absl::string_view e164);
std::string MaskNationalId(absl::string_view id);
std::string MaskName(absl::string_view name);
std::string MaskEmail(absl::string_view email);
// Generic: keep the last 4 characters (evidence counterparts).
std::string MaskTail(absl::string_view value);

// Masks every personal field of `client` and sets client.masked.
void MaskClient(v1::Client& client);

// Free text (summaries, notes, reasons) is personal data too: a caller without
// cases.pii gets it with every recognisable identifier masked as the fields
// are. Recognised: mainland mobile numbers (1[3-9] and 10 digits, with or
// without +86/86, spaces or dashes), landlines (0, an area code, 7-8 digits),
// 18-character ID numbers (a valid GB 11643 check character, or a plausible
// birth date: a mistyped ID is still personal data), bank card
// numbers of 13-19 digits passing the Luhn check, and e-mail addresses.
std::string MaskIdentifiersInText(absl::string_view text);

// Every free-text field of a case (summary, checklist notes) masked so.
void MaskCaseText(v1::Case& c);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_MASKING_H_
