// Choosing a language the way BCP 47 says (RFC 4647 "lookup"):
//
//   MatchLocale("en-US", {"zh-CN", "en"})                       → "en"
//   MatchLocale("fr-CH, fr;q=0.9, en;q=0.8", {"zh-CN", "en"})    → "en"
//   MatchLocale("zh-Hans", {"zh-CN", "en"})                      → "zh-CN"
//   MatchLocale("de", {"zh-CN", "en"})                           → ""
#ifndef COUNSEL_COMMON_LOCALE_H_
#define COUNSEL_COMMON_LOCALE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace counsel {

// The best of `available` for `requested`: one language tag, or an
// Accept-Language list with q-values. Ranges are tried by descending q (in
// order for equal q); each is truncated from the right until it matches
// ("en-US" → "en"), compared without regard to case. Simplified-Chinese
// ranges (zh, zh-Hans, zh-CN, zh-SG, zh-Hans-*) match "zh-CN"; traditional
// ones (zh-Hant, zh-TW, zh-HK, zh-MO) do not. "" when nothing matches (or
// only "*"), and the caller uses its default.
std::string MatchLocale(absl::string_view requested, const std::vector<std::string>& available);

}  // namespace counsel

#endif  // COUNSEL_COMMON_LOCALE_H_
