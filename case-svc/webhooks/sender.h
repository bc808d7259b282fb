// The one outbound HTTP client of case-svc (libcurl): POSTs a signed
// delivery to the address ResolveTarget chose, and to no other.
//
// What it refuses to do, whatever the receiver says: follow redirects, use a
// proxy from the environment, speak a scheme the policy does not allow,
// connect to an address CheckAddress refuses (checked again on the socket
// address itself), wait longer than the timeout, or read more than 64 KiB
// of an answer. TLS peers are verified against the system CAs.
#ifndef COUNSEL_CASES_WEBHOOKS_SENDER_H_
#define COUNSEL_CASES_WEBHOOKS_SENDER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "case-svc/webhooks/target.h"

namespace counsel::cases::webhooks {

struct OutboundRequest {
  WebhookUrl url;
  IpAddress address;  // from ResolveTarget
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct OutboundResponse {
  int status_code = 0;  // 0: no HTTP answer
  absl::Duration latency;
  // Why no usable answer came ("" when one did); never the answer's body.
  std::string error;
};

// Thread-safe implementations required.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual OutboundResponse Post(const OutboundRequest& request) = 0;
};

struct SenderOptions {
  absl::Duration timeout = absl::Seconds(15);
  size_t max_response_bytes = 64 << 10;
  // Tests only: a CA bundle to trust instead of the system's.
  std::string ca_file;
};

std::unique_ptr<Sender> NewCurlSender(const TargetPolicy& policy, SenderOptions options = {});

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_SENDER_H_
