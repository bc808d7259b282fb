#include "guidance-svc/citation/citation_parser.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "guidance-svc/citation/numerals.h"
#include "guidance-svc/diff/char_diff.h"

namespace counsel::guidance {
namespace {

using Text = std::vector<char32_t>;

constexpr absl::string_view kPrc = "中华人民共和国";

bool IsNumeralChar(char32_t c) {
  static const std::u32string kChars = U"零〇一二两三四五六七八九十百千0123456789０１２３４５６７８９";
  return kChars.find(c) != std::u32string::npos;
}

std::string Utf8(const Text& t, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < t.size(); ++i) AppendUtf8(t[i], &out);
  return out;
}

bool At(const Text& t, size_t i, const Text& word) {
  if (i + word.size() > t.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (t[i + k] != word[k]) return false;
  }
  return true;
}

// Reads 第<numeral><unit> at i; returns the number and moves i past it.
std::optional<int> ReadOrdinal(const Text& t, size_t& i, char32_t unit) {
  size_t j = i;
  if (j >= t.size() || t[j] != U'第') return std::nullopt;
  ++j;
  const size_t begin = j;
  bool parens = false;
  if (unit == U'项' && j < t.size() && (t[j] == U'（' || t[j] == U'(')) {
    parens = true;
    ++j;
  }
  const size_t num_begin = j;
  while (j < t.size() && IsNumeralChar(t[j]) && j - num_begin < 8) ++j;
  if (j == num_begin) return std::nullopt;
  auto n = ParseChineseNumeral(Utf8(t, num_begin, j));
  if (parens) {
    if (j >= t.size() || (t[j] != U'）' && t[j] != U')')) return std::nullopt;
    ++j;
  }
  if (!n || j >= t.size() || t[j] != unit || j == begin) return std::nullopt;
  i = j + 1;
  return n;
}

std::string Normalise(absl::string_view name) {
  absl::string_view n = absl::StripAsciiWhitespace(name);
  absl::ConsumePrefix(&n, kPrc);
  return std::string(n);
}

}  // namespace

std::vector<RawCitation> ParseCitations(absl::string_view input,
                                        const std::vector<StatuteNames>& statutes,
                                        absl::string_view default_statute_id) {
  const Text t = DecodeUtf8(input);
  // Plain names to spot without brackets, longest first wins at a position.
  struct Name {
    Text text;
    std::string statute_id;
  };
  std::vector<Name> names;
  for (const auto& s : statutes) {
    for (const auto& n : s.names) {
      for (const std::string& form : {n, Normalise(n)}) {
        Text decoded = DecodeUtf8(form);
        if (decoded.size() >= 2) names.push_back({std::move(decoded), s.statute_id});
      }
    }
  }
  auto lookup_title = [&](const std::string& title) -> std::string {
    const std::string want = Normalise(title);
    for (const auto& s : statutes) {
      for (const auto& n : s.names) {
        if (Normalise(n) == want) return s.statute_id;
      }
    }
    return "";
  };

  std::vector<RawCitation> out;
  std::string last_statute(default_statute_id);
  // A statute mention that a following 第X条 attaches to.
  struct Mention {
    size_t start = 0, end = 0;
    std::string statute_id, unknown_title;
  };
  std::optional<Mention> mention;
  size_t i = 0;
  const Text kBenFa = DecodeUtf8("本法");
  while (i < t.size()) {
    if (t[i] == U'《') {
      size_t close = i + 1;
      while (close < t.size() && close - i < 64 && t[close] != U'》') ++close;
      if (close < t.size() && t[close] == U'》') {
        Mention m{i, close + 1, lookup_title(Utf8(t, i + 1, close)), ""};
        if (m.statute_id.empty()) m.unknown_title = Utf8(t, i + 1, close);
        if (!m.statute_id.empty()) last_statute = m.statute_id;
        mention = m;
        i = close + 1;
        continue;
      }
    }
    if (At(t, i, kBenFa)) {
      mention = Mention{i, i + kBenFa.size(), last_statute, ""};
      i += kBenFa.size();
      continue;
    }
    const Name* best = nullptr;
    for (const Name& n : names) {
      if (At(t, i, n.text) && (best == nullptr || n.text.size() > best->text.size())) best = &n;
    }
    if (best != nullptr) {
      mention = Mention{i, i + best->text.size(), best->statute_id, ""};
      last_statute = best->statute_id;
      i += best->text.size();
      continue;
    }
    if (t[i] == U'第') {
      size_t j = i;
      if (auto article = ReadOrdinal(t, j, U'条')) {
        RawCitation c;
        c.article = *article;
        // 之一 … 之九
        if (j + 1 < t.size() && t[j] == U'之') {
          if (auto s = ParseChineseNumeral(Utf8(t, j + 1, j + 2)); s && *s <= 9) {
            c.article_suffix = *s;
            j += 2;
          }
        }
        size_t k = j;
        if (auto p = ReadOrdinal(t, k, U'款')) { c.paragraph = *p; j = k; }
        k = j;
        if (auto it = ReadOrdinal(t, k, U'项')) { c.item = *it; j = k; }
        k = j;
        if (c.item > 0) {
          if (auto s = ReadOrdinal(t, k, U'目')) { c.subitem = *s; j = k; }
        }
        size_t start = i;
        if (mention && mention->end == i) {
          start = mention->start;
          c.statute_id = mention->statute_id;
          c.unknown_title = mention->unknown_title;
        } else {
          c.statute_id = last_statute;
        }
        c.start = static_cast<int>(start);
        c.end = static_cast<int>(j);
        c.text = Utf8(t, start, j);
        out.push_back(std::move(c));
        mention.reset();
        i = j;
        continue;
      }
    }
    ++i;
  }
  return out;
}

}  // namespace counsel::guidance
