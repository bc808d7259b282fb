// Standard Webhooks 1.0 signing (https://www.standardwebhooks.com): a
// receiver checks `webhook-signature` with any library that implements the
// spec, or with the few lines in docs/webhooks.md.
//
//   const std::string secret = NewWebhookSecret();            // whsec_...
//   ASSIGN_OR_RETURN(std::string h, SignatureHeader({secret}, "msg_1", 1700000000, body));
//   // h == "v1,<base64 HMAC-SHA256(key, "msg_1.1700000000." + body)>"
#ifndef COUNSEL_CASES_WEBHOOKS_SIGNING_H_
#define COUNSEL_CASES_WEBHOOKS_SIGNING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::cases::webhooks {

// `whsec_` + base64 of 32 random bytes.
std::string NewWebhookSecret();

// The HMAC key a `whsec_` secret stands for; InvalidArgument otherwise.
absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret);

// `v1,<sig>` for each secret, space-separated, the newest first (during a
// rotation a receiver holding either secret verifies the message).
absl::StatusOr<std::string> SignatureHeader(const std::vector<std::string>& secrets,
                                            absl::string_view message_id, int64_t timestamp,
                                            absl::string_view body);

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_SIGNING_H_
