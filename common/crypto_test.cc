#include "common/crypto.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace counsel::crypto {
namespace {

TEST(DeriveKeyTest, LabelsGiveIndependentStableKeys) {
  const std::string key(32, 'k');
  EXPECT_EQ(DeriveKey(key, "a").size(), 32u);
  EXPECT_EQ(DeriveKey(key, "a"), DeriveKey(key, "a"));
  EXPECT_NE(DeriveKey(key, "a"), DeriveKey(key, "b"));
  EXPECT_NE(DeriveKey(key, "a"), DeriveKey(std::string(32, 'j'), "a"));
}

TEST(HmacTest, MatchesRfc4231Case2) {
  // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
  Hmac mac("Jefe");
  EXPECT_EQ(HexEncode(mac.Sign("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string tag = mac.Sign("m");
  EXPECT_TRUE(mac.Verify("m", tag));
  EXPECT_TRUE(mac.Verify("m", tag.substr(0, 12)));
  EXPECT_FALSE(mac.Verify("m", tag.substr(0, 11)));
  EXPECT_FALSE(mac.Verify("n", tag));
}

TEST(HmacTest, MatchesRfc4231WithLongAndEmptyKeysAndRepeats) {
  // RFC 4231, test case 6: a key longer than SHA-256's block is hashed first.
  Hmac long_key(std::string(131, '\xaa'));
  const std::string data = "Test Using Larger Than Block-Size Key - Hash Key First";
  const std::string expected = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  // Every MAC after the first starts from a context reused, not fresh: each
  // must equal the first.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(HexEncode(long_key.Sign(data)), expected) << i;
  // An empty key is a key of zeros (RFC 2104), MAC of the empty string.
  EXPECT_EQ(HexEncode(Hmac("").Sign("")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacTest, ConcurrentSignersEachGetTheRightMac) {
  Hmac mac("Jefe");
  const std::string expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (HexEncode(mac.Sign("what do ya want for nothing?")) != expected) ++wrong;
        if (!mac.Verify("m", mac.Sign("m"))) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Sha256Test, KnownAnswerWholeAndInPieces) {
  // FIPS 180-2 example "abc".
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("");
  h.Update("bc");
  EXPECT_EQ(h.Final(), Sha256("abc"));
}

TEST(HexTest, RoundTripsAndRefusesBadInput) {
  std::string back;
  ASSERT_TRUE(HexDecode(HexEncode(std::string("\x00\xff\x10", 3)), &back));
  EXPECT_EQ(back, std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("abc", &back));
  EXPECT_FALSE(HexDecode("zz", &back));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(TokenSealerTest, OpaqueAndBoundToItsContext) {
  TokenSealer t(DeriveKey(std::string(32, 'k'), "tokens"));
  const std::string token = t.Seal("seq=42", "feed|firm-a");
  EXPECT_EQ(token.find("42"), std::string::npos);
  EXPECT_NE(token, t.Seal("seq=42", "feed|firm-a")) << "equal values do not show as equal";
  auto opened = t.Open(token, "feed|firm-a");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "seq=42");
  EXPECT_FALSE(t.Open(token, "feed|firm-b").ok());
  std::string tampered = token;
  tampered.back() ^= 1;
  EXPECT_FALSE(t.Open(tampered, "feed|firm-a").ok());
  EXPECT_FALSE(t.Open("short", "feed|firm-a").ok());
  TokenSealer other(DeriveKey(std::string(32, 'j'), "tokens"));
  EXPECT_FALSE(other.Open(token, "feed|firm-a").ok());
}

TEST(TokenSealerTest, StableTokensRepeatAndStillOpenOnlyInTheirContext) {
  TokenSealer t(DeriveKey(std::string(32, 'k'), "tokens"));
  const std::string a = t.SealStable("42", "feed|firm-a");
  EXPECT_EQ(a, t.SealStable("42", "feed|firm-a"));
  EXPECT_NE(a, t.SealStable("43", "feed|firm-a"));
  EXPECT_NE(a, t.SealStable("42", "feed|firm-b"));
  EXPECT_EQ(*t.Open(a, "feed|firm-a"), "42");
  EXPECT_FALSE(t.Open(a, "feed|firm-b").ok());
}

TEST(Base64Test, Rfc4648VectorsRoundTripAndRefusals) {
  // RFC 4648 section 10.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    std::string back;
    ASSERT_TRUE(Base64Decode(encoded, &back)) << encoded;
    EXPECT_EQ(back, plain);
  }
  std::string out;
  EXPECT_FALSE(Base64Decode("Zm9v YmFy", &out));
  EXPECT_FALSE(Base64Decode("Zm8", &out));
  EXPECT_FALSE(Base64Decode("Zm-_", &out));
}

TEST(RandomBytesTest, GivesTheLengthAskedAndDiffers) {
  EXPECT_EQ(RandomBytes(24).size(), 24u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

}  // namespace
}  // namespace counsel::crypto

namespace counsel::crypto {
namespace {

TEST(KeyedHashTest, IsKeyedSizedAndTheDerivationUsesIt) {
  const std::string a = KeyedHash("key-one", "13800138000", 16);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a, KeyedHash("key-one", "13800138000", 16)) << "deterministic";
  EXPECT_NE(a, KeyedHash("key-two", "13800138000", 16)) << "keyed";
  EXPECT_NE(a, KeyedHash("key-one", "13800138001", 16));
  EXPECT_EQ(DeriveKey("master", "page-token"), KeyedHash("master", "page-token", 32));
  EXPECT_EQ(KeyedHash("k", "x", 0).size(), 1u) << "clamped to BLAKE2b's range";
  EXPECT_EQ(KeyedHash("k", "x", 100).size(), 64u);
}

}  // namespace
}  // namespace counsel::crypto
