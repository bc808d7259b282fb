#include "guidance-svc/statute/catalog.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "absl/container/flat_hash_set.h"
#include "guidance-svc/citation/citation_parser.h"
#include "guidance-svc/citation/numerals.h"
#include "guidance-svc/diff/char_diff.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// Sets citation_label on an article and its parts.
void LabelTree(v1::Provision* article, ProvisionRef ref) {
  article->set_citation_label(CitationLabel(ref, 0));
  const int paragraphs = article->children_size();
  for (int p = 0; p < paragraphs; ++p) {
    v1::Provision* para = article->mutable_children(p);
    ref.paragraph = p + 1;
    ref.item = ref.subitem = 0;
    para->set_citation_label(CitationLabel(ref, paragraphs));
    for (auto& item : *para->mutable_children()) {
      ref.item = 0;
      int n = 0;
      if (absl::SimpleAtoi(item.eid().substr(item.eid().rfind('_') + 1), &n)) ref.item = n;
      ref.subitem = 0;
      item.set_citation_label(CitationLabel(ref, paragraphs));
      for (auto& sub : *item.mutable_children()) {
        if (absl::SimpleAtoi(sub.eid().substr(sub.eid().rfind('_') + 1), &n)) ref.subitem = n;
        sub.set_citation_label(CitationLabel(ref, paragraphs));
      }
    }
  }
}

}  // namespace

std::string PositionalEid(const ProvisionRef& ref) {
  std::string eid = ArticleEid(ref.article, ref.article_suffix);
  if (ref.paragraph == 0 && ref.item == 0) return eid;
  absl::StrAppend(&eid, "__para_", std::max(ref.paragraph, 1));
  if (ref.item > 0) absl::StrAppend(&eid, "__item_", ref.item);
  if (ref.item > 0 && ref.subitem > 0) absl::StrAppend(&eid, "__point_", ref.subitem);
  return eid;
}

namespace {

// "art_253-1" → {253, 1}.
ProvisionRef ArticleRef(absl::string_view eid) {
  ProvisionRef ref;
  absl::string_view rest = eid;
  absl::ConsumePrefix(&rest, "art_");
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(rest, absl::MaxSplits('-', 1));
  (void)absl::SimpleAtoi(parts.first, &ref.article);
  if (!parts.second.empty()) (void)absl::SimpleAtoi(parts.second, &ref.article_suffix);
  return ref;
}

void IndexTree(const v1::Provision& p, Catalog::Version* v) {
  v->by_eid[p.eid()] = &p;
  if (!p.wid().empty()) v->by_wid[p.wid()] = &p;
  for (const auto& c : p.children()) IndexTree(c, v);
}

absl::CivilDay DayOrDie(const std::string& s) {
  auto d = ParseDate(s, "date");
  return d.ok() ? *d : absl::CivilDay(1970, 1, 1);
}

// Page tokens for catalogue lists are the offset, as text: the catalogue is
// ordered and immutable between imports.
absl::StatusOr<int> ParsePage(int page_size, const std::string& token, int* size) {
  if (page_size < 0) return InvalidArgumentField("page_size", "must not be negative");
  *size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  if (token.empty()) return 0;
  int offset = 0;
  if (!absl::SimpleAtoi(token, &offset) || offset < 0) {
    return InvalidArgumentField("page_token", "is not a token this service issued");
  }
  return offset;
}

// "statutes/{id}" → id; "statutes/{id}/provisions/{eid}" → (id, eid).
absl::StatusOr<std::string> StatuteIdFromName(absl::string_view name, absl::string_view field) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "statutes/") || !IsValidSlug(rest)) {
    return InvalidArgumentField(field, "must be statutes/{statute}");
  }
  return std::string(rest);
}

}  // namespace

