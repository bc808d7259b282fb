// The case lifecycle and the legal clock: pure rules, no I/O.
//
// States: NEW → TRIAGED → IN_PROGRESS → REPORTED_TO_POLICE / IN_LITIGATION
// → RESOLVED → CLOSED; RESOLVED or CLOSED → IN_PROGRESS reopens. Guards:
// REPORTED_TO_POLICE needs police_report.receipt_number; CLOSED needs every
// checklist item done, skipped or not applicable, unless an override reason
// is given. Anything else is FAILED_PRECONDITION with PreconditionFailure.
#ifndef COUNSEL_CASES_DOMAIN_LIFECYCLE_H_
#define COUNSEL_CASES_DOMAIN_LIFECYCLE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

bool TransitionAllowed(v1::Case::State from, v1::Case::State to);

// Checks the transition of `c` to `to`, guards included.
absl::Status CheckTransition(const v1::Case& c, v1::Case::State to,
                             const std::string& override_reason);

// 民法典 第一百八十八条: three years from when the client knew both of the
// damage and of who is liable; 第二百零二条: a period in years ends on the
// corresponding day, or the month's last day when there is none. nullopt
// until both dates are known.
std::optional<absl::CivilDay> LimitationEnds(const v1::Case& c);

// The state's short name (IN_PROGRESS for STATE_IN_PROGRESS).
std::string StateName(v1::Case::State state);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_LIFECYCLE_H_
