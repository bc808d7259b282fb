#include "common/clock.h"

#include <string>

namespace counsel {

absl::TimeZone ShanghaiTimeZone() {
  // China has kept UTC+8 without daylight saving since 1991; a fixed zone
  // avoids depending on tzdata being installed in minimal images.
  static const absl::TimeZone tz = absl::FixedTimeZone(8 * 60 * 60);
  return tz;
}

std::string ShanghaiDate(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, ShanghaiTimeZone());
}

}  // namespace counsel
