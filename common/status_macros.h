// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr,
// which Debian's Abseil 20220623 does not ship.
//
//   absl::StatusOr<Row> Load(...);
//   absl::Status Handle() {
//     RETURN_IF_ERROR(Validate(request));
//     ASSIGN_OR_RETURN(Row row, Load(id));
//     ...
//   }
#ifndef COUNSEL_COMMON_STATUS_MACROS_H_
#define COUNSEL_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define COUNSEL_STATUS_CONCAT_INNER_(a, b) a##b
#define COUNSEL_STATUS_CONCAT_(a, b) COUNSEL_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status counsel_status_ = (expr);                    \
    if (!counsel_status_.ok()) return counsel_status_;          \
  } while (0)

#define COUNSEL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  COUNSEL_ASSIGN_OR_RETURN_IMPL_(   \
      COUNSEL_STATUS_CONCAT_(counsel_statusor_, __LINE__), lhs, expr)

#endif  // COUNSEL_COMMON_STATUS_MACROS_H_
