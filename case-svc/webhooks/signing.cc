#include "case-svc/webhooks/signing.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace counsel::cases::webhooks {
namespace {
constexpr absl::string_view kPrefix = "whsec_";
}  // namespace

std::string NewWebhookSecret() {
  return absl::StrCat(kPrefix, crypto::Base64Encode(crypto::RandomBytes(32)));
}

absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret) {
  std::string key;
  if (!absl::StartsWith(secret, kPrefix) ||
      !crypto::Base64Decode(secret.substr(kPrefix.size()), &key) || key.size() < 24) {
    return absl::InvalidArgumentError("not a whsec_ webhook secret");
  }
  return key;
}

absl::StatusOr<std::string> SignatureHeader(const std::vector<std::string>& secrets,
                                            absl::string_view message_id, int64_t timestamp,
                                            absl::string_view body) {
  const std::string signed_content = absl::StrCat(message_id, ".", timestamp, ".", body);
  std::string header;
  for (const std::string& secret : secrets) {
    auto key = DecodeWebhookSecret(secret);
    if (!key.ok()) return key.status();
    const crypto::Hmac mac(*key);
    absl::StrAppend(&header, header.empty() ? "" : " ", "v1,",
                    crypto::Base64Encode(mac.Sign(signed_content)));
  }
  return header;
}

}  // namespace counsel::cases::webhooks
