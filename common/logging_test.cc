#include "common/logging.h"

#include "gtest/gtest.h"

namespace counsel::log {
namespace {

TEST(JsonStringTest, EscapesControlAndQuoteCharacters) {
  std::string out;
  AppendJsonString("a\"b\\c\nd\x01", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(JsonStringTest, KeepsUtf8) {
  std::string out;
  AppendJsonString("治安", &out);
  EXPECT_EQ(out, "\"治安\"");
}

TEST(TimestampTest, FormatsUtcMicrosecondsAcrossSecondsAndBeforeTheEpoch) {
  std::string out;
  AppendTimestamp(absl::FromUnixMicros(1795870689000001), &out);
  EXPECT_EQ(out, "2026-11-28T12:58:09.000001Z");
  out.clear();
  // The next second must not reuse the previous second's cached text.
  AppendTimestamp(absl::FromUnixMicros(1795870690999999), &out);
  EXPECT_EQ(out, "2026-11-28T12:58:10.999999Z");
  out.clear();
  AppendTimestamp(absl::FromUnixMicros(-1), &out);
  EXPECT_EQ(out, "1969-12-31T23:59:59.999999Z");
}

TEST(LogTest, WritesOneJsonObjectPerLine) {
  ::testing::internal::CaptureStderr();
  Info("listening", {{"port", 50051}, {"program", "x\ny"}, {"tls", false}});
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.front(), '{');
  EXPECT_NE(out.find("\"event\":\"listening\",\"port\":50051,\"program\":\"x\\ny\",\"tls\":false}"),
            std::string::npos)
      << out;
}

TEST(LogTest, BufferedLinesKeepTheirOrderAndReachTheOutputOnFlush) {
  ::testing::internal::CaptureStderr();
  InfoBuffered("first", {{"n", 1}});
  Info("second");  // writes what is queued before itself
  InfoBuffered("third");
  Flush();
  const std::string out = ::testing::internal::GetCapturedStderr();
  const size_t first = out.find("\"event\":\"first\",\"n\":1}\n");
  const size_t second = out.find("\"event\":\"second\"}\n");
  const size_t third = out.find("\"event\":\"third\"}\n");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  ASSERT_NE(third, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(out.find("\n\n"), std::string::npos) << "one line each, no blank lines";
}

TEST(LogTest, DropsLinesBelowMinimumLevel) {
  SetMinLevel(Level::kWarning);
  ::testing::internal::CaptureStderr();
  Info("quiet");
  Warning("loud");
  const std::string out = ::testing::internal::GetCapturedStderr();
  SetMinLevel(Level::kInfo);
  EXPECT_EQ(out.find("quiet"), std::string::npos);
  EXPECT_NE(out.find("loud"), std::string::npos);
}

}  // namespace
}  // namespace counsel::log