std::shared_ptr<const Catalog> Catalog::Build(std::vector<StoredStatute> statutes) {
  std::shared_ptr<Catalog> c(new Catalog());
  for (StoredStatute& s : statutes) {
    const std::string id(absl::StripPrefix(s.statute.name(), "statutes/"));
    Entry& e = c->statutes_[id];
    e.meta = std::move(s.statute);
    for (auto& sv : s.versions) {
      auto v = std::make_unique<Version>();
      v->meta = std::move(sv.version);
      v->effective = DayOrDie(v->meta.effective_date());
      v->promulgated = v->meta.promulgated_date().empty() ? v->effective
                                                          : DayOrDie(v->meta.promulgated_date());
      v->open_ended = v->meta.end_date().empty();
      if (!v->open_ended) v->end = DayOrDie(v->meta.end_date());
      v->articles = std::move(sv.articles);
      for (auto& a : v->articles) LabelTree(&a, ArticleRef(a.eid()));
      for (const auto& a : v->articles) {
        IndexTree(a, v.get());
        for (const std::string& w : a.also_continues()) v->by_also.emplace(w, &a);
      }
      e.versions.push_back(std::move(v));
    }
    std::sort(e.versions.begin(), e.versions.end(),
              [](const auto& a, const auto& b) { return a->effective < b->effective; });
    // A version without an end date ends where the next one begins.
    for (size_t i = 0; i + 1 < e.versions.size(); ++i) {
      Version& v = *e.versions[i];
      if (v.open_ended) {
        v.open_ended = false;
        v.end = e.versions[i + 1]->effective - 1;
        v.meta.set_end_date(FormatDate(v.end));
      }
    }
    // An answer rests on an unconfirmed date when its version's start is
    // unconfirmed, or the next version's start (which ends it) is.
    auto caveat = [](const Version& v) {
      return absl::StrCat("the commencement date ", v.meta.effective_date(), " of version ",
                          v.meta.version_id(),
                          " is not confirmed by its source; near that date, which text was in "
                          "force is uncertain (",
                          v.meta.date_source().empty() ? "no date source recorded"
                                                       : v.meta.date_source(),
                          ")");
    };
    for (size_t i = 0; i < e.versions.size(); ++i) {
      Version& v = *e.versions[i];
      constexpr auto kUnconfirmed = v1::StatuteVersion::DATE_CONFIDENCE_UNCONFIRMED;
      if (v.meta.date_confidence() == kUnconfirmed) {
        v.date_caveat = caveat(v);
      } else if (i + 1 < e.versions.size() &&
                 e.versions[i + 1]->meta.date_confidence() == kUnconfirmed) {
        v.date_caveat = absl::StrCat("this version's end follows from the next one's start: ",
                                     caveat(*e.versions[i + 1]));
      }
    }
    c->order_.push_back(id);
  }
  std::sort(c->order_.begin(), c->order_.end());
  return c;
}

v1::StatuteVersion::Status Catalog::StatusOn(const Version& v, absl::CivilDay day) {
  if (day < v.effective) return v1::StatuteVersion::STATUS_NOT_YET_IN_FORCE;
  if (v.open_ended || day <= v.end) return v1::StatuteVersion::STATUS_IN_FORCE;
  return v.meta.repealed() ? v1::StatuteVersion::STATUS_REPEALED
                           : v1::StatuteVersion::STATUS_SUPERSEDED;
}

v1::StatuteVersion Catalog::VersionWithStatus(const Version& v, absl::CivilDay today) {
  v1::StatuteVersion out = v.meta;
  out.set_status(StatusOn(v, today));
  return out;
}

const Catalog::Entry* Catalog::FindStatute(absl::string_view statute_id) const {
  auto it = statutes_.find(statute_id);
  return it == statutes_.end() ? nullptr : &it->second;
}

absl::StatusOr<v1::Statute> Catalog::GetStatute(absl::string_view name,
                                                absl::CivilDay today) const {
  ASSIGN_OR_RETURN(std::string id, StatuteIdFromName(name, "name"));
  const Entry* e = FindStatute(id);
  if (e == nullptr) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat(name, " is not in the catalogue"));
  }
  v1::Statute out = e->meta;
  if (!e->versions.empty()) {
    const std::string from = FormatDate(e->versions.front()->effective);
    out.set_corpus_from(from);
    const Version& last = *e->versions.back();
    out.set_corpus_coverage(last.open_ended ? absl::StrCat("text known from ", from)
                                            : absl::StrCat("text known from ", from, " to ",
                                                           FormatDate(last.end)));
  }
  for (const auto& v : e->versions) {
    *out.add_versions() = VersionWithStatus(*v, today);
    if (StatusOn(*v, today) == v1::StatuteVersion::STATUS_IN_FORCE) {
      out.set_current_version_id(v->meta.version_id());
    }
  }
  return out;
}

