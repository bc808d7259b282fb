#include "case-svc/domain/masking.h"

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace counsel::cases {
namespace {

// UTF-8 code points of `s` as separate strings (an invalid byte alone).
std::vector<std::string> CodePoints(absl::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  char32_t cp;
  while (i < s.size()) {
    const size_t start = i;
    utf8::Next(s, &i, &cp);
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string MaskPhone(absl::string_view e164) {
  absl::string_view national = e164;
  if (absl::ConsumePrefix(&national, "+86") && national.size() == 11) {
    return absl::StrCat(national.substr(0, 3), "****", national.substr(7));
  }
  if (e164.size() <= 4) return std::string(e164.size(), '*');
  return absl::StrCat(std::string(e164.size() - 4, '*'), e164.substr(e164.size() - 4));
}

std::string MaskNationalId(absl::string_view id) {
  if (id.size() != 18) return std::string(id.size(), '*');
  return absl::StrCat(id.substr(0, 6), "********", id.substr(14));
}

std::string MaskName(absl::string_view name) {
  const std::vector<std::string> cps = CodePoints(name);
  if (cps.empty()) return "";
  std::string out = cps[0];
  for (size_t i = 1; i < cps.size(); ++i) out += "*";
  return out;
}

std::string MaskEmail(absl::string_view email) {
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0) return std::string(email.size(), '*');
  return absl::StrCat(email.substr(0, 1), "***", email.substr(at));
}

std::string MaskTail(absl::string_view value) {
  const std::vector<std::string> cps = CodePoints(value);
  if (cps.size() <= 4) return std::string(cps.size(), '*');
  std::string out(cps.size() - 4, '*');
  for (size_t i = cps.size() - 4; i < cps.size(); ++i) out += cps[i];
  return out;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ValidIdCheck(absl::string_view id) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCheck[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  if (id.size() != 18) return false;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (!IsDigit(id[i])) return false;
    sum += (id[i] - '0') * kWeights[i];
  }
  const char last = id[17] == 'x' ? 'X' : id[17];
  return kCheck[sum % 11] == last;
}

bool PassesLuhn(absl::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool IsMobile(absl::string_view d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

// 17 digits and a check character whose birth date (characters 7-14) is a
// date of 1900-2099: an ID number even when the check character is wrong (a
// mistyped ID is still someone's).
bool LooksLikeId(absl::string_view d) {
  if (d.size() != 18 || d.substr(0, 17).find_first_not_of("0123456789") != absl::string_view::npos ||
      !(IsDigit(d[17]) || d[17] == 'X' || d[17] == 'x')) {
    return false;
  }
  const int year = std::stoi(std::string(d.substr(6, 4)));
  const int month = std::stoi(std::string(d.substr(10, 2)));
  const int day = std::stoi(std::string(d.substr(12, 2)));
  return year >= 1900 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// The masked form of one run of digits, or nothing when it is no identifier.
std::optional<std::string> MaskNumber(absl::string_view d) {
  if (ValidIdCheck(d) || LooksLikeId(d)) return MaskNationalId(absl::AsciiStrToUpper(d));
  if (d.find_first_not_of("0123456789") != absl::string_view::npos) return std::nullopt;
  if (IsMobile(d)) return MaskPhone(absl::StrCat("+86", d));
  if (d.size() == 13 && absl::StartsWith(d, "86") && IsMobile(d.substr(2))) {
    return absl::StrCat("86", MaskPhone(absl::StrCat("+", d)));
  }
  if (d.size() == 15 && absl::StartsWith(d, "0086") && IsMobile(d.substr(4))) {
    return absl::StrCat("0086", MaskPhone(absl::StrCat("+", d.substr(2))));
  }
  if (d.size() == 15 && d[0] != '0') {
    // The first-generation ID number: region, YYMMDD, three digits.
    const int month = (d[8] - '0') * 10 + (d[9] - '0');
    const int day = (d[10] - '0') * 10 + (d[11] - '0');
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31) {
      return absl::StrCat(d.substr(0, 6), "*****", d.substr(11));
    }
  }
  if (d.size() >= 10 && d.size() <= 12 && d[0] == '0' && d[1] != '0') {
    const size_t area = (d[1] == '1' || d[1] == '2') ? 3 : 4;  // 010, 02X; else 0XXX
    return absl::StrCat(d.substr(0, area), std::string(d.size() - area - 4, '*'),
                        d.substr(d.size() - 4));
  }
  if (d.size() >= 13 && d.size() <= 19 && PassesLuhn(d)) {
    return absl::StrCat(std::string(d.size() - 4, '*'), d.substr(d.size() - 4));
  }
  return std::nullopt;
}

bool IsEmailLocal(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
         c == '%' || c == '+' || c == '-';
}
bool IsDomainChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
}

}  // namespace

namespace {

// Full-width digits, @, parentheses and dashes (a Chinese keyboard's), and
// the ideographic and no-break spaces, as their ASCII forms: identifiers are
// recognised however they were typed.
std::string Narrow(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  size_t open_paren = std::string::npos;
  char32_t cp;
  while (i < text.size()) {
    const size_t start = i;
    utf8::Next(text, &i, &cp);
    if (cp >= 0xFF10 && cp <= 0xFF19) {
      out.push_back(static_cast<char>('0' + (cp - 0xFF10)));
    } else if (cp == 0xFF20) {
      out.push_back('@');
    } else if (cp == 0xFF08 && i < text.size() &&
               (IsDigit(text[i]) || absl::StartsWith(text.substr(i), "\xEF\xBC"))) {
      // An area code's parentheses (（0755）88889999); other parentheses of
      // the text stay as they were written.
      open_paren = out.size();
      out.push_back('(');
    } else if (cp == 0xFF09 && open_paren != std::string::npos && out.size() - open_paren <= 5) {
      out.push_back(')');
      open_paren = std::string::npos;
    } else if (cp == 0xFF0D || cp == 0x2010 || cp == 0x2011 || cp == 0x2013) {
      out.push_back('-');
    } else if (cp == 0x3000 || cp == 0x00A0) {
      out.push_back(' ');
    } else {
      out.append(text.data() + start, i - start);
    }
  }
  return out;
}

bool IsGroupSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '/' || c == ')'; }

}  // namespace

std::string MaskIdentifiersInText(absl::string_view original) {
  const std::string narrowed = Narrow(original);
  const absl::string_view text = narrowed;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '@' && !out.empty() && IsEmailLocal(out.back())) {
      // An address: the local part is already in `out`; find the domain.
      size_t end = i + 1;
      while (end < text.size() && IsDomainChar(text[end])) ++end;
      const absl::string_view domain = text.substr(i + 1, end - i - 1);
      const size_t dot = domain.rfind('.');
      if (dot != absl::string_view::npos && dot > 0 && domain.size() - dot - 1 >= 2) {
        size_t local = out.size();
        while (local > 0 && IsEmailLocal(out[local - 1])) --local;
        const std::string address = absl::StrCat(out.substr(local), "@", domain);
        out.resize(local);
        out += MaskEmail(address);
        i = end;
        continue;
      }
    }
    const bool opens = (c == '+' || c == '(') && i + 1 < text.size() && IsDigit(text[i + 1]);
    if (!IsDigit(c) && !opens) {
      out.push_back(c);
      ++i;
      continue;
    }
    // A run of digits in groups (separated by spaces, dashes, dots, slashes
    // or an area code's closing parenthesis) and a final X (ID numbers); a
    // leading + or ( is kept. Letters around it do not matter: over-masking
    // an order number is the safe side.
    const char lead = opens ? c : '\0';
    size_t end = opens ? i + 1 : i;
    std::string digits;
    std::vector<std::string> groups(1);
    std::string seps;
    while (end < text.size()) {
      const char d = text[end];
      if (IsDigit(d)) {
        digits.push_back(d);
        groups.back().push_back(d);
        ++end;
      } else if (IsGroupSeparator(d) && !digits.empty()) {
        size_t next = end;
        while (next < text.size() && IsGroupSeparator(text[next]) && next - end < 3) ++next;
        if (next >= text.size() || !IsDigit(text[next])) break;
        groups.emplace_back();
        seps.append(text.data() + end, next - end);
        seps.push_back('\0');  // one entry per gap
        end = next;
      } else if ((d == 'X' || d == 'x') && (digits.size() == 17 || groups.back().size() == 17)) {
        digits.push_back(d);
        groups.back().push_back(d);
        ++end;
        break;
      } else {
        break;
      }
    }
    std::vector<std::string> gaps = absl::StrSplit(seps, '\0');
    std::optional<std::string> masked = MaskNumber(digits);
    if (masked) {
      if (lead == '+') out.push_back('+');
      out += *masked;
    } else if (groups.size() > 1) {
      // Several numbers side by side ("13987654321 110105..."): each alone.
      if (lead != '\0') out.push_back(lead);
      for (size_t g = 0; g < groups.size(); ++g) {
        if (g > 0 && g - 1 < gaps.size()) out += gaps[g - 1];
        std::optional<std::string> one = MaskNumber(groups[g]);
        out += one ? *one : groups[g];
      }
    } else {
      out.append(text.data() + i, end - i);
    }
    i = end;
  }
  return out;
}

void MaskCaseText(v1::Case& c) {
  if (!c.summary().empty()) c.set_summary(MaskIdentifiersInText(c.summary()));
  for (auto& item : *c.mutable_checklist()) {
    if (!item.note().empty()) item.set_note(MaskIdentifiersInText(item.note()));
  }
}

void MaskClient(v1::Client& client) {
  client.set_display_name(MaskName(client.display_name()));
  if (!client.phone().empty()) client.set_phone(MaskPhone(client.phone()));
  if (!client.email().empty()) client.set_email(MaskEmail(client.email()));
  if (!client.national_id().empty()) client.set_national_id(MaskNationalId(client.national_id()));
  client.set_masked(true);
}

}  // namespace counsel::cases
