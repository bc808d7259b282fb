#include "guidance-svc/advice/advice_book.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/locale.h"
#include "google/protobuf/util/field_mask_util.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "guidance-svc/diff/char_diff.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {
namespace {

using google::protobuf::util::TimeUtil;
using Violations = std::vector<std::pair<std::string, std::string>>;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr char kDraft[] = "draft";

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void CheckText(absl::string_view text, size_t max, const std::string& field, Violations& v) {
  const auto cps = DecodeUtf8(text);
  if (std::find(cps.begin(), cps.end(), char32_t{0xFFFD}) != cps.end()) {
    v.emplace_back(field, "is not valid UTF-8");
  } else if (cps.size() > max) {
    v.emplace_back(field, absl::StrCat("is longer than ", max, " characters"));
  }
}

// Shape checks on the content fields, for create, update and publish.
void CheckContent(const v1::Advice& a, Violations& v) {
  if (a.title().empty()) v.emplace_back("advice.title", "is required");
  CheckText(a.title(), 200, "advice.title", v);
  CheckText(a.summary(), 2000, "advice.summary", v);
  if (!a.locale().empty() && a.locale() != kDefaultLocale) {
    v.emplace_back("advice.locale", "must be zh-CN; other locales go in localizations");
  }
  for (int i = 0; i < a.topics_size(); ++i) {
    if (!IsValidSlug(a.topics(i))) {
      v.emplace_back(absl::StrCat("advice.topics[", i, "]"), "must match [a-z][a-z0-9-]{0,62}");
    }
  }
  for (int i = 0; i < a.incident_types_size(); ++i) {
    if (!IsValidSlug(a.incident_types(i))) {
      v.emplace_back(absl::StrCat("advice.incident_types[", i, "]"),
                     "must match [a-z][a-z0-9-]{0,62}");
    }
  }
  absl::flat_hash_set<std::string> keys;
  for (int s = 0; s < a.sections_size(); ++s) {
    const auto& section = a.sections(s);
    CheckText(section.title(), 200, absl::StrCat("advice.sections[", s, "].title"), v);
    for (int k = 0; k < section.steps_size(); ++k) {
      const auto& step = section.steps(k);
      const std::string f = absl::StrCat("advice.sections[", s, "].steps[", k, "]");
      if (!IsValidSlug(step.key())) {
        v.emplace_back(f + ".key", "must match [a-z][a-z0-9-]{0,62}");
      } else if (!keys.insert(step.key()).second) {
        v.emplace_back(f + ".key", absl::StrCat("'", step.key(), "' is used by another step"));
      }
      if (step.checklist() && step.title().empty()) {
        v.emplace_back(f + ".title", "a checklist step needs a title");
      }
      CheckText(step.title(), 200, f + ".title", v);
      CheckText(step.body(), 20000, f + ".body", v);
      if (!v1::StepKind_IsValid(step.kind())) v.emplace_back(f + ".kind", "unknown kind");
      if (step.due_within().seconds() < 0 || step.due_within().nanos() < 0) {
        v.emplace_back(f + ".due_within", "must not be negative");
      }
      for (int c = 0; c < step.citations_size(); ++c) {
        const std::vector<absl::string_view> parts = absl::StrSplit(step.citations(c), '/');
        if (parts.size() != 4 || parts[0] != "statutes" || !IsValidSlug(parts[1]) ||
            parts[2] != "provisions" || parts[3].empty()) {
          v.emplace_back(absl::StrCat(f, ".citations[", c, "]"),
                         "must be statutes/{statute}/provisions/{eid}");
        }
      }
    }
  }
  for (int l = 0; l < a.localizations_size(); ++l) {
    const auto& loc = a.localizations(l);
    const std::string f = absl::StrCat("advice.localizations[", l, "]");
    if (loc.locale().empty() || loc.locale() == kDefaultLocale || loc.locale().size() > 16) {
      v.emplace_back(f + ".locale", "must name a locale other than zh-CN, e.g. en");
    }
    CheckText(loc.title(), 200, f + ".title", v);
    for (const auto& section : loc.sections()) {
      for (const auto& step : section.steps()) {
        if (!keys.contains(step.key())) {
          v.emplace_back(f + ".sections", absl::StrCat("step '", step.key(),
                                                       "' is not a step of the zh-CN text"));
        }
      }
    }
  }
}

absl::Status Check(const v1::Advice& a) {
  Violations v;
  CheckContent(a, v);
  return v.empty() ? absl::OkStatus() : InvalidArgumentFields(v);
}

// Only the content fields survive into a stored draft.
v1::Advice ContentOf(const v1::Advice& a) {
  v1::Advice c;
  c.set_title(a.title());
  c.set_locale(kDefaultLocale);
  *c.mutable_topics() = a.topics();
  c.set_summary(a.summary());
  *c.mutable_sections() = a.sections();
  *c.mutable_localizations() = a.localizations();
  *c.mutable_incident_types() = a.incident_types();
  for (auto& s : *c.mutable_sections()) {
    for (auto& step : *s.mutable_steps()) step.clear_cited_provisions();
  }
  return c;
}

std::string DraftEtag(int64_t revision) { return absl::StrCat("d", revision); }

absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field) {
  int64_t n = 0;
  if (!absl::ConsumePrefix(&etag, "d") || !absl::SimpleAtoi(etag, &n) || n <= 0) {
    return InvalidArgumentField(field, "is not an etag this service issued");
  }
  return n;
}

