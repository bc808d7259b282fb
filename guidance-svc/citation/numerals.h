// Chinese numerals as statutes write them (第四十二条, 第二百五十三条之一),
// both ways, for 1 to 9999.
//
//   ParseChineseNumeral("四十二") == 42
//   ParseChineseNumeral("一十") == 10, ParseChineseNumeral("两百") == 200
//   ToChineseNumeral(105) == "一百零五"
#ifndef COUNSEL_GUIDANCE_CITATION_NUMERALS_H_
#define COUNSEL_GUIDANCE_CITATION_NUMERALS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace counsel::guidance {

inline constexpr int kMaxNumeral = 9999;

// Parses a numeral of 1..9999 in Chinese characters (一 … 九千九百九十九,
// with 零/〇, 两, and 十 or 一十 for ten) or in ASCII or full-width digits.
// Returns nullopt for anything else, including out-of-order units (十百),
// repeated units or digits in a row (一二).
std::optional<int> ParseChineseNumeral(absl::string_view text);

// The standard statute form of 1..9999: 十, 十一, 一百一十, 一百零五,
// 一千零一十. Empty for values out of range.
std::string ToChineseNumeral(int value);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_CITATION_NUMERALS_H_
