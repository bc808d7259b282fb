#include "guidance-svc/citation/resolve.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "guidance-svc/citation/citation_parser.h"
#include "guidance-svc/citation/numerals.h"
#include "guidance-svc/diff/char_diff.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {

absl::StatusOr<v1::ResolveCitationsResponse> ResolveCitations(
    const Catalog& catalog, const v1::ResolveCitationsRequest& request, absl::CivilDay today) {
  if (request.text().empty()) return InvalidArgumentField("text", "is required");
  const auto cps = DecodeUtf8(request.text());
  if (std::find(cps.begin(), cps.end(), char32_t{0xFFFD}) != cps.end()) {
    return InvalidArgumentField("text", "is not valid UTF-8");
  }
  if (cps.size() > static_cast<size_t>(kMaxCitationTextChars)) {
    return InvalidArgumentField("text", absl::StrCat("is longer than ", kMaxCitationTextChars,
                                                     " characters"));
  }
  absl::CivilDay day = today;
  if (!request.as_of().empty()) {
    ASSIGN_OR_RETURN(day, ParseDate(request.as_of(), "as_of"));
  }
  std::string default_id;
  if (!request.default_statute().empty()) {
    absl::string_view id = request.default_statute();
    if (!absl::ConsumePrefix(&id, "statutes/") || !IsValidSlug(id)) {
      return InvalidArgumentField("default_statute", "must be statutes/{statute}");
    }
    default_id = std::string(id);
  }
  std::vector<StatuteNames> names;
  for (const Catalog::Entry* e : catalog.Statutes()) {
    StatuteNames n;
    n.statute_id = std::string(absl::StripPrefix(e->meta.name(), "statutes/"));
    n.names.push_back(e->meta.title());
    if (!e->meta.short_title().empty()) n.names.push_back(e->meta.short_title());
    for (const auto& a : e->meta.aliases()) n.names.push_back(a);
    names.push_back(std::move(n));
  }
  v1::ResolveCitationsResponse out;
  out.set_as_of(FormatDate(day));
  for (const RawCitation& raw : ParseCitations(request.text(), names, default_id)) {
    v1::Citation* c = out.add_citations();
    c->set_start(raw.start);
    c->set_end(raw.end);
    c->set_text(raw.text);
    if (raw.statute_id.empty()) {
      c->set_unresolved_reason(raw.unknown_title.empty() ? kNoStatute : kUnknownStatute);
      continue;
    }
    c->set_statute(absl::StrCat("statutes/", raw.statute_id));
    const Catalog::Entry* e = catalog.FindStatute(raw.statute_id);
    if (e == nullptr) {
      c->set_unresolved_reason(kUnknownStatute);
      continue;
    }
    auto version = catalog.SelectVersion(*e, FormatDate(day), "", false, today);
    if (!version.ok()) {
      c->set_unresolved_reason(ErrorReason(version.status()) == kReasonNotInCorpus
                                   ? kReasonNotInCorpus
                                   : kReasonNotInForce);
      continue;
    }
    const Catalog::Version& v = **version;
    c->set_version_id(v.meta.version_id());
    c->set_statute_kind(e->meta.kind());
    if (!v.date_caveat.empty()) c->set_date_caveat(v.date_caveat);
    const ProvisionRef ref{raw.article, raw.article_suffix, raw.paragraph, raw.item, raw.subitem};
    const std::optional<std::string> eid = Catalog::EidFor(v, ref);
    if (!eid) {
      if (v.meta.excerpt()) {
        c->set_unresolved_reason(kReasonNotInCorpus);
        continue;
      }
      c->set_unresolved_reason(kReasonNoSuchProvision);
      // Name where the cited provision lives on the date asked, if it does.
      const absl::Status why =
          Catalog::NoSuchProvision(*e, v, ref, PositionalEid(ref), CitationLabel(ref, 0));
      c->set_unresolved_detail(std::string(why.message()));
      const auto meta = ErrorMetadata(why);
      if (auto it = meta.find("successor"); it != meta.end()) c->set_successor_provision(it->second);
      if (auto it = meta.find("successor_label"); it != meta.end()) {
        c->set_successor_label(it->second);
      }
      continue;
    }
    auto it = v.by_eid.find(*eid);
    c->set_resolved(true);
    c->set_eid(*eid);
    c->set_wid(it->second->wid());
    c->set_label(it->second->citation_label());
    c->set_provision(it->second->name());
    if (request.include_text()) c->set_provision_text(it->second->text());
  }
  return out;
}

}  // namespace counsel::guidance