v1::Advice PresentDraft(const AdviceRecord& r) {
  v1::Advice a = r.draft;
  a.set_name(absl::StrCat("advice/", r.advice_id));
  a.set_state(v1::Advice::STATE_DRAFT);
  a.set_etag(DraftEtag(r.draft_revision));
  *a.mutable_create_time() = ToProto(r.create_time);
  *a.mutable_update_time() = ToProto(r.update_time);
  if (r.delete_time) *a.mutable_delete_time() = ToProto(*r.delete_time);
  a.add_available_locales(kDefaultLocale);
  for (const auto& l : a.localizations()) a.add_available_locales(l.locale());
  return a;
}

// A published revision in the caller's locale, with cited provisions
// resolved as of a date on request.
// The pinned provision of a citation in its pinned version, or nullptr.
const v1::Provision* PinnedProvision(const Catalog& catalog, const v1::CitedProvision& cited) {
  const std::vector<absl::string_view> parts = absl::StrSplit(cited.provision(), '/');
  if (parts.size() != 4) return nullptr;
  const Catalog::Entry* e = catalog.FindStatute(parts[1]);
  if (e == nullptr) return nullptr;
  for (const auto& v : e->versions) {
    if (v->meta.version_id() != cited.version_id()) continue;
    auto it = v->by_eid.find(parts[3]);
    return it == v->by_eid.end() ? nullptr : it->second;
  }
  return nullptr;
}

// Labels as a lawyer writes them (第五十条第一款第六项), also on revisions
// published before the catalogue made them.
void RelabelCited(const Catalog& catalog, v1::CitedProvision* cited) {
  if (const v1::Provision* p = PinnedProvision(catalog, *cited)) {
    cited->set_label(p->citation_label());
  }
}

