// ResolveCitations: citations found in text, each resolved against the
// statute version in force on a date.
#ifndef COUNSEL_GUIDANCE_CITATION_RESOLVE_H_
#define COUNSEL_GUIDANCE_CITATION_RESOLVE_H_

#include "absl/status/statusor.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "guidance-svc/statute/catalog.h"

namespace counsel::guidance {

inline constexpr int kMaxCitationTextChars = 10000;

// Reasons of unresolved citations.
inline constexpr char kUnknownStatute[] = "UNKNOWN_STATUTE";
inline constexpr char kNoStatute[] = "NO_STATUTE_NAMED";

absl::StatusOr<v1::ResolveCitationsResponse> ResolveCitations(
    const Catalog& catalog, const v1::ResolveCitationsRequest& request, absl::CivilDay today);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_CITATION_RESOLVE_H_
