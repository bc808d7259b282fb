// SearchProvisions: full-text search over the articles in force on a date.
//
// Queries of three or more characters find their candidates in the FTS5
// trigram index. FTS5's
// trigram tokenizer cannot match anything shorter, and most Chinese words
// are two characters (隐私, 泄露), so one- and two-character queries take a
// second path: a scan of the in-memory articles in force, which is bounded
// by the size of the catalogue as of one date.
#ifndef COUNSEL_GUIDANCE_STATUTE_SEARCH_H_
#define COUNSEL_GUIDANCE_STATUTE_SEARCH_H_

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "guidance-svc/statute/catalog.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {

inline constexpr int kMaxQueryChars = 256;

absl::StatusOr<v1::SearchProvisionsResponse> SearchProvisions(
    const Catalog& catalog, StatuteStore& store, const v1::SearchProvisionsRequest& request,
    absl::CivilDay today);

// The matches of `query` in the articles of `versions` (only those in
// `candidates` when given: the full-text index's answer), ranked by score,
// results [offset, offset+limit) with snippets; `total` gets the number of
// matches. Both search paths rank and score here, so a score means the
// same whatever the query's length: the share of the article's characters
// inside matches, in (0, 1].
std::vector<v1::SearchResult> ScanArticles(
    const std::vector<std::pair<const Catalog::Entry*, const Catalog::Version*>>& versions,
    absl::string_view query, int offset, int limit, int* total,
    const absl::flat_hash_set<const v1::Provision*>* candidates = nullptr);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STATUTE_SEARCH_H_
