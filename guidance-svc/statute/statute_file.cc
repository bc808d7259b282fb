#include "guidance-svc/statute/statute_file.h"

#include <functional>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"
#include "guidance-svc/citation/numerals.h"
#include "common/crypto.h"

namespace counsel::guidance {
namespace {

using v1::Provision;

constexpr absl::string_view kFormat = "counsel-statute/1";
constexpr absl::string_view kInfoEnd = "<!-- INFO END -->";

std::string HexSha256(absl::string_view data) {
  return crypto::HexEncode(crypto::Sha256(data));
}

// Strips ASCII and full-width spaces (U+3000) and EN SPACE (U+2002).
absl::string_view TrimSpaces(absl::string_view s) {
  while (true) {
    s = absl::StripAsciiWhitespace(s);
    if (absl::ConsumePrefix(&s, "\u3000") || absl::ConsumePrefix(&s, "\u2002")) continue;
    if (absl::ConsumeSuffix(&s, "\u3000") || absl::ConsumeSuffix(&s, "\u2002")) continue;
    return s;
  }
}

struct ArticleHead {
  int number = 0;
  int suffix = 0;
  std::string label;     // 第二百五十三条之一
  absl::string_view rest;  // text after the label
};

// Recognises "第X条[之Y] text" at the start of a line.
std::optional<ArticleHead> ParseArticleHead(absl::string_view line) {
  if (!absl::StartsWith(line, "第")) return std::nullopt;
  const size_t tiao = line.find("条");
  if (tiao == absl::string_view::npos || tiao > 3 + 3 * 8) return std::nullopt;
  auto number = ParseChineseNumeral(line.substr(3, tiao - 3));
  if (!number) return std::nullopt;
  ArticleHead head;
  head.number = *number;
  absl::string_view rest = line.substr(tiao + 3);
  if (absl::StartsWith(rest, "之")) {
    // 之一 … 之九
    for (int len = 3; len <= 9 && len <= static_cast<int>(rest.size()) - 3; len += 3) {
      if (auto s = ParseChineseNumeral(rest.substr(3, static_cast<size_t>(len)))) {
        const absl::string_view after = rest.substr(3 + static_cast<size_t>(len));
        if (after.empty() || absl::StartsWith(after, " ") || absl::StartsWith(after, "\u3000")) {
          head.suffix = *s;
          rest = after;
        }
      }
    }
    if (head.suffix == 0) return std::nullopt;
  }
  // An article label is followed by a space (ASCII or full-width) or ends
  // the line; "第X条规定" in running text is not a heading.
  if (!rest.empty() && !absl::StartsWith(rest, " ") && !absl::StartsWith(rest, "\u3000")) {
    return std::nullopt;
  }
  head.label = std::string(line.substr(0, line.size() - rest.size()));
  head.rest = TrimSpaces(rest);
  return head;
}

// "（六）…" → 6.
std::optional<int> ParseItemHead(absl::string_view line) {
  absl::string_view s = line;
  bool full_width = absl::ConsumePrefix(&s, "（");
  if (!full_width && !absl::ConsumePrefix(&s, "(")) return std::nullopt;
  size_t close = s.find(full_width ? "）" : ")");
  if (close == absl::string_view::npos || close > 12) return std::nullopt;
  return ParseChineseNumeral(s.substr(0, close));
}

// "1．…" / "1. …" → 1 (目).
std::optional<int> ParseSubitemHead(absl::string_view line) {
  size_t i = 0;
  while (i < line.size() && absl::ascii_isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0 || i > 2) return std::nullopt;
  const absl::string_view after = line.substr(i);
  if (!absl::StartsWith(after, "．") && !absl::StartsWith(after, ".")) return std::nullopt;
  int n = 0;
  for (size_t k = 0; k < i; ++k) n = n * 10 + (line[k] - '0');
  return n;
}

// The value `text` names in `table`, or nullopt.
template <typename T, size_t N>
std::optional<T> OneOf(absl::string_view text, const std::pair<const char*, T> (&table)[N]) {
  for (const auto& [name, value] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

// "a, b or c" for an error message.
template <typename T, size_t N>
std::string Names(const std::pair<const char*, T> (&table)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : i + 1 == N ? " or " : ", ", table[i].first);
  }
  return out;
}

// "一、当事人举证": a numeral and an enumeration comma open the heading.
bool IsEnumeratedHeading(absl::string_view heading) {
  const size_t comma = heading.find("、");
  return comma != absl::string_view::npos && comma > 0 && comma <= 3 * 4 &&
         ParseChineseNumeral(heading.substr(0, comma)).has_value();
}

void AppendText(Provision* p, absl::string_view text) {
  if (!p->text().empty()) p->mutable_text()->append("\n");
  p->mutable_text()->append(text.data(), text.size());
}

}  // namespace

namespace {

void AssignPartWids(Provision* p, const std::string& article_eid, const std::string& article_wid,
                    const absl::flat_hash_map<std::string, std::string>& map, bool listed,
                    const std::string& version_id) {
  for (Provision& child : *p->mutable_children()) {
    if (auto it = map.find(child.eid()); it != map.end()) {
      child.set_wid(it->second);
    } else if (listed) {
      child.set_wid(absl::StrCat(version_id, "/", child.eid()));
    } else {
      child.set_wid(absl::StrCat(article_wid, child.eid().substr(article_eid.size())));
    }
    AssignPartWids(&child, article_eid, article_wid, map, listed, version_id);
  }
}

}  // namespace

std::vector<v1::Provision> ArticlesWithWids(const ParsedStatuteVersion& parsed) {
  const absl::flat_hash_map<std::string, std::string> map(parsed.wid_map.begin(),
                                                          parsed.wid_map.end());
  const std::string& version_id = parsed.version.version_id();
  std::vector<v1::Provision> out = parsed.articles;
  for (Provision& a : out) {
    auto it = map.find(a.eid());
    a.set_wid(it != map.end() ? it->second : absl::StrCat(version_id, "/", a.eid()));
    // An article not continuing an earlier one is new, and so are its parts.
    AssignPartWids(&a, a.eid(), a.wid(), map, parsed.wid_parts_listed && it != map.end(),
                   version_id);
    for (const auto& [eid, wid] : parsed.also_continues) {
      if (eid == a.eid()) a.add_also_continues(wid);
    }
  }
  return out;
}

std::string ArticleEid(int number, int suffix) {
  return suffix == 0 ? absl::StrCat("art_", number) : absl::StrCat("art_", number, "-", suffix);
}

bool IsValidSlug(absl::string_view id) {
  if (id.empty() || id.size() > 63 || !absl::ascii_islower(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  for (char c : id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<ParsedStatuteVersion> ParseStatuteFile(absl::string_view content,
                                                      absl::string_view source_name) {
  auto error = [&](int line, absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", line, ": ", message));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(content, '\n');
  ParsedStatuteVersion out;
  v1::Statute& statute = out.statute;
  v1::StatuteVersion& version = out.version;

  // Header.
  size_t i = 0;
  absl::flat_hash_set<std::string> seen;
  std::string format, body_sha256;
  bool amendment_form = false;
  for (; i < lines.size(); ++i) {
    absl::string_view line = absl::StripSuffix(lines[i], "\r");
    const int lineno = static_cast<int>(i) + 1;
    if (line.empty()) break;
    const size_t colon = line.find(": ");
    if (colon == absl::string_view::npos) return error(lineno, "header line is not `key: value`");
    const std::string key(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 2));
    // wid_map and also_continues may run over several lines (one article's
    // continuation with its parts a line).
    if (!seen.insert(key).second && key != "wid_map" && key != "also_continues") {
      return error(lineno, absl::StrCat("header key '", key, "' repeated"));
    }
    auto date = [&](std::string* field) -> absl::Status {
      auto d = ParseDate(value, key);
      if (!d.ok()) return error(lineno, d.status().message());
      *field = FormatDate(*d);
      return absl::OkStatus();
    };
    auto boolean = [&](bool* field) -> absl::Status {
      if (value == "true") *field = true;
      else if (value == "false") *field = false;
      else return error(lineno, absl::StrCat("'", key, "' must be true or false"));
      return absl::OkStatus();
    };
    absl::Status st;
    bool flag = false;
    if (key == "format") format = std::string(value);
    else if (key == "statute") {
      if (!IsValidSlug(value)) return error(lineno, "statute id must match [a-z][a-z0-9-]{0,62}");
      statute.set_name(absl::StrCat("statutes/", value));
    } else if (key == "title") statute.set_title(std::string(value));
    else if (key == "short_title") statute.set_short_title(std::string(value));
    else if (key == "aliases") {
      for (absl::string_view a : absl::StrSplit(value, absl::ByAnyChar(",，"), absl::SkipWhitespace())) {
        statute.add_aliases(std::string(TrimSpaces(a)));
      }
    } else if (key == "issuing_body") {
      statute.set_issuing_body(std::string(value));
      if (version.issuing_body().empty()) version.set_issuing_body(std::string(value));
    } else if (key == "version_issuing_body") {
      version.set_issuing_body(std::string(value));
    } else if (key == "body_form") {
      if (value != "consolidated" && value != "amendment") {
        return error(lineno, "body_form must be consolidated or amendment");
      }
      amendment_form = value == "amendment";
    } else if (key == "version_id") st = date(version.mutable_version_id());
    else if (key == "promulgated") st = date(version.mutable_promulgated_date());
    else if (key == "effective") st = date(version.mutable_effective_date());
    else if (key == "ended") st = date(version.mutable_end_date());
    else if (key == "repealed") { st = boolean(&flag); version.set_repealed(flag); }
    else if (key == "excerpt") { st = boolean(&flag); version.set_excerpt(flag); }
    else if (key == "original") { st = boolean(&flag); version.set_original_text(flag); }
    else if (key == "document_number") version.set_document_number(std::string(value));
    else if (key == "source") version.set_source(std::string(value));
    else if (key == "body_sha256") body_sha256 = std::string(value);
    else if (key == "wid_map" || key == "also_continues") {
      // "art_50=2013-01-01/art_42, art_51=…": eid in this version → wid.
      for (absl::string_view pair : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(absl::StripAsciiWhitespace(pair), '=');
        if (kv.first.empty() || kv.second.empty() || !absl::StrContains(kv.second, "/")) {
          return error(lineno, absl::StrCat(key, " entries are eid=wid"));
        }
        (key == "wid_map" ? out.wid_map : out.also_continues).push_back(kv);
      }
    } else if (key == "wid_parts") {
      if (value != "listed" && value != "by-position") {
        return error(lineno, "wid_parts must be listed or by-position");
      }
      out.wid_parts_listed = value == "listed";
    } else if (key == "kind") {
      static constexpr std::pair<const char*, v1::Statute::Kind> kKinds[] = {
          {"law", v1::Statute::KIND_LAW},
          {"administrative-regulation", v1::Statute::KIND_ADMINISTRATIVE_REGULATION},
          {"judicial-interpretation", v1::Statute::KIND_JUDICIAL_INTERPRETATION}};
      auto kind = OneOf(value, kKinds);
      if (!kind) return error(lineno, absl::StrCat("kind must be ", Names(kKinds)));
      statute.set_kind(*kind);
    } else if (key == "date_confidence") {
      using V = v1::StatuteVersion;
      static constexpr std::pair<const char*, V::DateConfidence> kLevels[] = {
          {"confirmed-by-text", V::DATE_CONFIDENCE_CONFIRMED_BY_TEXT},
          {"from-amending-decision", V::DATE_CONFIDENCE_FROM_AMENDING_DECISION},
          {"unconfirmed", V::DATE_CONFIDENCE_UNCONFIRMED}};
      auto level = OneOf(value, kLevels);
      if (!level) return error(lineno, absl::StrCat("date_confidence must be ", Names(kLevels)));
      version.set_date_confidence(*level);
    } else if (key == "date_source") {
      version.set_date_source(std::string(value));
    } else if (absl::StartsWith(key, "note")) {
      // Free-form provenance notes; kept in the file, not parsed.
    } else {
      return error(lineno, absl::StrCat("unknown header key '", key, "'"));
    }
    if (!st.ok()) return st;
  }
  const int body_line = static_cast<int>(i) + 2;
  if (format != kFormat) return error(1, absl::StrCat("format must be '", kFormat, "'"));
  for (const char* required : {"statute", "title", "version_id", "effective", "source"}) {
    if (!seen.contains(required)) {
      return error(1, absl::StrCat("header key '", required, "' is required"));
    }
  }
  if (version.version_id() != version.effective_date()) {
    return error(1, "version_id must equal the effective date");
  }
  if (!version.promulgated_date().empty() &&
      version.promulgated_date() > version.effective_date()) {
    return error(1, "promulgated must not be after effective");
  }
  if (!version.end_date().empty() && version.end_date() < version.effective_date()) {
    return error(1, "ended must not be before effective");
  }
  if (i >= lines.size()) return error(static_cast<int>(i), "no statute text after the header");

  // Body: everything after the blank line, byte for byte.
  size_t body_offset = 0;
  for (size_t k = 0; k <= i; ++k) body_offset += lines[k].size() + 1;
  const absl::string_view body = content.substr(std::min(body_offset, content.size()));
  if (!body_sha256.empty() && HexSha256(body) != body_sha256) {
    return error(body_line, "statute text does not match body_sha256: it was changed after its source was recorded");
  }
  version.set_content_sha256(HexSha256(content));

  std::string part, chapter, section;
  bool in_preamble = absl::StrContains(body, kInfoEnd);
  Provision* article = nullptr;
  Provision* paragraph = nullptr;
  Provision* item = nullptr;
  absl::flat_hash_set<std::string> eids;
  for (size_t k = i + 1; k < lines.size(); ++k) {
    const int lineno = static_cast<int>(k) + 1;
    absl::string_view raw = absl::StripSuffix(lines[k], "\r");
    if (in_preamble) {
      if (TrimSpaces(raw) == kInfoEnd) in_preamble = false;
      continue;
    }
    absl::string_view line = TrimSpaces(raw);
    if (line.empty()) continue;
    if (absl::StartsWith(line, "#")) {
      const absl::string_view hashes = line.substr(0, line.find_first_not_of('#'));
      const std::string heading(TrimSpaces(line.substr(hashes.size())));
      // Containers by their word (编, 章, 节), not by Markdown depth, which
      // varies between sources.
      size_t first_space = heading.size();
      for (const char* sp : {" ", "\u3000", "\u2002"}) {
        first_space = std::min(first_space, heading.find(sp));
      }
      const absl::string_view head_word = absl::string_view(heading).substr(0, first_space);
      if (absl::EndsWith(head_word, "编")) { part = heading; chapter.clear(); section.clear(); }
      else if (absl::EndsWith(head_word, "章")) { chapter = heading; section.clear(); }
      else if (absl::EndsWith(head_word, "节")) { section = heading; }
      else if (IsEnumeratedHeading(heading)) {
        // Judicial interpretations group articles as "一、当事人举证".
        chapter = heading;
        section.clear();
      }
      article = paragraph = item = nullptr;  // a heading closes the article
      continue;
    }
    if (absl::StartsWith(line, "<!--")) {
      article = paragraph = item = nullptr;  // an editorial comment ends the article
      continue;
    }
    if (amendment_form) {
      // An amending act quotes the article it inserts or rewrites:
      //   七、在刑法第二百五十三条后增加一条，作为第二百五十三条之一：“…
      //   “…（further paragraphs, each opening with a quotation mark）…”
      const size_t as = line.find("作为第");
      const size_t quote = line.find("“");
      if (as != absl::string_view::npos && quote != absl::string_view::npos && as < quote) {
        absl::string_view label_text = line.substr(as + 6, quote - as - 6);
        absl::ConsumeSuffix(&label_text, "：");
        absl::ConsumeSuffix(&label_text, ":");
        auto head = ParseArticleHead(absl::StrCat(label_text, " x"));
        if (!head) return error(lineno, "cannot read the inserted article's number");
        const std::string eid = ArticleEid(head->number, head->suffix);
        if (!eids.insert(eid).second) return error(lineno, absl::StrCat(head->label, " appears twice"));
        out.articles.emplace_back();
        article = &out.articles.back();
        article->set_eid(eid);
        article->set_kind(Provision::KIND_ARTICLE);
        article->set_label(head->label);
        line = line.substr(quote + 3);
      } else if (article != nullptr && absl::StartsWith(line, "“")) {
        line = line.substr(3);
      } else {
        article = paragraph = item = nullptr;
        continue;
      }
      const bool closes = absl::ConsumeSuffix(&line, "”");
      AppendText(article, line);
      paragraph = article->add_children();
      paragraph->set_kind(Provision::KIND_PARAGRAPH);
      paragraph->set_text(std::string(line));
      if (closes) article = paragraph = item = nullptr;
      continue;
    }
    if (auto head = ParseArticleHead(line)) {
      const std::string eid = ArticleEid(head->number, head->suffix);
      if (!eids.insert(eid).second) return error(lineno, absl::StrCat(head->label, " appears twice"));
      out.articles.emplace_back();
      article = &out.articles.back();
      article->set_eid(eid);
      article->set_kind(Provision::KIND_ARTICLE);
      article->set_label(head->label);
      article->set_part(part);
      article->set_chapter(chapter);
      article->set_section(section);
      AppendText(article, head->rest);
      paragraph = item = nullptr;
      if (!head->rest.empty()) {
        paragraph = article->add_children();
        paragraph->set_kind(Provision::KIND_PARAGRAPH);
        paragraph->set_text(std::string(head->rest));
      }
      continue;
    }
    if (article == nullptr) {
      // Text outside any article (a closing note, a heading's subtitle) is
      // not a provision.
      continue;
    }
    AppendText(article, line);
    if (auto n = ParseItemHead(line); n && paragraph != nullptr) {
      item = paragraph->add_children();
      item->set_kind(Provision::KIND_ITEM);
      item->set_eid(std::to_string(*n));  // provisional: ordinal, fixed below
      item->set_text(std::string(line));
      AppendText(paragraph, line);
      continue;
    }
    if (auto n = ParseSubitemHead(line); n && item != nullptr) {
      Provision* sub = item->add_children();
      sub->set_kind(Provision::KIND_SUBITEM);
      sub->set_eid(std::to_string(*n));
      sub->set_text(std::string(line));
      AppendText(item, line);
      AppendText(paragraph, line);
      continue;
    }
    paragraph = article->add_children();
    paragraph->set_kind(Provision::KIND_PARAGRAPH);
    paragraph->set_text(std::string(line));
    item = nullptr;
  }
  if (out.articles.empty()) return error(body_line, "no article (第X条) found in the statute text");

  // Names, eids and labels of paragraphs, items and sub-items.
  const std::string& statute_name = statute.name();
  for (Provision& a : out.articles) {
    a.set_name(absl::StrCat(statute_name, "/provisions/", a.eid()));
    int para_no = 0;
    for (Provision& p : *a.mutable_children()) {
      ++para_no;
      p.set_eid(absl::StrCat(a.eid(), "__para_", para_no));
      p.set_label(absl::StrCat("第", ToChineseNumeral(para_no), "款"));
      p.set_name(absl::StrCat(statute_name, "/provisions/", p.eid()));
      for (Provision& it : *p.mutable_children()) {
        const int n = std::stoi(it.eid());
        it.set_eid(absl::StrCat(p.eid(), "__item_", n));
        it.set_label(absl::StrCat("第（", ToChineseNumeral(n), "）项"));
        it.set_name(absl::StrCat(statute_name, "/provisions/", it.eid()));
        for (Provision& s : *it.mutable_children()) {
          const int m = std::stoi(s.eid());
          s.set_eid(absl::StrCat(it.eid(), "__point_", m));
          s.set_label(absl::StrCat("第", ToChineseNumeral(m), "目"));
          s.set_name(absl::StrCat(statute_name, "/provisions/", s.eid()));
        }
      }
    }
  }
  // A map entry naming nothing here is a map made for another text.
  absl::flat_hash_set<std::string> all_eids;
  std::function<void(const Provision&)> collect = [&](const Provision& p) {
    all_eids.insert(p.eid());
    for (const auto& c : p.children()) collect(c);
  };
  for (const Provision& a : out.articles) collect(a);
  absl::flat_hash_set<std::string> mapped_eids, mapped_wids;
  for (const auto* entries : {&out.wid_map, &out.also_continues}) {
    const char* key = entries == &out.wid_map ? "wid_map" : "also_continues";
    for (const auto& [eid, wid] : *entries) {
      if (!all_eids.contains(eid)) {
        return error(1, absl::StrCat(key, " names ", eid, ", which this text does not have"));
      }
      // A wid continues a provision of an earlier version: "{version_id}/{eid}".
      const size_t slash = wid.find('/');
      auto from = ParseDate(absl::string_view(wid).substr(0, slash), key);
      if (!from.ok() || FormatDate(*from) >= version.version_id() || slash + 1 >= wid.size()) {
        return error(1, absl::StrCat(key, " entry ", eid, "=", wid,
                                     " must name a provision of an earlier version"));
      }
      if (entries == &out.also_continues) {
        if (absl::StrContains(eid, "__")) {
          return error(1, absl::StrCat("also_continues names articles only, not ", eid));
        }
        continue;
      }
      // One provision, one wid: two provisions sharing one would make a
      // citation of either resolve to whichever was indexed last.
      if (!mapped_eids.insert(eid).second) {
        return error(1, absl::StrCat("wid_map maps ", eid, " twice"));
      }
      if (!mapped_wids.insert(wid).second) {
        return error(1, absl::StrCat("wid_map gives ", wid, " to two provisions"));
      }
    }
  }
  version.set_article_count(static_cast<int>(out.articles.size()));
  return out;
}

}  // namespace counsel::guidance