absl::StatusOr<v1::ListStatutesResponse> Catalog::ListStatutes(
    const v1::ListStatutesRequest& request, absl::CivilDay today) const {
  int size = 0;
  ASSIGN_OR_RETURN(int offset, ParsePage(request.page_size(), request.page_token(), &size));
  if (!v1::StatuteVersion::Status_IsValid(request.status())) {
    return InvalidArgumentField("status", "unknown status");
  }
  std::vector<v1::Statute> matching;
  for (const std::string& id : order_) {
    ASSIGN_OR_RETURN(v1::Statute s, GetStatute(absl::StrCat("statutes/", id), today));
    if (request.status() != v1::StatuteVersion::STATUS_UNSPECIFIED &&
        std::none_of(s.versions().begin(), s.versions().end(),
                     [&](const auto& v) { return v.status() == request.status(); })) {
      continue;
    }
    matching.push_back(std::move(s));
  }
  v1::ListStatutesResponse out;
  for (int i = offset; i < static_cast<int>(matching.size()) && i < offset + size; ++i) {
    *out.add_statutes() = std::move(matching[static_cast<size_t>(i)]);
  }
  if (offset + size < static_cast<int>(matching.size())) {
    out.set_next_page_token(absl::StrCat(offset + size));
  }
  return out;
}

absl::StatusOr<const Catalog::Version*> Catalog::SelectVersion(
    const Entry& statute, absl::string_view as_of, absl::string_view version_id,
    bool prospective, absl::CivilDay today) const {
  if (!as_of.empty() && !version_id.empty()) {
    return InvalidArgumentField("version_id", "give as_of or version_id, not both");
  }
  if (!version_id.empty()) {
    ASSIGN_OR_RETURN(absl::CivilDay unused, ParseDate(version_id, "version_id"));
    (void)unused;
    for (const auto& v : statute.versions) {
      if (v->meta.version_id() == version_id) return v.get();
    }
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat(statute.meta.name(), " has no version ", version_id),
                           {{"version_id", std::string(version_id)}});
  }
  absl::CivilDay day = today;
  if (!as_of.empty()) {
    ASSIGN_OR_RETURN(day, ParseDate(as_of, "as_of"));
  }
  for (const auto& v : statute.versions) {
    if (StatusOn(*v, day) == v1::StatuteVersion::STATUS_IN_FORCE) return v.get();
  }
  if (prospective) {
    for (const auto& v : statute.versions) {
      if (v->effective > day && v->promulgated <= day) return v.get();
    }
  }
  if (!statute.versions.empty() && day < statute.versions.front()->effective &&
      statute.versions.front()->meta.original_text()) {
    const std::string from = FormatDate(statute.versions.front()->effective);
    return ErrorWithReason(
        absl::StatusCode::kNotFound, kReasonNotInForce,
        absl::StrCat(statute.meta.title(), " took effect on ", from, ": it was not in force on ",
                     FormatDate(day)),
        {{"statute", statute.meta.name()}, {"as_of", FormatDate(day)}, {"in_force_from", from}});
  }
  if (!statute.versions.empty() && day < statute.versions.front()->effective) {
    // Before the first text the corpus holds: the law may well have been in
    // force (治安管理处罚法 was, from 2006); the corpus cannot say.
    const std::string from = FormatDate(statute.versions.front()->effective);
    return ErrorWithReason(
        absl::StatusCode::kNotFound, kReasonNotInCorpus,
        absl::StrCat("the corpus holds ", statute.meta.title(), " only from ", from,
                     "; whether, and in which text, it was in force on ", FormatDate(day),
                     " is not known to it"),
        {{"statute", statute.meta.name()}, {"as_of", FormatDate(day)}, {"corpus_from", from}});
  }
  return ErrorWithReason(
      absl::StatusCode::kNotFound, kReasonNotInForce,
      absl::StrCat(statute.meta.title(), " has no version in force on ", FormatDate(day)),
      {{"statute", statute.meta.name()}, {"as_of", FormatDate(day)}});
}

