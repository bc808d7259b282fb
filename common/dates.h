// Civil dates as the API writes them: "YYYY-MM-DD", strictly (2023-02-30 is
// an error, not 2023-03-02).
#ifndef COUNSEL_COMMON_DATES_H_
#define COUNSEL_COMMON_DATES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace counsel {

// Parses "YYYY-MM-DD". Returns InvalidArgument naming `field` otherwise.
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view text,
                                         absl::string_view field);

std::string FormatDate(absl::CivilDay day);

}  // namespace counsel

#endif  // COUNSEL_COMMON_DATES_H_
