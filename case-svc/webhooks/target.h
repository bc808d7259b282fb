// Where a webhook may point. Outbound requests are the classic SSRF door, so
// the rules are pure, in one place, and applied twice: when a URL is written
// (CreateWebhook, UpdateWebhook) and again at every delivery, on the address
// actually connected to (a name may resolve elsewhere by then).
//
//   TargetPolicy policy;                       // https only, public addresses
//   ASSIGN_OR_RETURN(WebhookUrl u, ParseWebhookUrl("https://crm.example/hook", policy));
//   ASSIGN_OR_RETURN(IpAddress a, ResolveTarget(u, policy));  // then connect to `a` only
#ifndef COUNSEL_CASES_WEBHOOKS_TARGET_H_
#define COUNSEL_CASES_WEBHOOKS_TARGET_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::cases::webhooks {

struct TargetPolicy {
  // --webhook_allow_http: plain http:// (tests, on-premises CRMs).
  bool allow_http = false;
  // --webhook_allow_private_targets: loopback and private ranges.
  bool allow_private = false;
};

struct WebhookUrl {
  std::string scheme;  // "https" or "http"
  std::string host;    // lower case; an IPv6 literal without brackets
  int port = 0;
  std::string target;  // path and query, at least "/"
  bool host_is_literal = false;
};

// InvalidArgument naming `field` for anything but an absolute http(s) URL
// with a host name or IP literal: no user info, no fragment, no control
// characters, at most 2048 bytes, and a scheme the policy allows. Literal
// addresses are checked here too (CheckAddress).
absl::StatusOr<WebhookUrl> ParseWebhookUrl(absl::string_view url, const TargetPolicy& policy,
                                           absl::string_view field = "url");

struct IpAddress {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // 4 used for AF_INET
  std::string ToString() const;
};

// Parses a literal; false when `text` is not one.
bool ParseIpAddress(absl::string_view text, IpAddress* out);
// From a socket address (AF_INET or AF_INET6); false for other families.
bool FromSockaddr(const sockaddr* sa, IpAddress* out);

enum class AddressClass {
  kPublic,
  // Loopback, private, shared (CGNAT), benchmarking and documentation ranges.
  kPrivate,
  // Never a target: link-local, cloud metadata, unspecified, multicast,
  // reserved.
  kForbidden,
};
// IPv4-mapped and NAT64 IPv6 addresses are classed by the IPv4 inside.
AddressClass ClassifyAddress(const IpAddress& address);

// InvalidArgument naming `field` when the policy
// refuses the address (the message names the class, not the address).
absl::Status CheckAddress(const IpAddress& address, const TargetPolicy& policy,
                          absl::string_view field = "url");

// Name resolution, injectable for tests: the addresses `host` resolves to.
using Resolver = std::function<absl::StatusOr<std::vector<IpAddress>>(const std::string& host)>;
Resolver SystemResolver();

// Resolves once and picks the address to connect to. Every address the name
// resolves to must pass CheckAddress: a name that mixes public and private
// addresses is refused, not filtered. InvalidArgument naming `field` when
// refused, Unavailable when the name does not resolve.
absl::StatusOr<IpAddress> ResolveTarget(const WebhookUrl& url, const TargetPolicy& policy,
                                        const Resolver& resolver = SystemResolver(),
                                        absl::string_view field = "url");

}  // namespace counsel::cases::webhooks

#endif  // COUNSEL_CASES_WEBHOOKS_TARGET_H_
