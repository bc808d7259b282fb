// SearchProvisions: full-text search over the articles in force on a date.
//
// Queries of three or more characters use the FTS5 trigram index. FTS5's
// trigram tokenizer cannot match anything shorter, and most Chinese words
// are two characters (隐私, 泄露), so one- and two-character queries take a
// second path: a scan of the in-memory articles in force, which is bounded
// by the size of the catalogue as of one date.
#ifndef COUNSEL_GUIDANCE_STATUTE_SEARCH_H_
#define COUNSEL_GUIDANCE_STATUTE_SEARCH_H_

#include "absl/status/statusor.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "guidance-svc/statute/catalog.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {

inline constexpr int kMaxQueryChars = 256;

absl::StatusOr<v1::SearchProvisionsResponse> SearchProvisions(
    const Catalog& catalog, StatuteStore& store, const v1::SearchProvisionsRequest& request,
    absl::CivilDay today);

// The scan path on its own (exposed for tests and benchmarks): the matches
// of `query` in the articles of `versions`, ranked, results [offset,
// offset+limit) with snippets; `total` gets the number of matches.
std::vector<v1::SearchResult> ScanArticles(
    const std::vector<std::pair<const Catalog::Entry*, const Catalog::Version*>>& versions,
    absl::string_view query, int offset, int limit, int* total);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STATUTE_SEARCH_H_
