#include "guidance-svc/citation/numerals.h"

#include <string>
#include <vector>

#include "common/utf8.h"

namespace counsel::guidance {
namespace {

// Splits UTF-8 into code points (common/utf8.h); false on invalid UTF-8.
bool DecodeUtf8(absl::string_view s, std::vector<char32_t>* out) {
  size_t i = 0;
  char32_t cp;
  while (i < s.size()) {
    if (!utf8::Next(s, &i, &cp)) return false;
    out->push_back(cp);
  }
  return true;
}

int DigitValue(char32_t c) {
  switch (c) {
    case U'零': case U'〇': return 0;
    case U'一': return 1;
    case U'二': case U'两': return 2;
    case U'三': return 3;
    case U'四': return 4;
    case U'五': return 5;
    case U'六': return 6;
    case U'七': return 7;
    case U'八': return 8;
    case U'九': return 9;
    default: return -1;
  }
}

int UnitValue(char32_t c) {
  switch (c) {
    case U'十': return 10;
    case U'百': return 100;
    case U'千': return 1000;
    default: return 0;
  }
}

std::optional<int> ParseDigits(const std::vector<char32_t>& cps) {
  int value = 0;
  for (char32_t c : cps) {
    int d = -1;
    if (c >= U'0' && c <= U'9') d = static_cast<int>(c - U'0');
    if (c >= U'０' && c <= U'９') d = static_cast<int>(c - U'０');
    if (d < 0) return std::nullopt;
    value = value * 10 + d;
    if (value > kMaxNumeral) return std::nullopt;
  }
  if (value < 1 || cps.front() == U'0' || cps.front() == U'０') return std::nullopt;
  return value;
}

}  // namespace

std::optional<int> ParseChineseNumeral(absl::string_view text) {
  std::vector<char32_t> cps;
  if (text.empty() || !DecodeUtf8(text, &cps)) return std::nullopt;
  if (DigitValue(cps.front()) < 0 && UnitValue(cps.front()) == 0) {
    return ParseDigits(cps);
  }
  int total = 0;
  int pending = -1;        // a digit waiting for its unit
  int last_unit = 100000;  // units must strictly decrease
  bool zero_seen = false;  // a 零 must be followed by a smaller digit
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const int d = DigitValue(c);
    if (d == 0) {
      if (pending >= 0 || zero_seen || total == 0) return std::nullopt;
      zero_seen = true;
      continue;
    }
    if (d > 0) {
      if (pending >= 0) return std::nullopt;  // 一二
      // 两 is only idiomatic before a unit (两百), never as the last digit.
      if (c == U'两' && (i + 1 == cps.size() || UnitValue(cps[i + 1]) == 0)) {
        return std::nullopt;
      }
      pending = d;
      continue;
    }
    const int unit = UnitValue(c);
    if (unit == 0 || unit >= last_unit) return std::nullopt;
    if (zero_seen && unit >= last_unit / 10) return std::nullopt;  // 一千零百
    if (pending < 0) {
      // A bare 十 leads only: 十二 (12), never 一百十.
      if (unit != 10 || total != 0) return std::nullopt;
      pending = 1;
    }
    total += pending * unit;
    pending = -1;
    last_unit = unit;
    zero_seen = false;
  }
  if (pending >= 0) {
    // A trailing digit is units unless it follows a unit with no 零 gap
    // (一百五 for 150 is colloquial; statutes write 一百五十).
    if (last_unit != 100000 && last_unit > 10 && !zero_seen) return std::nullopt;
    total += pending;
  } else if (zero_seen) {
    return std::nullopt;  // 一百零
  }
  if (total < 1 || total > kMaxNumeral) return std::nullopt;
  return total;
}

std::string ToChineseNumeral(int value) {
  static const char* const kDigits[] = {"零", "一", "二", "三", "四",
                                        "五", "六", "七", "八", "九"};
  static const char* const kUnits[] = {"", "十", "百", "千"};
  if (value < 1 || value > kMaxNumeral) return "";
  const int digits[4] = {value / 1000, value / 100 % 10, value / 10 % 10, value % 10};
  std::string out;
  bool need_zero = false;
  bool started = false;
  for (int i = 0; i < 4; ++i) {
    const int d = digits[i];
    const int unit = 3 - i;
    if (d == 0) {
      if (started) need_zero = true;
      continue;
    }
    if (need_zero) out += kDigits[0];
    need_zero = false;
    // 10–19 read 十, 十一 … at the start; 一十 inside (一百一十).
    if (!(d == 1 && unit == 1 && !started)) out += kDigits[d];
    out += kUnits[unit];
    started = true;
  }
  return out;
}

}  // namespace counsel::guidance
