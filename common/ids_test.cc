#include "common/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace counsel {
namespace {

TEST(Base32Test, MatchesRfc4648Vectors) {
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "my");
  EXPECT_EQ(Base32Encode("fo"), "mzxq");
  EXPECT_EQ(Base32Encode("foo"), "mzxw6");
  EXPECT_EQ(Base32Encode("foobar"), "mzxw6ytboi");
}

TEST(RandomIdTest, IdsAreLongAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = RandomId();
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace counsel
