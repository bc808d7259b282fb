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

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_MASKING_H_