absl::StatusOr<Catalog::Found> Catalog::FindProvision(const v1::GetProvisionRequest& request,
                                                      absl::CivilDay today) const {
  // statutes/{statute}/provisions/{eid}
  const std::vector<absl::string_view> parts = absl::StrSplit(request.name(), '/');
  if (parts.size() != 4 || parts[0] != "statutes" || !IsValidSlug(parts[1]) ||
      parts[2] != "provisions" || parts[3].empty() || parts[3].size() > 128) {
    return InvalidArgumentField("name", "must be statutes/{statute}/provisions/{eid}");
  }
  const std::string statute_id(parts[1]);
  std::string eid(parts[3]);
  const Entry* e = FindStatute(statute_id);
  if (e == nullptr) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat("statutes/", statute_id, " is not in the catalogue"));
  }
  ASSIGN_OR_RETURN(const Version* v, SelectVersion(*e, request.as_of(), request.version_id(),
                                                   request.prospective(), today));
  // A label as a lawyer writes it stands for the eid it names.
  std::optional<ProvisionRef> ref;
  if (absl::StartsWith(eid, "第")) {
    ref = ParseProvisionLabel(eid);
    if (!ref) {
      return InvalidArgumentField(
          "name", "the provision must be an eid (art_50__para_1__item_6) or a label (第五十条第一款第六项)");
    }
    eid = EidFor(*v, *ref).value_or(PositionalEid(*ref));
  }
  auto it = v->by_eid.find(eid);
  if (it == v->by_eid.end()) {
    if (v->meta.excerpt()) {
      return ErrorWithReason(
          absl::StatusCode::kNotFound, kReasonNotInCorpus,
          absl::StrCat("the catalogue holds only an excerpt of ", e->meta.title(), " version ",
                       v->meta.version_id(), ", without ", parts[3]),
          {{"version_id", v->meta.version_id()}});
    }
    return NoSuchProvision(*e, *v, ref, eid, parts[3]);
  }  return Found{e, v, it->second};
}

absl::Status Catalog::NoSuchProvision(const Entry& e, const Version& v,
                                      const std::optional<ProvisionRef>& ref,
                                      const std::string& eid, absl::string_view asked) {
  std::vector<std::pair<std::string, std::string>> meta{{"version_id", v.meta.version_id()}};
  std::string message = absl::StrCat(e.meta.title(), " version ", v.meta.version_id(),
                                     " has no provision ", asked);
  // The same number in another version names a provision with a wid; where
  // that wid lives on the date asked is the caller's likely answer.
  const Version* other = nullptr;
  const v1::Provision* was = nullptr;
  for (const auto& candidate : e.versions) {
    if (candidate.get() == &v) continue;
    std::string other_eid = eid;
    if (ref) {
      // The cited part itself, never its article in its place.
      auto found_eid = EidFor(*candidate, *ref);
      if (!found_eid) continue;
      other_eid = *found_eid;
    }
    auto found = candidate->by_eid.find(other_eid);
    if (found == candidate->by_eid.end()) continue;
    // Prefer the latest version before the one asked about.
    if (other == nullptr || candidate->effective < v.effective) {
      other = candidate.get();
      was = found->second;
    }
  }
  if (was != nullptr) {
    const v1::Provision* now = nullptr;
    std::string how = "carries its wId";
    if (auto same = v.by_wid.find(was->wid()); same != v.by_wid.end()) {
      now = same->second;
    } else if (Successor s = FindSuccessor(v, was->wid()); s.provision != nullptr) {
      now = s.provision;
      how = s.merged ? "took over its content (merged)" : "continues its article";
    }
    absl::StrAppend(&message, "; ", was->citation_label(), " of version ",
                    other->meta.version_id());
    if (now != nullptr) {
      absl::StrAppend(&message, " is ", now->citation_label(), " in version ",
                      v.meta.version_id(), " (", how, ")");
      meta.emplace_back("successor", now->name());
      meta.emplace_back("successor_label", now->citation_label());
    } else {
      absl::StrAppend(&message, " has no continuation in version ", v.meta.version_id());
    }
    meta.emplace_back("was", absl::StrCat(other->meta.version_id(), ":", was->citation_label()));
  }
  return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNoSuchProvision, message, meta);
}

