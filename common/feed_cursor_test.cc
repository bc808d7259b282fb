#include "common/feed_cursor.h"

#include "gtest/gtest.h"

namespace counsel {
namespace {

TEST(CursorCodecTest, RoundTripsOpaqueAndBound) {
  ContextKey key(std::string(32, 'k'));
  const CursorCodec codec = CursorCodec::ForContextKey(key);
  const std::string c = codec.Encode("firm-a", "client-1", 42);
  EXPECT_EQ(*codec.Decode("firm-a", "client-1", c, "cursor"), 42);
  // The same position twice gives two cursors: they show nothing.
  EXPECT_NE(codec.Encode("firm-a", "client-1", 42), c);
  // Bound to the tenant and the client binding.
  EXPECT_FALSE(codec.Decode("firm-b", "client-1", c, "cursor").ok());
  EXPECT_FALSE(codec.Decode("firm-a", "", c, "cursor").ok());
  // Another program with the same context key reads it; another key does not.
  EXPECT_EQ(*CursorCodec::ForContextKey(ContextKey(std::string(32, 'k')))
                 .Decode("firm-a", "client-1", c, "cursor"),
            42);
  EXPECT_FALSE(CursorCodec::ForContextKey(ContextKey(std::string(32, 'x')))
                   .Decode("firm-a", "client-1", c, "cursor")
                   .ok());
  auto bad = codec.Decode("firm-a", "client-1", "not-a-cursor", "cursor");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("cursor"), std::string::npos);
}

}  // namespace
}  // namespace counsel
