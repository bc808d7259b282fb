#include "gateway/keys/key_store.h"

#include <cstdlib>

#include "common/testing/status_matchers.h"
#include "gateway/keys/authenticator.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

using ::counsel::testing::StatusIs;

KeySpec Spec(std::string tenant, std::vector<std::string> scopes, std::string name = "") {
  KeySpec spec;
  spec.tenant = std::move(tenant);
  spec.scopes = std::move(scopes);
  spec.name = std::move(name);
  return spec;
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = OpenKeyStore(dir_ + "/gateway.db", &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyStoreTest, CreatedKeyAuthenticatesAndOnlyItsHashIsStored) {
  auto key = store_->Create(Spec("firm-a", {"cases.read"}, "crm"));
  ASSERT_TRUE(key.ok()) << key.status();
  Authenticator auth(store_.get(), &clock_);
  auto got = auth.Authenticate("Bearer " + key->token);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->tenant, "firm-a");
  EXPECT_EQ((*got)->scopes, std::vector<std::string>{"cases.read"});
  absl::string_view id, secret;
  ASSERT_TRUE(ParseToken(key->token, &id, &secret));
  EXPECT_EQ(id, key->record.key_id);
  auto listed = store_->List("firm-a");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].secret_hash, HashSecret(secret));
  EXPECT_NE((*listed)[0].secret_hash.find(std::string(secret)), 0u);
}

TEST_F(KeyStoreTest, RejectsUnknownScopesAndMissingTenant) {
  EXPECT_THAT(store_->Create(Spec("firm-a", {"cases.everything"})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Create(Spec("", {"cases.read"})), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Create(Spec("firm-a", {})), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(KeyStoreTest, EveryBadKeyIsUnauthenticated) {
  auto key = store_->Create(Spec("firm-a", {"cases.read"}));
  ASSERT_TRUE(key.ok());
  std::string wrong_secret = key->token;
  wrong_secret.back() = wrong_secret.back() == 'a' ? 'b' : 'a';
  std::string unknown_id = key->token;
  unknown_id[4] = unknown_id[4] == 'a' ? 'b' : 'a';
  Authenticator auth(store_.get(), &clock_);
  for (const std::string& header :
       {std::string(""), std::string("Basic abc"), std::string("Bearer "),
        std::string("Bearer nonsense"), "Bearer " + wrong_secret, "Bearer " + unknown_id}) {
    auto got = auth.Authenticate(header);
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kUnauthenticated)) << header;
    EXPECT_EQ(std::string(got.status().message()).find(key->token.substr(20)), std::string::npos);
  }
}

TEST_F(KeyStoreTest, RevocationTakesEffectWithinTheCacheTime) {
  auto key = store_->Create(Spec("firm-a", {"cases.read"}));
  Authenticator auth(store_.get(), &clock_, absl::Seconds(1));
  ASSERT_TRUE(auth.Authenticate("Bearer " + key->token).ok());
  ASSERT_TRUE(store_->Revoke(key->record.key_id).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(auth.Authenticate("Bearer " + key->token),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::HasSubstr("revoked")));
  EXPECT_THAT(store_->Revoke("nosuchkey"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KeyStoreTest, ExpiredKeysAreRefused) {
  KeySpec spec = Spec("firm-a", {"cases.read"});
  spec.ttl = absl::Hours(1);
  auto key = store_->Create(spec);
  Authenticator auth(store_.get(), &clock_);
  ASSERT_TRUE(auth.Authenticate("Bearer " + key->token).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(auth.Authenticate("Bearer " + key->token),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::HasSubstr("expired")));
}

}  // namespace
}  // namespace counsel::gateway

namespace counsel::gateway {
namespace {

class SessionTest : public KeyStoreTest {};

TEST_F(SessionTest, StandsForItsKeyUntilIdleExpiredEndedOrRevoked) {
  auto key = *store_->Create(Spec("firm-a", {"cases.read"}));
  Authenticator auth(store_.get(), &clock_, absl::ZeroDuration());  // no caching: see every change
  auto session = *auth.StartSession(key.record);
  EXPECT_EQ(session.token.rfind("cs_", 0), 0u);
  auto who = auth.AuthenticateSession(session.token);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ((*who)->key_id, key.record.key_id);
  // Used every 20 minutes it lives on; 30 idle minutes end it.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Minutes(20));
    EXPECT_TRUE(auth.AuthenticateSession(session.token).ok()) << i;
  }
  clock_.Advance(absl::Minutes(31));
  EXPECT_THAT(auth.AuthenticateSession(session.token).status(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Twelve hours at most, however busy.
  auto busy = *auth.StartSession(key.record);
  for (int i = 0; i < 12 * 4; ++i) {
    clock_.Advance(absl::Minutes(15));
    (void)auth.AuthenticateSession(busy.token);
  }
  EXPECT_FALSE(auth.AuthenticateSession(busy.token).ok());
  // Ended, and the key revoked.
  auto ended = *auth.StartSession(key.record);
  ASSERT_TRUE(auth.EndSession(ended.token).ok());
  EXPECT_FALSE(auth.AuthenticateSession(ended.token).ok());
  auto revoked = *auth.StartSession(key.record);
  ASSERT_TRUE(store_->Revoke(key.record.key_id).ok());
  EXPECT_FALSE(auth.AuthenticateSession(revoked.token).ok());
  EXPECT_FALSE(auth.AuthenticateSession("cs_nonsense").ok());
  EXPECT_FALSE(auth.AuthenticateSession(key.token).ok()) << "an API key is not a session";
}

}  // namespace
}  // namespace counsel::gateway
