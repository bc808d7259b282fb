// Fuzz target: the ListCases filter compiler on arbitrary bytes. Whatever
// it accepts must be SQL with exactly one placeholder per bound value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "case-svc/store/case_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string filter(reinterpret_cast<const char*>(data), size);
  auto blind = [](absl::string_view, absl::string_view v) -> absl::StatusOr<std::string> {
    if (v.empty()) return absl::InvalidArgumentError("empty");
    return std::string("index");
  };
  auto sql = counsel::cases::CompileCaseFilter(filter, absl::FromUnixSeconds(1800000000), blind);
  if (sql.ok()) {
    size_t placeholders = 0;
    for (char c : sql->sql) placeholders += c == '?';
    if (placeholders != sql->params.size()) __builtin_trap();
    // No user text is ever spliced in: quotes and semicolons cannot appear.
    if (sql->sql.find('\'') != std::string::npos || sql->sql.find(';') != std::string::npos) {
      __builtin_trap();
    }
  }
  return 0;
}