// A pinned citation read as of `day`: the provision carrying its wid then,
// or why none reads the same, naming what does.
void ResolveCited(const Catalog& catalog, absl::CivilDay day, absl::CivilDay today,
                  v1::CitedProvision* cited) {
  const std::vector<std::string> parts = absl::StrSplit(cited->provision(), '/');
  const std::string statute_id = parts.size() > 1 ? parts[1] : "";
  const Catalog::Entry* e = catalog.FindStatute(statute_id);
  const v1::Provision* was = PinnedProvision(catalog, *cited);
  auto fail = [&](absl::string_view reason, std::string detail) {
    cited->set_stale(true);
    cited->set_stale_reason(std::string(reason));
    cited->set_stale_detail(std::move(detail));
    cited->clear_text();
    cited->clear_resolved_provision();
  };
  if (e == nullptr) {
    fail(kReasonNotInCorpus, absl::StrCat("statutes/", statute_id, " is not in the catalogue"));
    return;
  }
  auto version = catalog.SelectVersion(*e, FormatDate(day), "", false, today);
  if (!version.ok()) {
    const std::string reason = ErrorReason(version.status());
    fail(reason.empty() ? kReasonNotInForce : reason, std::string(version.status().message()));
    return;
  }
  const Catalog::Version& v = **version;
  if (!v.date_caveat.empty()) cited->set_date_caveat(v.date_caveat);
  // The wid its pinned provision carries now (a reviewed wId map may have
  // corrected the one recorded at publish), else the one recorded.
  const v1::Provision* now = nullptr;
  for (const std::string& wid : {was != nullptr ? was->wid() : std::string(), cited->wid()}) {
    if (wid.empty() || now != nullptr) continue;
    if (auto it = v.by_wid.find(wid); it != v.by_wid.end()) now = it->second;
  }
  const std::string cited_label = was != nullptr ? was->citation_label() : cited->label();
  if (now == nullptr) {
    const Catalog::Successor next =
        Catalog::FindSuccessor(v, was != nullptr ? was->wid() : cited->wid());
    if (next.provision == nullptr) {
      fail(v.meta.excerpt() ? kReasonNotInCorpus : kReasonNoSuchProvision,
           absl::StrCat(e->meta.title(), " version ", v.meta.version_id(),
                        v.meta.excerpt() ? " (an excerpt) does not hold "
                                         : " has no provision continuing ",
                        cited_label, " of version ", cited->version_id()));
      return;
    }
    cited->set_stale(true);
    cited->set_stale_reason(next.merged ? kReasonMerged : kReasonNoSuchProvision);
    cited->set_stale_detail(absl::StrCat(
        cited_label, " of version ", cited->version_id(),
        next.merged ? " was merged into " : " has no continuation; its article is now ",
        next.provision->citation_label(), " of version ", v.meta.version_id()));
    cited->set_resolved_provision(next.provision->name());
    cited->set_resolved_label(next.provision->citation_label());
    cited->set_text(next.provision->text());
    return;
  }
  cited->set_resolved_provision(now->name());
  cited->set_resolved_label(now->citation_label());
  cited->set_stale(!TextsEqual(cited->text(), now->text(), {}));
  if (cited->stale()) {
    cited->set_stale_reason("AMENDED");
    cited->set_stale_detail(absl::StrCat(cited_label, " of version ", cited->version_id(),
                                         " reads otherwise as ", now->citation_label(),
                                         " of version ", v.meta.version_id()));
  }
  cited->set_text(now->text());
}

absl::StatusOr<v1::Advice> PresentRevision(v1::Advice a, const AdviceRecord& r,
                                           const v1::GetAdviceRequest* request,
                                           const Catalog* catalog, absl::CivilDay today) {
  a.set_state(v1::Advice::STATE_PUBLISHED);
  *a.mutable_create_time() = ToProto(r.create_time);
  if (r.delete_time) *a.mutable_delete_time() = ToProto(*r.delete_time);
  a.clear_available_locales();
  a.add_available_locales(kDefaultLocale);
  for (const auto& l : a.localizations()) a.add_available_locales(l.locale());
  // `locale` may be one tag or an Accept-Language list, matched by BCP 47
  // lookup (en-US → en, zh-Hans → zh-CN); the fallback flag says only that
  // the answer really is in another language than any asked for.
  const std::string requested = request != nullptr ? request->locale() : "";
  const std::vector<std::string> available(a.available_locales().begin(),
                                           a.available_locales().end());
  const std::string locale = MatchLocale(requested, available);
  if (!requested.empty() && locale.empty()) {
    a.set_locale_fallback(true);
  } else if (!locale.empty() && locale != kDefaultLocale) {
    auto it = std::find_if(a.localizations().begin(), a.localizations().end(),
                           [&](const auto& l) { return l.locale() == locale; });
    {
      const v1::AdviceLocalization loc = *it;
      a.set_locale(loc.locale());
      if (!loc.title().empty()) a.set_title(loc.title());
      if (!loc.summary().empty()) a.set_summary(loc.summary());
      // Localized steps replace titles and bodies; kind, checklist, due
      // times and citations stay those of the zh-CN text.
      absl::flat_hash_map<std::string, const v1::AdviceStep*> steps;
      absl::flat_hash_map<std::string, std::string> section_titles;
      for (const auto& s : loc.sections()) {
        for (const auto& step : s.steps()) {
          steps[step.key()] = &step;
          if (!s.title().empty()) section_titles[step.key()] = s.title();
        }
      }
      for (auto& s : *a.mutable_sections()) {
        for (auto& step : *s.mutable_steps()) {
          auto st = steps.find(step.key());
          if (st == steps.end()) continue;
          if (!st->second->title().empty()) step.set_title(st->second->title());
          if (!st->second->body().empty()) step.set_body(st->second->body());
          auto t = section_titles.find(step.key());
          if (t != section_titles.end()) s.set_title(t->second);
        }
      }
    }
  }
  a.clear_localizations();
  if (catalog != nullptr) {
    for (auto& s : *a.mutable_sections()) {
      for (auto& step : *s.mutable_steps()) {
        for (auto& cited : *step.mutable_cited_provisions()) RelabelCited(*catalog, &cited);
      }
    }
  }
  if (request != nullptr && !request->resolve_citations_as_of().empty()) {
    ASSIGN_OR_RETURN(absl::CivilDay day,
                     ParseDate(request->resolve_citations_as_of(), "resolve_citations_as_of"));
    for (auto& s : *a.mutable_sections()) {
      for (auto& step : *s.mutable_steps()) {
        for (auto& cited : *step.mutable_cited_provisions()) {
          ResolveCited(*catalog, day, today, &cited);
        }
      }
    }
  }
  return a;
}

