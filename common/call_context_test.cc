#include "common/call_context.h"

#include "gtest/gtest.h"

namespace counsel {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

CallContext MakeContext() {
  CallContext c;
  c.set_tenant("firm-a");
  c.set_key_id("k1");
  c.add_scopes(kScopeCasesRead);
  c.set_method("/counsel.cases.v1.CaseService/GetCase");
  c.set_expire_unix_micros(absl::ToUnixMicros(kNow + absl::Seconds(30)));
  return c;
}

TEST(ContextKeyTest, SignedContextVerifies) {
  ContextKey key(std::string(32, 'k'));
  auto got = key.Verify(key.Sign(MakeContext()), "/counsel.cases.v1.CaseService/GetCase", kNow);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tenant(), "firm-a");
  EXPECT_TRUE(HasScope(*got, kScopeCasesRead));
  EXPECT_FALSE(HasScope(*got, kScopeCasesPii));
}

TEST(ContextKeyTest, RejectsMissingTamperedExpiredForeignAndOtherMethod) {
  ContextKey key(std::string(32, 'k'));
  ContextKey other(std::string(32, 'o'));
  const std::string method = "/counsel.cases.v1.CaseService/GetCase";
  std::string tampered = key.Sign(MakeContext());
  tampered[tampered.size() / 2] ^= 1;
  CallContext expired = MakeContext();
  expired.set_expire_unix_micros(absl::ToUnixMicros(kNow - absl::Seconds(1)));
  for (const auto& [what, bytes, m] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"missing", "", method},
           {"garbage", "not a proto", method},
           {"tampered", tampered, method},
           {"expired", key.Sign(expired), method},
           {"other key", other.Sign(MakeContext()), method},
           {"other method", key.Sign(MakeContext()), "/counsel.cases.v1.CaseService/ListCases"},
       }) {
    auto got = key.Verify(bytes, m, kNow);
    ASSERT_FALSE(got.ok()) << what;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << what;
  }
}

}  // namespace
}  // namespace counsel