Catalog::Successor Catalog::FindSuccessor(const Version& v, absl::string_view wid) {
  if (auto it = v.by_also.find(wid); it != v.by_also.end()) return {it->second, true};
  const size_t part = wid.find("__");
  if (part == absl::string_view::npos) return {};
  const absl::string_view article = wid.substr(0, part);
  if (auto it = v.by_wid.find(article); it != v.by_wid.end()) return {it->second, false};
  if (auto it = v.by_also.find(article); it != v.by_also.end()) return {it->second, true};
  return {};
}

std::optional<std::string> Catalog::EidFor(const Version& v, const ProvisionRef& ref) {
  ProvisionRef at = ref;
  if (ref.paragraph == 0 && ref.item > 0) {
    // 第四十二条第六项: the first paragraph that has the item.
    for (int p = 1; p <= 30; ++p) {
      at.paragraph = p;
      if (v.by_eid.count(PositionalEid(at)) > 0) break;
    }
  }
  std::string eid = PositionalEid(at);
  if (v.by_eid.count(eid) == 0) return std::nullopt;
  return eid;
}

std::string CitationLabel(const ProvisionRef& ref, int paragraphs_in_article) {
  std::string out = absl::StrCat("第", ToChineseNumeral(ref.article), "条");
  if (ref.article_suffix > 0) absl::StrAppend(&out, "之", ToChineseNumeral(ref.article_suffix));
  // The one paragraph of an article is the article itself (第五十六条,
  // 第五十六条第六项): practice leaves 第一款 out.
  if (ref.paragraph > 0 && paragraphs_in_article != 1) {
    absl::StrAppend(&out, "第", ToChineseNumeral(ref.paragraph), "款");
  }
  if (ref.item > 0) absl::StrAppend(&out, "第", ToChineseNumeral(ref.item), "项");
  if (ref.item > 0 && ref.subitem > 0) {
    absl::StrAppend(&out, "第", ToChineseNumeral(ref.subitem), "目");
  }
  return out;
}

std::optional<ProvisionRef> ParseProvisionLabel(absl::string_view label) {
  static const std::vector<StatuteNames>* const kNone = new std::vector<StatuteNames>();
  const std::vector<RawCitation> found = ParseCitations(label, *kNone, "x");
  if (found.size() != 1 || found[0].start != 0 ||
      found[0].end != static_cast<int>(DecodeUtf8(label).size())) {
    return std::nullopt;
  }
  const RawCitation& c = found[0];
  return ProvisionRef{c.article, c.article_suffix, c.paragraph, c.item, c.subitem};
}

absl::StatusOr<v1::Provision> Catalog::GetProvision(const v1::GetProvisionRequest& request,
                                                    absl::CivilDay today) const {
  ASSIGN_OR_RETURN(const Found found, FindProvision(request, today));
  return Present(*found.statute, *found.version, *found.provision, today);
}

