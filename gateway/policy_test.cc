#include "gateway/policy.h"

#include <algorithm>

#include "gateway/keys/key_store.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

TEST(PolicyTest, EveryMethodOfThePublicProtosHasAPolicy) {
  const PolicyTable& table = PolicyTable::Get();
  EXPECT_TRUE(table.Unmapped().empty())
      << "methods without a policy entry: " << ::testing::PrintToString(table.Unmapped());
  size_t methods = 0;
  for (const std::string& name : PublicServices()) {
    methods += static_cast<size_t>(google::protobuf::DescriptorPool::generated_pool()
                                       ->FindServiceByName(name)
                                       ->method_count());
  }
  EXPECT_EQ(table.all().size(), methods);
}

TEST(PolicyTest, EveryPolicyIsComplete) {
  for (const MethodPolicy& p : PolicyTable::Get().all()) {
    EXPECT_FALSE(p.scopes.empty()) << p.method;
    for (const std::string& s : p.scopes) {
      EXPECT_NE(std::find(KnownScopes().begin(), KnownScopes().end(), s), KnownScopes().end())
          << p.method << " " << s;
    }
    EXPECT_GT(p.default_deadline, absl::ZeroDuration()) << p.method;
    EXPECT_LE(p.default_deadline, p.max_deadline) << p.method;
    EXPECT_EQ(PolicyTable::Get().Find(p.method), &p);
  }
  EXPECT_EQ(PolicyTable::Get().Find("/counsel.cases.v1.CaseService/Nope"), nullptr);
}

TEST(PolicyTest, WritesAreNeverRetried) {
  for (const char* m : {"/counsel.cases.v1.CaseService/CreateCase",
                        "/counsel.cases.v1.CaseService/AddEvidence",
                        "/counsel.guidance.v1.GuidanceService/PublishAdvice"}) {
    ASSERT_NE(PolicyTable::Get().Find(m), nullptr) << m;
    EXPECT_FALSE(PolicyTable::Get().Find(m)->idempotent) << m;
  }
  EXPECT_TRUE(PolicyTable::Get().Find("/counsel.cases.v1.CaseService/GetCase")->idempotent);
}

}  // namespace
}  // namespace counsel::gateway
