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
    absl::string_view query) {
  const std::vector<char32_t> q = DecodeUtf8(query);
  std::vector<v1::SearchResult> out;
  if (q.empty()) return out;
  for (const auto& [entry, version] : versions) {
    for (const v1::Provision& a : version->articles) {
      // Cheap byte search first; decode only articles that match.
      if (absl::string_view(a.text()).find(query) == absl::string_view::npos) continue;
      const std::vector<char32_t> t = DecodeUtf8(a.text());
      std::vector<size_t> at;
      for (size_t i = 0; i + q.size() <= t.size(); ++i) {
        if (std::equal(q.begin(), q.end(), t.begin() + static_cast<long>(i))) {
          at.push_back(i);
          i += q.size() - 1;
        }
      }
      if (at.empty()) continue;
      v1::SearchResult r;
      r.set_provision(a.name());
      r.set_label(a.label());
      r.set_statute_title(entry->meta.title());
      r.set_version_id(version->meta.version_id());
      // More matches in less text rank higher.
      r.set_score(static_cast<double>(at.size()) / std::sqrt(static_cast<double>(t.size()) + 1.0));
      const size_t from = at[0] > kSnippetContext ? at[0] - kSnippetContext : 0;
      const size_t to = std::min(t.size(), at[0] + q.size() + kSnippetContext * 2);
      std::string snippet = from > 0 ? "…" : "";
      size_t pos = from;
      for (size_t m : at) {
        if (m < from || m + q.size() > to) continue;
        snippet += Encode(t, pos, m) + "【" + Encode(t, m, m + q.size()) + "】";
        pos = m + q.size();
      }
      snippet += Encode(t, pos, to);
      if (to < t.size()) snippet += "…";
      r.set_snippet(snippet);
      out.push_back(std::move(r));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.score() > b.score();
  });
  return out;
}

absl::StatusOr<v1::SearchProvisionsResponse> SearchProvisions(
    const Catalog& catalog, StatuteStore& store, const v1::SearchProvisionsRequest& request,
    absl::CivilDay today) {
  const std::string query(absl::StripAsciiWhitespace(request.query()));
  if (query.empty()) return InvalidArgumentField("query", "is required");
  const std::vector<char32_t> cps = DecodeUtf8(query);
  if (std::find(cps.begin(), cps.end(), char32_t{0xFFFD}) != cps.end()) {
    return InvalidArgumentField("query", "is not valid UTF-8");
  }
  if (cps.size() > static_cast<size_t>(kMaxQueryChars)) {
    return InvalidArgumentField("query", absl::StrCat("is longer than ", kMaxQueryChars,
                                                      " characters"));
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
  std::vector<v1::SearchResult> results;
  if (cps.size() >= 3) {
    absl::flat_hash_map<std::string, std::pair<const Catalog::Entry*, const Catalog::Version*>>
        allowed;
    for (const auto& [e, v] : versions) {
      allowed[absl::StrCat(e->meta.name(), "@", v->meta.version_id())] = {e, v};
    }
    ASSIGN_OR_RETURN(std::vector<StatuteStore::Hit> hits, store.Search(query, kMaxHits * 4));
    for (const auto& h : hits) {
      auto it = allowed.find(absl::StrCat("statutes/", h.statute_id, "@", h.version_id));
      if (it == allowed.end()) continue;
      auto p = it->second.second->by_eid.find(h.eid);
      if (p == it->second.second->by_eid.end()) continue;
      v1::SearchResult r;
      r.set_provision(p->second->name());
      r.set_label(p->second->label());
      r.set_statute_title(it->second.first->meta.title());
      r.set_version_id(h.version_id);
      r.set_snippet(h.snippet);
      r.set_score(h.score);
      results.push_back(std::move(r));
      if (static_cast<int>(results.size()) >= kMaxHits) break;
    }
  } else {
    results = ScanArticles(versions, query);
    if (static_cast<int>(results.size()) > kMaxHits) results.resize(kMaxHits);
  }
  v1::SearchProvisionsResponse out;
  const int total = static_cast<int>(results.size());
  for (int i = offset; i < total && i < offset + size; ++i) {
    *out.add_results() = std::move(results[static_cast<size_t>(i)]);
  }
  if (offset + size < total) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

}  // namespace counsel::guidance
