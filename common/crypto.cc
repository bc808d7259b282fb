#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace counsel::crypto {
namespace {

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void InitSodium() {
  if (sodium_init() < 0) abort();  // no usable libsodium: nothing can be sealed
}

// Failures below are programming or installation errors (no SHA-256 in
// OpenSSL's default provider, out of memory): nothing can be signed.
void Check(bool ok) {
  if (!ok) abort();
}

// Fetched once: an implicit fetch by name on every use is most of a short
// digest's cost in OpenSSL 3.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  Check(md != nullptr);
  return md;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  Check(mac != nullptr);
  return mac;
}

}  // namespace

std::string KeyedHash(absl::string_view key, absl::string_view data, size_t size) {
  InitSodium();
  unsigned char out[crypto_generichash_BYTES_MAX];
  size = std::clamp<size_t>(size, 1, crypto_generichash_BYTES_MAX);
  crypto_generichash(out, size, Bytes(data), data.size(), Bytes(key),
                     std::min<size_t>(key.size(), crypto_generichash_KEYBYTES_MAX));
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string DeriveKey(absl::string_view key, absl::string_view label) {
  return KeyedHash(key, label, 32);
}

Hmac::Hmac(absl::string_view key) : keyed_(EVP_MAC_CTX_new(HmacMac())) {
  Check(keyed_ != nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  // An empty key is a valid HMAC key (all zeros); OpenSSL wants a non-null
  // pointer for it.
  static const unsigned char kEmpty[1] = {0};
  Check(EVP_MAC_init(keyed_, key.empty() ? kEmpty : Bytes(key), key.size(), params) == 1);
}

Hmac::~Hmac() {
  // Freeing a context cleanses the key material it holds.
  for (EVP_MAC_CTX* c : idle_) EVP_MAC_CTX_free(c);
  EVP_MAC_CTX_free(keyed_);
}

void Hmac::SignInto(absl::string_view data, unsigned char* out) const {
  EVP_MAC_CTX* ctx = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      ctx = idle_.back();
      idle_.pop_back();
    }
  }
  if (ctx == nullptr) {
    ctx = EVP_MAC_CTX_dup(keyed_);
    Check(ctx != nullptr);
  }
  // A null key restarts the context with the key it holds.
  size_t len = 0;
  Check(EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
        EVP_MAC_update(ctx, Bytes(data), data.size()) == 1 &&
        EVP_MAC_final(ctx, out, &len, kBytes) == 1 && len == kBytes);
  absl::MutexLock lock(&mu_);
  idle_.push_back(ctx);
}

std::string Hmac::Sign(absl::string_view data) const {
  std::string mac(kBytes, '\0');
  SignInto(data, reinterpret_cast<unsigned char*>(mac.data()));
  return mac;
}

bool Hmac::Verify(absl::string_view data, absl::string_view mac) const {
  if (mac.size() < 12 || mac.size() > kBytes) return false;
  unsigned char expected[kBytes];
  SignInto(data, expected);
  return sodium_memcmp(expected, mac.data(), mac.size()) == 0;
}

std::string Sha256(absl::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  Check(EVP_Digest(data.data(), data.size(), out, &len, Sha256Md(), nullptr) == 1 && len == 32);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  Check(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr) == 1);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

void Sha256Hasher::Update(absl::string_view data) {
  Check(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1);
}

std::string Sha256Hasher::Final() {
  unsigned char out[32];
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, out, &len) == 1 && len == 32);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexEncode(absl::string_view bytes) {
  std::string out(bytes.size() * 2, '\0');
  sodium_bin2hex(out.data(), out.size() + 1, Bytes(bytes), bytes.size());
  return out;
}

bool HexDecode(absl::string_view hex, std::string* bytes) {
  if (hex.size() % 2 != 0) return false;
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      len != out.size() || end != hex.data() + hex.size()) {
    return false;
  }
  *bytes = std::move(out);
  return true;
}

std::string Base64Encode(absl::string_view bytes) {
  InitSodium();
  const size_t size = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(size, '\0');
  sodium_bin2base64(out.data(), out.size(), Bytes(bytes), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(size - 1);  // the terminating NUL
  return out;
}

bool Base64Decode(absl::string_view text, std::string* bytes) {
  InitSodium();
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return false;
  }
  out.resize(len);
  *bytes = std::move(out);
  return true;
}

std::string RandomBytes(size_t n) {
  InitSodium();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

TokenSealer::TokenSealer(absl::string_view key) : key_(key) {
  InitSodium();
  if (key_.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) abort();
}

std::string TokenSealer::Seal(absl::string_view value, absl::string_view context) const {
  std::string nonce(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  return SealWithNonce(value, context, nonce);
}

std::string TokenSealer::SealStable(absl::string_view value, absl::string_view context) const {
  // The nonce is a keyed hash of context and value (a synthetic IV): the
  // same inputs give the same token, different inputs never share a nonce.
  std::string nonce(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, '\0');
  const std::string input = absl::StrCat(context.size(), ":", context, value);
  crypto_generichash(reinterpret_cast<unsigned char*>(nonce.data()), nonce.size(), Bytes(input),
                     input.size(), Bytes(key_), key_.size());
  return SealWithNonce(value, context, nonce);
}

std::string TokenSealer::SealWithNonce(absl::string_view value, absl::string_view context,
                                       const std::string& nonce) const {
  std::string out = nonce;
  out.resize(nonce.size() + value.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + nonce.size(), &written, Bytes(value),
      value.size(), Bytes(context), context.size(), nullptr, Bytes(nonce), Bytes(key_));
  out.resize(nonce.size() + written);
  return out;
}

absl::StatusOr<std::string> TokenSealer::Open(absl::string_view token,
                                              absl::string_view context) const {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (token.size() < kNonce + kTag || token.size() > 4096) {
    return absl::InvalidArgumentError("not a token this service issued");
  }
  std::string out(token.size() - kNonce - kTag, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, Bytes(token) + kNonce,
          token.size() - kNonce, Bytes(context), context.size(), Bytes(token), Bytes(key_)) != 0) {
    return absl::InvalidArgumentError("not a token this service issued");
  }
  out.resize(len);
  return out;
}

}  // namespace counsel::crypto