absl::StatusOr<std::shared_ptr<const std::string>> Catalog::GetProvisionBytes(
    const v1::GetProvisionRequest& request, absl::CivilDay today) const {
  ASSIGN_OR_RETURN(const Found found, FindProvision(request, today));
  {
    absl::ReaderMutexLock lock(&answers_mu_);
    auto it = answers_.find(found.provision);
    if (it != answers_.end() && it->second.today == today) return it->second.bytes;
  }
  auto bytes = std::make_shared<const std::string>(
      Present(*found.statute, *found.version, *found.provision, today).SerializeAsString());
  absl::MutexLock lock(&answers_mu_);
  if (auto old = answers_.find(found.provision); old != answers_.end()) {
    answer_bytes_ -= old->second.bytes->size();
    answers_.erase(old);
  }
  if (answer_bytes_ + bytes->size() > kAnswerCacheBytes) {
    // Answers kept on another day go first; a full cache of today's answers
    // stays as it is (the answer is served, not kept).
    for (auto it = answers_.begin(); it != answers_.end();) {
      if (it->second.today != today) {
        answer_bytes_ -= it->second.bytes->size();
        answers_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  if (answer_bytes_ + bytes->size() <= kAnswerCacheBytes) {
    answers_.emplace(found.provision, Answer{today, bytes});
    answer_bytes_ += bytes->size();
  }
  return bytes;
}

v1::Provision Catalog::Present(const Entry& statute, const Version& version,
                               const v1::Provision& provision, absl::CivilDay today) {
  v1::Provision out = provision;
  out.set_statute_title(statute.meta.title());
  *out.mutable_version() = VersionWithStatus(version, today);
  if (!version.date_caveat.empty()) out.set_date_caveat(version.date_caveat);
  return out;
}

std::vector<const Catalog::Entry*> Catalog::Statutes() const {
  std::vector<const Entry*> out;
  for (const std::string& id : order_) out.push_back(&statutes_.at(id));
  return out;
}

absl::StatusOr<v1::Provision> Catalog::FindByWid(absl::string_view statute_id,
                                                 absl::string_view wid, absl::CivilDay day,
                                                 absl::CivilDay today) const {
  const Entry* e = FindStatute(statute_id);
  if (e == nullptr) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat("statutes/", statute_id, " is not in the catalogue"));
  }
  ASSIGN_OR_RETURN(const Version* v, SelectVersion(*e, FormatDate(day), "", false, today));
  auto it = v->by_wid.find(wid);
  if (it == v->by_wid.end()) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNoSuchProvision,
                           absl::StrCat(e->meta.title(), " version ", v->meta.version_id(),
                                        " no longer has the cited provision"),
                           {{"version_id", v->meta.version_id()}});
  }
  return Present(*e, *v, *it->second, today);
}

absl::StatusOr<v1::ListProvisionsResponse> Catalog::ListProvisions(
    const v1::ListProvisionsRequest& request, absl::CivilDay today) const {
  ASSIGN_OR_RETURN(std::string id, StatuteIdFromName(request.parent(), "parent"));
  int size = 0;
  ASSIGN_OR_RETURN(int offset, ParsePage(request.page_size(), request.page_token(), &size));
  const Entry* e = FindStatute(id);
  if (e == nullptr) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat(request.parent(), " is not in the catalogue"));
  }
  ASSIGN_OR_RETURN(const Version* v, SelectVersion(*e, request.as_of(), request.version_id(),
                                                   request.prospective(), today));
  v1::ListProvisionsResponse out;
  *out.mutable_version() = VersionWithStatus(*v, today);
  const int total = static_cast<int>(v->articles.size());
  for (int i = offset; i < total && i < offset + size; ++i) {
    v1::Provision* p = out.add_provisions();
    *p = v->articles[static_cast<size_t>(i)];
    p->clear_children();
    p->set_statute_title(e->meta.title());
  }
  if (offset + size < total) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

