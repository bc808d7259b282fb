#include "common/utf8.h"

namespace counsel::utf8 {

bool Next(absl::string_view s, size_t* pos, char32_t* cp) {
  const size_t i = *pos;
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                                  : (c >> 3) == 0x1E ? 4 : 0;
  bool ok = len > 0 && i + len <= s.size();
  char32_t v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (size_t k = 1; ok && k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    ok = (cc >> 6) == 0x2;
    v = (v << 6) | (cc & 0x3F);
  }
  ok = ok && !(len == 2 && v < 0x80) && !(len == 3 && v < 0x800) &&
       !(len == 4 && (v < 0x10000 || v > 0x10FFFF)) && !(v >= 0xD800 && v <= 0xDFFF);
  if (!ok) {
    *pos = i + 1;
    *cp = 0xFFFD;
    return false;
  }
  *pos = i + len;
  *cp = v;
  return true;
}

bool IsValid(absl::string_view s) {
  size_t i = 0;
  char32_t cp;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!Next(s, &i, &cp)) return false;
  }
  return true;
}

std::string Sanitize(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  char32_t cp;
  while (i < s.size()) {
    const size_t start = i;
    if (Next(s, &i, &cp)) {
      out.append(s.data() + start, i - start);
    } else {
      out.append("\xEF\xBF\xBD");
    }
  }
  return out;
}

size_t Length(absl::string_view s) {
  size_t n = 0, i = 0;
  char32_t cp;
  while (i < s.size()) {
    Next(s, &i, &cp);
    ++n;
  }
  return n;
}

void Append(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsForbiddenControl(char32_t cp, bool allow_newline_tab) {
  if (allow_newline_tab && (cp == '\n' || cp == '\t')) return false;
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return true;
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace counsel::utf8
