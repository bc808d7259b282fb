#include "guidance-svc/statute/search.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "guidance-svc/diff/char_diff.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {
namespace {

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
constexpr int kMaxHits = 1000;
constexpr size_t kSnippetContext = 24;  // code points either side

std::string Encode(const std::vector<char32_t>& t, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) AppendUtf8(t[i], &out);
  return out;
}

}  // namespace

std::vector<v1::SearchResult> ScanArticles(
    const std::vector<std::pair<const Catalog::Entry*, const Catalog::Version*>>& versions,
    absl::string_view query, int offset, int limit, int* total,
    const absl::flat_hash_set<const v1::Provision*>* candidates) {
  struct Match {
    double score;
    const Catalog::Entry* entry;
    const Catalog::Version* version;
    const v1::Provision* article;
  };
  std::vector<Match> matches;
  if (query.empty()) return {};
  size_t query_chars = 0;
  for (unsigned char c : query) query_chars += (c & 0xc0) != 0x80;
  // First pass on bytes only: UTF-8 makes a byte match of valid text a
  // character match. Length in characters = bytes not continuing a sequence.
  for (const auto& [entry, version] : versions) {
    for (const v1::Provision& a : version->articles) {
      if (candidates != nullptr && !candidates->contains(&a)) continue;
      const absl::string_view text = a.text();
      size_t count = 0;
      for (size_t at = text.find(query); at != absl::string_view::npos;
           at = text.find(query, at + query.size())) {
        ++count;
      }
      if (count == 0) continue;
      size_t chars = 0;
      for (unsigned char c : text) chars += (c & 0xc0) != 0x80;
      // The share of the text inside matches: more matches in less text
      // rank higher, and the measure does not depend on the path.
      const double share = static_cast<double>(count * query_chars) / static_cast<double>(chars);
      matches.push_back({std::min(1.0, share), entry, version, &a});
    }
  }
  *total = static_cast<int>(matches.size());
  const size_t end = std::min(matches.size(), static_cast<size_t>(offset + limit));
  if (static_cast<size_t>(offset) >= end) return {};
  std::partial_sort(matches.begin(), matches.begin() + static_cast<long>(end), matches.end(),
                    [](const Match& a, const Match& b) {
                      if (a.score != b.score) return a.score > b.score;
                      // Ties in catalogue order, so pages never overlap.
                      if (a.entry != b.entry) return a.entry->meta.name() < b.entry->meta.name();
                      return a.article < b.article;
                    });
  const std::vector<char32_t> q = DecodeUtf8(query);
  std::vector<v1::SearchResult> out;
  for (size_t k = static_cast<size_t>(offset); k < end; ++k) {
    const Match& m = matches[k];
    const std::vector<char32_t> t = DecodeUtf8(m.article->text());
    std::vector<size_t> at;
    for (size_t i = 0; i + q.size() <= t.size(); ++i) {
      if (std::equal(q.begin(), q.end(), t.begin() + static_cast<long>(i))) {
        at.push_back(i);
        i += q.size() - 1;
      }
    }
    v1::SearchResult r;
    r.set_provision(m.article->name());
    r.set_label(m.article->label());
    r.set_statute_title(m.entry->meta.title());
    r.set_version_id(m.version->meta.version_id());
    r.set_score(m.score);
    if (!at.empty()) {
      const size_t from = at[0] > kSnippetContext ? at[0] - kSnippetContext : 0;
      const size_t to = std::min(t.size(), at[0] + q.size() + kSnippetContext * 2);
      std::string snippet = from > 0 ? "…" : "";
      size_t pos = from;
      for (size_t p : at) {
        if (p < from || p + q.size() > to) continue;
        snippet += Encode(t, pos, p) + "【" + Encode(t, p, p + q.size()) + "】";
        pos = p + q.size();
      }
      snippet += Encode(t, pos, to);
      if (to < t.size()) snippet += "…";
      r.set_snippet(snippet);
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<v1::SearchProvisionsResponse> SearchProvisions(
    const Catalog& catalog, StatuteStore& store, const v1::SearchProvisionsRequest& request,
    absl::CivilDay today) {
  // A pasted query may span lines: tabs and line breaks are spaces.
  std::string query(absl::StripAsciiWhitespace(request.query()));
  for (char& c : query) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  if (query.empty()) return InvalidArgumentField("query", "is required");
  const std::vector<char32_t> cps = DecodeUtf8(query);
  if (std::find(cps.begin(), cps.end(), char32_t{0xFFFD}) != cps.end()) {
    return InvalidArgumentField("query", "is not valid UTF-8");
  }
  if (cps.size() > static_cast<size_t>(kMaxQueryChars)) {
    return InvalidArgumentField("query", absl::StrCat("is longer than ", kMaxQueryChars,
                                                      " characters"));
  }
  // Statute text has no other control characters, and FTS5 reads a NUL
  // inside a query phrase as its end (a syntax error, not a search).
  if (std::any_of(cps.begin(), cps.end(), [](char32_t c) { return c < 0x20 || c == 0x7F; })) {
    return InvalidArgumentField("query", "must not contain control characters");
  }
  if (request.page_size() < 0) return InvalidArgumentField("page_size", "must not be negative");
  const int size = request.page_size() == 0 ? kDefaultPageSize
                                            : std::min(request.page_size(), kMaxPageSize);
  int offset = 0;
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &offset) || offset < 0 || offset > kMaxHits)) {
    return InvalidArgumentField("page_token", "is not a token this service issued");
  }
  absl::CivilDay day = today;
  if (!request.as_of().empty()) {
    ASSIGN_OR_RETURN(day, ParseDate(request.as_of(), "as_of"));
  }
  // The versions in force on the day, per statute asked for.
  std::vector<std::pair<const Catalog::Entry*, const Catalog::Version*>> versions;
  if (!request.statute().empty()) {
    absl::string_view id = request.statute();
    if (!absl::ConsumePrefix(&id, "statutes/") || !IsValidSlug(id)) {
      return InvalidArgumentField("statute", "must be statutes/{statute}");
    }
    const Catalog::Entry* e = catalog.FindStatute(id);
    if (e == nullptr) {
      return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                             absl::StrCat(request.statute(), " is not in the catalogue"));
    }
    ASSIGN_OR_RETURN(const Catalog::Version* v,
                     catalog.SelectVersion(*e, FormatDate(day), "", false, today));
    versions.emplace_back(e, v);
  } else {
    for (const Catalog::Entry* e : catalog.Statutes()) {
      auto v = catalog.SelectVersion(*e, FormatDate(day), "", false, today);
      if (v.ok()) versions.emplace_back(e, *v);
    }
  }
  v1::SearchProvisionsResponse out;
  int total = 0;
  if (cps.size() >= 3) {
    // The index finds the candidates; ranking and scores are the scan's.
    absl::flat_hash_map<std::string, const Catalog::Version*> allowed;
    std::vector<std::string> keys;
    for (const auto& [e, v] : versions) {
      const std::string key =
          absl::StrCat(absl::StripPrefix(e->meta.name(), "statutes/"), "@", v->meta.version_id());
      allowed[key] = v;
      keys.push_back(key);
    }
    ASSIGN_OR_RETURN(std::vector<StatuteStore::Hit> hits,
                     store.Search(query, keys, 0, kMaxHits));
    absl::flat_hash_set<const v1::Provision*> candidates;
    for (const auto& h : hits) {
      auto it = allowed.find(absl::StrCat(h.statute_id, "@", h.version_id));
      if (it == allowed.end()) continue;
      auto p = it->second->by_eid.find(h.eid);
      if (p != it->second->by_eid.end()) candidates.insert(p->second);
    }
    for (auto& r : ScanArticles(versions, query, offset, size, &total, &candidates)) {
      *out.add_results() = std::move(r);
    }
  } else {
    for (auto& r : ScanArticles(versions, query, offset, size, &total)) {
      *out.add_results() = std::move(r);
    }
  }
  if (offset + size < std::min(total, kMaxHits)) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

}  // namespace counsel::guidance
