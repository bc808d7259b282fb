// Compiles the AIP-160 subset of ListCases / GetCaseStats filters into a SQL
// condition with bound parameters (never spliced values):
//
//   state = IN_PROGRESS AND (leaked_data:NATIONAL_ID OR severity >= HIGH)
//   NOT overdue = true AND create_time > "2026-01-01T00:00:00Z"
//
// Fields: state, severity (enums; short or full value names), assignee,
// incident_type, suspected_source, external_ref, client.id (=, !=),
// leaked_data (`:`), create_time,
// update_time (RFC 3339), limitation_ends_on (YYYY-MM-DD), overdue (bool),
// client.phone and client.national_id (= only).
// Errors are INVALID_ARGUMENT naming `filter` and the position.
#ifndef COUNSEL_CASES_STORE_CASE_FILTER_H_
#define COUNSEL_CASES_STORE_CASE_FILTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace counsel::cases {

using SqlValue = std::variant<int64_t, std::string>;

struct SqlCondition {
  std::string sql = "1 = 1";  // uses `?` placeholders, in order of `params`; true in every engine
  std::vector<SqlValue> params;
};

// Blind-index value of a normalised personal field ("client.phone",
// "client.national_id"), or an error for a value that cannot be one.
using BlindIndexFn =
    std::function<absl::StatusOr<std::string>(absl::string_view field, absl::string_view value)>;

// `now` decides `overdue`. `client.phone = "..."` and `client.national_id =
// "..."` compare keyed blind indexes made by `blind` (no plaintext is stored
// to compare with). An empty filter matches everything.
absl::StatusOr<SqlCondition> CompileCaseFilter(absl::string_view filter, absl::Time now,
                                               const BlindIndexFn& blind = nullptr);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_CASE_FILTER_H_
