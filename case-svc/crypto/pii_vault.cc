#include "case-svc/crypto/pii_vault.h"

#include <sodium.h>

#include "common/crypto.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace counsel::cases {
namespace {

constexpr unsigned char kSealVersion = 1;
constexpr size_t kRefLen = 26;  // RandomId(16)
constexpr size_t kKeyIdLen = 16;
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

std::string Aad(const Binding& b) {
  // Lengths make the encoding unambiguous.
  return absl::StrCat("counsel/pii/v1|", b.tenant.size(), ":", b.tenant, "|", b.case_id.size(),
                      ":", b.case_id, "|", b.field.size(), ":", b.field);
}

std::string Encrypt(absl::string_view key, absl::string_view plaintext, absl::string_view aad) {
  std::string nonce(kNonce, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data() + kNonce), &len,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), nullptr,
      reinterpret_cast<const unsigned char*>(nonce.data()),
      reinterpret_cast<const unsigned char*>(key.data()));
  out.resize(kNonce + len);
  return out;
}

bool Decrypt(absl::string_view key, absl::string_view box, absl::string_view aad,
             std::string* plaintext) {
  if (box.size() < kNonce + kTag) return false;
  plaintext->resize(box.size() - kNonce - kTag);
  unsigned long long len = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(plaintext->data()), &len, nullptr,
      reinterpret_cast<const unsigned char*>(box.data() + kNonce), box.size() - kNonce,
      reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
      reinterpret_cast<const unsigned char*>(box.data()),
      reinterpret_cast<const unsigned char*>(key.data()));
  if (rc != 0) return false;
  plaintext->resize(len);
  return true;
}

std::string DeriveWrappingKey(absl::string_view master) {
  // BLAKE2b keyed by the label over the master key (the order the first
  // version used; stored keys depend on it).
  return crypto::KeyedHash("counsel/master-wrap/v1", master,
                           crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
}

}  // namespace

DataKey::~DataKey() { sodium_memzero(key.data(), key.size()); }

std::string PiiVault::KeyIdOf(absl::string_view master_key) {
  return crypto::HexEncode(crypto::KeyedHash("counsel/master-id/v1", master_key, 8));
}

PiiVault::PiiVault(std::vector<std::string> master_keys) {
  if (sodium_init() < 0) abort();
  for (size_t i = 0; i < master_keys.size(); ++i) {
    const std::string id = KeyIdOf(master_keys[i]);
    keys_[id] = DeriveWrappingKey(master_keys[i]);
    if (i == 0) current_id_ = id;
    sodium_memzero(master_keys[i].data(), master_keys[i].size());
  }
}

PiiVault::~PiiVault() {
  for (auto& [id, key] : keys_) sodium_memzero(key.data(), key.size());
}

DataKey PiiVault::NewDataKey() {
  DataKey k;
  k.ref = RandomId(16);
  k.key.resize(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  randombytes_buf(k.key.data(), k.key.size());
  return k;
}

std::string PiiVault::Wrap(absl::string_view tenant, const DataKey& key) const {
  const std::string aad = absl::StrCat("counsel/data-key/v1|", tenant, "|", key.ref);
  return absl::StrCat(current_id_, Encrypt(keys_.at(current_id_), key.key, aad));
}

std::string PiiVault::WrappedKeyId(absl::string_view wrapped) {
  return std::string(wrapped.substr(0, std::min(wrapped.size(), kKeyIdLen)));
}

absl::StatusOr<DataKey> PiiVault::Unwrap(absl::string_view tenant, absl::string_view ref,
                                         absl::string_view wrapped) const {
  const std::string id = WrappedKeyId(wrapped);
  auto it = keys_.find(id);
  if (it == keys_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data key is wrapped by master key ", id, ", which is not loaded"));
  }
  DataKey out;
  out.ref = std::string(ref);
  const std::string aad = absl::StrCat("counsel/data-key/v1|", tenant, "|", ref);
  if (wrapped.size() < kKeyIdLen ||
      !Decrypt(it->second, wrapped.substr(kKeyIdLen), aad, &out.key)) {
    return absl::DataLossError("a wrapped data key does not open");
  }
  return out;
}

std::string PiiVault::Seal(const DataKey& key, absl::string_view plaintext,
                           const Binding& binding) {
  std::string out(1, static_cast<char>(kSealVersion));
  out += key.ref;
  out += Encrypt(key.key, plaintext, Aad(binding));
  return out;
}

absl::StatusOr<std::string> PiiVault::Open(const DataKey& key, absl::string_view sealed,
                                           const Binding& binding) {
  if (sealed.size() < 1 + kRefLen || static_cast<unsigned char>(sealed[0]) != kSealVersion ||
      sealed.substr(1, kRefLen) != key.ref) {
    return absl::DataLossError("a sealed value is malformed or names another key");
  }
  std::string plaintext;
  if (!Decrypt(key.key, sealed.substr(1 + kRefLen), Aad(binding), &plaintext)) {
    return absl::DataLossError("a sealed value does not open for its row and field");
  }
  return plaintext;
}

std::string PiiVault::KeyRefOf(absl::string_view sealed) {
  if (sealed.size() < 1 + kRefLen) return "";
  return std::string(sealed.substr(1, kRefLen));
}

}  // namespace counsel::cases
