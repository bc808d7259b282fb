// Compiles the AIP-160 subset of ListCases / GetCaseStats filters into a SQL
// condition with bound parameters (never spliced values):
//
//   state = IN_PROGRESS AND (leaked_data:NATIONAL_ID OR severity >= HIGH)
//   NOT overdue = true AND create_time > "2026-01-01T00:00:00Z"
//
// Fields: state, severity (enums; short or full value names), assignee,
// incident_type, suspected_source (=, !=), leaked_data (`:`), create_time,
// update_time (RFC 3339), limitation_ends_on (YYYY-MM-DD), overdue (bool).
// Errors are INVALID_ARGUMENT naming `filter` and the position.
#ifndef COUNSEL_CASES_STORE_CASE_FILTER_H_
#define COUNSEL_CASES_STORE_CASE_FILTER_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace counsel::cases {

using SqlValue = std::variant<int64_t, std::string>;

struct SqlCondition {
  std::string sql = "1";  // uses `?` placeholders, in order of `params`
  std::vector<SqlValue> params;
};

// `now` decides `overdue`. An empty filter matches everything.
absl::StatusOr<SqlCondition> CompileCaseFilter(absl::string_view filter, absl::Time now);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_CASE_FILTER_H_
