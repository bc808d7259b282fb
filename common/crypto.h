// The project's symmetric primitives, each set up here once: HMAC-SHA256 and
// SHA-256 from OpenSSL (which uses the CPU's SHA instructions; every call
// through the gateway signs a context and every backend checks it), the rest
// from libsodium.
//
//   const std::string k = crypto::DeriveKey(audit_key, "audit-chain");
//   crypto::Hmac mac(k);
//   const std::string tag = mac.Sign("message");          // 32 bytes
//   crypto::TokenSealer tokens(crypto::DeriveKey(key, "page-token"));
//   const std::string t = tokens.Seal("42", "cases|firm-a");  // opaque bytes
//   ASSIGN_OR_RETURN(std::string v, tokens.Open(t, "cases|firm-a"));
#ifndef COUNSEL_COMMON_CRYPTO_H_
#define COUNSEL_COMMON_CRYPTO_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

typedef struct evp_mac_ctx_st EVP_MAC_CTX;
typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace counsel::crypto {

// A 32-byte key for one purpose, derived from `key` with keyed BLAKE2b over
// `label` (keys longer than 64 bytes use their first 64). Different labels
// give independent keys; the same inputs always give the same key.
std::string DeriveKey(absl::string_view key, absl::string_view label);

// Keyed BLAKE2b of `data`, `size` bytes (1 to 64; below 16 only for
// identifiers, never for keys or MACs): blind indexes, the derivation above,
// the vault's key ids. Keys longer than 64 bytes use their first 64.
std::string KeyedHash(absl::string_view key, absl::string_view data, size_t size);

// HMAC-SHA256 with the key prepared once: each MAC starts from a keyed
// context kept for reuse (resetting one costs a third of keying a copy).
// Thread-safe.
class Hmac {
 public:
  static constexpr size_t kBytes = 32;

  explicit Hmac(absl::string_view key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  // The 32-byte MAC of `data`.
  std::string Sign(absl::string_view data) const;
  // Writes the MAC of `data` to out[0..31].
  void SignInto(absl::string_view data, unsigned char* out) const;
  // Whether `mac` (any length from 12 bytes: a truncated MAC) is the start
  // of Sign(data), in constant time.
  bool Verify(absl::string_view data, absl::string_view mac) const;

 private:
  EVP_MAC_CTX* keyed_;
  // Contexts keyed like keyed_, not in use; at most one per thread that
  // signs at the same time.
  mutable absl::Mutex mu_;
  mutable std::vector<EVP_MAC_CTX*> idle_ ABSL_GUARDED_BY(mu_);
};

// SHA-256 (attachment digests), of a whole value or fed in pieces.
std::string Sha256(absl::string_view data);  // 32 bytes
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(absl::string_view data);
  std::string Final();  // 32 bytes; call once

 private:
  EVP_MD_CTX* ctx_;
};

// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Lower-case hex, and back (false for odd length or a non-hex character).
std::string HexEncode(absl::string_view bytes);
bool HexDecode(absl::string_view hex, std::string* bytes);

// Standard base64 with padding (RFC 4648 section 4), and back (false for
// anything else: no whitespace, no URL-safe alphabet).
std::string Base64Encode(absl::string_view bytes);
bool Base64Decode(absl::string_view text, std::string* bytes);

// `n` bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);

// Opaque, authenticated tokens (cursors, page tokens): XChaCha20-Poly1305
// with a random nonce, so a token shows nothing of what it holds, not even
// whether two tokens hold the same value (a watcher's bookmarks do not
// reveal that others' changes moved the feed). `context` binds a token to
// where it is valid (purpose, tenant, client): elsewhere it does not open.
class TokenSealer {
 public:
  // `key` must be 32 bytes (DeriveKey gives one).
  explicit TokenSealer(absl::string_view key);
  std::string Seal(absl::string_view value, absl::string_view context) const;
  // The same token for the same value and context, every time (a webhook
  // sent again must carry the same body); it shows only that equality.
  std::string SealStable(absl::string_view value, absl::string_view context) const;
  // InvalidArgument for a token that was not sealed with this key and context.
  absl::StatusOr<std::string> Open(absl::string_view token, absl::string_view context) const;

 private:
  std::string SealWithNonce(absl::string_view value, absl::string_view context,
                            const std::string& nonce) const;
  std::string key_;
};

}  // namespace counsel::crypto

#endif  // COUNSEL_COMMON_CRYPTO_H_