absl::StatusOr<int> ParsePage(int page_size, const std::string& token, int* size) {
  if (page_size < 0) return InvalidArgumentField("page_size", "must not be negative");
  *size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  int offset = 0;
  if (!token.empty() && (!absl::SimpleAtoi(token, &offset) || offset < 0)) {
    return InvalidArgumentField("page_token", "is not a token this service issued");
  }
  return offset;
}

absl::Status NotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat(name, " does not exist"));
}

}  // namespace

absl::Status ParseAdviceName(absl::string_view name, absl::string_view field, std::string* id,
                             std::string* revision) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "advice/")) {
    return InvalidArgumentField(field, "must be advice/{advice} or advice/{advice}@{revision}");
  }
  const size_t at = rest.find('@');
  *id = std::string(rest.substr(0, at));
  *revision = at == absl::string_view::npos ? "" : std::string(rest.substr(at + 1));
  if (!IsValidSlug(*id) || (at != absl::string_view::npos && revision->empty()) ||
      revision->size() > 32) {
    return InvalidArgumentField(field, "must be advice/{advice} or advice/{advice}@{revision}");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Advice> AdviceBook::Create(const v1::CreateAdviceRequest& request,
                                              absl::Time now) {
  if (!IsValidSlug(request.advice_id())) {
    return InvalidArgumentField("advice_id", "must match [a-z][a-z0-9-]{0,62}");
  }
  if (!request.has_advice()) return InvalidArgumentField("advice", "is required");
  RETURN_IF_ERROR(Check(request.advice()));
  ASSIGN_OR_RETURN(AdviceRecord r, store_->Create(request.advice_id(), ContentOf(request.advice()), now));
  return PresentDraft(r);
}

absl::StatusOr<v1::Advice> AdviceBook::Update(const v1::UpdateAdviceRequest& request,
                                              absl::Time now) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.advice().name(), "advice.name", &id, &revision));
  if (!revision.empty()) {
    return InvalidArgumentField("advice.name", "published revisions are immutable; name the draft");
  }
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r || r->delete_time) return NotFound(request.advice().name());
  int64_t expected = r->draft_revision;
  if (!request.advice().etag().empty()) {
    ASSIGN_OR_RETURN(expected, ParseEtag(request.advice().etag(), "advice.etag"));
    if (expected != r->draft_revision) {
      return absl::AbortedError("the draft changed since this etag; read it again and retry");
    }
  }
  v1::Advice draft = r->draft;
  const v1::Advice& in = request.advice();
  if (request.update_mask().paths_size() == 0) {
    draft = ContentOf(in);
  } else {
    for (int i = 0; i < request.update_mask().paths_size(); ++i) {
      const std::string& p = request.update_mask().paths(i);
      if (p == "title") draft.set_title(in.title());
      else if (p == "summary") draft.set_summary(in.summary());
      else if (p == "topics") *draft.mutable_topics() = in.topics();
      else if (p == "sections") *draft.mutable_sections() = in.sections();
      else if (p == "localizations") *draft.mutable_localizations() = in.localizations();
      else if (p == "incident_types" || p == "incidentTypes") {
        *draft.mutable_incident_types() = in.incident_types();
      } else {
        return InvalidArgumentField(absl::StrCat("update_mask.paths[", i, "]"),
                                    absl::StrCat("'", p, "' cannot be updated"));
      }
    }
    draft = ContentOf(draft);
  }
  RETURN_IF_ERROR(Check(draft));
  ASSIGN_OR_RETURN(AdviceRecord updated, store_->UpdateDraft(id, draft, expected, now));
  return PresentDraft(updated);
}

