#include "common/dates.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"

namespace counsel {

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view text,
                                         absl::string_view field) {
  auto bad = [&](absl::string_view why) {
    return InvalidArgumentField(field, absl::StrCat("must be a date YYYY-MM-DD: ", why));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return bad("wrong shape");
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return bad("wrong shape");
    }
  }
  int y = 0, m = 0, d = 0;
  if (!absl::SimpleAtoi(text.substr(0, 4), &y) ||
      !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      !absl::SimpleAtoi(text.substr(8, 2), &d)) {
    return bad("wrong shape");
  }
  const absl::CivilDay day(y, m, d);
  // CivilDay normalises out-of-range fields; a valid date survives unchanged.
  if (day.year() != y || day.month() != m || day.day() != d || y < 1) {
    return bad("no such day");
  }
  return day;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

}  // namespace counsel
