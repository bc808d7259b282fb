// gMock matchers for absl::Status and absl::StatusOr.
//
//   EXPECT_THAT(store.Put(x), IsOk());
//   EXPECT_THAT(store.Get(y), StatusIs(absl::StatusCode::kNotFound));
#ifndef COUNSEL_COMMON_TESTING_STATUS_MATCHERS_H_
#define COUNSEL_COMMON_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace counsel::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "has status code and message") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}

}  // namespace counsel::testing

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  COUNSEL_ASSERT_OK_AND_ASSIGN_IMPL_(   \
      COUNSEL_STATUS_CONCAT_(counsel_assert_statusor_, __LINE__), lhs, expr)
#define COUNSEL_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                       \
  ASSERT_TRUE(tmp.ok()) << tmp.status();                   \
  lhs = std::move(tmp).value()

#endif  // COUNSEL_COMMON_TESTING_STATUS_MATCHERS_H_