absl::StatusOr<v1::Advice> AdviceBook::PublishAt(const std::string& id, int64_t expected_revision,
                                                 v1::Advice content, const std::string& author,
                                                 const std::string& change_note, absl::Time now,
                                                 const Catalog& catalog) {
  Violations v;
  CheckContent(content, v);
  if (content.sections_size() == 0) v.emplace_back("advice.sections", "at least one is needed");
  const absl::CivilDay day = absl::ToCivilDay(now, ShanghaiTimeZone());
  for (int s = 0; s < content.sections_size(); ++s) {
    auto* section = content.mutable_sections(s);
    for (int k = 0; k < section->steps_size(); ++k) {
      auto* step = section->mutable_steps(k);
      step->clear_cited_provisions();
      for (int c = 0; c < step->citations_size(); ++c) {
        const std::string field = absl::StrCat("advice.sections[", s, "].steps[", k,
                                               "].citations[", c, "]");
        v1::GetProvisionRequest get;
        get.set_name(step->citations(c));
        get.set_as_of(FormatDate(day));
        auto p = catalog.GetProvision(get, day);
        if (!p.ok()) {
          v.emplace_back(field, absl::StrCat("does not resolve on ", FormatDate(day), ": ",
                                             p.status().message()));
          continue;
        }
        auto* cited = step->add_cited_provisions();
        cited->set_provision(p->name());
        cited->set_wid(p->wid());
        cited->set_version_id(p->version().version_id());
        cited->set_label(p->citation_label());
        cited->set_text(p->text());
      }
    }
  }
  if (!v.empty()) return InvalidArgumentFields(v);
  CheckText(change_note, 2000, "change_note", v);
  if (!v.empty()) return InvalidArgumentFields(v);
  content.set_name(absl::StrCat("advice/", id));
  content.set_revision_id(RandomId(5));
  *content.mutable_revision_create_time() = ToProto(now);
  content.set_author(author);
  content.set_change_note(change_note);
  content.set_state(v1::Advice::STATE_PUBLISHED);
  return store_->Publish(id, std::move(content), expected_revision, now);
}

absl::StatusOr<v1::Advice> AdviceBook::Publish(const v1::PublishAdviceRequest& request,
                                               const std::string& author, absl::Time now,
                                               const Catalog& catalog) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.name(), "name", &id, &revision));
  if (!revision.empty()) return InvalidArgumentField("name", "name the article, not a revision");
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r || r->delete_time) return NotFound(request.name());
  if (!request.etag().empty()) {
    ASSIGN_OR_RETURN(int64_t expected, ParseEtag(request.etag(), "etag"));
    if (expected != r->draft_revision) {
      return absl::AbortedError("the draft changed since this etag; read it again and retry");
    }
  }
  return PublishAt(id, r->draft_revision, r->draft, author, request.change_note(), now, catalog);
}

absl::StatusOr<v1::Advice> AdviceBook::Rollback(const v1::RollbackAdviceRequest& request,
                                                const std::string& author, absl::Time now) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.name(), "name", &id, &revision));
  if (request.revision_id().empty()) return InvalidArgumentField("revision_id", "is required");
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r || r->delete_time) return NotFound(request.name());
  ASSIGN_OR_RETURN(std::vector<v1::Advice> revisions, store_->Revisions(id));
  auto it = std::find_if(revisions.begin(), revisions.end(),
                         [&](const auto& a) { return a.revision_id() == request.revision_id(); });
  if (it == revisions.end()) {
    return NotFound(absl::StrCat(request.name(), "@", request.revision_id()));
  }
  // The new revision repeats the old one exactly, its pinned citations
  // included: rolling back restores what the firm advised then.
  v1::Advice content = *it;
  content.set_revision_id(RandomId(5));
  *content.mutable_revision_create_time() = ToProto(now);
  content.set_author(author);
  content.set_change_note(request.change_note().empty()
                              ? absl::StrCat("rollback to revision ", it->revision_number())
                              : request.change_note());
  return store_->Publish(id, std::move(content), r->draft_revision, now);
}

