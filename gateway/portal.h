// PortalService.GetCaseBrief: the case (masked per the caller's scopes), its
// checklist, the pinned advice revision and each cited provision as in force
// on the incident date, in one call. Backend calls share the caller's
// deadline; the provisions are fetched in parallel; any part failing fails
// the whole call with its cause (no half answers).
#ifndef COUNSEL_GATEWAY_PORTAL_H_
#define COUNSEL_GATEWAY_PORTAL_H_

#include "absl/status/statusor.h"
#include "counsel/gateway/v1/portal.pb.h"
#include "gateway/gateway.h"

namespace counsel::gateway {

// Blocks until done or the admission's deadline passes.
absl::StatusOr<v1::CaseBrief> ComposeCaseBrief(const Gateway& gateway, const Admission& admission,
                                               const v1::GetCaseBriefRequest& request);

// GetCaseBrief as the policy table's local method: request and response
// serialized.
absl::StatusOr<std::string> ServeCaseBrief(const Gateway& gateway, const Admission& admission,
                                           absl::string_view request);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_PORTAL_H_
