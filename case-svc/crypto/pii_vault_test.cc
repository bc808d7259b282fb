#include "case-svc/crypto/pii_vault.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

using ::counsel::testing::StatusIs;

TEST(PiiVaultTest, SealedValueOpensOnlyForItsKeyRowAndField) {
  const DataKey key = PiiVault::NewDataKey();
  const Binding here{"firm-a", "case1", "client.phone"};
  const std::string sealed = PiiVault::Seal(key, "+8613812345678", here);
  EXPECT_EQ(sealed.find("13812345678"), std::string::npos);
  EXPECT_EQ(*PiiVault::Open(key, sealed, here), "+8613812345678");
  EXPECT_EQ(PiiVault::KeyRefOf(sealed), key.ref);
  for (const Binding& elsewhere : {Binding{"firm-b", "case1", "client.phone"},
                                   Binding{"firm-a", "case2", "client.phone"},
                                   Binding{"firm-a", "case1", "client.email"}}) {
    EXPECT_THAT(PiiVault::Open(key, sealed, elsewhere), StatusIs(absl::StatusCode::kDataLoss));
  }
  DataKey other = PiiVault::NewDataKey();
  EXPECT_THAT(PiiVault::Open(other, sealed, here), StatusIs(absl::StatusCode::kDataLoss));
  std::string flipped = sealed;
  flipped.back() ^= 1;
  EXPECT_THAT(PiiVault::Open(key, flipped, here), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(PiiVaultTest, WrappedKeysNeedTheirMasterKey) {
  PiiVault old_vault({std::string(32, 'a')});
  const DataKey key = PiiVault::NewDataKey();
  const std::string wrapped = old_vault.Wrap("firm-a", key);
  EXPECT_EQ(PiiVault::WrappedKeyId(wrapped), old_vault.current_key_id());
  EXPECT_EQ(old_vault.Unwrap("firm-a", key.ref, wrapped)->key, key.key);
  EXPECT_THAT(old_vault.Unwrap("firm-b", key.ref, wrapped), StatusIs(absl::StatusCode::kDataLoss));

  PiiVault new_only({std::string(32, 'b')});
  EXPECT_THAT(new_only.Unwrap("firm-a", key.ref, wrapped),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  PiiVault rotating({std::string(32, 'b'), std::string(32, 'a')});
  EXPECT_EQ(rotating.Unwrap("firm-a", key.ref, wrapped)->key, key.key);
  EXPECT_NE(rotating.current_key_id(), old_vault.current_key_id());
}

// Key ids are stored beside every wrapped data key: the derivation must
// never change (the value is keyed BLAKE2b-64, computed independently).
TEST(PiiVaultTest, MasterKeyIdsAreStable) {
  EXPECT_EQ(PiiVault::KeyIdOf(std::string(32, 'm')), "1045ccd9ca5ec264");
}

}  // namespace
}  // namespace counsel::cases