absl::Status AdviceBook::Delete(const v1::DeleteAdviceRequest& request, absl::Time now) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.name(), "name", &id, &revision));
  if (!revision.empty()) return InvalidArgumentField("name", "revisions cannot be deleted");
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r || r->delete_time) return NotFound(request.name());
  int64_t expected = 0;
  if (!request.etag().empty()) {
    ASSIGN_OR_RETURN(expected, ParseEtag(request.etag(), "etag"));
  }
  return store_->MarkDeleted(id, expected, now);
}

absl::StatusOr<v1::Advice> AdviceBook::Get(const v1::GetAdviceRequest& request,
                                           bool may_read_draft, const Catalog& catalog,
                                           absl::CivilDay today) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.name(), "name", &id, &revision));
  if (!request.resolve_citations_as_of().empty()) {
    RETURN_IF_ERROR(ParseDate(request.resolve_citations_as_of(), "resolve_citations_as_of").status());
  }
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r) return NotFound(request.name());
  if (revision == kDraft) {
    if (!may_read_draft) return absl::PermissionDeniedError("reading a draft needs guidance.write");
    if (r->delete_time) return NotFound(request.name());
    return PresentDraft(*r);
  }
  ASSIGN_OR_RETURN(std::vector<v1::Advice> revisions, store_->Revisions(id));
  const v1::Advice* chosen = nullptr;
  if (!revision.empty()) {
    // A named revision stays readable after DeleteAdvice: cases pin them.
    for (const auto& a : revisions) {
      if (a.revision_id() == revision) chosen = &a;
    }
  } else if (!r->delete_time) {
    if (request.has_as_of_time()) {
      for (const auto& a : revisions) {  // newest first
        if (TimeUtil::TimestampToMicroseconds(a.revision_create_time()) <=
            TimeUtil::TimestampToMicroseconds(request.as_of_time())) {
          chosen = &a;
          break;
        }
      }
    } else if (!revisions.empty()) {
      chosen = &revisions.front();
    }
  }
  if (chosen == nullptr) return NotFound(request.name());
  return PresentRevision(*chosen, *r, &request, &catalog, today);
}

