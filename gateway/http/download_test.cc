#include "gateway/http/download.h"

#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

TEST(ParseRangeTest, OneRangeOfEachForm) {
  auto r = ParseRange("bytes=0-99");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0);
  EXPECT_EQ(r->last, 99);
  r = ParseRange(" bytes=100- ");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 100);
  EXPECT_EQ(r->last, -1);
  r = ParseRange("bytes=-500");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->suffix, 500);
}

TEST(ParseRangeTest, AnythingElseMeansTheWhole) {
  for (const char* v : {"", "bytes=", "bytes=-", "bytes=5-1", "bytes=0-1,4-5", "items=0-1",
                        "bytes=a-b", "bytes=-0", "bytes=+1-2", "bytes=9999999999999999-"}) {
    EXPECT_FALSE(ParseRange(v)) << v;
  }
}

TEST(DispositionTest, AsciiFallbackAndEncodedName) {
  EXPECT_EQ(AttachmentDisposition("shot.png"),
            "attachment; filename=\"shot.png\"; filename*=UTF-8''shot.png");
  EXPECT_EQ(AttachmentDisposition("截图 \"1\".png"),
            "attachment; filename=\"______ _1_.png\"; "
            "filename*=UTF-8''%E6%88%AA%E5%9B%BE%20%221%22.png");
  // A header cannot be split by a name.
  EXPECT_EQ(AttachmentDisposition("a\r\nb").find('\r'), std::string::npos);
  EXPECT_EQ(AttachmentDisposition(""),
            "attachment; filename=\"attachment\"; filename*=UTF-8''attachment");
}

TEST(ReprDigestTest, Base64OfTheRawDigest) {
  // SHA-256 of "abc".
  EXPECT_EQ(ReprDigest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:");
  EXPECT_EQ(ReprDigest("abc"), "");
}

}  // namespace
}  // namespace counsel::gateway
