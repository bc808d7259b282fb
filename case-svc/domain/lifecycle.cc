#include "case-svc/domain/lifecycle.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"

namespace counsel::cases {

using S = v1::Case;

bool TransitionAllowed(v1::Case::State from, v1::Case::State to) {
  static const std::set<std::pair<int, int>> kEdges = {
      {S::STATE_NEW, S::STATE_TRIAGED},
      {S::STATE_TRIAGED, S::STATE_IN_PROGRESS},
      {S::STATE_IN_PROGRESS, S::STATE_REPORTED_TO_POLICE},
      {S::STATE_IN_PROGRESS, S::STATE_IN_LITIGATION},
      {S::STATE_REPORTED_TO_POLICE, S::STATE_RESOLVED},
      {S::STATE_IN_LITIGATION, S::STATE_RESOLVED},
      {S::STATE_RESOLVED, S::STATE_CLOSED},
      {S::STATE_RESOLVED, S::STATE_IN_PROGRESS},
      {S::STATE_CLOSED, S::STATE_IN_PROGRESS},
  };
  return kEdges.count({from, to}) > 0;
}

std::string StateName(v1::Case::State state) {
  return std::string(absl::StripPrefix(v1::Case::State_Name(state), "STATE_"));
}

absl::Status CheckTransition(const v1::Case& c, v1::Case::State to,
                             const std::string& override_reason) {
  if (!TransitionAllowed(c.state(), to)) {
    return FailedPreconditionViolation(
        "STATE", c.name(),
        absl::StrCat("a case cannot move from ", StateName(c.state()), " to ", StateName(to)));
  }
  if (to == S::STATE_REPORTED_TO_POLICE && c.police_report().receipt_number().empty()) {
    return FailedPreconditionViolation(
        "POLICE_REPORT", c.name(),
        "REPORTED_TO_POLICE needs police_report.receipt_number: set it with UpdateCase first");
  }
  if (to == S::STATE_CLOSED && override_reason.empty()) {
    for (const auto& item : c.checklist()) {
      if (item.state() == v1::ChecklistItem::STATE_PENDING) {
        return FailedPreconditionViolation(
            "CHECKLIST", item.name(),
            absl::StrCat("checklist item '", item.key(),
                         "' is still PENDING: finish it, skip it, or give override_reason"));
      }
    }
  }
  return absl::OkStatus();
}

std::optional<absl::CivilDay> LimitationEnds(const v1::Case& c) {
  if (c.damage_known_on().empty() || c.liable_party_identified_on().empty()) return std::nullopt;
  auto damage = ParseDate(c.damage_known_on(), "damage_known_on");
  auto liable = ParseDate(c.liable_party_identified_on(), "liable_party_identified_on");
  if (!damage.ok() || !liable.ok()) return std::nullopt;
  const absl::CivilDay start = std::max(*damage, *liable);
  const absl::CivilMonth month(start.year() + 3, start.month());
  const absl::CivilDay same_day(month.year(), month.month(), start.day());
  if (absl::CivilMonth(same_day) != month) {
    // No corresponding day (29 February): the month's last day.
    return absl::CivilDay(month + 1) - 1;
  }
  return same_day;
}

}  // namespace counsel::cases