absl::StatusOr<v1::CompareStatuteVersionsResponse> Catalog::CompareVersions(
    const v1::CompareStatuteVersionsRequest& request, absl::CivilDay today) const {
  ASSIGN_OR_RETURN(std::string id, StatuteIdFromName(request.name(), "name"));
  if (request.from_version().empty()) return InvalidArgumentField("from_version", "is required");
  if (request.to_version().empty()) return InvalidArgumentField("to_version", "is required");
  int size = 0;
  ASSIGN_OR_RETURN(int offset, ParsePage(request.page_size(), request.page_token(), &size));
  const Entry* e = FindStatute(id);
  if (e == nullptr) {
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat(request.name(), " is not in the catalogue"));
  }
  auto find = [&](const std::string& vid, absl::string_view field) -> absl::StatusOr<const Version*> {
    RETURN_IF_ERROR(ParseDate(vid, field).status());
    for (const auto& v : e->versions) {
      if (v->meta.version_id() == vid) return v.get();
    }
    return ErrorWithReason(absl::StatusCode::kNotFound, kReasonNotInCorpus,
                           absl::StrCat(request.name(), " has no version ", vid),
                           {{"version_id", vid}});
  };
  ASSIGN_OR_RETURN(const Version* from, find(request.from_version(), "from_version"));
  ASSIGN_OR_RETURN(const Version* to, find(request.to_version(), "to_version"));
  DiffOptions options;
  options.strict_punctuation = request.strict_punctuation();
  std::vector<v1::ProvisionChange> changes;
  absl::flat_hash_map<std::string, const v1::Provision*> from_articles;
  for (const auto& a : from->articles) from_articles[a.wid()] = &a;
  auto add_diff = [](v1::ProvisionChange& c, const std::vector<DiffOp>& ops) {
    for (const DiffOp& op : ops) {
      auto* seg = c.add_diff();
      seg->set_op(op.kind == DiffOp::kEqual    ? v1::DiffSegment::OP_EQUAL
                  : op.kind == DiffOp::kInsert ? v1::DiffSegment::OP_INSERT
                                               : v1::DiffSegment::OP_DELETE);
      seg->set_text(op.text);
    }
  };
  absl::flat_hash_set<std::string> seen;
  std::vector<v1::ProvisionChange> extra;  // splits beside a continuation
  for (const auto& a : to->articles) {
    v1::ProvisionChange c;
    c.set_wid(a.wid());
    c.set_to_eid(a.eid());
    c.set_to_label(a.label());
    auto it = from_articles.find(a.wid());
    if (it == from_articles.end()) {
      const v1::Provision* part_of = nullptr;
      for (const std::string& w : a.also_continues()) {
        if (auto f = from_articles.find(w); f != from_articles.end()) part_of = f->second;
      }
      if (part_of != nullptr) {
        c.add_kinds(v1::ProvisionChange::KIND_SPLIT);
        c.set_from_eid(part_of->eid());
        c.set_from_label(part_of->label());
      } else {
        c.add_kinds(v1::ProvisionChange::KIND_ADDED);
      }
      add_diff(c, CharDiff("", a.text(), options));
    } else {
      seen.insert(a.wid());
      const v1::Provision& old = *it->second;
      c.set_from_eid(old.eid());
      c.set_from_label(old.label());
      if (old.eid() != a.eid()) c.add_kinds(v1::ProvisionChange::KIND_RENUMBERED);
      if (!TextsEqual(old.text(), a.text(), options)) {
        c.add_kinds(v1::ProvisionChange::KIND_AMENDED);
      }
      // It also took over part of another article that continues elsewhere.
      for (const std::string& w : a.also_continues()) {
        auto part_of = from_articles.find(w);
        if (part_of == from_articles.end() || !to->by_wid.contains(w)) continue;
        v1::ProvisionChange split;
        split.set_wid(w);
        split.add_kinds(v1::ProvisionChange::KIND_SPLIT);
        split.set_from_eid(part_of->second->eid());
        split.set_from_label(part_of->second->label());
        split.set_to_eid(a.eid());
        split.set_to_label(a.label());
        extra.push_back(std::move(split));
      }
      if (c.kinds_size() == 0) {
        if (!request.include_unchanged()) continue;
        c.add_kinds(v1::ProvisionChange::KIND_UNCHANGED);
      }
      add_diff(c, CharDiff(old.text(), a.text(), options));
    }
    changes.push_back(std::move(c));
  }
  for (auto& c : extra) changes.push_back(std::move(c));
  for (const auto& old : from->articles) {
    if (seen.contains(old.wid())) continue;
    v1::ProvisionChange c;
    c.set_wid(old.wid());
    c.set_from_eid(old.eid());
    c.set_from_label(old.label());
    if (auto into = to->by_also.find(old.wid()); into != to->by_also.end()) {
      c.add_kinds(v1::ProvisionChange::KIND_MERGED);
      c.set_to_eid(into->second->eid());
      c.set_to_label(into->second->label());
    } else {
      c.add_kinds(v1::ProvisionChange::KIND_REMOVED);
    }
    add_diff(c, CharDiff(old.text(), "", options));
    changes.push_back(std::move(c));
  }
  v1::CompareStatuteVersionsResponse out;
  *out.mutable_from_version() = VersionWithStatus(*from, today);
  *out.mutable_to_version() = VersionWithStatus(*to, today);
  const int total = static_cast<int>(changes.size());
  for (int i = offset; i < total && i < offset + size; ++i) {
    *out.add_changes() = std::move(changes[static_cast<size_t>(i)]);
  }
  if (offset + size < total) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

}  // namespace counsel::guidance