absl::StatusOr<v1::ListAdviceRevisionsResponse> AdviceBook::ListRevisions(
    const v1::ListAdviceRevisionsRequest& request) {
  std::string id, revision;
  RETURN_IF_ERROR(ParseAdviceName(request.name(), "name", &id, &revision));
  int size = 0;
  ASSIGN_OR_RETURN(int offset, ParsePage(request.page_size(), request.page_token(), &size));
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  if (!r) return NotFound(request.name());
  ASSIGN_OR_RETURN(std::vector<v1::Advice> revisions, store_->Revisions(id));
  v1::ListAdviceRevisionsResponse out;
  const int total = static_cast<int>(revisions.size());
  for (int i = offset; i < total && i < offset + size; ++i) {
    ASSIGN_OR_RETURN(*out.add_revisions(),
                     PresentRevision(revisions[static_cast<size_t>(i)], *r, nullptr, nullptr, {}));
  }
  if (offset + size < total) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

absl::StatusOr<v1::ListAdviceResponse> AdviceBook::List(const v1::ListAdviceRequest& request) {
  int size = 0;
  ASSIGN_OR_RETURN(int offset, ParsePage(request.page_size(), request.page_token(), &size));
  // Filter: terms `topics:X` / `incident_types:X`, joined by AND.
  std::vector<std::pair<std::string, std::string>> terms;
  if (!request.filter().empty()) {
    for (absl::string_view term : absl::StrSplit(request.filter(), " AND ", absl::SkipWhitespace())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(absl::StripAsciiWhitespace(term), ':');
      kv.second = std::string(absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripPrefix(
          absl::StripAsciiWhitespace(kv.second), "\""), "\"")));
      if ((kv.first != "topics" && kv.first != "incident_types") || kv.second.empty()) {
        return InvalidArgumentField(
            "filter", "supports topics:X and incident_types:X, joined by AND");
      }
      terms.push_back(kv);
    }
  }
  for (int i = 0; i < request.read_mask().paths_size(); ++i) {
    if (!google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(
            v1::Advice::descriptor(), request.read_mask().paths(i), nullptr)) {
      return InvalidArgumentField(absl::StrCat("read_mask.paths[", i, "]"),
                                  "names no field of Advice (or passes through a repeated one)");
    }
  }
  ASSIGN_OR_RETURN(std::vector<AdviceRecord> records, store_->List());
  std::vector<v1::Advice> matching;
  for (const AdviceRecord& r : records) {
    if (r.delete_time && !request.show_deleted()) continue;
    ASSIGN_OR_RETURN(std::vector<v1::Advice> revisions, store_->Revisions(r.advice_id));
    if (revisions.empty()) continue;
    const v1::Advice& latest = revisions.front();
    bool ok = true;
    for (const auto& [field, value] : terms) {
      const auto& list = field == "topics" ? latest.topics() : latest.incident_types();
      ok = ok && std::find(list.begin(), list.end(), value) != list.end();
    }
    if (!ok) continue;
    v1::GetAdviceRequest view;
    view.set_locale(request.locale());
    ASSIGN_OR_RETURN(v1::Advice presented, PresentRevision(latest, r, &view, nullptr, {}));
    matching.push_back(std::move(presented));
  }
  v1::ListAdviceResponse out;
  const int total = static_cast<int>(matching.size());
  for (int i = offset; i < total && i < offset + size; ++i) {
    v1::Advice* a = out.add_advice();
    *a = std::move(matching[static_cast<size_t>(i)]);
    if (request.read_mask().paths_size() > 0) {
      google::protobuf::util::FieldMaskUtil::TrimMessage(request.read_mask(), a);
    }
  }
  if (offset + size < total) out.set_next_page_token(absl::StrCat(offset + size));
  return out;
}

absl::StatusOr<int> AdviceBook::ImportFile(const internal::v1::AdviceFile& file,
                                           const Catalog& catalog, absl::string_view source_name) {
  auto fail = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(source_name, ": ", s.message()));
  };
  if (!IsValidSlug(file.advice_id())) {
    return fail(InvalidArgumentField("advice_id", "must match [a-z][a-z0-9-]{0,62}"));
  }
  if (file.revisions_size() == 0) return fail(InvalidArgumentField("revisions", "none given"));
  const std::string& id = file.advice_id();
  ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, store_->Get(id));
  std::vector<absl::Time> times;
  for (int i = 0; i < file.revisions_size(); ++i) {
    google::protobuf::Timestamp t;
    if (!TimeUtil::FromString(file.revisions(i).publish_time(), &t)) {
      return fail(InvalidArgumentField(absl::StrCat("revisions[", i, "].publish_time"),
                                       "must be an RFC 3339 time"));
    }
    times.push_back(absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t)));
  }
  if (!r) {
    auto created = store_->Create(id, ContentOf(file.revisions(0).advice()), times[0]);
    if (!created.ok()) return fail(created.status());
    r = *created;
  }
  ASSIGN_OR_RETURN(std::vector<v1::Advice> published, store_->Revisions(id));
  std::reverse(published.begin(), published.end());  // oldest first
  int added = 0;
  for (int i = 0; i < file.revisions_size(); ++i) {
    const auto& rev = file.revisions(i);
    const v1::Advice content = ContentOf(rev.advice());
    if (i < static_cast<int>(published.size())) {
      if (!google::protobuf::util::MessageDifferencer::Equals(ContentOf(published[static_cast<size_t>(i)]),
                                                              content)) {
        return fail(absl::FailedPreconditionError(absl::StrCat(
            "revision ", i + 1, " differs from the one already published; published revisions "
            "are immutable: add a new revision instead")));
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<AdviceRecord> current, store_->Get(id));
    auto done = PublishAt(id, current->draft_revision, content,
                          rev.author().empty() ? "content-import" : rev.author(),
                          rev.change_note(), times[static_cast<size_t>(i)], catalog);
    if (!done.ok()) return fail(done.status());
    ++added;
  }
  return added;
}

}  // namespace counsel::guidance
